import CacheContract
import CacheWarmer
import Foundation
import PGOutput
import PostgresReplication
import TestSupport
import Testing

/// Tables that change while the worker streams: a new shape voids the entries of the old one,
/// generated columns switch write-through off, and a table the worker can no longer follow ends
/// the run as not set up with the entries voided.
@Suite struct SchemaChangeTests {
    /// A harness on a table of the test's own, published by a publication of its own.
    static func harness(_ ddl: String, table: String, checkInterval: Double = 10) throws -> WorkerHarness {
        let writer = try StackEnvironment.writerConnection()
        try writer.execute(ddl + "; CREATE PUBLICATION \(table)_pub FOR TABLE \(table)")
        return try WorkerHarness { configuration in
            configuration.publication = "\(table)_pub"
            configuration.entities = [EntityConfiguration(name: "acct", table: TableName(schema: "public", name: table))]
            configuration.queries = [
                QueryConfiguration(
                    name: "acct-list", sql: "SELECT 1 WHERE $x = $x", parameters: ["x"],
                    dependsOn: [.init(table: TableName(schema: "public", name: table))]),
            ]
            configuration.publicationCheckInterval = checkInterval
        }
    }

    static func drop(_ table: String) {
        _ = try? StackEnvironment.writerConnection().execute("DROP PUBLICATION IF EXISTS \(table)_pub; DROP TABLE IF EXISTS \(table)")
    }

    func fence(_ harness: WorkerHarness, _ name: String) throws -> LSN? {
        try harness.redis().command(["HGET", "\(harness.namespace):fence:\(name)", "lsn"]).text.flatMap { LSN(sortableString: $0) }
    }

    @Test func aDroppedColumnVoidsTheEntriesOfTheOldShape() async throws {
        let table = StackEnvironment.uniqueName("t_acct")
        let harness = try Self.harness("CREATE TABLE \(table) (id int PRIMARY KEY, email text NOT NULL, secret text)", table: table)
        defer { Self.drop(table) }
        let run = harness.start()
        try harness.sql("INSERT INTO \(table) VALUES (1, 'a@x', 'hunter2'), (2, 'b@x', 'pa55')")
        #expect(try await harness.waitApplied(through: try harness.currentWAL()))
        #expect(try harness.read("acct", "1").isValid)

        try harness.sql("ALTER TABLE \(table) DROP COLUMN secret")
        try harness.sql("UPDATE \(table) SET email = 'b2@x' WHERE id = 2")
        let after = try harness.currentWAL()
        #expect(try await harness.waitApplied(through: after))
        let one = try harness.read("acct", "1")
        #expect(!one.isValid, "the entry written with the dropped column is not served: \(one)")
        let two = try harness.read("acct", "2")
        let expected = try harness.sql("SELECT to_jsonb(t)::text FROM \(table) t WHERE id = 2").scalar ?? ""
        #expect(two.isValid && two.state == .value(expected))
        #expect(try fence(harness, "acct-list").map { $0 <= after && $0 >= (one.lsn ?? .zero) } == true, "the dependent query's fence moved too")
        harness.worker.shutDown()
        _ = try await run.value
        await harness.cleanUp()
    }

    @Test(arguments: ["RENAME COLUMN email TO mail", "ADD COLUMN z int DEFAULT 7", "DROP COLUMN secret"])
    func aColumnChangeWithNoWriteAfterItVoidsTheEntriesWithinTheCheckInterval(_ change: String) async throws {
        let table = StackEnvironment.uniqueName("t_acct")
        let harness = try Self.harness("CREATE TABLE \(table) (id int PRIMARY KEY, email text NOT NULL, secret text)", table: table, checkInterval: 0.5)
        defer { Self.drop(table) }
        let run = harness.start()
        try harness.sql("INSERT INTO \(table) VALUES (1, 'a@x', 'hunter2')")
        #expect(try await harness.waitApplied(through: try harness.currentWAL()))
        #expect(try harness.read("acct", "1").isValid)
        try await Task.sleep(for: .seconds(1.5))
        #expect(try harness.read("acct", "1").isValid, "an unchanged table is not voided by the periodic check")
        // No row changes after the DDL: no Relation message will come.
        try harness.sql("ALTER TABLE \(table) \(change)")
        #expect(try await eventually(within: 10) { try !harness.read("acct", "1").isValid }, "the old shape is not served")
        harness.worker.shutDown()
        _ = try await run.value
        await harness.cleanUp()
    }

    @Test func aShapeChangeWhileTheWorkerWasStoppedIsSeenOnRestart() async throws {
        let table = StackEnvironment.uniqueName("t_acct")
        let harness = try Self.harness("CREATE TABLE \(table) (id int PRIMARY KEY, email text NOT NULL, secret text)", table: table)
        defer { Self.drop(table) }
        var run = harness.start()
        try harness.sql("INSERT INTO \(table) VALUES (1, 'a@x', 'hunter2'), (2, 'b@x', 'pa55')")
        #expect(try await harness.waitApplied(through: try harness.currentWAL()))
        harness.worker.shutDown()
        _ = try await run.value
        try harness.sql("ALTER TABLE \(table) DROP COLUMN secret")
        try harness.sql("UPDATE \(table) SET email = 'b2@x' WHERE id = 2")
        let restarted = Worker(configuration: harness.configuration, logger: .init(label: "test"))
        run = Task { try await restarted.run() }
        #expect(try await harness.waitApplied(through: try harness.currentWAL()))
        #expect(try !harness.read("acct", "1").isValid, "the shape recorded in Redis differs from the new session's Relation")
        restarted.shutDown()
        _ = try await run.value
        await harness.cleanUp()
    }

    @Test func aGeneratedColumnAddedWhileStreamingInvalidatesFromThenOn() async throws {
        let table = StackEnvironment.uniqueName("t_inv")
        let harness = try Self.harness("CREATE TABLE \(table) (id int PRIMARY KEY, net int NOT NULL)", table: table)
        defer { Self.drop(table) }
        let run = harness.start()
        try harness.sql("INSERT INTO \(table) VALUES (1, 1000)")
        #expect(try await harness.waitApplied(through: try harness.currentWAL()))
        #expect(try harness.read("acct", "1").state == .value(#"{"id": 1, "net": 1000}"#))
        try harness.sql("ALTER TABLE \(table) ADD COLUMN gross int GENERATED ALWAYS AS (net * 2) STORED")
        try harness.sql("UPDATE \(table) SET net = 1100 WHERE id = 1")
        try harness.sql("INSERT INTO \(table) VALUES (2, 5)")
        #expect(try await harness.waitApplied(through: try harness.currentWAL()))
        for id in ["1", "2"] {
            let entry = try harness.read("acct", id)
            #expect(entry.state == .invalidated, "never a row without the generated column: \(entry)")
        }
        harness.worker.shutDown()
        _ = try await run.value
        await harness.cleanUp()
    }

    @Test func aTableDroppedFromThePublicationStopsTheWorkerAndVoidsItsEntries() async throws {
        let table = StackEnvironment.uniqueName("t_ord")
        let harness = try Self.harness("CREATE TABLE \(table) (id int PRIMARY KEY, status text NOT NULL)", table: table, checkInterval: 0.5)
        defer { Self.drop(table) }
        let run = harness.start()
        try harness.sql("INSERT INTO \(table) VALUES (1, 'pending')")
        #expect(try await harness.waitApplied(through: try harness.currentWAL()))
        #expect(try harness.read("acct", "1").isValid)
        try harness.sql("ALTER PUBLICATION \(table)_pub DROP TABLE \(table)")
        try harness.sql("UPDATE \(table) SET status = 'shipped' WHERE id = 1")
        let started = ContinuousClock.now
        let outcome = await run.result
        #expect(ContinuousClock.now - started < .seconds(40), "bounded (the check runs every 0.5 s; a busy machine stretches it)")
        guard case .failure(let error as WorkerError) = outcome else {
            Issue.record("the worker went on: \(outcome)")
            return
        }
        #expect(error.code == .notSetUp && error.message.contains("public.\(table): not in publication \(table)_pub"), "\(error)")
        #expect(try !harness.read("acct", "1").isValid, "the pending row is no longer served")
        #expect(harness.worker.metrics.notReadyReasons.contains { $0.hasPrefix("publication:") })
        let status = try await StatusReport.read(harness.configuration)
        #expect(status.publicationProblem?.contains("public.\(table): not in publication") == true, "`status` says it too")
        await harness.cleanUp()
    }

    @Test func aPublicationDroppedAndCreatedAgainStopsTheWorkerInsteadOfLooping() async throws {
        let table = StackEnvironment.uniqueName("t_pub")
        // A long check interval: the walsender's own error must be enough.
        let harness = try Self.harness("CREATE TABLE \(table) (id int PRIMARY KEY, v text)", table: table, checkInterval: 600)
        defer { Self.drop(table) }
        let run = harness.start()
        try harness.sql("INSERT INTO \(table) VALUES (1, 'a')")
        #expect(try await harness.waitApplied(through: try harness.currentWAL()))
        try harness.sql("DROP PUBLICATION \(table)_pub")
        try harness.sql("UPDATE \(table) SET v = 'b'")
        try harness.sql("CREATE PUBLICATION \(table)_pub FOR TABLE \(table)")
        let started = ContinuousClock.now
        guard case .failure(let error as ReplicationError) = await run.result else {
            Issue.record("the worker went on")
            return
        }
        #expect(ContinuousClock.now - started < .seconds(40), "bounded, not a reconnect loop")
        #expect(error.code == .publicationMismatch && error.message.contains("setup --recreate-slot"), "\(error)")
        #expect(try !harness.read("acct", "1").isValid, "the old row is no longer served")
        await harness.cleanUp()
    }

    @Test func aRenamedTableStopsTheWorker() async throws {
        let table = StackEnvironment.uniqueName("t_ren")
        let harness = try Self.harness("CREATE TABLE \(table) (id int PRIMARY KEY, v text)", table: table)
        defer {
            Self.drop(table)
            Self.drop("\(table)_new")
        }
        let run = harness.start()
        try harness.sql("INSERT INTO \(table) VALUES (1, 'a')")
        #expect(try await harness.waitApplied(through: try harness.currentWAL()))
        try harness.sql("ALTER TABLE \(table) RENAME TO \(table)_new")
        try harness.sql("UPDATE \(table)_new SET v = 'b'")
        guard case .failure(let error as WorkerError) = await run.result else {
            Issue.record("the worker went on")
            return
        }
        #expect(error.code == .notSetUp && error.message.contains("renamed to public.\(table)_new"), "\(error)")
        #expect(try !harness.read("acct", "1").isValid)
        _ = try? harness.sql("DROP PUBLICATION IF EXISTS \(table)_pub")
        await harness.cleanUp()
    }
}
