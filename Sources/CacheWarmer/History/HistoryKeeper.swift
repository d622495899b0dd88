import CacheContract
import Foundation
import Logging
import PGOutput
import PostgresReplication
import RedisCache
import ServiceLifecycle
import Synchronization

/// Keeps the history window while the worker runs: records the positions the worker confirms
/// (``acknowledged(_:)``, the worker's hook) with their times in `<ns>:meta:history`, and every
/// ``HistoryWindow/recordInterval`` advances `<slot>_history` to the newest position confirmed at
/// least `keep` ago (or `keep_bytes` behind), trimming the record behind it.
///
/// Its failures are logged and retried, never thrown: a missing or lost history slot, or Redis
/// not answering, never affects the main slot or the worker.
public final class HistoryKeeper: Service, Sendable {
    private let configuration: WorkerConfiguration
    private let window: HistoryWindow
    private let logger: Logger
    private let latest = Mutex<LSN?>(nil)
    private let wakeUp: AsyncStream<Void>.Continuation
    private let ticks: AsyncStream<Void>

    /// A keeper for `configuration` (which must have `history:`).
    public init(configuration: WorkerConfiguration, window: HistoryWindow, logger: Logger) {
        self.configuration = configuration
        self.window = window
        self.logger = logger
        (ticks, wakeUp) = AsyncStream.makeStream(bufferingPolicy: .bufferingNewest(1))
    }

    /// The worker's `acknowledged` hook: remembers the newest confirmed position (cheap).
    public func acknowledged(_ lsn: LSN) {
        latest.withLock { $0 = max($0 ?? lsn, lsn) }
    }

    /// Records and advances every ``HistoryWindow/recordInterval`` until graceful shutdown.
    public func run() async throws {
        guard let redisText = configuration.redisURL, let writerText = configuration.writerURL else { return }
        let redis = try RedisClient(url: try RedisURL(redisText), logger: logger)
        let record = HistoryRecord(keys: CacheKeys(namespace: try CacheNamespace(configuration.namespace)), redis: redis)
        var state = TickState()
        let wakeUp = wakeUp
        await withGracefulShutdownHandler {
            let timer = Task {
                while !Task.isCancelled {
                    try? await Task.sleep(for: .milliseconds(Int(window.recordInterval * 1000)))
                    wakeUp.yield()
                }
            }
            for await _ in ticks {
                if Task.isShuttingDownGracefully { break }
                await tick(record: record, writer: ConnectionString(writerText), state: &state)
            }
            timer.cancel()
            // The last confirmed position is recorded on the way out, so a restart finds it (in
            // a task of its own: a cancelled run would cancel the Redis call).
            let last = state
            await Task {
                var final = last
                await tick(record: record, writer: ConnectionString(writerText), state: &final, advance: false)
            }.value
        } onGracefulShutdown: {
            wakeUp.finish()
        }
        await redis.close()
    }

    /// What the keeper remembers between ticks.
    struct TickState {
        var lastRecorded: LSN?
        var connection: PostgresConnection?
        var warned: String?
        var seededSlotPosition = false
    }

    /// One round: record, look at the history slot, advance it, trim the record.
    func tick(record: HistoryRecord, writer: ConnectionString, state: inout TickState, now: Date = Date(), advance: Bool = true) async {
        let historySlot = configuration.historySlot
        do {
            if let position = latest.withLock({ $0 }), position != state.lastRecorded {
                try await record.record(position, at: now)
                state.lastRecorded = position
            }
            guard advance else { return }
            let connection: PostgresConnection
            if let open = state.connection {
                connection = open
            } else {
                // No statement_timeout: after a long stop the first advance may decode a lot of WAL.
                connection = try await offPool { try PostgresConnection(writer, settings: ["lock_timeout": "10s"]) }
            }
            state.connection = connection
            let slot = try await offPool { try connection.slotState(historySlot) }
            guard let slot, let confirmed = slot.confirmedFlushLSN, !slot.isLost else {
                let problem = slot == nil
                    ? "history slot \(historySlot) does not exist: run `cache-warmer setup` to create it (replay from the past is unavailable)"
                    : "history slot \(historySlot) was invalidated (wal_status = lost; max_slot_wal_keep_size too small for the window): run `cache-warmer setup` to create it anew; the main slot is not affected"
                warnOnce(problem, state: &state)
                try await trim(record, now: now)
                return
            }
            if state.warned != nil {
                logger.notice("history slot is usable again", metadata: ["slot": "\(historySlot)"])
                state.warned = nil
            }
            // The slot's own position is recorded once (as of now, an upper bound on its time)
            // when the record does not reach back to it, so the window's start has a time.
            if !state.seededSlotPosition {
                if try await record.time(of: confirmed) == nil, (try await record.all().first?.lsn).map({ $0 > confirmed }) ?? true {
                    try await record.record(confirmed, at: now)
                }
                state.seededSlotPosition = true
            }
            guard let target = try await target(record, now: now) else { return }
            if target.lsn > confirmed {
                let moved = try await offPool { try HistorySlots.advance(connection, slot: historySlot, to: target.lsn) }
                logger.debug("history slot advanced", metadata: ["slot": "\(historySlot)", "to": "\(moved)", "confirmed_at": "\(target.time)"])
            }
            if target.lsn >= confirmed {
                try await record.trim(before: target.time)
            }
        } catch {
            state.connection = nil
            if Task.isCancelled { return }
            logger.warning("history window: could not record or advance; retrying (the worker is not affected)", metadata: [
                "slot": "\(historySlot)", "error": "\(error)",
            ])
        }
    }

    /// The position the history slot should be at now: the newest confirmed at least `keep`
    /// ago, or for `keep_bytes` the newest at least that many bytes behind the latest.
    func target(_ record: HistoryRecord, now: Date) async throws -> HistoryRecord.Entry? {
        switch window.keep {
        case .duration(let seconds):
            return try await record.newest(atOrBefore: now.addingTimeInterval(-seconds))
        case .bytes(let bytes):
            let entries = try await record.all()
            guard let newest = latest.withLock({ $0 }) ?? entries.last?.lsn else { return nil }
            return entries.last { newest.distance(from: $0.lsn) >= bytes }
        }
    }

    /// Trims the record of a slot that cannot advance, so it stays bounded.
    private func trim(_ record: HistoryRecord, now: Date) async throws {
        if let target = try await target(record, now: now) { try await record.trim(before: target.time) }
    }

    private func warnOnce(_ problem: String, state: inout TickState) {
        guard state.warned != problem else { return }
        state.warned = problem
        logger.warning("\(problem)", metadata: ["slot": "\(configuration.historySlot)"])
    }
}
