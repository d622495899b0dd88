import CacheContract
@testable import CacheWarmer
import PostgresReplication
import TestSupport
import Testing

/// The key lookups of resync and verify (``EntityScan/keyMatch(_:)``), run on Postgres with key
/// texts that need quoting in an array literal or in SQL.
@Suite struct EntityScanTests {
    static let oddTexts = [#"quote " inside"#, #"back\slash"#, "it's", "comma, {braces}", "  spaces  ", "NULL", "", "ünï 🚀"]

    @Test func aOneColumnKeyIsMatchedThroughOneArrayLiteral() throws {
        let table = StackEnvironment.uniqueName("t_scan")
        let writer = try StackEnvironment.writerConnection()
        try writer.execute("CREATE TABLE \(table) (name text PRIMARY KEY, n int)")
        defer { _ = try? writer.execute("DROP TABLE \(table)") }
        for (index, text) in Self.oddTexts.enumerated() {
            try writer.execute("INSERT INTO \(table) VALUES (\(PostgresConnection.literal(text)), \(index))")
        }
        let entity = EntityConfiguration(name: "odd", table: TableName(schema: "public", name: table), key: ["name"])
        let scan = try EntityScan.load(entity, warm: entity.warm, types: .builtin, connection: writer)
        let asked = Self.oddTexts.map { [$0] } + [["absent"], [#"quote "inside"#]]
        #expect(scan.keyMatch(asked).contains("= ANY("))
        let found = try writer.execute(scan.existing(keys: asked)).rows.map { $0[1] ?? "<null>" }
        #expect(Set(found) == Set(Self.oddTexts))
        #expect(try writer.execute(scan.select(keys: [[#"back\slash"#]])).rows.count == 1)
        #expect(try writer.execute(scan.existing(keys: [])).rows.isEmpty)
    }

    @Test func aTwoColumnKeyIsMatchedAsRowValues() throws {
        let table = StackEnvironment.uniqueName("t_scan")
        let writer = try StackEnvironment.writerConnection()
        try writer.execute("CREATE TABLE \(table) (a text, b bigint, PRIMARY KEY (a, b)); INSERT INTO \(table) VALUES ('it''s', 1), ('x', 2)")
        defer { _ = try? writer.execute("DROP TABLE \(table)") }
        let entity = EntityConfiguration(name: "pair", table: TableName(schema: "public", name: table), key: ["a", "b"])
        let scan = try EntityScan.load(entity, warm: entity.warm, types: .builtin, connection: writer)
        let found = try writer.execute(scan.existing(keys: [["it's", "1"], ["x", "3"]])).rows.map { [$0[1] ?? "", $0[2] ?? ""] }
        #expect(found == [["it's", "1"]])
    }

    /// `warm.limit` selects the same rows for every chunk: the first N by `order_by`, the key
    /// breaking ties, or by key without `order_by` (a LIMIT without ORDER BY may pick other rows
    /// each time a chunk's statement runs, e.g. under synchronized sequential scans).
    @Test func aLimitSelectsTheSameFirstRowsInEveryChunk() throws {
        let table = StackEnvironment.uniqueName("t_scan")
        let writer = try StackEnvironment.writerConnection()
        try writer.execute("CREATE TABLE \(table) (id int PRIMARY KEY, score int NOT NULL); INSERT INTO \(table) SELECT g, g % 7 FROM generate_series(1, 300) g")
        defer { _ = try? writer.execute("DROP TABLE \(table)") }
        var entity = EntityConfiguration(name: "ranked", table: TableName(schema: "public", name: table), key: ["id"])
        entity.warm = EntityWarm(limit: 50)
        let byKey = try EntityScan.load(entity, warm: entity.warm, types: .builtin, connection: writer)
        #expect(byKey.source.contains(#"ORDER BY t."id" LIMIT 50"#), "\(byKey.source)")
        entity.warm = EntityWarm(orderBy: "score DESC", limit: 50)
        let ranked = try EntityScan.load(entity, warm: entity.warm, types: .builtin, connection: writer)
        #expect(ranked.source.contains(#"ORDER BY score DESC, t."id" LIMIT 50"#), "\(ranked.source)")
        // Chunk by chunk, the rows read are exactly the first 50 by (score DESC, id).
        var keys: [String] = []
        var after: [String]?
        while true {
            let rows = try writer.execute(ranked.chunkSelect(after: after, rows: 7)).rows
            keys += rows.compactMap { $0[1] }
            guard rows.count == 7, let last = rows.last?[1] else { break }
            after = [last]
        }
        let expected = try writer.execute("SELECT t.id::text FROM \(table) t ORDER BY t.score DESC, t.id LIMIT 50").rows.compactMap { $0[0] }
        #expect(Set(keys) == Set(expected) && keys.count == 50, "\(keys) vs \(expected)")
    }
}
