import CacheContract
import Foundation
import NIOCore
import PGOutput
import PostgresReplication
import TestSupport
import Testing

/// The canonical JSON of a row must be byte for byte `to_jsonb(row)::text` on the real server:
/// once from the columns' text output (what the simple query protocol returns, the same output
/// functions pgoutput calls), once from the pgoutput messages of a logical slot.
@Suite struct PostgresParityTests {
    private func connect() throws -> PostgresConnection {
        let connection = try PostgresConnection(ConnectionString(try StackEnvironment.require("DB_WRITER_URL")))
        try connection.execute(TrickyRows.sessionSettings)
        return connection
    }

    private static func uniqueName(_ prefix: String) -> String {
        prefix + UUID().uuidString.prefix(8).lowercased()
    }

    /// Renders every row of `table` from its text columns and compares with `to_jsonb`.
    private func compareTextRoute(_ postgres: PostgresConnection, table: String, types: PostgresTypes) throws -> Int {
        let columns = try postgres.execute(TrickyRows.columnsQuery(table)).rows.compactMap { row -> (String, UInt32)? in
            guard let name = row[0], let oid = row[1].flatMap({ UInt32($0) }) else { return nil }
            return (name, oid)
        }
        let result = try postgres.execute("SELECT to_jsonb(whole_row)::text, whole_row.* FROM \(table) whole_row ORDER BY 2")
        #expect(result.columns.count == columns.count + 1)
        for row in result.rows {
            let named = zip(columns, row.dropFirst()).map { column, text in
                NamedColumn(name: column.0, typeOID: column.1, isKey: false, value: text.map { .text(ByteBuffer(string: $0)) } ?? .null)
            }
            let rendered = try CanonicalJSON.row(named, types: types)
            #expect(rendered.json == row[0], "row \(row[1] ?? "?")")
            #expect(rendered.isVerified, "row \(row[1] ?? "?"): \(rendered.unverifiedColumns)")
        }
        return result.rows.count
    }

    @Test func textOutputRouteMatchesToJSONB() throws {
        let postgres = try connect()
        let table = Self.uniqueName("cj_text_")
        try postgres.execute(TrickyRows.createTable(table, temporary: true))
        try postgres.execute(TrickyRows.inserts(table))
        #expect(try compareTextRoute(postgres, table: table, types: .builtin) == 324)
    }

    @Test func pgoutputRouteMatchesToJSONB() throws {
        let postgres = try connect()
        let name = Self.uniqueName("cj_slot_")
        try postgres.execute(TrickyRows.createTable(name, temporary: false))
        defer {
            _ = try? postgres.execute("SELECT pg_drop_replication_slot('\(name)')")
            _ = try? postgres.execute("DROP PUBLICATION IF EXISTS \(name); DROP TABLE IF EXISTS \(name)")
        }
        try postgres.execute("CREATE PUBLICATION \(name) FOR TABLE \(name)")
        try postgres.execute("SELECT 1 FROM pg_create_logical_replication_slot('\(name)', 'pgoutput', true)")
        try postgres.execute(TrickyRows.inserts(name))

        let changes = try postgres.execute("""
            SELECT encode(data, 'hex') FROM pg_logical_slot_peek_binary_changes('\(name)', NULL, 100000,
              'proto_version', '1', 'publication_names', '\(name)')
            """)
        var decoder = try PGOutputDecoder(protocolVersion: 1)
        var relations = RelationCache()
        var rendered: [String: CanonicalRow] = [:]
        for row in changes.rows {
            let bytes = try Self.hexBytes(row[0] ?? "")
            switch try decoder.decode(ByteBuffer(bytes: bytes)) {
            case .relation(let relation):
                relations.apply(relation)
            case .insert(let insert):
                let columns = try relations.columns(of: insert.newTuple, relationOID: insert.relationOID)
                let id = try #require(columns.first { $0.name == "id" }?.value.textValue)
                rendered[id] = try CanonicalJSON.row(columns)
            default:
                break
            }
        }
        let expected = try postgres.execute("SELECT id::text, to_jsonb(whole_row)::text FROM \(name) whole_row ORDER BY id")
        #expect(expected.rows.count == 324)
        #expect(rendered.count == expected.rows.count)
        for row in expected.rows {
            let id = row[0] ?? "?"
            #expect(rendered[id]?.json == row[1], "row \(id)")
            #expect(rendered[id]?.isVerified == true, "row \(id)")
        }
    }

    /// Enums, domains (as their base type) and arrays of both, registered from the catalog.
    @Test func catalogTypesMatchToJSONB() throws {
        let postgres = try connect()
        let suffix = UUID().uuidString.prefix(8).lowercased()
        let mood = "cj_mood_\(suffix)", positive = "cj_pos_\(suffix)", amounts = "cj_amounts_\(suffix)", table = "cj_types_\(suffix)"
        defer {
            _ = try? postgres.execute("DROP TABLE IF EXISTS \(table); DROP DOMAIN IF EXISTS \(amounts); DROP DOMAIN IF EXISTS \(positive); DROP TYPE IF EXISTS \(mood)")
        }
        try postgres.execute("""
            CREATE TYPE \(mood) AS ENUM ('happy', 'so "so"', 'a,b');
            CREATE DOMAIN \(positive) AS numeric CHECK (VALUE > 0);
            CREATE DOMAIN \(amounts) AS numeric[];
            CREATE TABLE \(table) (id int4, m \(mood), ms \(mood)[], p \(positive), ps \(positive)[], a \(amounts));
            INSERT INTO \(table) VALUES (1, 'happy', '{happy,"so \\"so\\"","a,b",NULL}', 1.50, '{2.0,3}', '{1.5e2,NULL}'),
                                     (2, NULL, '{}', 1e-3, NULL, '{}')
            """)
        var types = PostgresTypes.builtin
        #expect(try PostgresTypeCatalog.register(rows: postgres.execute(PostgresTypeCatalog.query).rows, into: &types) >= 5)
        #expect(try compareTextRoute(postgres, table: table, types: types) == 2)
    }

    /// A composite column is flagged: its text form cannot give to_jsonb's nested object.
    @Test func compositeColumnsAreReportedUnverified() throws {
        let postgres = try connect()
        let suffix = UUID().uuidString.prefix(8).lowercased()
        let pair = "cj_pair_\(suffix)"
        defer { _ = try? postgres.execute("DROP TYPE IF EXISTS \(pair)") }
        try postgres.execute("CREATE TYPE \(pair) AS (a int, b text)")
        let oid = try #require(try postgres.execute("SELECT '\(pair)'::regtype::oid::text").scalar.flatMap { UInt32($0) })
        var types = PostgresTypes.builtin
        try PostgresTypeCatalog.register(rows: postgres.execute(PostgresTypeCatalog.query).rows, into: &types)
        #expect(types.kind(of: oid) == nil)
        let row = try CanonicalJSON.row([NamedColumn(name: "p", typeOID: oid, isKey: false, value: .text(ByteBuffer(string: "(1,x)")))], types: types)
        #expect(row.unverifiedColumns == ["p"])
    }

    private static func hexBytes(_ hex: String) throws -> [UInt8] {
        let digits = Array(hex.utf8)
        guard digits.count % 2 == 0 else { throw CacheContractError(code: .invalidTextForm, message: "odd hex length") }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(digits.count / 2)
        for index in stride(from: 0, to: digits.count, by: 2) {
            guard let byte = UInt8(String(decoding: digits[index...index + 1], as: UTF8.self), radix: 16) else {
                throw CacheContractError(code: .invalidTextForm, message: "bad hex")
            }
            bytes.append(byte)
        }
        return bytes
    }
}
