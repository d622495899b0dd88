import CacheContract
import CacheReads
import CacheWarmer
import Foundation
import Logging
import PGOutput
import PostgresNIO
import TestSupport
import Testing

/// One row, one key: whatever spelling of a key the caller passes (an upper-case uuid, `042`, a
/// text key under a case-insensitive or canonically-equivalent collation), a fill is named as the
/// worker names the row: from the row's own key values (docs/cache-protocol.md section 2).
@Suite struct KeyNamingTests {
    /// Tables keyed by uuid, int, a case-insensitive text and an NFC/NFD-insensitive text, with
    /// an entity each and two queries matched on a column.
    struct Fixture {
        var prefix: String
        var user: String { prefix + "_user" }
        var item: String { prefix + "_item" }
        var login: String { prefix + "_login" }
        var tag: String { prefix + "_tag" }

        func configuration() throws -> CacheReadsConfiguration {
            var configuration = try ReadsHarness.configuration()
            for (name, table, key) in [("kn-user", user, "id"), ("kn-item", item, "id"), ("kn-login", login, "email"), ("kn-tag", tag, "name")] {
                configuration.worker.entities.append(EntityConfiguration(name: name, table: TableName(schema: "public", name: table), key: [key]))
            }
            configuration.worker.queries.append(QueryConfiguration(
                name: "kn-user-by-id", sql: "SELECT id, v FROM \(user) WHERE id = $id", parameters: ["id"],
                dependsOn: [.init(table: TableName(schema: "public", name: user), match: (parameter: "id", column: "id"))]))
            configuration.worker.queries.append(QueryConfiguration(
                name: "kn-login-by-email", sql: "SELECT email, v FROM \(login) WHERE email = $email", parameters: ["email"],
                dependsOn: [.init(table: TableName(schema: "public", name: login), match: (parameter: "email", column: "email"))]))
            return configuration
        }

        var create: [String] {
            [
                "CREATE COLLATION \(prefix)_ci (provider = icu, locale = 'und-u-ks-level2', deterministic = false)",
                "CREATE COLLATION \(prefix)_nd (provider = icu, locale = 'und', deterministic = false)",
                "CREATE TABLE \(user) (id uuid PRIMARY KEY, v text NOT NULL)",
                "CREATE TABLE \(item) (id int PRIMARY KEY, v text NOT NULL)",
                "CREATE TABLE \(login) (email text COLLATE \(prefix)_ci PRIMARY KEY, v text NOT NULL)",
                "CREATE TABLE \(tag) (name text COLLATE \(prefix)_nd PRIMARY KEY, v text NOT NULL)",
                "INSERT INTO \(user) VALUES ('6f9619ff-8b86-d011-b42d-00cf4fc964ff', 'v1')",
                "INSERT INTO \(item) VALUES (42, 'v1')",
                "INSERT INTO \(login) VALUES ('Alice@Example.com', 'v1')",
                "INSERT INTO \(tag) VALUES (U&'caf\\00E9', 'v1')",
            ]
        }

        var drop: [String] { ["DROP TABLE IF EXISTS \(user), \(item), \(login), \(tag)", "DROP COLLATION IF EXISTS \(prefix)_ci", "DROP COLLATION IF EXISTS \(prefix)_nd"] }
    }

    /// Runs `body`, then drops the fixture's tables whether it threw or not.
    private func cleaningUp(_ reads: CacheReads, _ fixture: Fixture, _ body: () async throws -> Void) async throws {
        do {
            try await body()
        } catch {
            _ = try? await run(reads, fixture.drop)
            throw error
        }
        _ = try await run(reads, fixture.drop)
    }

    private func run(_ reads: CacheReads, _ statements: [String]) async throws -> LSN {
        try await reads.write { connection in
            for statement in statements { try await connection.query(PostgresQuery(unsafeSQL: statement), logger: Logger(label: "test")) }
            return true
        }.token
    }

    @Test func fillsAreNamedByTheRowReadNotByTheCallersSpelling() async throws {
        let fixture = Fixture(prefix: StackEnvironment.uniqueName("kn"))
        try await ReadsHarness.with(try fixture.configuration()) { harness in
            let reads = harness.reads
            let created = try await run(reads, fixture.create)
            try await cleaningUp(reads, fixture) {
            let keys = harness.commands.keys
            func entry(_ entity: String, _ text: String) throws -> String { try keys.row(try EntityName(entity), key: [KeyPart(text)]) }
            let cases: [(entity: String, typed: String, canonical: String)] = [
                ("kn-user", "6F9619FF-8B86-D011-B42D-00CF4FC964FF", "6f9619ff-8b86-d011-b42d-00cf4fc964ff"),
                ("kn-item", "042", "42"),
                ("kn-item", "+42", "42"),
                ("kn-login", "alice@example.com", "Alice@Example.com"),
                ("kn-tag", "cafe\u{301}", "caf\u{E9}"),
            ]
            for (entity, typed, canonical) in cases {
                let result = try await reads.row(entity: entity, key: KeyPart(typed), consistency: .readYourWrites(created))
                let value = try #require(result.value, "\(entity) \(typed) finds the row")
                #expect(value.contains(#""v": "v1""#))
                #expect(result.fill == .outcome(.filled) || result.fill == .outcome(.refusedByEntry), "\(entity) \(typed): \(String(describing: result.fill))")
                #expect(try harness.cached(try entry(entity, typed)).state == .missing, "\(entity): nothing filled under the caller's spelling \(typed)")
                #expect(try harness.cached(try entry(entity, canonical)).state == .value(value), "\(entity): filled under the row's own key \(canonical)")
            }
            #expect(reads.statistics.fillsRenamed == cases.count)
            // Once the library knows the key columns' types (read from the catalog at start and
            // every 5 s until every entity's table exists), a uuid or integer spelled otherwise
            // is looked up under the worker's spelling: a hit.
            for (entity, typed, canonical) in cases where entity == "kn-user" || entity == "kn-item" {
                #expect(try await eventuallyAsync(within: 8) {
                    try await reads.row(entity: entity, key: KeyPart(typed), consistency: .eventual).source == .cache
                }, "\(entity) \(typed) hits the entry \(canonical)")
            }

            // The worker's side of the changes: it names the entries from the rows (canonical keys).
            let changed = try await run(reads, [
                "UPDATE \(fixture.user) SET v = 'v2'", "DELETE FROM \(fixture.item) WHERE id = 42",
                "UPDATE \(fixture.login) SET v = 'v2'", "UPDATE \(fixture.tag) SET v = 'v2'",
            ])
            for (entity, _, canonical) in cases {
                if entity == "kn-item" {
                    _ = try harness.redis.evaluate(harness.commands.tombstone(try entry(entity, canonical), lsn: changed, epoch: harness.epoch))
                } else {
                    _ = try harness.redis.command(["DEL", try entry(entity, canonical)])
                }
            }
            _ = try harness.redis.evaluate(harness.commands.setCheckpoint(changed, epoch: harness.epoch))
            for (entity, typed, _) in cases {
                let result = try await reads.row(entity: entity, key: KeyPart(typed), consistency: .readYourWrites(changed))
                if entity == "kn-item" {
                    #expect(result.value == nil, "item \(typed) was deleted")
                } else {
                    #expect(result.value?.contains(#""v": "v2""#) == true, "\(entity) \(typed) reads the current row")
                }
            }
            }
        }
    }

    @Test func parameterFencesAreNamedByTheColumnsValueAndNondeterministicCollationsAreNotCached() async throws {
        let fixture = Fixture(prefix: StackEnvironment.uniqueName("kn"))
        try await ReadsHarness.with(try fixture.configuration()) { harness in
            let reads = harness.reads
            let created = try await run(reads, fixture.create)
            try await cleaningUp(reads, fixture) {
            let keys = harness.commands.keys
            let query = try CacheName("kn-user-by-id")
            let id = try CacheName("id")
            let upper = "6F9619FF-8B86-D011-B42D-00CF4FC964FF"
            let page = try await reads.query("kn-user-by-id", parameters: ["id": .string(upper)], consistency: .readYourWrites(created))
            #expect(page.value?.contains("6f9619ff") == true)
            #expect(page.fill == .outcome(.filled))
            let lowerFence = keys.parameterFence(query, id, KeyPart(upper.lowercased()))
            let upperFence = keys.parameterFence(query, id, KeyPart(upper))
            let entry = keys.derived(query, CanonicalParameters(["id": .string(upper)]))
            #expect(try harness.redis.command(["SISMEMBER", lowerFence.members, entry]) == .integer(1), "covered by the fence the worker moves")
            #expect(try harness.redis.command(["EXISTS", upperFence.members]) == .integer(0))
            // The worker moves the column value's fence on a change: the page is voided.
            let changed = try await run(reads, ["UPDATE \(fixture.user) SET v = 'v2'"])
            _ = try harness.redis.evaluate(harness.commands.bumpFence(lowerFence, lsn: changed, epoch: harness.epoch))
            let after = try await reads.query("kn-user-by-id", parameters: ["id": .string(upper)], consistency: .readYourWrites(changed))
            #expect(after.source != .cache && after.value?.contains(#""v": "v2""#) == true)

            // A case-insensitive column: 'ALICE@example.com' and 'Alice@Example.com' are one value
            // with two spellings, and the worker moves the fence of the row's spelling only.
            let login = try await reads.query("kn-login-by-email", parameters: ["email": .string("ALICE@example.com")], consistency: .readYourWrites(created))
            #expect(login.value?.contains("Alice@Example.com") == true)
            guard case .skipped(let reason)? = login.fill else {
                Issue.record("a result under a nondeterministic collation was offered to the cache: \(String(describing: login.fill))")
                return
            }
            #expect(reason.contains("nondeterministic"))
            }
        }
    }
}
