import PGOutput
import PostgresReplication

/// Follows the stream's messages: keeps Relation messages, plans each change of the open
/// transaction as it arrives (so memory holds coalesced writes, not messages), and hands the
/// transaction over at its Commit. A transaction that grows past ``largeTransactionWrites`` (or
/// ``largeTransactionBytes`` of rendered rows) is
/// handed over in parts as invalidation markers (see ``WriteBatch/asMarkers(version:)``), so
/// memory stays bounded whatever its size.
struct TransactionAssembler {
    /// What the assembler hands over.
    enum Output {
        /// A complete transaction, to apply and acknowledge.
        case committed(Committed)
        /// Part of a large transaction, to apply now; nothing is acknowledged until its commit.
        case part(WriteBatch)
    }

    /// A committed transaction's planned writes (with placeholder versions) and its commit.
    struct Committed {
        var writes: WriteBatch
        var commitEnd: LSN
        var commitTime: PostgresTimestamp
    }

    private(set) var planner: ChangePlanner
    /// Planned writes an open transaction may hold before it is handed over in parts.
    let largeTransactionWrites: Int
    /// Rendered row bytes an open transaction may hold before it is handed over in parts.
    let largeTransactionBytes: Int
    private(set) var relations = RelationCache()
    private var open = WriteBatch()
    private var inTransaction = false
    /// Begin's final LSN of the open transaction (its commit record's start).
    private var finalLSN = LSN.zero
    /// True once the open transaction was handed over in parts: the rest follows as markers
    /// (so its rows are no longer rendered).
    private var large = false

    init(planner: ChangePlanner, largeTransactionWrites: Int = 5_000, largeTransactionBytes: Int = 64 << 20) {
        self.planner = planner
        self.largeTransactionWrites = largeTransactionWrites
        self.largeTransactionBytes = largeTransactionBytes
    }

    /// A configured table's shape in the open transaction (its Relation message just arrived):
    /// with `voiding`, it changed (see ``ChangePlanner/shapeChanged(_:invalidateOnly:lsn:into:)``);
    /// either way the shape is recorded in Redis with the transaction and write-through follows
    /// `invalidateOnly`.
    mutating func shapeChanged(_ table: TableName, fingerprint: String, invalidateOnly: Bool, voiding: Bool) {
        if voiding {
            planner.shapeChanged(table, invalidateOnly: invalidateOnly, lsn: .zero, into: &open)
        } else {
            planner.setInvalidateOnly(table, invalidateOnly)
        }
        open.recordShape(table.sql, fingerprint)
    }

    /// A table whose catalog shape changed with no Relation message yet: the writes that void
    /// its entries as of `lsn` (the writer's WAL position now), and its outline recorded.
    mutating func voidShape(_ table: TableName, fingerprint: String, invalidateOnly: Bool, at lsn: LSN) -> WriteBatch {
        var batch = WriteBatch()
        planner.shapeChanged(table, invalidateOnly: invalidateOnly, lsn: lsn, into: &batch)
        batch.recordShape(table.sql, fingerprint)
        return batch
    }

    /// Applies one event; returns a completed transaction or a part of a large one, if any.
    mutating func apply(_ event: ReplicationEvent) throws -> Output? {
        switch event {
        case .restarted, .idle:
            // A reconnect abandons the open transaction: the server sends it again from its Begin.
            open = WriteBatch()
            inTransaction = false
            large = false
            return nil
        case .message(let message, _, _):
            if let committed = try apply(message) { return .committed(committed) }
            guard inTransaction, open.writeCount >= largeTransactionWrites || open.payloadBytes >= largeTransactionBytes else { return nil }
            large = true
            defer { open = WriteBatch() }
            return .part(open.asMarkers(version: finalLSN.advanced(by: 1)))
        }
    }

    private mutating func apply(_ message: PGOutputMessage) throws -> Committed? {
        switch message {
        case .relation(let relation):
            relations.apply(relation)
            planner.relationArrived(relation)
        case .begin(let begin):
            open.removeAll()
            inTransaction = true
            large = false
            finalLSN = begin.finalLSN
        case .insert(let insert):
            planner.plan(.insert(try relations.relation(insert.relationOID), new: insert.newTuple), lsn: .zero, into: &open, rendering: !large)
        case .update(let update):
            planner.plan(.update(try relations.relation(update.relationOID), old: update.oldTuple, new: update.newTuple), lsn: .zero, into: &open, rendering: !large)
        case .delete(let delete):
            planner.plan(.delete(try relations.relation(delete.relationOID), old: delete.oldTuple), lsn: .zero, into: &open)
        case .truncate(let truncate):
            let truncated = try truncate.relationOIDs.map { oid throws(PGOutputError) in try relations.relation(oid) }
            planner.plan(.truncate(truncated), lsn: .zero, into: &open)
        case .commit(let commit):
            defer {
                open.removeAll()
                inTransaction = false
                large = false
            }
            let writes = large ? open.asMarkers(version: finalLSN.advanced(by: 1)) : open
            return Committed(writes: writes, commitEnd: commit.endLSN, commitTime: commit.commitTimestamp)
        case .origin, .type, .message, .streamStart, .streamStop, .streamCommit, .streamAbort, .beginPrepare, .prepare,
            .commitPrepared, .rollbackPrepared, .streamPrepare:
            // The worker streams protocol 1 without streaming or two-phase: none of these carry changes for it.
            break
        }
        return nil
    }
}
