import CacheWarmer
import Foundation
import PGOutput
import PostgresReplication
import TestSupport
import Testing

/// The worker against the real stack: rows reach Redis as canonical JSON with their commit's LSN.
@Suite struct WorkerEndToEndTests {
    @Test func ordersAreWrittenThroughDeletesLeaveTombstones() async throws {
        let harness = try WorkerHarness()
        let run = harness.start()
        let user = Int.random(in: 1_000_000...9_999_999)
        let before = try harness.currentWAL()
        let first = Int(try harness.sql("INSERT INTO \"Order\" (\"userId\", \"totalCents\", note, items) VALUES (\(user), 1999, E'caf\\u00e9 \"q\" \\\\ tab\\t', '[{\"sku\": \"a\", \"qty\": 2}]') RETURNING id").scalar ?? "")!
        try harness.sql("UPDATE \"Order\" SET status = 'paid', \"totalCents\" = 2099 WHERE id = \(first)")
        let second = Int(try harness.sql("INSERT INTO \"Order\" (\"userId\", \"totalCents\") VALUES (\(user), 5) RETURNING id").scalar ?? "")!
        try harness.sql("DELETE FROM \"Order\" WHERE id = \(second)")
        let after = try harness.currentWAL()
        #expect(try await harness.waitApplied(through: after))

        let entry = try harness.hash("\(harness.namespace):order:\(first)")
        let expected = try harness.sql("SELECT to_jsonb(o)::text FROM \"Order\" o WHERE id = \(first)").scalar
        #expect(entry["row"] == expected)
        let version = try #require(entry["lsn"].flatMap { LSN(sortableString: $0) })
        #expect(version > before && version <= after)
        #expect(entry["epoch"] == (try harness.epoch()))
        let tombstone = try harness.hash("\(harness.namespace):order:\(second)")
        #expect(tombstone["deleted"] == "1" && tombstone["row"] == nil)

        harness.worker.shutDown()
        let summary = try await run.value
        #expect(summary.transactions >= 4)
        let slot = try #require(try PostgresReplication.PostgresConnection(harness.writer).slotState(harness.slot))
        #expect(slot.confirmedFlushLSN == (try harness.checkpoint()), "the slot is acknowledged exactly as far as Redis confirmed")
        await harness.cleanUp()
    }

    @Test func productChangesFenceExactlyTheirCategories() async throws {
        let harness = try WorkerHarness()
        let run = harness.start()
        let tag = UUID().uuidString.prefix(6).lowercased()
        let id = try harness.sql("INSERT INTO \"Product\" (name, category, \"priceCents\") VALUES ('Lamp', 'home-\(tag)', 100) RETURNING id").scalar!
        try harness.sql("UPDATE \"Product\" SET category = 'garden-\(tag)' WHERE id = \(id)")
        #expect(try await harness.waitApplied(through: try harness.currentWAL()))
        let fences = try harness.keys("fence:catalog-page*").filter { $0.contains(tag) || !$0.contains("=") }
        #expect(fences == [
            "\(harness.namespace):fence:catalog-page:category=garden-\(tag)",
            "\(harness.namespace):fence:catalog-page:category=home-\(tag)",
        ])
        harness.worker.shutDown()
        _ = try await run.value
        await harness.cleanUp()
    }

    @Test func anUnchangedToastUpdateInvalidatesTheEntry() async throws {
        let harness = try WorkerHarness()
        let run = harness.start()
        // An incompressible 20 kB note is stored out of line; updating another column sends it as 'u'.
        let id = try harness.sql(
            "INSERT INTO \"Order\" (\"userId\", \"totalCents\", note) SELECT 1, 1, string_agg(md5(g::text), '') FROM generate_series(1, 700) g RETURNING id"
        ).scalar!
        #expect(try await harness.waitApplied(through: try harness.currentWAL()))
        #expect(try harness.hash("\(harness.namespace):order:\(id)")["row"] != nil)
        try harness.sql("UPDATE \"Order\" SET status = 'shipped' WHERE id = \(id)")
        #expect(try await harness.waitApplied(through: try harness.currentWAL()))
        let entry = try harness.hash("\(harness.namespace):order:\(id)")
        #expect(entry["invalidated"] == "1" && entry["row"] == nil, "never a partial row")
        harness.worker.shutDown()
        _ = try await run.value
        await harness.cleanUp()
    }

    @Test func truncateAndPrimaryKeyChangesOnATableOfItsOwn() async throws {
        let table = StackEnvironment.uniqueName("t_items")
        let publication = "\(table)_pub"
        let setup = try StackEnvironment.writerConnection()
        try setup.execute("CREATE TABLE \(table) (id int PRIMARY KEY, label text); CREATE PUBLICATION \(publication) FOR TABLE \(table)")
        let harness = try WorkerHarness { configuration in
            configuration.publication = publication
            configuration.entities = [EntityConfiguration(name: "item", table: TableName(schema: "public", name: table))]
            configuration.queries = []
        }
        let run = harness.start()
        try harness.sql("INSERT INTO \(table) VALUES (1, 'one'), (2, 'two')")
        try harness.sql("UPDATE \(table) SET id = 3 WHERE id = 2")
        #expect(try await harness.waitApplied(through: try harness.currentWAL()))
        #expect(try harness.hash("\(harness.namespace):item:2")["deleted"] == "1", "the old key of a primary-key change is removed")
        #expect(try harness.hash("\(harness.namespace):item:3")["row"] == #"{"id": 3, "label": "two"}"#)
        try harness.sql("TRUNCATE \(table)")
        let truncated = try harness.currentWAL()
        #expect(try await harness.waitApplied(through: truncated))
        let fence = try harness.redis().command(["HGET", "\(harness.namespace):fence:item", "lsn"]).text.flatMap { LSN(sortableString: $0) }
        let entry = try harness.hash("\(harness.namespace):item:1")["lsn"].flatMap { LSN(sortableString: $0) }
        #expect(fence != nil && entry != nil && fence! > entry!, "the entity fence voids every entry written before the TRUNCATE")
        harness.worker.shutDown()
        _ = try await run.value
        await harness.cleanUp()
        try setup.execute("DROP PUBLICATION \(publication); DROP TABLE \(table)")
    }

    @Test func aRowThatCannotBeRenderedStillMovesItsQueriesFences() async throws {
        let harness = try WorkerHarness()
        let run = harness.start()
        let tag = UUID().uuidString.prefix(6).lowercased()
        // An incompressible description is stored out of line; an update of another column sends it as 'u'.
        let id = try harness.sql(
            "INSERT INTO \"Product\" (name, category, \"priceCents\", description) SELECT 'Lamp', 'home-\(tag)', 100, string_agg(md5(g::text), '') FROM generate_series(1, 700) g RETURNING id"
        ).scalar!
        #expect(try await harness.waitApplied(through: try harness.currentWAL()))
        let before = try harness.currentWAL()
        try harness.sql("UPDATE \"Product\" SET category = 'garden-\(tag)' WHERE id = \(id)")
        #expect(try await harness.waitApplied(through: try harness.currentWAL()))
        #expect(try harness.hash("\(harness.namespace):product:\(id)")["invalidated"] == "1", "the row itself is not rendered")
        for category in ["home-\(tag)", "garden-\(tag)"] {
            let fence = try harness.redis().command(["HGET", "\(harness.namespace):fence:catalog-page:category=\(category)", "lsn"]).text
            #expect(fence.flatMap { LSN(sortableString: $0) }.map { $0 > before } == true, "the \(category) pages are fenced although the row could not be rendered")
        }
        harness.worker.shutDown()
        _ = try await run.value
        await harness.cleanUp()
    }

    @Test func replayWithoutAckAppliesARangeAndLeavesTheSlot() async throws {
        let harness = try WorkerHarness()
        let start = try #require(try PostgresReplication.PostgresConnection(harness.writer).slotState(harness.slot)?.confirmedFlushLSN)
        let id = try harness.sql("INSERT INTO \"Order\" (\"userId\", \"totalCents\") VALUES (7, 7) RETURNING id").scalar!
        let end = try harness.currentWAL()
        let summary = try await harness.start(.init(startLSN: start, endLSN: end, acknowledge: false)).value
        #expect(summary.lastApplied.map { $0 <= end } == true)
        #expect(try harness.hash("\(harness.namespace):order:\(id)")["row"] != nil)
        #expect(try PostgresReplication.PostgresConnection(harness.writer).slotState(harness.slot)?.confirmedFlushLSN == start)
        await harness.cleanUp()
    }
}


/// A transaction larger than the worker may hold is applied in parts, as invalidation markers.
@Suite struct LargeTransactionTests {
    @Test func aLargeTransactionBecomesMarkersAndIsAcknowledgedAtItsCommit() async throws {
        let harness = try WorkerHarness { $0.largeTransactionWrites = 100 }
        let run = harness.start()
        let user = Int.random(in: 1_000_000...9_999_999)
        let before = try harness.currentWAL()
        try harness.sql(
            """
            BEGIN;
            INSERT INTO "Order" ("userId", "totalCents") SELECT \(user), g FROM generate_series(1, 1000) g;
            UPDATE "Order" SET status = 'paid' WHERE "userId" = \(user) AND "totalCents" <= 500;
            COMMIT;
            """)
        let after = try harness.currentWAL()
        #expect(try await harness.waitApplied(through: after))
        let ids = try harness.sql("SELECT id FROM \"Order\" WHERE \"userId\" = \(user)").rows.compactMap { $0[0] }
        #expect(ids.count == 1000)
        var markers = 0
        for id in ids {
            let entry = try harness.hash("\(harness.namespace):order:\(id)")
            if entry["invalidated"] == "1", entry["row"] == nil, let lsn = entry["lsn"].flatMap({ LSN(sortableString: $0) }), lsn > before, lsn <= after {
                markers += 1
            }
        }
        #expect(markers == 1000, "every row of the large transaction is a marker, none a stale or partial row")
        harness.worker.shutDown()
        _ = try await run.value
        await harness.cleanUp()
    }
}
