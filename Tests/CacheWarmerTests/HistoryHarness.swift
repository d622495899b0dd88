import CacheContract
import CacheWarmer
import Foundation
import Logging
import PGOutput
import PostgresReplication
import RedisCache
import TestSupport

/// A ``WorkerHarness`` with a history window: its `<slot>_history` slot, a worker whose
/// acknowledgements feed a ``HistoryKeeper``, and helpers to read the window.
final class HistoryHarness: Sendable {
    let base: WorkerHarness
    let configuration: WorkerConfiguration
    let logger: Logger

    init(keep: String, recordInterval: Double = 0.1) throws {
        base = try WorkerHarness { configuration in
            configuration.history = HistoryWindow(keep: .duration(seconds: HistoryWindow.parseDuration(keep)!), recordInterval: recordInterval)
        }
        configuration = base.configuration
        var logger = Logger(label: "test.history")
        logger.logLevel = .warning
        self.logger = logger
        try PostgresConnection(base.writer).createSlotIfMissing(configuration.historySlot)
    }

    /// A worker and its keeper, running until ``Running/stop()``.
    struct Running {
        let worker: Worker
        let task: Task<Worker.Summary, any Error>
        let keeper: Task<Void, any Error>

        func stop() async throws {
            worker.shutDown()
            _ = try await task.value
            keeper.cancel()
            try await keeper.value
        }
    }

    func start() -> Running {
        let keeper = HistoryKeeper(configuration: configuration, window: configuration.history!, logger: logger)
        let worker = Worker(configuration: configuration, logger: logger, acknowledged: { keeper.acknowledged($0) })
        return Running(worker: worker, task: Task { try await worker.run() }, keeper: Task { try await keeper.run() })
    }

    func slot(_ name: String) throws -> SlotState? {
        try PostgresConnection(base.writer).slotState(name)
    }

    func historyPosition() throws -> LSN? {
        try slot(configuration.historySlot)?.confirmedFlushLSN
    }

    func record() throws -> HistoryRecord {
        HistoryRecord(keys: CacheKeys(namespace: try CacheNamespace(configuration.namespace)), redis: try RedisClient(url: base.redisURL))
    }

    /// Copies of the history slot still on the server (replay and peek drop theirs).
    func copies() throws -> [String] {
        try base.sql("SELECT slot_name FROM pg_replication_slots WHERE slot_name LIKE '\(configuration.historySlot)_c_%'").rows.compactMap { $0[0] }
    }

    /// Replays `start`...`end` into `namespace` through a copy of the history slot.
    func replay(_ start: HistoryRange.Start, _ end: HistoryRange.End? = nil, into namespace: String) async throws -> HistoryReplayService.Outcome {
        let range = try await HistoryRange.resolve(configuration, source: configuration.historySlot, start: start, end: end, logger: logger)
        var target = configuration
        target.namespace = namespace
        return try await HistoryReplayService(configuration: target, range: range, logger: logger).replay()
    }

    /// Drops both slots and the namespaces' keys.
    func cleanUp(namespaces: [String] = []) async {
        for namespace in namespaces {
            if case .array(let items)? = try? base.redis().command(["KEYS", "\(namespace):*"]), !items.isEmpty {
                _ = try? base.redis().command(["DEL"] + items.compactMap(\.text))
            }
        }
        _ = try? PostgresConnection(base.writer).dropSlotIfExists(configuration.historySlot)
        await base.cleanUp()
    }
}

/// Polls an async condition every 50 ms until it holds or `seconds` pass.
func eventuallyTrue(within seconds: Double = 20, _ condition: () async throws -> Bool) async throws -> Bool {
    let deadline = Date().addingTimeInterval(seconds)
    while Date() < deadline {
        if try await condition() { return true }
        try await Task.sleep(for: .milliseconds(50))
    }
    return try await condition()
}
