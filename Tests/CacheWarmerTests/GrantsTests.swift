import CacheWarmer
import Foundation
import Testing

/// `setup --print-grants`: the SQL, byte for byte, for a configuration with quoted names.
@Suite struct GrantsTests {
    static func configuration() throws -> WorkerConfiguration {
        var configuration = try WorkerConfiguration.parse(
            yaml: """
                publication: shop"pub
                slot: shop_slot
                entities:
                  order: { table: public."Order", key: [id] }
                queries:
                  page:
                    sql: SELECT id FROM sales.items WHERE kind = $kind
                    params: [kind]
                    depends_on:
                      - { table: sales.items, match: { param: kind, column: kind } }
                """, file: "grants.yaml",
            environment: ["DB_WRITER_URL": "postgres://u@h/d", "DB_READER_URL": "postgres://u@h/d", "REDIS_URL": "redis://h:6379/0"])
        configuration.metricsPort = 0
        return configuration
    }

    @Test func printsTheWorkerAndReaderRolesAndThePublication() throws {
        let sql = Grants(workerRole: "cw_worker", readerRole: "app reader").sql(for: try Self.configuration())
        #expect(sql == """
            -- cache-warmer: least-privilege roles for publication shop"pub and slot shop_slot.
            -- Run on the writer as a superuser (Amazon RDS/Aurora: the master user); replicas receive roles
            -- and grants through replication. Set passwords afterwards with psql's \\password, not in a file.

            -- The worker: streams the slot and creates or drops it; reads the cached tables to re-warm.
            CREATE ROLE "cw_worker" LOGIN REPLICATION;
            GRANT USAGE ON SCHEMA "public", "sales" TO "cw_worker";
            GRANT SELECT ON TABLE "public"."Order", "sales"."items" TO "cw_worker";

            -- The publication: creating or extending it needs ownership of the tables, so their owner
            -- runs this once (if it exists: ALTER PUBLICATION "shop""pub" ADD TABLE ...);
            -- `cache-warmer setup` as cw_worker then only checks it and creates the slot.
            CREATE PUBLICATION "shop""pub" FOR TABLE "public"."Order", "sales"."items";

            -- The readers (CacheReads fills and reads): read-only.
            CREATE ROLE "app reader" LOGIN;
            ALTER ROLE "app reader" SET default_transaction_read_only = on;
            GRANT USAGE ON SCHEMA "public", "sales" TO "app reader";
            GRANT SELECT ON TABLE "public"."Order", "sales"."items" TO "app reader";

            """)
    }

    @Test func onRDSTheWorkerGetsRdsReplication() throws {
        let sql = Grants(rds: true).sql(for: try Self.configuration())
        #expect(sql.contains("CREATE ROLE \"cw_worker\" LOGIN;\nGRANT rds_replication TO \"cw_worker\";\n"))
        #expect(!sql.contains("REPLICATION;"))
    }
}
