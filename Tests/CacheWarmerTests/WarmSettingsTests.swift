import CacheContract
@testable import CacheWarmer
import Testing

/// The `warm:` and `resync` settings, and reading row keys back into key texts.
@Suite struct WarmSettingsTests {
    static let base = """
        writer_url: postgres://w/db
        redis_url: redis://r:6379/0
        """

    @Test func warmSettingsAreRead() throws {
        let configuration = try WorkerConfiguration.parse(yaml: Self.base + """

            resync: "off"
            resync_chunk_rows: 500
            resync_parallel: 2
            entities:
              order:
                table: public."Order"
                warm: { where: "\\"createdAt\\" > now() - interval '30 days'" }
              product:
                table: public."Product"
                warm: { order_by: "\\"popularityScore\\" DESC", limit: 100000 }
            queries:
              page:
                sql: SELECT 1 WHERE $category IS NOT NULL
                params: [category]
                depends_on: [{ table: public."Product" }]
                warm: { sql: "SELECT DISTINCT category FROM \\"Product\\"", hot: 5 }
            """, file: "warm.yaml")
        #expect(!configuration.resyncOnNewEpoch && configuration.resyncChunkRows == 500 && configuration.resyncParallel == 2)
        let order = try #require(configuration.entities.first { $0.name == "order" })
        #expect(order.warm == EntityWarm(filter: #""createdAt" > now() - interval '30 days'"#))
        let product = try #require(configuration.entities.first { $0.name == "product" })
        #expect(product.warm == EntityWarm(orderBy: #""popularityScore" DESC"#, limit: 100_000))
        let query = try #require(configuration.queries.first)
        #expect(query.warmSQL == #"SELECT DISTINCT category FROM "Product""# && query.warmHot == 5)
    }

    @Test func defaultsWarmEverythingOnANewEpoch() throws {
        let configuration = try WorkerConfiguration.parse(yaml: Self.base + "\nentities:\n  order: { table: public.orders }\n", file: "warm.yaml")
        #expect(configuration.resyncOnNewEpoch && configuration.resyncChunkRows == 2000 && configuration.resyncParallel == 4)
        #expect(configuration.entities.first?.warm == EntityWarm())
    }

    @Test func badWarmSettingsAreReportedWithTheirPath() {
        #expect {
            try WorkerConfiguration.parse(yaml: Self.base + """

                resync: sometimes
                entities:
                  order:
                    table: public.orders
                    warm: { order_by: id, limt: 3 }
                """, file: "warm.yaml")
        } throws: { error in
            let text = "\(error)"
            return text.contains("resync: 'sometimes' is not one of on_new_epoch, off")
                && text.contains("entities.order.warm.limt: unknown key")
                && text.contains("entities.order.warm.order_by: needs a limit")
        }
    }

    @Test func rowKeysReadBackIntoTheirTexts() {
        let parts = ["a:b=c%d", "plain", "100%", "", "ü:"]
        let key = "cw:pair:" + parts.map { KeyPart($0).escaped }.joined(separator: ":")
        #expect(RowKeyText.parts(key, prefix: "cw:pair:") == parts)
        #expect(RowKeyText.parts("cw:other:1", prefix: "cw:pair:") == nil)
        #expect(RowKeyText.parts("cw:pair:50%2", prefix: "cw:pair:") == nil, "a malformed escape")
        #expect(RowKeyText.parts("cw:pair:%41", prefix: "cw:pair:") == nil, "only the three escapes exist")
    }
}
