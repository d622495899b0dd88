import CacheContract
import Foundation
import PGOutput
import PostgresReplication
import RedisCache

/// The history window as `cache-warmer status` shows it: where it starts (LSN and time), the WAL
/// its slot retains, its `wal_status`, and warnings when the server cannot keep what is configured.
public struct HistoryStatus: Sendable, Codable, Hashable {
    /// `<slot>_history`.
    public var slot: String
    /// False when the slot does not exist (run `setup`).
    public var exists: Bool
    /// What the configuration asks to keep (`1h`, `2147483648 bytes of WAL`).
    public var keep: String
    /// The earliest LSN a replay can start from (the slot's confirmed position).
    public var earliestLSN: String?
    /// When the worker confirmed that position (ISO 8601, UTC), nil when not recorded.
    public var earliestTime: String?
    /// Bytes of WAL the history slot makes the server keep.
    public var retainedWALBytes: Int64?
    /// `reserved`, `extended`, `unreserved` or `lost`.
    public var walStatus: String?
    /// `max_slot_wal_keep_size` in bytes, nil when unlimited (-1).
    public var maxSlotWALKeepSizeBytes: Int64?
    /// Copies left by `replay`/`peek` runs that were killed (inactive `<slot>_history_c_*`
    /// slots: each retains WAL; `teardown` drops them, or `pg_drop_replication_slot`).
    public var leftoverCopies: [String] = []
    /// What is wrong or about to be (empty when the window is kept as configured).
    public var warnings: [String]

    /// Reads the history slot on the writer and the recorded times in Redis; nil without `history:`.
    public static func read(_ configuration: WorkerConfiguration) async throws -> HistoryStatus? {
        guard let window = configuration.history else { return nil }
        let writer = try Setup.writerURL(configuration)
        let name = configuration.historySlot
        let prefix = HistorySlots.copyPrefix(name)
        let (state, current, maximum, copies) = try await offPool {
            let connection = try Setup.adminConnection(writer)
            let current = LSN(try connection.execute("SELECT pg_current_wal_lsn()").scalar ?? "") ?? .zero
            let copies = try connection.execute(
                "SELECT slot_name FROM pg_replication_slots WHERE active_pid IS NULL AND left(slot_name, \(prefix.utf8.count)) = \(PostgresConnection.literal(prefix)) ORDER BY 1"
            ).rows.compactMap { $0.first ?? nil }
            return (try connection.slotState(name), current, try HistorySlots.maxSlotWALKeepSize(connection), copies)
        }
        var status = HistoryStatus(
            slot: name, exists: state != nil, keep: window.keepDescription, earliestLSN: state?.confirmedFlushLSN.map { "\($0)" },
            retainedWALBytes: state?.restartLSN.map { current.distance(from: $0) }, walStatus: state?.walStatus,
            maxSlotWALKeepSizeBytes: maximum, warnings: [])
        var earliest: Date?
        if let confirmed = state?.confirmedFlushLSN, let redisText = configuration.redisURL {
            let redis = try RedisClient(url: try RedisURL(redisText))
            let record = HistoryRecord(keys: CacheKeys(namespace: try CacheNamespace(configuration.namespace)), redis: redis)
            earliest = try await record.time(of: confirmed)
            await redis.close()
        }
        status.earliestTime = earliest.map(Self.timeText)
        status.warnings = warnings(window: window, state: state, retained: status.retainedWALBytes, earliest: earliest, maximum: maximum, now: Date())
        status.leftoverCopies = copies
        if !copies.isEmpty {
            status.warnings.append("slot copies left by killed replay/peek runs retain WAL: \(copies.joined(separator: ", ")) (not in use: `cache-warmer teardown` or pg_drop_replication_slot drops them)")
        }
        return status
    }

    /// The warnings for a history slot in `state` (pure, for tests).
    static func warnings(window: HistoryWindow, state: SlotState?, retained: Int64?, earliest: Date?, maximum: Int64?, now: Date) -> [String] {
        guard let state else { return ["history slot does not exist: run `cache-warmer setup` (replay from the past is unavailable)"] }
        if state.isLost {
            return ["history slot was invalidated (wal_status = lost): the window is gone; raise max_slot_wal_keep_size or shorten history.keep, then run `cache-warmer setup` to start a new window (the main slot is not affected)"]
        }
        var warnings: [String] = []
        if state.isUnreserved {
            warnings.append("history slot is about to lose WAL (wal_status = unreserved): max_slot_wal_keep_size is exceeded")
        }
        guard let maximum else { return warnings }
        switch window.keep {
        case .bytes(let bytes) where bytes > maximum:
            warnings.append("history.keep_bytes (\(bytes) bytes) exceeds max_slot_wal_keep_size (\(maximum) bytes): the history slot will be lost before the window is full")
        case .duration(let seconds):
            if let retained, let earliest, now.timeIntervalSince(earliest) >= 1 {
                let rate = Double(retained) / now.timeIntervalSince(earliest)
                let needed = rate * seconds
                if needed > Double(maximum) {
                    warnings.append(
                        "at the recent WAL rate (\(Int64(rate)) bytes/s) a window of \(window.keepDescription) needs about \(Int64(needed)) bytes, more than max_slot_wal_keep_size (\(maximum) bytes): the history slot will be lost")
                }
            }
        default:
            break
        }
        return warnings
    }

    /// ISO 8601 in UTC with milliseconds.
    static func timeText(_ date: Date) -> String {
        date.formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: true))
    }
}
