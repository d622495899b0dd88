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
}
