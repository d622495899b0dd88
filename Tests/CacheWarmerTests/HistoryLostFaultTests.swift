import CacheContract
import CacheWarmer
import Foundation
import Logging
import PGOutput
import PostgresReplication
import RedisCache
import TestSupport
import Testing

/// The history slot invalidated by `max_slot_wal_keep_size` on a server of the test's own
/// (ALTER SYSTEM, CHECKPOINT): `status` says so, the main slot and the worker carry on, a replay
/// is refused, `setup` starts a new window and a replay before it is refused with its start.
@Suite(.serialized) struct HistoryLostFaultTests {
    @Test func aLostHistorySlotLeavesTheWorkerAloneAndReplayIsRefusedClearly() async throws {
        let server = try DedicatedPostgres.start()
        let owner = { (sql: String) throws -> QueryResult in try PostgresConnection(ConnectionString(server.url)).execute(sql) }
        _ = try owner("CREATE TABLE hist_item (id int PRIMARY KEY, note text)")
        _ = try owner("CREATE TABLE hist_filler (id serial PRIMARY KEY, pad text)")
        let namespace = StackEnvironment.uniqueName("t").replacingOccurrences(of: "_", with: "-")
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(namespace)
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let config = directory.appendingPathComponent("worker.yaml").path
        try """
            namespace: \(namespace)
            slot: hist_slot
            publication: hist_pub
            status_interval_s: 0.2
            metrics_port: 0
            resync: "off"
            history: { keep: 1h, record_interval_s: 0.1 }
            entities:
              item: { table: public.hist_item, key: [id] }
            """.write(toFile: config, atomically: true, encoding: .utf8)
        var environment = ProcessInfo.processInfo.environment
        environment["DB_WRITER_URL"] = server.url
        let configuration = try WorkerConfiguration.load(path: config, environment: environment)
        var logger = Logger(label: "test.history-lost")
        logger.logLevel = .error
        let redis = try RedisConnection(url: try RedisURL(try StackEnvironment.require("REDIS_URL")))
        let cached = { (id: Int) in (try? redis.command(["HGET", "\(namespace):item:\(id)", "row"]))?.text }
        func cli(_ arguments: [String]) throws -> (status: Int32?, output: String) {
            let log = directory.appendingPathComponent("cli-\(UUID().uuidString.prefix(6)).log").path
            let pid = try StackEnvironment.spawn([WorkerProcessTests.binary] + arguments + ["--config", config, "--writer-url", server.url], output: log)
            return (StackEnvironment.waitForExit(pid, within: 60), (try? String(contentsOfFile: log, encoding: .utf8)) ?? "")
        }
        defer {
            server.stop()
            if case .array(let keys)? = try? redis.command(["KEYS", "\(namespace):*"]), !keys.isEmpty { _ = try? redis.command(["DEL"] + keys.compactMap(\.text)) }
        }

        let report = try await Setup.run(configuration)
        #expect(report.history?.contains("history slot hist_slot_history created") == true)
        let keeper = HistoryKeeper(configuration: configuration, window: configuration.history!, logger: logger)
        let worker = Worker(configuration: configuration, logger: logger, acknowledged: { keeper.acknowledged($0) })
        let running = Task { try await worker.run() }
        let keeping = Task { try await keeper.run() }
        _ = try owner("INSERT INTO hist_item VALUES (1, 'before')")
        #expect(try await eventually(within: 90) { cached(1) != nil })
        let beforeLoss = Date()

        // WAL the history slot (keep: 1h) holds on to, while the worker's slot follows.
        let admin = try server.admin()
        for _ in 0..<4 {
            try admin.execute("INSERT INTO hist_filler (pad) SELECT repeat('x', 1000) FROM generate_series(1, 100)")
            try admin.execute("SELECT pg_switch_wal()")
        }
        // A checkpoint logs the running transactions: the worker's confirmations then move its
        // slot's restart_lsn into the current segment, the history slot's stays 4 segments back.
        try admin.execute("CHECKPOINT")
        let afterCheckpoint = LSN(try admin.execute("SELECT pg_current_wal_lsn()").scalar ?? "")!
        #expect(try await eventually(within: 90) {
            (try PostgresConnection(ConnectionString(server.url)).slotState("hist_slot")?.restartLSN).map { $0 >= afterCheckpoint.advanced(by: -200) } == true
        }, "the main slot's restart_lsn follows the worker")
        try admin.execute("ALTER SYSTEM SET max_slot_wal_keep_size = '1MB'")
        try admin.execute("SELECT pg_reload_conf()")
        // The checkpointer applies the new setting when it has handled the reload: checkpoint
        // until it has (the main slot's restart_lsn is in the current segment, it stays).
        for _ in 0..<40 {
            try admin.execute("CHECKPOINT")
            if try PostgresConnection(ConnectionString(server.url)).slotState("hist_slot_history")?.isLost == true { break }
            try await Task.sleep(for: .milliseconds(250))
        }

        let status = try await StatusReport.read(configuration)
        #expect(status.history?.walStatus == "lost")
        #expect(status.history?.warnings.first?.contains("invalidated (wal_status = lost)") == true, "\(status.history?.warnings ?? [])")
        #expect(status.walStatus != "lost", "the main slot is not affected")
        let printed = try cli(["status"])
        #expect(printed.status == 0, "status exits 0 while the main slot is fine: \(printed.output)")
        #expect(printed.output.contains("history wal_status   lost") && printed.output.contains("warning: history slot was invalidated"), "\(printed.output)")

        // The worker carries on.
        _ = try owner("UPDATE hist_item SET note = 'after the loss' WHERE id = 1")
        #expect(try await eventually(within: 90) { cached(1)?.contains("after the loss") == true })

        // A replay of the lost window is refused (exit 3, the slot is lost) ...
        let refused = try cli(["replay", "--since", "1h"])
        #expect(refused.status == 3 && refused.output.contains("hist_slot_history") && refused.output.contains("wal_status = lost"), "\(refused.output)")
        // ... and after setup starts a new window, a start before it is refused with its start (exit 4).
        try admin.execute("ALTER SYSTEM RESET max_slot_wal_keep_size")
        try admin.execute("SELECT pg_reload_conf()")
        let again = try await Setup.run(configuration)
        #expect(again.history?.contains("was lost: recreated") == true, "\(again.history ?? "")")
        let earliest = try #require(try PostgresConnection(ConnectionString(server.url)).slotState("hist_slot_history")?.confirmedFlushLSN)
        do {
            _ = try await HistoryRange.resolve(configuration, source: configuration.historySlot, start: .time(beforeLoss), end: nil, logger: logger)
            Issue.record("a start before the new window is refused")
        } catch let error as ReplicationError {
            #expect(error.code == .startBeforeSlotPosition && error.earliestAvailable == earliest, "\(error)")
        }
        let cliRefusal = try cli(["replay", "--since", "1h"])
        #expect(cliRefusal.status == 4 && cliRefusal.output.contains("earliest available is \(earliest)"), "\(cliRefusal.output)")

        worker.shutDown()
        _ = try await running.value
        keeping.cancel()
        try await keeping.value
    }
}
