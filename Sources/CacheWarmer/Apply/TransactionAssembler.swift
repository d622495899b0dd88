import PGOutput
import PostgresReplication

/// Follows the stream's messages: keeps Relation messages, plans each change of the open
/// transaction as it arrives (so memory holds coalesced writes, not messages), and hands the
/// transaction over at its Commit.
struct TransactionAssembler {
    /// A committed transaction's planned writes (with placeholder versions) and its commit.
    struct Committed {
        var writes: WriteBatch
        var commitEnd: LSN
        var commitTime: PostgresTimestamp
    }

    let planner: ChangePlanner
    private(set) var relations = RelationCache()
    private var open = WriteBatch()
    private var inTransaction = false

    init(planner: ChangePlanner) {
        self.planner = planner
    }

    /// Applies one event; returns the transaction it completed, if any.
    mutating func apply(_ event: ReplicationEvent) throws -> Committed? {
        switch event {
        case .restarted, .idle:
            // A reconnect abandons the open transaction: the server sends it again from its Begin.
            open = WriteBatch()
            inTransaction = false
            return nil
        case .message(let message, _, _):
            return try apply(message)
        }
    }

    private mutating func apply(_ message: PGOutputMessage) throws -> Committed? {
        switch message {
        case .relation(let relation):
            relations.apply(relation)
        case .begin:
            open = WriteBatch()
            inTransaction = true
        case .insert(let insert):
            planner.plan(.insert(try relations.relation(insert.relationOID), new: insert.newTuple), lsn: .zero, into: &open)
        case .update(let update):
            planner.plan(.update(try relations.relation(update.relationOID), old: update.oldTuple, new: update.newTuple), lsn: .zero, into: &open)
        case .delete(let delete):
            planner.plan(.delete(try relations.relation(delete.relationOID), old: delete.oldTuple), lsn: .zero, into: &open)
        case .truncate(let truncate):
            let truncated = try truncate.relationOIDs.map { oid throws(PGOutputError) in try relations.relation(oid) }
            planner.plan(.truncate(truncated), lsn: .zero, into: &open)
        case .commit(let commit):
            defer {
                open = WriteBatch()
                inTransaction = false
            }
            return Committed(writes: open, commitEnd: commit.endLSN, commitTime: commit.commitTimestamp)
        case .origin, .type, .message, .streamStart, .streamStop, .streamCommit, .streamAbort, .beginPrepare, .prepare,
            .commitPrepared, .rollbackPrepared, .streamPrepare:
            // The worker streams protocol 1 without streaming or two-phase: none of these carry changes for it.
            break
        }
        return nil
    }
}
