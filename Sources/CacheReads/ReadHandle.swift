import Logging
import PostgresNIO

/// Runs arbitrary SQL reads: on a healthy reader, else on the writer, always in sessions with
/// `default_transaction_read_only = on`, so a write through it fails with SQLSTATE 25006
/// (`read_only_sql_transaction`). Writes go through ``CacheReads/write(_:)``.
public struct ReadHandle: Sendable {
    let reads: CacheReads

    /// Runs `query` and returns every row.
    public func query(_ query: PostgresQuery) async throws -> [PostgresRow] {
        try await withConnection { connection in
            var rows: [PostgresRow] = []
            for try await row in try await connection.query(query, logger: reads.logger) {
                rows.append(row)
            }
            return rows
        }
    }

    /// Lends a read-only connection (a healthy reader's, else the writer's read-only pool) for
    /// `body`'s lifetime. `body` must not keep the connection; it runs again (on a fresh
    /// connection) after a transient failure such as a dropped connection.
    public func withConnection<T: Sendable>(_ body: @escaping @Sendable (PostgresConnection) async throws -> T) async throws -> T {
        let client = reads.readOnlyClient()
        return try await reads.retrying.run("read handle") {
            try await client.withConnection { connection in try await body(connection) }
        }
    }
}
