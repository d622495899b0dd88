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
        let (directory, config) = try harness.processConfiguration()
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
        _ = try await eventually(within: 90) {
            let checkpointed = try harness.checkpoint() != nil
            let rows = try harness.keys("order:*")
            return checkpointed && !rows.isEmpty
        }
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
        #expect(StackEnvironment.waitForExit(worker, within: 30) == 0, "SIGTERM ends the worker cleanly (log: \(log))")

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

/// The subcommands' outputs and exit codes.
@Suite struct CommandLineTests {
    private func config(_ harness: WorkerHarness, extra: String = "") throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("\(harness.slot).yaml").path
        try """
            namespace: \(harness.namespace)
            slot: \(harness.slot)
            metrics_port: 0
            entities:
              order: { table: public."Order", key: [id] }
            \(extra)
            """.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    private func output(_ path: String) -> String {
        (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
    }

    @Test func statusSetupTeardownAndReplayExitCodes() async throws {
        let harness = try WorkerHarness()
        let file = try config(harness)
        let log = file + ".out"
        let run = { (arguments: [String]) throws -> Int32 in
            try? FileManager.default.removeItem(atPath: log)
            return StackEnvironment.waitForExit(try StackEnvironment.spawn([WorkerProcessTests.binary] + arguments + ["--config", file], output: log))
        }
        #expect(try run(["status", "--json"]) == 0)
        #expect(output(log).contains("\"slotExists\" : true"))
        #expect(!output(log).contains("cachewarmer:cachewarmer"), "no password in the output")

        let confirmed = try #require(try PostgresReplication.PostgresConnection(harness.writer).slotState(harness.slot)?.confirmedFlushLSN)
        try harness.sql("INSERT INTO \"Order\" (\"userId\", \"totalCents\") VALUES (3, 3)")
        #expect(try run(["replay", "--from", "\(confirmed.advanced(by: -1))", "--no-ack"]) == 4)
        #expect(output(log).contains("earliest LSN it can replay from"))
        #expect(try run(["replay", "--from", "\(confirmed)", "--no-ack"]) == 0)

        #expect(try run(["teardown"]) == 0)
        #expect(output(log).contains("dropped"))
        #expect(try run(["status"]) == 3)
        #expect(try run(["run"]) == 3, "run without a slot says to run setup")
        #expect(output(log).contains("cache-warmer setup"))
        #expect(try run(["setup"]) == 0)
        #expect(output(log).contains("slot \(harness.slot) created"))
        await harness.cleanUp()
    }

    @Test func aBadConfigurationExits78WithEveryProblem() async throws {
        let harness = try WorkerHarness()
        let file = try config(harness, extra: "batch: { max_writes: -1 }\nbogus: 1")
        let log = file + ".out"
        let status = StackEnvironment.waitForExit(try StackEnvironment.spawn([WorkerProcessTests.binary, "status", "--config", file], output: log))
        #expect(status == 78)
        #expect(output(log).contains("\(file): batch.max_writes: must be between"))
        #expect(output(log).contains("\(file): bogus: unknown key"))
        await harness.cleanUp()
    }
}

/// `/metrics`, `/healthz` and `/readyz` of a running worker.
@Suite struct MetricsEndpointTests {
    /// A plain HTTP GET on loopback; returns the status line and the body.
    static func get(port: Int, path: String) -> (status: String, body: String)? {
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(descriptor) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        inet_pton(AF_INET, "127.0.0.1", &address.sin_addr)
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else { return nil }
        let request = Array("GET \(path) HTTP/1.1\r\nHost: localhost\r\n\r\n".utf8)
        _ = request.withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
        var response: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = read(descriptor, &buffer, buffer.count)
            if count <= 0 { break }
            response += buffer[0..<count]
        }
        let text = String(decoding: response, as: UTF8.self)
        guard let split = text.range(of: "\r\n\r\n") else { return nil }
        return (String(text[..<split.lowerBound].prefix(while: { $0 != "\r" })), String(text[split.upperBound...]))
    }

    @Test func aStreamingWorkerServesItsMetrics() async throws {
        let harness = try WorkerHarness()
        let port = Int.random(in: 28_000...28_999)
        let config = FileManager.default.temporaryDirectory.appendingPathComponent("\(harness.slot)-metrics.yaml").path
        try """
            namespace: \(harness.namespace)
            slot: \(harness.slot)
            metrics_port: \(port)
            # /readyz says 503 "warming" while the warm-up of a new epoch runs (WarmUpFaultTests).
            resync: "off"
            entities:
              order: { table: public."Order", key: [id] }
            # A re-warmed query adds the read library and the re-warmer to the service group:
            # SIGTERM must still end them all.
            queries:
              catalog-page:
                sql: SELECT id FROM "Product" WHERE category = $category
                params: [category]
                rewarm: 2
                depends_on:
                  - { table: public."Product", match: { param: category, column: category } }
            """.write(toFile: config, atomically: true, encoding: .utf8)
        let worker = try StackEnvironment.spawn([WorkerProcessTests.binary, "run", "--config", config], output: config + ".log")
        #expect(try await eventually { Self.get(port: port, path: "/readyz")?.status.contains("200") == true })
        try harness.sql("INSERT INTO \"Order\" (\"userId\", \"totalCents\") VALUES (5, 5)")
        #expect(try await harness.waitApplied(through: try harness.currentWAL()))
        let metrics = try #require(Self.get(port: port, path: "/metrics"))
        #expect(metrics.status.contains("200"))
        for name in ["cache_warmer_transactions_total", "cache_warmer_commit_to_redis_seconds_bucket", "cache_warmer_replication_lag_bytes", "cache_warmer_redis_errors_total"] {
            #expect(metrics.body.contains(name), "missing \(name)")
        }
        #expect(Self.get(port: port, path: "/healthz")?.body == "ok\n")
        #expect(Self.get(port: port, path: "/nope")?.status.contains("404") == true)
        kill(worker, SIGTERM)
        #expect(StackEnvironment.waitForExit(worker, within: 30) == 0, "SIGTERM ends the worker and every service beside it")
        await harness.cleanUp()
    }
}
