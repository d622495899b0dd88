import CacheContract
import Foundation
import Logging
import PGOutput
import PostgresReplication
import RedisCache

/// Turns `--from/--since` and `--to/--until` into LSNs inside the window a slot still holds,
/// refusing a start outside it with the earliest LSN and time available (exit 4).
public struct HistoryRange: Sendable {
    /// Where to start.
    public enum Start: Sendable, Hashable {
        /// Transactions that commit after this LSN.
        case lsn(LSN)
        /// Transactions that commit at or after this time (starts up to one recorded interval earlier).
        case time(Date)
    }

    /// Where to stop.
    public enum End: Sendable, Hashable {
        /// After the commit that reaches this LSN.
        case lsn(LSN)
        /// After the last transaction that committed at or before this time (Begin's commit time).
        case time(Date)
    }

    /// The slot read from (a copy of it is streamed).
    public var source: String
    /// The position streaming starts after (the copy is advanced here).
    public var start: LSN
    /// The position streaming stops at (inclusive of the commit reaching it).
    public var end: LSN
    /// The earliest position the slot holds.
    public var earliest: LSN
    /// When the worker confirmed ``earliest``, if recorded.
    public var earliestTime: Date?
    /// The writer's WAL position when the range was resolved.
    public var currentWAL: LSN

    /// Bytes of WAL between start and end.
    public var bytes: Int64 { max(0, end.distance(from: start)) }

    /// Resolves a range in `source` (the history slot, or the main slot without `history:`).
    public static func resolve(
        _ configuration: WorkerConfiguration, source: String, start: Start?, end: End?, logger: Logger
    ) async throws -> HistoryRange {
        let writer = try Setup.writerURL(configuration)
        let (state, current) = try await offPool {
            let connection = try Setup.adminConnection(writer)
            let current = LSN(try connection.execute("SELECT pg_current_wal_lsn()").scalar ?? "") ?? .zero
            return (try connection.slotState(source), current)
        }
        guard let state else {
            throw ReplicationError(code: .slotMissing, message: "\(writer): replication slot \(source) does not exist (run `cache-warmer setup` with history: configured)")
        }
        if state.isLost { throw ReplicationError.slotLost(target: writer, slot: source, restartLSN: state.restartLSN) }
        let earliest = state.confirmedFlushLSN ?? .zero
        let record = try configuration.redisURL.map { HistoryRecord(keys: CacheKeys(namespace: try CacheNamespace(configuration.namespace)), redis: try RedisClient(url: try RedisURL($0))) }
        // The keeper may advance the slot and trim the record between the two reads: then the
        // oldest recorded time is the closest (later) one.
        var earliestTime = try await record?.time(of: earliest)
        if earliestTime == nil { earliestTime = try await record?.oldest(atOrAfter: .distantPast)?.time }
        func refuse(_ what: String) -> ReplicationError {
            let when = earliestTime.map { " (confirmed at \(HistoryStatus.timeText($0)))" } ?? ""
            return ReplicationError(
                code: .startBeforeSlotPosition,
                message: "\(what) is outside the history window of slot \(source): the earliest available is \(earliest)\(when); use --from \(earliest) or a later --since",
                earliestAvailable: earliest)
        }
        var range = HistoryRange(source: source, start: earliest, end: current, earliest: earliest, earliestTime: earliestTime, currentWAL: current)
        switch start {
        case .lsn(let lsn)?:
            guard lsn >= earliest else { throw refuse("--from \(lsn)") }
            range.start = lsn
        case .time(let time)?:
            // A position recorded at t was confirmed by then: what commits after t comes after it.
            // The window's own start has such a time too (when it was recorded, or an upper bound).
            if let entry = try await record?.newest(atOrBefore: time), entry.lsn >= earliest {
                range.start = entry.lsn
            } else if let earliestTime, earliestTime <= time {
                range.start = earliest
            } else {
                throw refuse("--since \(HistoryStatus.timeText(time))")
            }
        case nil:
            break
        }
        switch end {
        case .lsn(let lsn)?:
            range.end = lsn
        case .time(let time)?:
            range.end = try await position(at: time, configuration, writer: writer, source: source, record: record, earliest: earliest, logger: logger)
        case nil:
            break
        }
        guard range.end >= range.start else {
            throw ValidationFailure("the end \(range.end) is before the start \(range.start)")
        }
        return range
    }

    /// The end position of the last transaction committed at or before `time`: found by reading
    /// a copy from the newest recorded position before `time` up to the first later commit.
    static func position(
        at time: Date, _ configuration: WorkerConfiguration, writer: ConnectionString, source: String, record: HistoryRecord?, earliest: LSN,
        logger: Logger
    ) async throws -> LSN {
        let lower = max(try await record?.newest(atOrBefore: time)?.lsn ?? earliest, earliest)
        let limit = PostgresTimestamp(time)
        let current = try await Setup.currentWAL(configuration)
        guard current > lower else { return lower }
        return try await SlotCopy.with(writer, source: source, start: lower, logger: logger) { copy in
            var last = copy.position
            try await CopyReader().read(writer, slot: copy.name, publication: configuration.publication, end: current, logger: logger) { message, _ in
                switch message {
                case .begin(let begin): return begin.commitTimestamp <= limit
                case .commit(let commit):
                    last = max(last, commit.endLSN)
                    return true
                default: return true
                }
            }
            return last
        }
    }
}

/// A request that cannot be served as given (one line).
public struct ValidationFailure: Error, CustomStringConvertible {
    /// What is wrong.
    public var description: String

    /// A failure saying `description`.
    public init(_ description: String) {
        self.description = description
    }
}
