import PGOutput

/// Decides which position a standby status update may report as flushed: only what the consumer
/// confirmed as applied, or, when nothing is in flight, the server's WAL end from a keepalive
/// (so an idle database, or writes to unpublished tables, do not pin WAL). A plain value:
/// tested without sockets.
public struct FeedbackTracker: Hashable, Sendable {
    /// The highest position the consumer confirmed as applied.
    public private(set) var confirmed: LSN = .zero
    /// The highest WAL end the server reported.
    public private(set) var received: LSN = .zero
    /// True between a transaction's first message and its commit (or abort).
    public private(set) var inTransaction = false
    /// The end of the last transaction (or non-transactional message) handed to the consumer.
    public private(set) var lastDelivered: LSN = .zero
    /// A position reached while idle, from a keepalive.
    public private(set) var idle: LSN = .zero

    /// Starts with nothing confirmed beyond `confirmed`.
    public init(confirmed: LSN = .zero) {
        self.confirmed = confirmed
    }

    /// The position to report as flushed.
    public var flush: LSN { max(confirmed, idle) }

    /// True when every delivered change was confirmed and no transaction is open.
    public var isIdle: Bool { !inTransaction && lastDelivered <= confirmed }

    /// Records the consumer's confirmation (positions only move forward).
    public mutating func confirm(_ lsn: LSN) {
        confirmed = max(confirmed, lsn)
    }

    /// Records a message handed to the consumer.
    public mutating func delivered(_ message: PGOutputMessage, walEnd: LSN) {
        received = max(received, walEnd)
        switch message {
        case .begin, .beginPrepare, .streamStart:
            inTransaction = true
        case .commit(let commit):
            inTransaction = false
            lastDelivered = max(lastDelivered, commit.endLSN)
        case .streamCommit(let commit):
            inTransaction = false
            lastDelivered = max(lastDelivered, commit.endLSN)
        case .commitPrepared(let commit):
            inTransaction = false
            lastDelivered = max(lastDelivered, commit.endLSN)
        case .prepare(let prepare), .streamPrepare(let prepare):
            inTransaction = false
            lastDelivered = max(lastDelivered, prepare.endLSN)
        case .rollbackPrepared(let rollback):
            inTransaction = false
            lastDelivered = max(lastDelivered, rollback.rollbackEndLSN)
        case .streamStop, .streamAbort:
            inTransaction = false
        case .message(let message) where !message.isTransactional && !inTransaction:
            lastDelivered = max(lastDelivered, message.lsn)
        default:
            break
        }
    }

    /// Records a keepalive; when idle, its WAL end becomes reportable. Returns whether ``flush`` moved.
    @discardableResult
    public mutating func keepalive(walEnd: LSN) -> Bool {
        received = max(received, walEnd)
        guard isIdle, walEnd > flush else { return false }
        idle = walEnd
        return true
    }

    /// A new session starts: a transaction cut off by the disconnect will be sent again.
    public mutating func reconnected() {
        inTransaction = false
    }
}
