import CacheContract
import CacheWarmer
import Foundation
import PGOutput
import PostgresReplication
import TestSupport
import Testing

/// `setup` and the worker's start refuse a publication that cannot deliver complete rows or
/// every operation, say exactly what to run, and leave a publication they may not fix as it was.
@Suite struct PublicationRequirementTests {
    /// A configuration for the test's own tables and publication.
    static func configuration(_ entities: String, publication: String, slot: String) throws -> WorkerConfiguration {
        var configuration = try WorkerConfiguration.parse(
            yaml: "entities:\n" + entities, file: "test.yaml", environment: ProcessInfo.processInfo.environment)
        configuration.publication = publication
        configuration.slot = slot
        configuration.namespace = StackEnvironment.uniqueName("t").replacingOccurrences(of: "_", with: "-")
        configuration.metricsPort = 0
        return configuration
    }

    static func refusal(_ body: () async throws -> Void) async -> String? {
        do {
            try await body()
            return nil
        } catch let error as WorkerError where error.code == .notSetUp {
            return error.message
        } catch {
            return "unexpected: \(error)"
        }
    }

    @Test func aTableWithoutAReplicaIdentityIsRefusedAndThePublicationLeftAlone() async throws {
        let table = StackEnvironment.uniqueName("t_coupon")
        let writer = try StackEnvironment.writerConnection()
        try writer.execute("CREATE TABLE \(table) (code text NOT NULL UNIQUE, uses int NOT NULL DEFAULT 0); INSERT INTO \(table) (code) VALUES ('A'), ('B')")
        defer { _ = try? writer.execute("DROP TABLE \(table)") }
        let configuration = try Self.configuration("  coupon: { table: \(table), key: [code] }", publication: "\(table)_pub", slot: table)
        let message = await Self.refusal { _ = try await Setup.run(configuration) }
        #expect(message?.contains("public.\(table): has no usable replica identity") == true, "\(message ?? "accepted")")
        #expect(message?.contains("ALTER TABLE \"public\".\"\(table)\" REPLICA IDENTITY USING INDEX \"\(table)_code_key\"") == true)
        #expect(try writer.execute("SELECT count(*) FROM pg_publication WHERE pubname = '\(table)_pub'").scalar == "0", "nothing created")
        #expect(try writer.slotState(table) == nil)
        // The application's own writes keep working.
        try writer.execute("UPDATE \(table) SET uses = uses + 1 WHERE code = 'A'; DELETE FROM \(table) WHERE code = 'B'")
    }

    @Test func aDeferrablePrimaryKeyIsNotAReplicaIdentity() async throws {
        let table = StackEnvironment.uniqueName("t_def")
        let writer = try StackEnvironment.writerConnection()
        try writer.execute("CREATE TABLE \(table) (id int, v text, CONSTRAINT \(table)_pkey PRIMARY KEY (id) DEFERRABLE)")
        defer { _ = try? writer.execute("DROP PUBLICATION IF EXISTS \(table)_pub; DROP TABLE \(table)") }
        let configuration = try Self.configuration("  d: { table: \(table) }", publication: "\(table)_pub", slot: table)
        let message = await Self.refusal { _ = try await Setup.run(configuration) }
        #expect(message?.contains("has no usable replica identity") == true, "Postgres does not use a deferrable key: \(message ?? "accepted")")
        #expect(try writer.execute("SELECT count(*) FROM pg_publication WHERE pubname = '\(table)_pub'").scalar == "0")
        try writer.execute("UPDATE \(table) SET v = 'x'")
    }

    @Test func anEntityKeyOutsideTheReplicaIdentityIsRefused() async throws {
        let table = StackEnvironment.uniqueName("t_page")
        let writer = try StackEnvironment.writerConnection()
        try writer.execute("CREATE TABLE \(table) (id int PRIMARY KEY, slug text NOT NULL UNIQUE, title text)")
        defer { _ = try? writer.execute("DROP PUBLICATION IF EXISTS \(table)_pub; DROP TABLE \(table)") }
        let configuration = try Self.configuration("  page: { table: \(table), key: [slug] }", publication: "\(table)_pub", slot: table)
        let message = await Self.refusal { _ = try await Setup.run(configuration) }
        #expect(message?.contains("the entity key (slug) is not covered by the replica identity (id)") == true, "\(message ?? "accepted")")
        #expect(message?.contains("REPLICA IDENTITY USING INDEX \"\(table)_slug_key\"") == true)
        // With the identity the message names, setup goes through.
        try writer.execute("ALTER TABLE \(table) REPLICA IDENTITY USING INDEX \(table)_slug_key")
        let report = try await Setup.run(configuration)
        #expect(report.slotCreated)
        _ = try writer.dropSlotIfExists(table)
    }

    @Test func aRowFilterAColumnListAndMissingOperationsAreFixedBySetupAndRefusedAtStart() async throws {
        let table = StackEnvironment.uniqueName("t_doc")
        let publication = "\(table)_pub"
        let writer = try StackEnvironment.writerConnection()
        try writer.execute(
            """
            CREATE TABLE \(table) (id int PRIMARY KEY, a text, b text);
            CREATE PUBLICATION \(publication) FOR TABLE \(table) (id, a) WHERE (id > 10) WITH (publish = 'insert');
            """)
        defer { _ = try? writer.execute("DROP PUBLICATION IF EXISTS \(publication); DROP TABLE \(table)") }
        let configuration = try Self.configuration("  doc: { table: \(table) }", publication: publication, slot: table)
        try writer.createSlotIfMissing(table)
        defer { _ = try? writer.dropSlotIfExists(table) }
        // The worker refuses to start on it, naming each problem.
        let worker = Worker(configuration: configuration, logger: .init(label: "test"))
        let message = await Self.refusal { _ = try await worker.run() }
        #expect(message?.contains("has a row filter (WHERE (id > 10))") == true, "\(message ?? "started")")
        #expect(message?.contains("has a column list without b") == true)
        #expect(message?.contains("does not publish update, delete, truncate") == true)
        // setup owns the publication: it fixes all three.
        _ = try await Setup.run(configuration)
        let flags = try writer.execute("SELECT pubinsert, pubupdate, pubdelete, pubtruncate FROM pg_publication WHERE pubname = '\(publication)'")
        #expect(flags.rows == [["t", "t", "t", "t"]])
        let published = try writer.execute("SELECT rowfilter IS NULL, array_to_string(attnames, ',') FROM pg_publication_tables WHERE pubname = '\(publication)'")
        #expect(published.rows == [["t", "id,a,b"]])
    }

    @Test func aPublicationSetupDoesNotOwnIsLeftAloneWithTheStatementToRun() async throws {
        let table = StackEnvironment.uniqueName("t_own")
        let publication = "\(table)_pub"
        let writer = try StackEnvironment.writerConnection()
        try writer.execute("CREATE TABLE \(table) (id int PRIMARY KEY); CREATE PUBLICATION \(publication) FOR TABLE \(table) WITH (publish = 'insert, update')")
        defer { _ = try? writer.execute("DROP PUBLICATION IF EXISTS \(publication); DROP TABLE \(table)") }
        // The stack's least-privilege worker role does not own it.
        var configuration = try Self.configuration("  own: { table: \(table) }", publication: publication, slot: table)
        configuration.writerURL = try StackEnvironment.require("DB_WORKER_URL")
        let message = await Self.refusal { _ = try await Setup.run(configuration) }
        #expect(message?.contains("is not owned by this role, so setup leaves it alone") == true, "\(message ?? "accepted")")
        #expect(message?.contains("ALTER PUBLICATION \"\(publication)\" SET (publish = 'insert, update, delete, truncate')") == true)
        #expect(try writer.execute("SELECT pubdelete OR pubtruncate FROM pg_publication WHERE pubname = '\(publication)'").scalar == "f", "left as it was")
        // Its owner may: setup as the owner fixes it.
        configuration.writerURL = try StackEnvironment.require("DB_WRITER_URL")
        _ = try await Setup.run(configuration)
        #expect(try writer.execute("SELECT pubdelete AND pubtruncate FROM pg_publication WHERE pubname = '\(publication)'").scalar == "t")
        _ = try writer.dropSlotIfExists(table)
    }

    @Test func aPartitionedTableIsPublishedThroughItsRoot() async throws {
        let table = StackEnvironment.uniqueName("t_m")
        let writer = try StackEnvironment.writerConnection()
        try writer.execute(
            """
            CREATE TABLE \(table) (id int NOT NULL, region text NOT NULL, value numeric NOT NULL, PRIMARY KEY (id, region)) PARTITION BY LIST (region);
            CREATE TABLE \(table)_eu PARTITION OF \(table) FOR VALUES IN ('eu');
            """)
        defer { _ = try? writer.execute("DROP PUBLICATION IF EXISTS \(table)_pub; DROP TABLE \(table)") }
        // The publication exists before the slot, as `setup` orders them: a slot cannot decode
        // WAL written before its publication existed.
        try writer.execute("CREATE PUBLICATION \(table)_pub FOR TABLE \(table)")
        let harness = try WorkerHarness { configuration in
            configuration.publication = "\(table)_pub"
            configuration.entities = [EntityConfiguration(name: "m", table: TableName(schema: "public", name: table), key: ["id", "region"])]
            configuration.queries = []
        }
        // A publication without publish_via_partition_root names the leaf in every change: refused.
        let message = await Self.refusal { _ = try await harness.worker.run() }
        #expect(message?.contains("does not publish via the partition root") == true, "\(message ?? "started")")
        _ = try await Setup.run(harness.configuration)
        #expect(try writer.execute("SELECT pubviaroot FROM pg_publication WHERE pubname = '\(table)_pub'").scalar == "t")

        let run = harness.start()
        try harness.sql("INSERT INTO \(table) VALUES (1, 'eu', 1.5)")
        #expect(try await harness.waitApplied(through: try harness.currentWAL()))
        #expect(try harness.hash("\(harness.namespace):m:1:eu")["row"] == #"{"id": 1, "value": 1.5, "region": "eu"}"#)
        try harness.sql("UPDATE \(table) SET value = 99 WHERE id = 1")
        #expect(try await harness.waitApplied(through: try harness.currentWAL()))
        #expect(try harness.hash("\(harness.namespace):m:1:eu")["row"] == #"{"id": 1, "value": 99, "region": "eu"}"#)
        harness.worker.shutDown()
        _ = try await run.value
        await harness.cleanUp()
    }
}
