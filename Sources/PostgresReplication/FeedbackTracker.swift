import PGOutput

/// Decides which position a standby status update may report as flushed (only what the consumer
/// confirmed as applied) and when the server's WAL end from a keepalive can be offered to the
/// consumer as an idle position (nothing in flight), so an idle database, or writes to unpublished
/// tables, do not pin WAL. A plain value: tested without sockets.
public struct FeedbackTracker: Hashable, Sendable {
    /// The highest position the consumer confirmed as applied.
    public private(set) var confirmed: LSN = .zero
    /// The highest WAL end the server reported.
    public private(set) var received: LSN = .zero
    /// True between a transaction's first message and its commit (or abort).
    public private(set) var inTransaction = false
    /// The end of the last transaction (or non-transactional message) handed to the consumer.
    public private(set) var lastDelivered: LSN = .zero
    /// The last idle position offered to the consumer.
    public private(set) var offeredIdle: LSN = .zero

    /// Starts with nothing confirmed beyond `confirmed`.
    public init(confirmed: LSN = .zero) {
        self.confirmed = confirmed
    }

    /// The position to report as flushed.
    public var flush: LSN { confirmed }

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

    /// Records a keepalive; returns its WAL end when nothing is in flight and that position is
    /// new, for the consumer to confirm (after recording it, e.g. as its checkpoint).
    public mutating func keepalive(walEnd: LSN) -> LSN? {
        received = max(received, walEnd)
        guard isIdle, walEnd > max(confirmed, offeredIdle) else { return nil }
        offeredIdle = walEnd
        return walEnd
    }

    /// A new session starts: a transaction cut off by the disconnect will be sent again.
    public mutating func reconnected() {
        inTransaction = false
    }
}
