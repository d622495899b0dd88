import Logging
import PGOutput
import PostgresNIO

/// The data query with an LSN every commit up to which the data includes (docs/consistency.md).
///
/// Every fetch is one READ COMMITTED, read-only transaction on one connection: the version read
/// first, then the data in a later statement (each statement of a READ COMMITTED transaction
/// takes a fresh snapshot after the previous one ended). One transaction, because a
/// transaction-pooling proxy (PgBouncer, RDS Proxy) routes a transaction to one backend but
/// may route two autocommit statements to two replicas: the version from one that is ahead,
/// the data from one that is behind. The contract's session settings go with the transaction
/// (`set_config(..., true)`, i.e. `SET LOCAL`), never as startup parameters a pooler refuses or
/// drops.
enum VersionedFetch {
    /// A fetched payload (nil: no row) and its version (nil: not known, do not cache).
    struct Fetched: Sendable {
        var payload: String?
        var lsn: LSN?
        /// True when the reader's replay position stayed below the worker's checkpoint read at
        /// the miss: the data may predate a change the worker wrote and Redis since dropped, so
        /// it is returned but not cached.
        var belowCheckpoint = false
        /// The answer to the fetch's `extra` statement, run after the data in the same transaction.
        var extra: String?
    }

    /// The settings of docs/cache-protocol.md section 4, so `to_jsonb` prints exactly what the
    /// worker renders (the worker's replication session pins the same values).
    static let sessionSettings: [(String, String)] = [
        ("TimeZone", "UTC"), ("DateStyle", "ISO, MDY"), ("extra_float_digits", "1"),
        ("IntervalStyle", "postgres"), ("bytea_output", "hex"), ("lc_monetary", "C"),
    ]

    /// `set_config(name, value, true)` for every contract setting and `statement_timeout`: a
    /// select list that applies them to the current transaction only.
    static func settingsList(statementTimeout: Duration) -> String {
        var settings = sessionSettings
        settings.append(("statement_timeout", String(DatabaseURL.milliseconds(statementTimeout))))
        return settings.map { "set_config('\($0.0)', '\($0.1)', true)" }.joined(separator: ", ")
    }

    /// Runs `body` inside `BEGIN ISOLATION LEVEL READ COMMITTED [READ ONLY]` ... `COMMIT` (a
    /// `ROLLBACK` when `body` throws, whose error is rethrown unchanged).
    static func transaction<T: Sendable>(
        _ connection: PostgresConnection, readOnly: Bool, _ logger: Logger, _ body: () async throws -> T
    ) async throws -> T {
        try await connection.query(PostgresQuery(unsafeSQL: readOnly ? "BEGIN ISOLATION LEVEL READ COMMITTED READ ONLY" : "BEGIN ISOLATION LEVEL READ COMMITTED"), logger: logger)
        let value: T
        do {
            value = try await body()
        } catch {
            // In a task of its own: a read cancelled by its time limit must still end the
            // transaction, or the pooled connection would carry it into the next lease.
            let connection = connection
            await Task { _ = try? await connection.query("ROLLBACK", logger: logger) }.value
            throw error
        }
        try await connection.query("COMMIT", logger: logger)
        return value
    }

    /// On a standby, in one transaction: `pg_last_wal_replay_lsn()` (with the session settings)
    /// first, then the data. Nil when the replay LSN is below `minimum` (the data could miss the
    /// caller's write). When it is below `checkpoint` (the worker's, read at the miss), the
    /// replay position is polled for up to `checkpointWait`; still below, the data is returned
    /// with ``Fetched/belowCheckpoint`` set.
    static func fromReader(
        _ connection: PostgresConnection, _ query: PostgresQuery, extra: PostgresQuery?, minimum: LSN?, checkpoint: LSN?,
        checkpointWait: Duration, statementTimeout: Duration, logger: Logger
    ) async throws -> Fetched? {
        try await transaction(connection, readOnly: true, logger) {
            let first = PostgresQuery(unsafeSQL: "SELECT pg_last_wal_replay_lsn()::text, \(settingsList(statementTimeout: statementTimeout))")
            guard var lsn = try await replayLSN(connection, first, logger) else {
                throw CacheReadsError(code: .database, context: "reader", message: "pg_last_wal_replay_lsn() is null: not a standby")
            }
            if let minimum, lsn < minimum { return nil }
            var behind = false
            if let checkpoint, lsn < checkpoint {
                let clock = ContinuousClock()
                let deadline = clock.now.advanced(by: checkpointWait)
                var pause = Duration.milliseconds(2)
                while lsn < checkpoint, clock.now < deadline {
                    try await Task.sleep(for: pause)
                    pause = min(pause * 2, .milliseconds(20))
                    lsn = try await replayLSN(connection, "SELECT pg_last_wal_replay_lsn()::text", logger) ?? lsn
                }
                behind = lsn < checkpoint
            }
            let payload = try await scalar(connection, query, logger)
            let answer = try await extra.asyncMap { try await scalar(connection, $0, logger) } ?? nil
            return Fetched(payload: payload, lsn: lsn, belowCheckpoint: behind, extra: answer)
        }
    }

    private static func replayLSN(_ connection: PostgresConnection, _ query: PostgresQuery, _ logger: Logger) async throws -> LSN? {
        try await scalar(connection, query, logger).flatMap { LSN($0) }
    }

    /// On the writer, in one transaction: L = `pg_current_wal_lsn()` (with the session
    /// settings), then the transactions that hold a transaction id now, then wait (at most
    /// `wait`) until none of them does any more; then the data. When the wait times out the
    /// data is returned without a version.
    ///
    /// Why waiting for transaction-id locks (docs/consistency.md, the writer fill): a snapshot's
    /// xmax is `latestCompletedXid + 1`, so the newest transaction, whose commit record is
    /// already in WAL (<= L) but which has not yet left the proc array, can be invisible to the
    /// data query while a wait on `pg_snapshot_xmin` passes at once
    /// (`CacheReadsTests.writerFillVersionsAreLowerBounds...` caught it). Every transaction with
    /// an id holds an ExclusiveLock on that id until after it has left the proc array (it
    /// becomes visible before the lock is released), so waiting for those locks to go away
    /// covers every commit at or before L. Prepared transactions (no pid) are waited for too,
    /// so while one lingers writer reads are not cached. The fill's own read-only transaction
    /// has no transaction id, so it never waits for itself.
    static func fromWriter(
        _ connection: PostgresConnection, _ query: PostgresQuery, extra: PostgresQuery?, wait: Duration, statementTimeout: Duration,
        logger: Logger
    ) async throws -> Fetched {
        try await transaction(connection, readOnly: true, logger) {
            let first = PostgresQuery(unsafeSQL: "SELECT pg_current_wal_lsn()::text, \(settingsList(statementTimeout: statementTimeout))")
            guard let lsnText = try await scalar(connection, first, logger), let lsn = LSN(lsnText) else {
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
            let answer = try await extra.asyncMap { try await scalar(connection, $0, logger) } ?? nil
            return Fetched(payload: payload, lsn: visible ? lsn : nil, extra: answer)
        }
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

extension Optional {
    /// `map` with an async transform.
    fileprivate func asyncMap<T>(_ transform: (Wrapped) async throws -> T) async rethrows -> T? {
        guard let value = self else { return nil }
        return try await transform(value)
    }
}
