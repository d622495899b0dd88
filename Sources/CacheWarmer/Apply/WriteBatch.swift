import CacheContract
import PGOutput

/// The cache writes of one or more consecutive transactions, coalesced: each row key keeps only
/// its last write (later changes carry equal or higher versions) and each fence its highest LSN.
public struct WriteBatch: Sendable {
    /// What happens to one row key.
    public enum RowWrite: Hashable, Sendable {
        /// Store the row's canonical JSON.
        case set(row: String)
        /// The row was deleted.
        case tombstone
        /// The row changed in a way that cannot be rendered: readers must refill it.
        case invalidate
    }

    /// A row key's last write, its version (commit end LSN) and its entity's entry TTL (nil: default).
    public struct PlannedRow: Hashable, Sendable {
        /// What happens to the key.
        public var write: RowWrite
        /// The version the write carries.
        public var lsn: LSN
        /// The entity's entry TTL in seconds (nil: the configured default).
        public var ttl: Double?
    }

    /// Row writes by key.
    public private(set) var rows: [String: PlannedRow] = [:]
    /// Fence bumps by fence, with the highest LSN.
    public private(set) var fences: [FenceKey: LSN] = [:]
    /// The cached queries whose fences move (for re-warming their hot entries).
    public private(set) var movedQueries: Set<String> = []
    /// The last commit end LSN the batch includes.
    public private(set) var lastCommit: LSN?
    /// Transactions in the batch.
    public private(set) var transactions = 0
    /// Row changes seen (before coalescing).
    public private(set) var changes = 0
    /// Each transaction's commit time, for the commit-to-Redis latency.
    public private(set) var commitTimes: [PostgresTimestamp] = []
    /// Bytes of row JSON the batch holds (its memory is bounded by this, see
    /// `WorkerConfiguration.maxTransactionBytes`).
    public private(set) var payloadBytes = 0
    /// Table shapes to record once the batch is applied (`<ns>:meta:shape` field -> fingerprint).
    public private(set) var shapes: [String: String] = [:]
    /// Keys some row arrived at (insert, or update to that key) in the transaction being
    /// planned; only an open transaction's batch keeps them.
    private var arrived: Set<String> = []

    /// An empty batch.
    public init() {}

    /// Empties the batch and keeps its storage's capacity, so the next transaction of about the
    /// same size does not grow its tables again.
    public mutating func removeAll() {
        rows.removeAll(keepingCapacity: true)
        fences.removeAll(keepingCapacity: true)
        movedQueries.removeAll(keepingCapacity: true)
        lastCommit = nil
        transactions = 0
        changes = 0
        commitTimes.removeAll(keepingCapacity: true)
        payloadBytes = 0
        shapes.removeAll(keepingCapacity: true)
        arrived.removeAll(keepingCapacity: true)
    }

    /// True when nothing is to be written or acknowledged.
    public var isEmpty: Bool { lastCommit == nil }

    /// Writes that will be sent (after coalescing).
    public var writeCount: Int { rows.count + fences.count }

    /// Records a row write at `lsn`; `arrival` marks a row that now stands at `key` (insert, or
    /// update to that key), as opposed to one that left it.
    public mutating func write(_ write: RowWrite, key: String, lsn: LSN, ttl entryTTL: Double?, arrival: Bool = false) {
        if case .set(let row)? = rows.updateValue(PlannedRow(write: write, lsn: lsn, ttl: entryTTL), forKey: key)?.write { payloadBytes -= row.utf8.count }
        if case .set(let row) = write { payloadBytes += row.utf8.count }
        if arrival { arrived.insert(key) }
        changes += 1
    }

    /// Records `fingerprint` as the shape of the table whose shape field is `field`.
    public mutating func recordShape(_ field: String, _ fingerprint: String) {
        shapes[field] = fingerprint
    }

    /// True when a row arrived at `key` earlier in the transaction being planned.
    public func arrivedInTransaction(_ key: String) -> Bool {
        arrived.contains(key)
    }

    /// A TRUNCATE in the transaction being planned: the rows it wrote so far under `prefix` (one
    /// entity's keys) were removed with the table's contents, so they become invalidation markers.
    public mutating func truncated(rowsWithPrefix prefix: String) {
        for (key, planned) in rows where key.hasPrefix(prefix) {
            if case .set(let row) = planned.write { payloadBytes -= row.utf8.count }
            rows[key]?.write = .invalidate
            arrived.remove(key)
        }
    }

    /// Moves `fence` (of cached query `query`, nil for an entity fence) to at least `lsn`.
    public mutating func bump(_ fence: FenceKey, lsn: LSN, query: String? = nil) {
        fences[fence] = Swift.max(fences[fence] ?? .zero, lsn)
        if let query { movedQueries.insert(query) }
    }

    /// Adds a transaction planned with placeholder versions, now committed at `endLSN`: its
    /// writes take that version (the one every change of the transaction carries).
    public mutating func merge(_ transaction: WriteBatch, committedAt endLSN: LSN, time: PostgresTimestamp) {
        if rows.isEmpty { rows.reserveCapacity(transaction.rows.count) }
        for (key, planned) in transaction.rows {
            if case .set(let row)? = rows.updateValue(PlannedRow(write: planned.write, lsn: endLSN, ttl: planned.ttl), forKey: key)?.write {
                payloadBytes -= row.utf8.count
            }
            if case .set(let row) = planned.write { payloadBytes += row.utf8.count }
        }
        for fence in transaction.fences.keys {
            bump(fence, lsn: endLSN)
        }
        movedQueries.formUnion(transaction.movedQueries)
        shapes.merge(transaction.shapes) { $1 }
        changes += transaction.changes
        commit(endLSN, at: time)
    }

    /// The writes of part of a large, already committed transaction as invalidation markers at
    /// `version` (its Begin's final LSN + 1, which every fill that includes the commit exceeds),
    /// so they can be applied before the commit arrives: markers carry no content, so the same
    /// key marked again by a later part ties harmlessly. Fences move to `version` as well.
    public func asMarkers(version: LSN) -> WriteBatch {
        var markers = WriteBatch()
        for (key, planned) in rows {
            markers.rows[key] = PlannedRow(write: .invalidate, lsn: version, ttl: planned.ttl)
        }
        for fence in fences.keys {
            markers.fences[fence] = version
        }
        markers.movedQueries = movedQueries
        markers.shapes = shapes
        markers.changes = changes
        return markers
    }

    /// Closes a transaction: its commit becomes the batch's acknowledgement point.
    public mutating func commit(_ endLSN: LSN, at time: PostgresTimestamp) {
        lastCommit = Swift.max(lastCommit ?? .zero, endLSN)
        transactions += 1
        commitTimes.append(time)
    }
}
