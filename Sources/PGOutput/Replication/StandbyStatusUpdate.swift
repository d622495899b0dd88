import NIOCore

/// Standby status update ('r'), sent by the client: the flush position becomes the slot's
/// `confirmed_flush_lsn`, so it must only ever report changes that were really applied.
public struct StandbyStatusUpdate: Hashable, Sendable {
    /// The last WAL position received and written.
    public var write: LSN
    /// The last WAL position durably applied: the slot may discard WAL before it.
    public var flush: LSN
    /// The last WAL position applied.
    public var apply: LSN
    /// The client's clock.
    public var clientClock: PostgresTimestamp
    /// Asks the server to answer with a keepalive at once.
    public var replyRequested: Bool

    /// Makes a status update.
    public init(write: LSN, flush: LSN, apply: LSN, clientClock: PostgresTimestamp, replyRequested: Bool = false) {
        self.write = write
        self.flush = flush
        self.apply = apply
        self.clientClock = clientClock
        self.replyRequested = replyRequested
    }

    /// The encoded size: type byte, three LSNs, the clock, the flag.
    public static let encodedSize = 34

    /// Appends the CopyData payload (starting with 'r') to `buffer`.
    public func encode(into buffer: inout ByteBuffer) {
        buffer.writeInteger(UInt8(ascii: "r"))
        buffer.writeInteger(write.rawValue)
        buffer.writeInteger(flush.rawValue)
        buffer.writeInteger(apply.rawValue)
        buffer.writeInteger(clientClock.rawValue)
        buffer.writeInteger(UInt8(replyRequested ? 1 : 0))
    }

    /// The CopyData payload as bytes.
    public var encoded: [UInt8] {
        var buffer = ByteBuffer()
        buffer.reserveCapacity(Self.encodedSize)
        encode(into: &buffer)
        return Array(buffer.readableBytesView)
    }
}
