import CacheWarmer
import Foundation
import Testing

@Suite struct ConfigurationTests {
    static let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    @Test func theDemoConfigurationLoads() throws {
        let path = Self.repositoryRoot.appendingPathComponent("deploy/cache-warmer.yaml").path
        let configuration = try WorkerConfiguration.load(path: path, environment: ["DB_WRITER_URL": "postgres://w", "REDIS_URL": "redis://r"])
        #expect(configuration.entities.map(\.name) == ["order", "product"])
        #expect(configuration.entities[0].table == TableName(schema: "public", name: "Order"))
        #expect(configuration.queries.first?.dependsOn.first?.match?.column == "category")
        #expect(configuration.writerURL == "postgres://w")
        #expect(configuration.tables.map(\.sql) == [#""public"."Order""#, #""public"."Product""#])
    }

    @Test(arguments: [
        (#"public."Order""#, "public", "Order"),
        (#""Order""#, "public", "Order"),
        ("Orders", "public", "orders"),
        (#"sales."Line ""Item""""#, "sales", #"Line "Item""#),
        // Only ASCII letters fold; other characters are kept as written.
        ("Ärger", "public", "Ärger"),
        ("ÉTÉ.Straße", "ÉtÉ", "straße"),
        ("_t$1", "public", "_t$1"),
        // Identifiers are cut to 63 bytes, on a character boundary.
        (String(repeating: "a", count: 70), "public", String(repeating: "a", count: 63)),
        ("\"" + String(repeating: "é", count: 40) + "\"", "public", String(repeating: "é", count: 31)),
    ])
    func tableNamesParseLikePostgres(_ text: String, _ schema: String, _ name: String) {
        #expect(TableName(parsing: text) == TableName(schema: schema, name: name))
    }

    @Test(arguments: ["", ".", "a.", "a.b.c", #""unterminated"#, "bad-name", #""a"b"#, "1abc", "$x"])
    func malformedTableNamesAreRefused(_ text: String) {
        #expect(TableName(parsing: text) == nil)
    }

    @Test func messagesNameTheTableAsWritten() throws {
        let table = try #require(TableName(parsing: #" Sales."Order" "#))
        #expect(table.spelling == #"Sales."Order""#)
        #expect(table.description == "sales.Order")
        #expect(table == TableName(schema: "sales", name: "Order"), "the spelling is not part of equality")
    }

    /// YAML 1.1 reads an unquoted off/on/yes/no as a boolean: `resync: off` means off, and a
    /// boolean where a string belongs says to quote it. SQL pieces lose one trailing `;` and
    /// must not be empty.
    @Test func yamlBooleansAndSQLPiecesAreReadAsAPersonMeansThem() throws {
        let base = """
            writer_url: postgres://localhost/db
            redis_url: redis://localhost
            entities:
              order: { table: public."Order", warm: { where: "status = 'paid';  " } }
            """
        let off = try WorkerConfiguration.parse(yaml: base + "\nresync: off", file: "ok.yaml")
        #expect(off.resyncOnNewEpoch == false)
        #expect(off.entities.first?.warm.filter == "status = 'paid'")
        #expect(try WorkerConfiguration.parse(yaml: base + "\nresync: true", file: "ok.yaml").resyncOnNewEpoch)
        let bad = """
            writer_url: postgres://localhost/db
            redis_url: redis://localhost
            namespace: no
            entities:
              order: { table: public."Order", warm: { where: " ; " } }
            queries:
              page:
                sql: SELECT 1 WHERE x = $cat OFFSET $off
                params: [cat, off]
                depends_on: [{ table: public."Order" }]
            """
        do {
            _ = try WorkerConfiguration.parse(yaml: bad, file: "bad.yaml")
            Issue.record("a bad configuration was accepted")
        } catch let error as ConfigurationError {
            let text = error.description
            #expect(text.contains("bad.yaml: namespace: must be a string (an unquoted off/on/yes/no/true/false is read as a boolean: quote it)"), "\(text)")
            #expect(text.contains("bad.yaml: entities.order.warm.where: must not be empty"), "\(text)")
            #expect(text.contains("bad.yaml: queries.page.params: must be a list of strings (an unquoted"), "\(text)")
        }
    }

    @Test func everyProblemIsReportedWithItsFileAndKeyPath() {
        let yaml = """
            namespce: cw
            batch:
              max_transactions: 0
            entities:
              order:
                table: public."Order"
                mode: write-thru
              product:
                mode: invalidate
            queries:
              order:
                sql: SELECT 1 WHERE x = $category
                params: [category, page]
                depends_on:
                  - table: public."Product"
                    match: { param: kind, column: category }
            """
        do {
            _ = try WorkerConfiguration.parse(yaml: yaml, file: "bad.yaml")
            Issue.record("a bad configuration was accepted")
        } catch let error as ConfigurationError {
            let lines = error.description.split(separator: "\n").map(String.init)
            #expect(lines.allSatisfy { $0.hasPrefix("bad.yaml: ") })
            let expected = [
                "namespce: unknown key",
                "batch.max_transactions: must be between 1 and 1000000, got 0",
                "entities.order.mode: 'write-thru' is not one of write-through, invalidate",
                "entities.product.table: is required",
                "queries.order.params: parameter 'page' does not appear as $page in sql",
                "queries.order.depends_on[0].match.param: 'kind' is not one of this query's params",
                "writer_url: is required (or set DB_WRITER_URL)",
                "redis_url: is required (or set REDIS_URL)",
            ]
            for fragment in expected {
                #expect(lines.contains { $0.contains(fragment) }, "missing: \(fragment)\n\(error)")
            }
        } catch {
            Issue.record("unexpected error \(error)")
        }
    }

    @Test func invalidYAMLIsOneClearLine() {
        do {
            _ = try WorkerConfiguration.parse(yaml: "entities: [unclosed", file: "broken.yaml")
            Issue.record("accepted broken YAML")
        } catch {
            #expect("\(error)".hasPrefix("broken.yaml: (top level): not valid YAML"))
            #expect(!"\(error)".contains("\n"))
        }
    }

    @Test func aMissingFileNamesThePath() {
        #expect(throws: ConfigurationError.self) { try WorkerConfiguration.load(path: "/no/such/file.yaml") }
    }
}
