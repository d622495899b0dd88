import Logging
import PGOutput
import PostgresNIO

/// The data query with an LSN every commit up to which the data includes (docs and
/// /work/shared/notes/consistency-design.md). Each step is a statement of its own on one
/// connection outside any explicit transaction, so each takes a fresh READ COMMITTED snapshot
/// after the previous statement ended.
enum VersionedFetch {
    /// A fetched payload (nil: no row) and its version (nil: not known, do not cache).
    struct Fetched: Sendable {
        var payload: String?
        var lsn: LSN?
    }

    /// On a standby: `pg_last_wal_replay_lsn()` first, then the data. Nil when the replay LSN is
    /// below `minimum` (the data could miss the caller's write).
    static func fromReader(_ connection: PostgresConnection, _ query: PostgresQuery, minimum: LSN?, logger: Logger) async throws -> Fetched? {
        guard let text = try await scalar(connection, "SELECT pg_last_wal_replay_lsn()::text", logger), let lsn = LSN(text) else {
            throw CacheReadsError(code: .database, context: "reader", message: "pg_last_wal_replay_lsn() is null: not a standby")
        }
        if let minimum, lsn < minimum { return nil }
        return Fetched(payload: try await scalar(connection, query, logger), lsn: lsn)
    }

    /// On the writer: L = `pg_current_wal_lsn()`, then the transactions that hold a transaction
    /// id now, then wait (at most `wait`) until none of them does any more; then the data. When
    /// the wait times out the data is returned without a version.
    ///
    /// Why not the design note's `pg_snapshot_xmin >= pg_snapshot_xmax` wait: a snapshot's xmax
    /// is `latestCompletedXid + 1`, and running transactions with ids at or above it are left
    /// out of the snapshot's xmin. The newest transaction, whose commit record is already in WAL
    /// (<= L) but which has not yet left the proc array, is then invisible to the data query
    /// while the wait passes at once (`CacheReadsTests.writerFillVersionsAreLowerBounds...`
    /// caught it). Every transaction with an id holds an ExclusiveLock on that id until after it
    /// has left the proc array (it becomes visible before the lock is released), so waiting for
    /// those locks to go away covers every commit at or before L. Prepared transactions (no
    /// pid) are waited for too, so while one lingers writer reads are not cached.
    static func fromWriter(_ connection: PostgresConnection, _ query: PostgresQuery, wait: Duration, logger: Logger) async throws -> Fetched {
        guard let lsnText = try await scalar(connection, "SELECT pg_current_wal_lsn()::text", logger), let lsn = LSN(lsnText) else {
            throw CacheReadsError(code: .database, context: "writer", message: "pg_current_wal_lsn() returned no LSN")
        }
        let holders = try await scalar(connection, """
            SELECT coalesce(array_agg(transactionid::text), '{}')::text FROM pg_locks
            WHERE locktype = 'transactionid' AND mode = 'ExclusiveLock' AND granted
            """, logger) ?? "{}"
        var visible = holders == "{}"
        if !visible {
            let clock = ContinuousClock()
            let deadline = clock.now.advanced(by: wait)
            var pause = Duration.milliseconds(1)
            while true {
                var check = PostgresQuery(unsafeSQL: """
                    SELECT NOT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'transactionid' AND mode = 'ExclusiveLock'
                    AND granted AND transactionid::text = ANY ($1::text[]))
                    """)
                try check.binds.append(UntypedText(text: holders))
                if try await scalar(connection, check, logger) == "t" {
                    visible = true
                    break
                }
                guard clock.now < deadline else { break }
                try await Task.sleep(for: pause)
                pause = min(pause * 2, .milliseconds(20))
            }
        }
        let payload = try await scalar(connection, query, logger)
        return Fetched(payload: payload, lsn: visible ? lsn : nil)
    }

    /// The first column of the first row as text (booleans as `t`/`f`), nil when no row or NULL.
    static func scalar(_ connection: PostgresConnection, _ query: PostgresQuery, _ logger: Logger) async throws -> String? {
        let rows = try await connection.query(query, logger: logger)
        var first: String??
        for try await row in rows {
            if first == nil {
                let cell = row.first
                if let cell, cell.dataType == .bool {
                    first = .some(try cell.decode(Bool?.self).map { $0 ? "t" : "f" })
                } else {
                    first = .some(try cell?.decode(String?.self) ?? nil)
                }
            }
        }
        return first ?? nil
    }
}
