import CacheContract
import Foundation
import PGOutput
import PostgresReplication

/// Where a resync or verify reads rows.
public enum ResyncSource: String, Sendable, CaseIterable {
    /// A streaming replica (`reader_url`): versions are its replay LSN.
    case reader
    /// The primary (`writer_url`): versions by the writer procedure (wait for transaction-id
    /// locks held at the WAL position; if the wait times out, the rows are not cached).
    case writer
}

/// Rows read with a version: an LSN such that every commit up to it is in the rows (nil when
/// the writer's wait timed out: do not cache).
struct VersionedRows: Sendable {
    var lsn: LSN?
    /// Per row: the row's `to_jsonb` text and its key columns as text.
    var rows: [(json: String, key: [String])]
    /// The worker's checkpoint (or the epoch's floor) read before the rows: their fills must
    /// not go below it (the eviction rule).
    var minimum: LSN = .zero
    /// Keys of rows the chunk held that Postgres could not render (see ``readChunk``).
    var unreadable: [[String]] = []
    /// The chunk's last key in key order when it was read row by row (unreadable rows included).
    var keysLastKey: [String]?
    /// The chunk's last key in key order, for the next chunk's keyset condition.
    var lastKey: [String]? { keysLastKey ?? rows.last?.key }
    /// Rows the chunk held, unreadable ones included (a short chunk is the last one).
    var scanned: Int { rows.count + unreadable.count }
}

extension VersionedReader {
    /// A chunk of `scan` after `after`. When Postgres cannot render a row of it (a data
    /// exception, class 22: e.g. a `json` value holding `\u0000`, which `to_jsonb` refuses), the
    /// chunk's keys are read and its rows one by one: the others are returned (at the lowest of
    /// their versions, a lower bound for all), the failing ones in `unreadable`.
    func readChunk(_ scan: EntityScan, after: [String]?, rows: Int) throws -> VersionedRows {
        do {
            return try read(scan.chunkSelect(after: after, rows: rows))
        } catch let error as PostgresError where error.sqlState?.hasPrefix("22") == true {
            let keys = try read(scan.chunkKeysSelect(after: after, rows: rows)).rows.map(\.key)
            var chunk = VersionedRows(lsn: nil, rows: [])
            for key in keys {
                do {
                    let one = try read(scan.select(keys: [key]))
                    chunk.rows += one.rows
                    if let lsn = one.lsn { chunk.lsn = min(chunk.lsn ?? lsn, lsn) }
                } catch let error as PostgresError where error.sqlState?.hasPrefix("22") == true {
                    chunk.unreadable.append(key)
                }
            }
            chunk.keysLastKey = keys.last
            if chunk.lsn == nil { chunk.lsn = try read("SELECT '' WHERE false").lsn }
            return chunk
        }
    }
}

/// One libpq connection reading row sets with a version. Blocking: call it from a Dispatch
/// thread (``offPool``). Each read is one transaction on one connection, so a transaction-pooling
/// proxy keeps it on one backend: `BEGIN ISOLATION LEVEL READ COMMITTED READ ONLY` and the
/// version in the same message (the session settings under which key texts match the WAL's set
/// with `set_config(..., true)`, never as startup parameters), then the data in a statement of
/// its own, whose snapshot is taken after the version was read (so the version is a lower bound
/// of what the data contains), then `COMMIT`.
final class VersionedReader: @unchecked Sendable {
    // @unchecked Sendable: the connection is used by one task at a time (a resync lane owns
    // its reader and awaits each call before the next).
    private var connection: PostgresConnection?
    let source: ResyncSource
    let target: ConnectionString
    /// How long the writer procedure waits for transactions in progress.
    let writerWait: Duration

    /// `SET LOCAL` of the settings under which Postgres' text output matches the worker's.
    static let localSettings = ReplicationOptions.canonicalSessionSettings.sorted { $0.key < $1.key }
        .map { "set_config(\(EntityScan.literal($0.key)), \(EntityScan.literal($0.value)), true)" }.joined(separator: ", ")

    init(source: ResyncSource, target: ConnectionString, writerWait: Duration = .seconds(2)) {
        self.source = source
        self.target = target
        self.writerWait = writerWait
    }

    /// The open connection, connecting when needed.
    func open() throws -> PostgresConnection {
        if let connection { return connection }
        let opened = try PostgresConnection(target, applicationName: "cache-warmer resync")
        connection = opened
        return opened
    }

    /// Forgets the connection (after an error the transaction state is unknown).
    func reset() {
        connection = nil
    }

    /// The reader's replay LSN now; throws ``WorkerError/Code/notAStandby`` on a primary. A
    /// primary that went through crash recovery still answers `pg_last_wal_replay_lsn()` with
    /// the last record it replayed then (Postgres documentation, Recovery Information
    /// Functions), so `pg_is_in_recovery()` is what tells.
    func replayLSN() throws -> LSN? {
        let row = try open().execute("SELECT CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn()::text END").rows.first
        guard let text = row?.first ?? nil else { throw Self.notStandby(target) }
        return LSN(text)
    }

    /// Runs `select` in a versioned transaction and returns its rows: the first column is the
    /// row JSON, the others the key columns as text.
    func read(_ select: String) throws -> VersionedRows {
        let connection = try open()
        do {
            let version: LSN?
            switch source {
            case .reader:
                let text = try connection.execute(
                    "BEGIN ISOLATION LEVEL READ COMMITTED READ ONLY; SELECT \(Self.localSettings), CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn()::text END"
                ).rows.first?.last ?? nil
                guard let text, let lsn = LSN(text) else { throw Self.notStandby(target) }
                version = lsn
            case .writer:
                try connection.execute("BEGIN ISOLATION LEVEL READ COMMITTED READ ONLY; SELECT \(Self.localSettings)")
                version = try writerVersion(connection)
            }
            let result = try connection.execute(select)
            try connection.execute("COMMIT")
            return VersionedRows(lsn: version, rows: result.rows.map { row in (row[0] ?? "null", row[1...].map { $0 ?? "" }) })
        } catch {
            reset()
            throw error
        }
    }

    /// The writer procedure of `VersionedFetch.fromWriter` (CacheReads): L =
    /// `pg_current_wal_lsn()`, then the transaction ids holding their lock now, then wait until
    /// none does; nil when the wait times out (the data is then not cached).
    private func writerVersion(_ connection: PostgresConnection) throws -> LSN? {
        guard let lsn = LSN(try connection.execute("SELECT pg_current_wal_lsn()::text").scalar ?? "") else {
            throw WorkerError(code: .invalidConfiguration, message: "\(target): pg_current_wal_lsn() returned no LSN")
        }
        let holders = try connection.execute("""
            SELECT coalesce(array_agg(transactionid::text), '{}')::text FROM pg_locks
            WHERE locktype = 'transactionid' AND mode = 'ExclusiveLock' AND granted
            """).scalar ?? "{}"
        if holders == "{}" { return lsn }
        let deadline = ContinuousClock.now.advanced(by: writerWait)
        var pause = 1_000
        while true {
            let done = try connection.execute("""
                SELECT NOT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'transactionid' AND mode = 'ExclusiveLock'
                AND granted AND transactionid::text = ANY (\(EntityScan.literal(holders))::text[]))
                """).scalar
            if done == "t" { return lsn }
            guard ContinuousClock.now < deadline else { return nil }
            usleep(UInt32(pause))
            pause = min(pause * 2, 20_000)
        }
    }

    static func notStandby(_ target: ConnectionString) -> WorkerError {
        WorkerError(code: .notAStandby, message: "\(target): not a standby (pg_is_in_recovery() is false): use --source writer to read the primary")
    }
}
