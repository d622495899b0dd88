import CacheWarmer
import Foundation
import PGOutput
import PostgresReplication
import RedisCache
import TestSupport
import Testing

/// Bad input to the `cache-warmer` binary: each is one line naming what and where, a non-zero
/// exit, no secret printed, and nothing acknowledged that Redis has not confirmed.
@Suite struct BadInputTests {
    /// Runs the binary to its end (60 s at most); returns its exit status, output and duration.
    static func cli(_ arguments: [String], config: String) throws -> (status: Int32?, output: String, seconds: Double) {
        let log = FileManager.default.temporaryDirectory.appendingPathComponent("bad-input-\(UUID().uuidString.prefix(8)).log").path
        defer { try? FileManager.default.removeItem(atPath: log) }
        let started = Date()
        let pid = try StackEnvironment.spawn([WorkerProcessTests.binary] + arguments + ["--config", config], output: log)
        let status = StackEnvironment.waitForExit(pid, within: 60)
        return (status, (try? String(contentsOfFile: log, encoding: .utf8)) ?? "", Date().timeIntervalSince(started))
    }

    /// The lines the binary printed as its error (`cache-warmer: ...`).
    static func errorLines(_ output: String) -> [Substring] {
        output.split(separator: "\n").filter { $0.hasPrefix("cache-warmer: ") }
    }

    static func writeConfig(_ text: String) throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("bad-input-\(UUID().uuidString.prefix(8)).yaml").path
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    static let goodConfig = """
        namespace: bad-input
        slot: bad_input_slot
        metrics_port: 0
        entities:
          order: { table: public."Order", key: [id] }
        """

    @Test func aConfigurationWithEveryKindOfMistakeReportsThemAllAtOnce() throws {
        let file = try Self.writeConfig("""
            status_interval_s: -3
            entry_ttl_s: lots
            metrics_port: 99999
            batch: { max_transactions: 0, max_writes: -1, frobnicate: 1 }
            bogus: 1
            entities:
              order: { table: public."Order", key: [] }
              twin: { table: public."Product", key: [id], mode: sideways }
              broken: { table: "not a table!", key: [id] }
            queries:
              order:
                sql: SELECT 1
              page:
                sql: SELECT id FROM "Product" WHERE category = $category
                params: [category, unused]
            """)
        defer { try? FileManager.default.removeItem(atPath: file) }
        for command in ["status", "run", "setup"] {
            let result = try Self.cli([command], config: file)
            #expect(result.status == 78, "\(command): \(result.output)")
            let expected = [
                "bogus: unknown key", "batch.frobnicate: unknown key", "batch.max_transactions: must be between",
                "batch.max_writes: must be between", "status_interval_s: must be", "entry_ttl_s: must be", "metrics_port: must be between",
                "entities.broken.table: 'not a table!' is not a table name", "entities.order.key: needs at least one column",
                "entities.twin.mode: 'sideways' is not one of", "queries.order.depends_on: is required",
                "queries.page.params: parameter 'unused' does not appear", "queries.order: has the name of an entity",
            ]
            for problem in expected {
                #expect(result.output.contains("\(file): \(problem)"), "\(command) reports '\(problem)' with the file: \(result.output)")
            }
            let lines = result.output.split(separator: "\n")
            #expect(lines.allSatisfy { $0.hasPrefix("cache-warmer: \(file): ") || $0.hasPrefix("\(file): ") }, "one line per problem, nothing else: \(result.output)")
        }
    }

    @Test func unreachableAndUnknownHostsFailFastWithOneLine() throws {
        let file = try Self.writeConfig(Self.goodConfig)
        defer { try? FileManager.default.removeItem(atPath: file) }
        let cases: [(arguments: [String], mentions: [String])] = [
            (["status", "--writer-url", "postgres://cachewarmer:sekrit-1@127.0.0.1:1/cachewarmer"], ["127.0.0.1", "port 1", "Connection refused"]),
            (["run", "--writer-url", "postgres://cachewarmer:sekrit-1@127.0.0.1:1/cachewarmer"], ["127.0.0.1", "port 1", "Connection refused"]),
            (["setup", "--writer-url", "postgres://cachewarmer:sekrit-1@nonexistent.invalid/cachewarmer"], ["nonexistent.invalid"]),
            (["status", "--redis-url", "redis://:sekrit-1@127.0.0.1:1/0"], ["redis://:***@127.0.0.1:1/0", "Connection refused"]),
        ]
        for (arguments, mentions) in cases {
            let result = try Self.cli(arguments, config: file)
            #expect(result.status == 1, "\(arguments): \(result.output)")
            #expect(result.seconds < 20, "\(arguments) took \(result.seconds) s")
            let lines = Self.errorLines(result.output)
            #expect(lines.count == 1, "\(arguments): \(result.output)")
            for mention in mentions {
                #expect(lines.first?.contains(mention) == true, "\(arguments) names \(mention): \(result.output)")
            }
            #expect(!result.output.contains("sekrit-1"), "no password printed: \(result.output)")
        }
    }

    @Test func wrongPasswordsAreReportedButNeverPrinted() throws {
        let file = try Self.writeConfig(Self.goodConfig)
        defer { try? FileManager.default.removeItem(atPath: file) }
        let writer = try StackEnvironment.require("DB_WRITER_URL")
        var components = try #require(URLComponents(string: writer))
        components.password = "not-the-password-42"
        let wrongWriter = try #require(components.string)
        let redis = try StackEnvironment.require("REDIS_URL").replacingOccurrences(of: "redis://", with: "redis://:not-the-password-42@")
        for arguments in [["status", "--writer-url", wrongWriter], ["run", "--writer-url", wrongWriter], ["setup", "--writer-url", wrongWriter], ["status", "--redis-url", redis]] {
            let result = try Self.cli(arguments, config: file)
            #expect(result.status == 1, "\(arguments[0]): \(result.output)")
            let lines = Self.errorLines(result.output)
            #expect(lines.count == 1 && (lines[0].contains("password authentication failed") || lines[0].contains("AUTH")), "\(result.output)")
            #expect(!result.output.contains("not-the-password-42"), "no password printed: \(result.output)")
        }
    }

    @Test func aRedisAtMaxmemoryWithNoevictionIsRetriedAndNothingIsAcknowledged() async throws {
        let harness = try WorkerHarness()
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(harness.slot)
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        // A Redis of the test's own, on a port below the ephemeral range.
        var port = 0
        var redisPID: pid_t = 0
        for candidate in (0..<20).map({ _ in Int.random(in: 21000...24999) }) {
            redisPID = try StackEnvironment.spawn(
                ["/usr/bin/redis-server", "--port", "\(candidate)", "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                 "--maxmemory-policy", "noeviction", "--dir", directory.path],
                output: directory.appendingPathComponent("redis.log").path)
            if try await eventually(within: 3, { (try? RedisConnection(url: try RedisURL("redis://127.0.0.1:\(candidate)/0")).command(["PING"]))?.text == "PONG" }) {
                port = candidate
                break
            }
            kill(redisPID, SIGKILL)
            _ = StackEnvironment.waitForExit(redisPID)
        }
        try #require(port != 0, "a Redis of the test's own started")
        defer {
            kill(redisPID, SIGTERM)
            _ = StackEnvironment.waitForExit(redisPID, within: 10)
        }
        let redisURL = "redis://127.0.0.1:\(port)/0"
        let redis = try RedisConnection(url: try RedisURL(redisURL))
        let config = try Self.writeConfig("""
            namespace: \(harness.namespace)
            slot: \(harness.slot)
            status_interval_s: 0.2
            metrics_port: 0
            entities:
              order: { table: public."Order", key: [id] }
            """)
        let log = directory.appendingPathComponent("worker.log").path
        let worker = try StackEnvironment.spawn([WorkerProcessTests.binary, "run", "--config", config, "--redis-url", redisURL], output: log)
        let slotConfirmed = { try PostgresConnection(harness.writer).slotState(harness.slot)?.confirmedFlushLSN ?? .zero }
        let first = try #require(try harness.sql("INSERT INTO \"Order\" (\"userId\", \"totalCents\") VALUES (42, 1) RETURNING id").scalar)
        #expect(try await eventually(within: 90) { (try? redis.command(["HGET", "\(harness.namespace):order:\(first)", "row"]))?.text != nil },
                "\((try? String(contentsOfFile: log, encoding: .utf8)) ?? "")")

        // Redis full: every write is refused with an OOM error.
        _ = try redis.command(["CONFIG", "SET", "maxmemory", "1"])
        let before = try harness.currentWAL()
        try await Task.sleep(for: .milliseconds(500))
        let confirmedBefore = try slotConfirmed()
        let second = try #require(try harness.sql("INSERT INTO \"Order\" (\"userId\", \"totalCents\") VALUES (42, 2) RETURNING id").scalar)
        let committed = try harness.currentWAL()
        try await Task.sleep(for: .seconds(3))
        // Whether the entry itself is in Redis depends on the other entries of its script run
        // (Redis checks maxmemory only up to a script's first write): the checkpoint's write is
        // refused, so the batch is not acknowledged either way.
        #expect(try slotConfirmed() <= max(before, confirmedBefore), "nothing past the refused change is acknowledged")
        #expect(try slotConfirmed() < committed)
        let output = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
        #expect(output.contains("OOM"), "the worker says why: \(output)")
        var exitStatus: Int32 = 0
        #expect(waitpid(worker, &exitStatus, WNOHANG) == 0, "the worker waits for Redis instead of exiting: \(output)")

        // Room again: the change is applied, then acknowledged.
        _ = try redis.command(["CONFIG", "SET", "maxmemory", "0"])
        #expect(try await eventually(within: 90) { (try? redis.command(["HGET", "\(harness.namespace):order:\(second)", "row"]))?.text != nil })
        #expect(try await eventually(within: 90) { try slotConfirmed() >= committed })
        kill(worker, SIGTERM)
        #expect(StackEnvironment.waitForExit(worker, within: 30) == 0)
        await harness.cleanUp()
    }

    /// A configured table dropped, or taken out of the publication, while the worker streams:
    /// `run` exits 3 (not set up) within the check interval, with one line naming the table.
    @Test(arguments: ["DROP TABLE", "ALTER PUBLICATION"])
    func aTableGoneFromThePublicationWhileStreamingExits3(change: String) async throws {
        let table = StackEnvironment.uniqueName("t_gone")
        let publication = StackEnvironment.uniqueName("t_gone_pub")
        let slot = StackEnvironment.uniqueName("t_gone_slot")
        let writer = try StackEnvironment.writerConnection()
        try writer.execute("CREATE TABLE \(table) (id int PRIMARY KEY, note text)")
        try writer.execute("CREATE PUBLICATION \(publication) FOR TABLE \(table)")
        defer {
            _ = try? writer.execute("DROP PUBLICATION IF EXISTS \(publication)")
            _ = try? writer.execute("DROP TABLE IF EXISTS \(table)")
            _ = try? writer.dropSlotIfExists(slot)
        }
        let config = try Self.writeConfig("""
            namespace: \(table.replacingOccurrences(of: "_", with: "-"))
            slot: \(slot)
            publication: \(publication)
            status_interval_s: 0.2
            publication_check_interval_s: 0.5
            metrics_port: 0
            entities:
              item: { table: public.\(table), key: [id] }
            """)
        #expect(try Self.cli(["setup"], config: config).status == 0)
        let log = FileManager.default.temporaryDirectory.appendingPathComponent("\(table).log").path
        let worker = try StackEnvironment.spawn([WorkerProcessTests.binary, "run", "--config", config], output: log)
        #expect(try await eventually(within: 90) { try writer.slotState(slot)?.activePID != nil })
        try writer.execute("INSERT INTO \(table) VALUES (1, 'a')")
        try writer.execute(change == "DROP TABLE" ? "DROP TABLE \(table)" : "ALTER PUBLICATION \(publication) DROP TABLE \(table)")
        let changed = Date()
        let status = StackEnvironment.waitForExit(worker, within: 30)
        let output = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
        #expect(status == 3, "\(change): \(output)")
        #expect(Date().timeIntervalSince(changed) < 15, "noticed within the check interval")
        let lines = Self.errorLines(output)
        #expect(lines.count == 1 && lines[0].contains(table), "one line naming the table: \(output)")
    }

    /// A row larger than the entry limit (64 MB here, the limit 16 MiB): the worker writes an
    /// invalidation marker instead of the row, acknowledges past it and goes on.
    @Test func aRowLargerThan64MBBecomesAnInvalidationMarker() async throws {
        let harness = try WorkerHarness()
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(harness.slot)
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let config = try Self.writeConfig("""
            namespace: \(harness.namespace)
            slot: \(harness.slot)
            status_interval_s: 0.2
            metrics_port: 0
            entities:
              order: { table: public."Order", key: [id] }
            """)
        let log = directory.appendingPathComponent("worker.log").path
        let worker = try StackEnvironment.spawn([WorkerProcessTests.binary, "run", "--config", config], output: log)
        // Random text does not compress: the row stays over 64 MB in the WAL.
        let id = try #require(try harness.sql("""
            INSERT INTO "Order" ("userId", "totalCents", note)
            SELECT 64, 64, string_agg(md5(random()::text), '') FROM generate_series(1, 2100000) RETURNING id
            """).scalar)
        let after = try #require(try harness.sql("INSERT INTO \"Order\" (\"userId\", \"totalCents\") VALUES (64, 1) RETURNING id").scalar)
        let committed = try harness.currentWAL()
        #expect(try harness.sql("SELECT octet_length(note) > 64 * 1024 * 1024 FROM \"Order\" WHERE id = \(id)").scalar == "t")
        #expect(try await harness.waitApplied(through: committed, within: 120), "\((try? String(contentsOfFile: log, encoding: .utf8)) ?? "")")
        let entry = try harness.hash("\(harness.namespace):order:\(id)")
        #expect(entry["invalidated"] == "1" && entry["row"] == nil, "\(entry.keys.sorted())")
        #expect(try harness.hash("\(harness.namespace):order:\(after)")["row"] != nil, "the worker goes on after the large row")
        #expect(try await eventually(within: 90) { (try PostgresConnection(harness.writer).slotState(harness.slot)?.confirmedFlushLSN ?? .zero) >= committed })
        var exitStatus: Int32 = 0
        #expect(waitpid(worker, &exitStatus, WNOHANG) == 0, "still running")
        kill(worker, SIGTERM)
        #expect(StackEnvironment.waitForExit(worker, within: 30) == 0)
        _ = try? harness.sql("DELETE FROM \"Order\" WHERE id = \(id)")
        await harness.cleanUp()
    }
}
