import Logging
import PostgresNIO

/// Runs arbitrary SQL reads: on a healthy reader, else on the writer, always inside a READ
/// COMMITTED, READ ONLY transaction with the contract's session settings and the read statement
/// timeout set for that transaction only (so it works through a transaction-pooling proxy), so
/// a write through it fails with SQLSTATE 25006 (`read_only_sql_transaction`). Writes go
/// through ``CacheReads/write(_:)``.
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
    /// `body`'s lifetime, inside one read-only transaction (`body` must not end it). `body` must
    /// not keep the connection; it runs again (on a fresh connection) after a transient failure
    /// such as a dropped connection.
    public func withConnection<T: Sendable>(_ body: @escaping @Sendable (PostgresConnection) async throws -> T) async throws -> T {
        let client = reads.readOnlyClient()
        let logger = reads.logger
        let settings = PostgresQuery(unsafeSQL: "SELECT \(VersionedFetch.settingsList(statementTimeout: reads.configuration.statementTimeout))")
        return try await reads.retrying.run("read handle") {
            try await client.withConnection { connection in
                try await VersionedFetch.transaction(connection, readOnly: true, logger) {
                    try await connection.query(settings, logger: logger)
                    return try await body(connection)
                }
            }
        }
    }
}
