import Foundation
import PGOutput
import PostgresReplication

/// A pre-written replication workload on the writer: a table in its own publication, a source
/// slot created before the writes, and the WAL end after them. Consumers get identical starting
/// points by copying the source slot (`pg_copy_logical_replication_slot`).
struct ReplicationWorkload {
    static let table = "cw_bench_orders"
    static let publication = "cw_bench_pub"
    static let sourceSlot = "cw_bench_source"

    let writer: ConnectionString
    /// Changes written (each transaction: 2 inserts, 2 updates).
    let changes: Int
    /// The WAL position after the workload: consumers stop there.
    let end: LSN

    /// Writes `transactions` transactions of 4 row changes after creating the source slot.
    static func prepare(writer: ConnectionString, transactions: Int) throws -> ReplicationWorkload {
        let connection = try PostgresConnection(writer)
        try connection.execute(
            """
            DROP TABLE IF EXISTS \(table);
            CREATE TABLE \(table) (id bigserial PRIMARY KEY, "userId" int NOT NULL, status text NOT NULL,
                "totalCents" int NOT NULL, "createdAt" timestamptz NOT NULL DEFAULT now());
            DROP PUBLICATION IF EXISTS \(publication);
            CREATE PUBLICATION \(publication) FOR TABLE \(table);
            """)
        try dropSlots(connection, like: "cw_bench_%")
        try connection.execute("SELECT pg_create_logical_replication_slot('\(sourceSlot)', 'pgoutput')")
        try Self.write(connection, transactions: transactions)
        let end = LSN(try connection.execute("SELECT pg_current_wal_lsn()").scalar ?? "") ?? .zero
        return ReplicationWorkload(writer: writer, changes: transactions * 4, end: end)
    }

    /// A fresh copy of the source slot, positioned before the workload.
    func copySlot(_ name: String) throws {
        let connection = try PostgresConnection(writer)
        _ = try connection.dropSlotIfExists(name)
        try connection.execute("SELECT pg_copy_logical_replication_slot('\(Self.sourceSlot)', '\(name)')")
    }

    /// Drops every slot this benchmark made.
    func cleanUp() throws {
        try Self.dropSlots(try PostgresConnection(writer), like: "cw_bench_%")
    }

    /// Writes `transactions` transactions of 4 row changes (two orders inserted, then updated),
    /// each committed on its own, in one server-side loop.
    static func write(_ connection: PostgresConnection, transactions: Int) throws {
        try connection.execute(
            """
            DO $$
            DECLARE a bigint; b bigint;
            BEGIN
              FOR i IN 1..\(transactions) LOOP
                INSERT INTO \(table) ("userId", status, "totalCents") VALUES (i, 'pending', i) RETURNING id INTO a;
                INSERT INTO \(table) ("userId", status, "totalCents") VALUES (i, 'pending', i + 1) RETURNING id INTO b;
                UPDATE \(table) SET status = 'paid' WHERE id = a;
                UPDATE \(table) SET status = 'shipped', "totalCents" = "totalCents" + 1 WHERE id = b;
                COMMIT;
              END LOOP;
            END $$;
            """)
    }

    private static func dropSlots(_ connection: PostgresConnection, like pattern: String) throws {
        try connection.execute(
            "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name LIKE '\(pattern)' AND active_pid IS NULL")
    }
}
