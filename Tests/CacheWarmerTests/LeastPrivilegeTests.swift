import CacheWarmer
import Foundation
import PostgresReplication
import RedisCache
import TestSupport
import Testing

/// `setup --print-grants` on a fresh server of the test's own: the printed SQL, run by a
/// superuser, is all the worker and the readers need. The worker (`setup`, `run`, `status`,
/// `teardown`) runs as the worker role, reads (`get`) as the reader role, over TLS with
/// `sslmode=verify-full`; neither role is a superuser or owns a table.
@Suite struct LeastPrivilegeTests {
    static let schema = ConfigurationTests.repositoryRoot.appendingPathComponent("deploy/sql/demo-schema.sql")

    @Test func theWorkerAndTheReadersNeedNoMoreThanThePrintedGrants() async throws {
        let server = try DedicatedPostgres.start()
        let harness = try WorkerHarness()
        defer { server.stop() }
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(harness.slot)
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let config = directory.appendingPathComponent("worker.yaml").path
        try """
            namespace: \(harness.namespace)
            slot: lp_slot
            publication: lp_pub
            status_interval_s: 0.2
            metrics_port: 0
            entities:
              order: { table: public."Order", key: [id] }
              product: { table: public."Product", key: [id] }
            queries:
              catalog-page:
                sql: SELECT id, name FROM "Product" WHERE category = $category ORDER BY id LIMIT 20 OFFSET $offset
                params: [category, offset]
                depends_on:
                  - { table: public."Product", match: { param: category, column: category } }
            """.write(toFile: config, atomically: true, encoding: .utf8)
        // The application's tables, owned by the application's role (not the worker's).
        let owner = try PostgresConnection(ConnectionString(server.url))
        try owner.execute(try String(contentsOf: Self.schema, encoding: .utf8))

        let cli = { (arguments: [String], url: String) throws -> (status: Int32?, output: String) in
            let log = directory.appendingPathComponent("cli-\(UUID().uuidString.prefix(6)).log").path
            let pid = try StackEnvironment.spawn(
                [WorkerProcessTests.binary] + arguments + ["--config", config, "--writer-url", url, "--reader-url", url], output: log)
            return (StackEnvironment.waitForExit(pid, within: 60), (try? String(contentsOfFile: log, encoding: .utf8)) ?? "")
        }
        let grants = try cli(["setup", "--print-grants"], server.url)
        #expect(grants.status == 0)
        #expect(grants.output.contains("CREATE ROLE \"cw_worker\" LOGIN REPLICATION;"))
        #expect(grants.output.contains("GRANT SELECT ON TABLE \"public\".\"Order\", \"public\".\"Product\" TO \"cw_reader\";"))
        #expect(grants.output.contains("CREATE PUBLICATION \"lp_pub\" FOR TABLE \"public\".\"Order\", \"public\".\"Product\";"))
        let rds = try cli(["setup", "--print-grants", "--rds"], server.url)
        #expect(rds.output.contains("GRANT rds_replication TO \"cw_worker\";") && !rds.output.contains("LOGIN REPLICATION"))

        let admin = try server.admin()
        try admin.execute(grants.output)
        try admin.execute("ALTER ROLE cw_worker PASSWORD 'worker-secret'; ALTER ROLE cw_reader PASSWORD 'reader-secret'")
        let tls = "sslmode=verify-full&sslrootcert=\(server.caFile)"
        let workerURL = "postgres://cw_worker:worker-secret@127.0.0.1:\(server.port)/cachewarmer?\(tls)"
        let readerURL = "postgres://cw_reader:reader-secret@127.0.0.1:\(server.port)/cachewarmer?\(tls)"
        #expect(try admin.execute("SELECT count(*) FROM pg_roles WHERE rolname IN ('cw_worker', 'cw_reader') AND NOT rolsuper").scalar == "2")

        let setup = try cli(["setup"], workerURL)
        #expect(setup.status == 0, "setup as cw_worker: \(setup.output)")
        let log = directory.appendingPathComponent("worker.log").path
        let worker = try StackEnvironment.spawn(
            [WorkerProcessTests.binary, "run", "--config", config, "--writer-url", workerURL, "--reader-url", readerURL], output: log)
        let id = try #require(try owner.execute("INSERT INTO \"Order\" (\"userId\", \"totalCents\") VALUES (5, 500) RETURNING id").scalar)
        let json = try #require(try owner.execute("SELECT to_jsonb(o)::text FROM \"Order\" o WHERE id = \(id)").scalar)
        #expect(try await eventually(within: 90) { (try? harness.hash("\(harness.namespace):order:\(id)"))?["row"] == json },
                "the worker streams as cw_worker: \((try? String(contentsOfFile: log, encoding: .utf8)) ?? "")")
        let status = try cli(["status"], workerURL)
        #expect(status.status == 0 && status.output.contains("streaming"), "\(status.output)")

        // Reads as cw_reader: a fill from the writer and a query page.
        try owner.execute("INSERT INTO \"Product\" (name, category, \"priceCents\") VALUES ('lamp', 'lp', 100)")
        let read = try cli(["get", "order", id, "--consistency", "strong"], readerURL)
        #expect(read.status == 0 && read.output.contains("\"totalCents\": 500"), "\(read.output)")
        let page = try cli(["get", "catalog-page", "category=lp", "offset=0", "--consistency", "strong"], readerURL)
        #expect(page.status == 0 && page.output.contains("lamp"), "\(page.output)")
        // The reader role cannot write, the worker role cannot change the publication's tables.
        let reader = try PostgresConnection(ConnectionString(readerURL))
        #expect(throws: PostgresError.self) { try reader.execute("INSERT INTO \"Product\" (name, category, \"priceCents\") VALUES ('x', 'x', 1)") }
        let workerSession = try PostgresConnection(ConnectionString(workerURL))
        #expect(throws: PostgresError.self) { try workerSession.execute("DELETE FROM \"Order\"") }
        for output in [setup.output, status.output, read.output, page.output] {
            #expect(!output.contains("worker-secret") && !output.contains("reader-secret"), "no password printed: \(output)")
        }

        kill(worker, SIGTERM)
        #expect(StackEnvironment.waitForExit(worker, within: 30) == 0)
        let teardown = try cli(["teardown"], workerURL)
        #expect(teardown.status == 0 && teardown.output.contains("dropped"), "\(teardown.output)")
        await harness.cleanUp()
    }

    /// The local stack's roles (`stack.sh up` creates them as `--print-grants` prints them): the
    /// worker streams as `cw_worker`, a read fills from the replica as `cw_reader`.
    @Test func theStackRunsTheWorkerAndTheReadersAsTheirRoles() async throws {
        let workerURL = try StackEnvironment.require("DB_WORKER_URL")
        let readerURL = try StackEnvironment.require("DB_READER_ROLE_URL")
        let readerOnWriterURL = try StackEnvironment.require("DB_READER_ROLE_WRITER_URL")
        let slot = StackEnvironment.uniqueName("t_lp_slot")
        let namespace = StackEnvironment.uniqueName("t-lp").replacingOccurrences(of: "_", with: "-")
        let config = FileManager.default.temporaryDirectory.appendingPathComponent("\(slot).yaml").path
        try WorkerHarness.writeOrderConfiguration(namespace: namespace, slot: slot, to: config)
        let roles = try PostgresConnection(ConnectionString(workerURL)).execute(
            "SELECT rolname, rolsuper, rolreplication FROM pg_roles WHERE rolname IN ('cw_worker', 'cw_reader') ORDER BY rolname").rows
        #expect(roles.map { $0.compactMap { $0 } } == [["cw_reader", "f", "f"], ["cw_worker", "f", "t"]])
        let output = FileManager.default.temporaryDirectory.appendingPathComponent("\(slot).log").path
        let run = { (arguments: [String]) throws -> Int32? in
            StackEnvironment.waitForExit(
                try StackEnvironment.spawn([WorkerProcessTests.binary] + arguments + ["--config", config], output: output), within: 60)
        }
        #expect(try run(["setup", "--writer-url", workerURL]) == 0, "\((try? String(contentsOfFile: output, encoding: .utf8)) ?? "")")
        let worker = try StackEnvironment.spawn(
            [WorkerProcessTests.binary, "run", "--config", config, "--writer-url", workerURL, "--reader-url", readerURL], output: output)
        let writer = try StackEnvironment.writerConnection()
        let id = try #require(try writer.execute("INSERT INTO \"Order\" (\"userId\", \"totalCents\") VALUES (77, 77) RETURNING id").scalar)
        let redis = try RedisConnection(url: try RedisURL(try StackEnvironment.require("REDIS_URL")))
        #expect(try await eventually(within: 90) { (try? redis.command(["HGET", "\(namespace):order:\(id)", "row"]))?.text != nil },
                "\((try? String(contentsOfFile: output, encoding: .utf8)) ?? "")")
        _ = try redis.command(["DEL", "\(namespace):order:\(id)"])
        #expect(try run(["get", "order", id, "--writer-url", readerOnWriterURL, "--reader-url", readerURL]) == 0)
        let read = (try? String(contentsOfFile: output, encoding: .utf8)) ?? ""
        #expect(read.contains("\"totalCents\": 77"), "a read as cw_reader: \(read)")
        kill(worker, SIGTERM)
        #expect(StackEnvironment.waitForExit(worker, within: 30) == 0)
        #expect(try run(["teardown", "--writer-url", workerURL]) == 0)
        if case .array(let keys) = try redis.command(["KEYS", "\(namespace):*"]), !keys.isEmpty {
            _ = try redis.command(["DEL"] + keys.compactMap(\.text))
        }
    }
}
