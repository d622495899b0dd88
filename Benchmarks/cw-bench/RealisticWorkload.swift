import Foundation
import PGOutput
import PostgresReplication

/// The two workloads of issue "apply throughput on realistic WAL", written once on the writer
/// into three tables of their own (text keys, `timestamptz(3)` and numeric columns):
/// small transactions (insert an order, update it, update a product, insert an event) and one
/// transaction updating many orders. Each workload has a template slot created right before it;
/// every consumer reads its own copy (`pg_copy_logical_replication_slot`), so all start at the
/// same position and read the same WAL.
struct RealisticWorkload {
    /// One pre-written range of WAL and the template slot in front of it.
    struct Range {
        var name: String
        var templateSlot: String
        /// Row changes in the range.
        var changes: Int
        /// The WAL position after the range: consumers stop there.
        var end: LSN
    }

    let writer: ConnectionString
    /// Prefix of every table, slot and the publication (unique per run).
    let prefix: String
    var orders: String { prefix + "_orders" }
    var products: String { prefix + "_products" }
    var events: String { prefix + "_events" }
    var publication: String { prefix + "_pub" }
    /// Products the small transactions update (round robin).
    static let productCount = 1000

    /// Creates the tables and the publication (unique names).
    static func create(writer: ConnectionString) throws -> RealisticWorkload {
        let workload = RealisticWorkload(writer: writer, prefix: "cwb_\(String(UInt32.random(in: 0...UInt32.max), radix: 16))")
        try PostgresConnection(writer).execute(
            """
            CREATE TABLE \(workload.products) (id text PRIMARY KEY, name text NOT NULL, price numeric(10,2) NOT NULL,
                stock int NOT NULL, updated_at timestamptz(3) NOT NULL DEFAULT now());
            CREATE TABLE \(workload.orders) (id text PRIMARY KEY, customer_id text NOT NULL, product_id text NOT NULL,
                status text NOT NULL, total numeric(12,2) NOT NULL, created_at timestamptz(3) NOT NULL DEFAULT now(),
                updated_at timestamptz(3) NOT NULL DEFAULT now());
            CREATE TABLE \(workload.events) (id text PRIMARY KEY, order_id text NOT NULL, kind text NOT NULL,
                amount numeric(12,2), created_at timestamptz(3) NOT NULL DEFAULT now());
            CREATE PUBLICATION \(workload.publication) FOR TABLE \(workload.products), \(workload.orders), \(workload.events);
            INSERT INTO \(workload.products) (id, name, price, stock)
              SELECT 'prod_' || lpad(g::text, 6, '0'), 'Product ' || g, (g % 500) + 0.99, 1000000 FROM generate_series(1, \(productCount)) g;
            """)
        return workload
    }

    /// The worker's entities for these tables (`mode` write-through or invalidate).
    func entities(mode: String) -> String {
        """
          order: { table: public.\(orders), key: [id], mode: \(mode) }
          product: { table: public.\(products), key: [id], mode: \(mode) }
          event: { table: public.\(events), key: [id], mode: \(mode) }
        """
    }

    /// Orders written before any template slot (so the big transaction finds `count` orders
    /// after the small transactions added theirs); not part of any range.
    func prefill(orders count: Int) throws {
        guard count > 0 else { return }
        try PostgresConnection(writer).execute(
            """
            INSERT INTO \(orders) (id, customer_id, product_id, status, total)
              SELECT 'pre_' || lpad(g::text, 8, '0'), 'cus_' || (g % 5000), 'prod_' || lpad((1 + g % \(Self.productCount))::text, 6, '0'),
                     'delivered', (g % 10000) / 100.0 + 5 FROM generate_series(1, \(count)) g;
            """)
    }

    /// `transactions` transactions of 4 changes, each committed on its own, in one server-side loop.
    func writeSmallTransactions(_ transactions: Int) throws -> Range {
        let template = prefix + "_small"
        let connection = try PostgresConnection(writer)
        try connection.execute("SELECT pg_create_logical_replication_slot('\(template)', 'pgoutput')")
        try connection.execute(
            """
            DO $$
            DECLARE o text; p text;
            BEGIN
              FOR i IN 1..\(transactions) LOOP
                o := 'ord_' || lpad(i::text, 8, '0');
                p := 'prod_' || lpad((1 + i % \(Self.productCount))::text, 6, '0');
                INSERT INTO \(orders) (id, customer_id, product_id, status, total)
                  VALUES (o, 'cus_' || (i % 5000), p, 'pending', (i % 10000) / 100.0 + 5);
                UPDATE \(orders) SET status = 'paid', updated_at = now() WHERE id = o;
                UPDATE \(products) SET stock = stock - 1, updated_at = now() WHERE id = p;
                INSERT INTO \(events) (id, order_id, kind, amount) VALUES ('evt_' || lpad(i::text, 8, '0'), o, 'order.paid', (i % 10000) / 100.0 + 5);
                COMMIT;
              END LOOP;
            END $$;
            """)
        return Range(name: "small-tx", templateSlot: template, changes: transactions * 4, end: try currentWAL(connection))
    }

    /// One transaction updating every order (`count` of them).
    func writeBigTransaction(orders count: Int) throws -> Range {
        let template = prefix + "_big"
        let connection = try PostgresConnection(writer)
        try connection.execute("SELECT pg_create_logical_replication_slot('\(template)', 'pgoutput')")
        let updated = Int(try connection.execute("WITH u AS (UPDATE \(orders) SET status = 'shipped', total = total + 1, updated_at = now() RETURNING 1) SELECT count(*) FROM u").scalar ?? "") ?? 0
        guard updated == count else { throw BenchmarkError("the big transaction updated \(updated) orders, expected \(count)") }
        return Range(name: "big-tx", templateSlot: template, changes: count, end: try currentWAL(connection))
    }

    /// A fresh copy of `range`'s template slot named `name`.
    func copySlot(_ range: Range, to name: String) throws {
        let connection = try PostgresConnection(writer)
        _ = try connection.dropSlotIfExists(name)
        try connection.execute("SELECT pg_copy_logical_replication_slot('\(range.templateSlot)', '\(name)')")
    }

    /// A new slot at the current WAL position.
    func createSlot(_ name: String) throws {
        let connection = try PostgresConnection(writer)
        _ = try connection.dropSlotIfExists(name)
        try connection.execute("SELECT pg_create_logical_replication_slot('\(name)', 'pgoutput')")
    }

    /// Drops every slot, the publication and the tables of this run.
    func cleanUp() throws {
        let connection = try PostgresConnection(writer)
        try connection.execute(
            "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name LIKE '\(prefix)\\_%' AND active_pid IS NULL")
        try connection.execute(
            "DROP PUBLICATION IF EXISTS \(publication); DROP TABLE IF EXISTS \(orders), \(products), \(events)")
    }

    private func currentWAL(_ connection: PostgresConnection) throws -> LSN {
        guard let lsn = LSN(try connection.execute("SELECT pg_current_wal_lsn()").scalar ?? "") else {
            throw BenchmarkError("pg_current_wal_lsn() did not answer an LSN")
        }
        return lsn
    }
}
