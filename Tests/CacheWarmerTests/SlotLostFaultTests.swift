import CacheWarmer
import Foundation
import PGOutput
import PostgresReplication
import TestSupport
import Testing

/// A slot invalidated by `max_slot_wal_keep_size` (wal_status = lost), on a server of the test's
/// own (deploy/local/pg-tls.sh: the worker connects with sslmode=verify-full): `status`, `setup`
/// and `run` say so in one line with the recovery steps and exit 3 (the systemd unit does not
/// restart on it), whether the slot was lost while the worker was stopped or while it streamed;
/// `setup --recreate-slot` recreates it and begins a new cache epoch, which the worker keeps.
@Suite(.serialized) struct SlotLostFaultTests {
    /// One test's server, configuration and CLI.
    struct Scenario {
        let server: DedicatedPostgres
        let harness: WorkerHarness
        let config: String
        let directory: URL

        init() throws {
            server = try DedicatedPostgres.start()
            harness = try WorkerHarness()
            directory = FileManager.default.temporaryDirectory.appendingPathComponent(harness.slot)
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            config = directory.appendingPathComponent("worker.yaml").path
            try """
                namespace: \(harness.namespace)
                slot: lost_slot
                publication: lost_pub
                status_interval_s: 0.2
                metrics_port: 0
                entities:
                  item: { table: public.lost_item, key: [id] }
                """.write(toFile: config, atomically: true, encoding: .utf8)
            try owner("CREATE TABLE lost_item (id int PRIMARY KEY, note text)")
            try owner("CREATE TABLE lost_filler (id serial PRIMARY KEY)")
        }

        /// A statement as the tables' owner, over TLS.
        @discardableResult
        func owner(_ sql: String) throws -> QueryResult {
            try PostgresConnection(ConnectionString(server.url)).execute(sql)
        }

        /// Runs a subcommand to its end; returns its exit status and output.
        func cli(_ arguments: [String], within seconds: Double = 60) throws -> (status: Int32?, output: String) {
            let log = directory.appendingPathComponent("cli-\(UUID().uuidString.prefix(6)).log").path
            let pid = try StackEnvironment.spawn([WorkerProcessTests.binary] + arguments + ["--config", config, "--writer-url", server.url], output: log)
            let status = StackEnvironment.waitForExit(pid, within: seconds)
            return (status, (try? String(contentsOfFile: log, encoding: .utf8)) ?? "")
        }

        func spawnWorker(log: String) throws -> pid_t {
            // Its own server is also the reader (no standby: the warm-up reads it as the writer).
            try StackEnvironment.spawn([WorkerProcessTests.binary, "run", "--config", config, "--writer-url", server.url, "--reader-url", server.url], output: log)
        }

        func slot() throws -> SlotState? {
            try PostgresConnection(ConnectionString(server.url)).slotState("lost_slot")
        }

        /// Writes WAL past a 1 MB max_slot_wal_keep_size and checkpoints: the slot's WAL is removed.
        func loseTheSlot() throws {
            let admin = try server.admin()
            try admin.execute("ALTER SYSTEM SET max_slot_wal_keep_size = '1MB'")
            try admin.execute("SELECT pg_reload_conf()")
            for _ in 0..<4 {
                try admin.execute("INSERT INTO lost_filler DEFAULT VALUES")
                try admin.execute("SELECT pg_switch_wal()")
            }
            try admin.execute("CHECKPOINT")
        }

        func cached(_ id: Int) -> [String: String] {
            (try? harness.hash("\(harness.namespace):item:\(id)")) ?? [:]
        }

        func finish() async {
            server.stop()
            await harness.cleanUp()
        }
    }

    static let recovery = "cache-warmer setup --recreate-slot"

    @Test func lostWhileStoppedThenRecreatedWithANewEpoch() async throws {
        let scenario = try Scenario()
        #expect(try scenario.cli(["setup"]).status == 0)
        let workerLog = scenario.directory.appendingPathComponent("worker.log").path
        var worker = try scenario.spawnWorker(log: workerLog)
        try scenario.owner("INSERT INTO lost_item VALUES (1, 'before')")
        #expect(try await eventually(within: 90) { scenario.cached(1)["row"] != nil }, "\(workerLog)")
        let oldEpoch = try #require(try scenario.harness.epoch())
        kill(worker, SIGTERM)
        #expect(StackEnvironment.waitForExit(worker, within: 30) == 0)

        // Changes the stopped worker will never see, then the slot's WAL is removed.
        try scenario.owner("UPDATE lost_item SET note = 'lost change' WHERE id = 1")
        try scenario.loseTheSlot()
        #expect(try scenario.slot()?.walStatus == "lost")

        let status = try scenario.cli(["status"])
        #expect(status.status == 3)
        #expect(status.output.contains("wal_status = lost") && status.output.contains(Self.recovery), "\(status.output)")
        let run = try scenario.cli(["run"], within: 30)
        #expect(run.status == 3, "run on a lost slot exits 3 (no restart loop): \(run.output)")
        let errorLines = run.output.split(separator: "\n").filter { $0.hasPrefix("cache-warmer:") }
        #expect(errorLines.count == 1 && errorLines[0].contains("wal_status = lost") && errorLines[0].contains(Self.recovery), "\(run.output)")
        #expect(!run.output.contains("cachewarmer:cachewarmer"), "no password printed")
        let setup = try scenario.cli(["setup"])
        #expect(setup.status == 3 && setup.output.contains(Self.recovery), "plain setup refuses a lost slot: \(setup.output)")
        #expect(try scenario.harness.epoch() == oldEpoch, "nothing moved the epoch silently")

        let recreate = try scenario.cli(["setup", "--recreate-slot"])
        #expect(recreate.status == 0, "\(recreate.output)")
        #expect(recreate.output.contains("wal_status was lost") && recreate.output.contains("began cache epoch"), "\(recreate.output)")
        let newEpoch = try #require(try scenario.harness.epoch())
        #expect(Int64(newEpoch)! > Int64(oldEpoch)!)
        #expect(try scenario.slot()?.walStatus != "lost")
        #expect(scenario.cached(1)["epoch"] == oldEpoch, "the entry written before is of the old epoch: readers ignore it")

        // The worker keeps the epoch setup began and streams from the new slot.
        worker = try scenario.spawnWorker(log: workerLog)
        try scenario.owner("UPDATE lost_item SET note = 'after' WHERE id = 1")
        #expect(try await eventually(within: 90) { scenario.cached(1)["epoch"] == newEpoch }, "\(workerLog)")
        #expect(scenario.cached(1)["row"]?.contains("after") == true)
        #expect(try scenario.harness.epoch() == newEpoch, "no second epoch at the worker's start")
        // ... and warms it: setup recorded the new epoch's warm-up as begun.
        let warmed = try await eventually(within: 90) {
            let log = (try? String(contentsOfFile: workerLog, encoding: .utf8)) ?? ""
            return log.contains("did not finish; resuming it") && log.contains("warm-up finished")
        }
        #expect(warmed, "\((try? String(contentsOfFile: workerLog, encoding: .utf8)) ?? "")")
        kill(worker, SIGTERM)
        #expect(StackEnvironment.waitForExit(worker, within: 30) == 0)
        await scenario.finish()
    }

    @Test func lostWhileStreamingExits3() async throws {
        let scenario = try Scenario()
        #expect(try scenario.cli(["setup"]).status == 0)
        let workerLog = scenario.directory.appendingPathComponent("worker.log").path
        let worker = try scenario.spawnWorker(log: workerLog)
        try scenario.owner("INSERT INTO lost_item VALUES (1, 'before')")
        #expect(try await eventually(within: 90) { scenario.cached(1)["row"] != nil })
        // An open transaction that wrote keeps the slot's restart_lsn where it began, so the
        // streaming slot falls behind max_slot_wal_keep_size; the checkpoint then invalidates it
        // and terminates its walsender.
        let holder = try PostgresConnection(ConnectionString(scenario.server.url))
        try holder.execute("BEGIN")
        try holder.execute("INSERT INTO lost_filler DEFAULT VALUES")
        try scenario.loseTheSlot()
        let status = StackEnvironment.waitForExit(worker, within: 30)
        try? holder.execute("ROLLBACK")
        let output = (try? String(contentsOfFile: workerLog, encoding: .utf8)) ?? ""
        #expect(try scenario.slot()?.walStatus == "lost")
        #expect(status == 3, "a slot lost while streaming exits 3: \(output)")
        let errorLines = output.split(separator: "\n").filter { $0.hasPrefix("cache-warmer:") }
        #expect(errorLines.count == 1 && errorLines.first?.contains(Self.recovery) == true, "\(output)")
        await scenario.finish()
    }
}
