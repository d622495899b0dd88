import CacheWarmer
import Foundation
import PGOutput
import PostgresReplication
import TestSupport
import Testing

/// The `cache-warmer` executable as operators run it: killed with SIGKILL mid-stream and
/// restarted, then stopped with SIGTERM.
@Suite struct WorkerProcessTests {
    static let binary = ProcessInfo.processInfo.environment["CACHE_WARMER_BIN"]
        ?? ConfigurationTests.repositoryRoot.appendingPathComponent(".build/debug/cache-warmer").path

    @Test func killedMidBatchAndRestartedNothingIsLostNothingRegresses() async throws {
        let harness = try WorkerHarness()
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(harness.slot)
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let config = directory.appendingPathComponent("worker.yaml").path
        try """
            namespace: \(harness.namespace)
            slot: \(harness.slot)
            status_interval_s: 0.2
            metrics_port: 0
            entities:
              order: { table: public."Order", key: [id] }
            """.write(toFile: config, atomically: true, encoding: .utf8)
        let log = directory.appendingPathComponent("worker.log").path
        let command = [Self.binary, "run", "--config", config]
        let user = Int.random(in: 10_000_000...99_999_999)

        var worker = try StackEnvironment.spawn(command, output: log)
        let writes = Task {
            try await onOwnThread {
                let connection = try StackEnvironment.writerConnection()
                for index in 0..<1500 {
                    let id = try connection.execute("INSERT INTO \"Order\" (\"userId\", \"totalCents\") VALUES (\(user), \(index)) RETURNING id").scalar!
                    try connection.execute("UPDATE \"Order\" SET status = 'paid', \"totalCents\" = \(index + 1) WHERE id = \(id)")
                    if index % 50 == 0 { usleep(20_000) }
                }
            }
        }
        // Let the worker apply some of it, then kill it without warning.
        _ = try await eventually(within: 30) { (try harness.checkpoint()) != nil }
        try await Task.sleep(for: .milliseconds(100))
        kill(worker, SIGKILL)
        #expect(StackEnvironment.waitForExit(worker) == 128 + SIGKILL)
        let checkpointAtKill = try #require(try harness.checkpoint())
        var versionsAtKill: [String: LSN] = [:]
        for key in try harness.keys("order:*") {
            versionsAtKill[key] = try harness.hash(key)["lsn"].flatMap { LSN(sortableString: $0) }
        }
        #expect(!versionsAtKill.isEmpty)

        worker = try StackEnvironment.spawn(command, output: log)
        try await writes.value
        #expect(checkpointAtKill < (try harness.currentWAL()), "the kill came while changes were still to apply")
        #expect(try await harness.waitApplied(through: try harness.currentWAL(), within: 60))
        // SIGTERM is handled once the worker streams (before that, the default action applies).
        #expect(try await eventually { try PostgresConnection(harness.writer).slotState(harness.slot)?.activePID != nil })
        kill(worker, SIGTERM)
        #expect(StackEnvironment.waitForExit(worker) == 0, "SIGTERM ends the worker cleanly (log: \(log))")

        let rows = try harness.sql("SELECT id, to_jsonb(o)::text FROM \"Order\" o WHERE \"userId\" = \(user)").rows
        #expect(rows.count == 1500)
        var missing = 0
        var regressed = 0
        for row in rows {
            let key = "\(harness.namespace):order:\(row[0]!)"
            let entry = try harness.hash(key)
            if entry["row"] != row[1] { missing += 1 }
            if let before = versionsAtKill[key], let now = entry["lsn"].flatMap({ LSN(sortableString: $0) }), now < before { regressed += 1 }
        }
        #expect(missing == 0, "every order reached Redis with its final content")
        #expect(regressed == 0, "no entry went back to an older version")
        let slot = try #require(try PostgresConnection(harness.writer).slotState(harness.slot))
        #expect(slot.confirmedFlushLSN == (try harness.checkpoint()), "after SIGTERM the slot is acknowledged as far as Redis confirmed")
        await harness.cleanUp()
    }
}
