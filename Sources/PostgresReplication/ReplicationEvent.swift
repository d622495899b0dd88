import PGOutput

/// What a ``LogicalReplicationStream`` delivers, in WAL order.
public enum ReplicationEvent: Hashable, Sendable {
    /// A decoded pgoutput message; `walStart`/`walEnd` come from its XLogData (0/0 for some
    /// messages: use Begin's final LSN and Commit's end LSN as transaction positions).
    case message(PGOutputMessage, walStart: LSN, walEnd: LSN)
    /// The connection was re-established and streaming resumed at `resumeFrom`: drop any
    /// transaction that was in progress; it (and possibly already-seen ones) will come again.
    case restarted(resumeFrom: LSN)
    /// Nothing is in flight and the server's WAL has reached `walEnd` (for example through writes
    /// to tables outside the publications): confirming it lets the slot release that WAL.
    case idle(walEnd: LSN)
}
