import NIOCore

/// Stream Abort ('A', v2+): a streamed (sub)transaction rolled back; drop its buffered changes.
public struct StreamAbortMessage: Hashable, Sendable {
    /// The top-level transaction id.
    public var xid: UInt32
    /// The aborted subtransaction's id (equal to ``xid`` when the whole transaction aborted).
    public var subtransactionXid: UInt32
    /// The abort's LSN (v4 with parallel streaming only).
    public var abortLSN: LSN?
    /// The abort's time (v4 with parallel streaming only).
    public var abortTimestamp: PostgresTimestamp?

    /// Makes a Stream Abort message.
    public init(xid: UInt32, subtransactionXid: UInt32, abortLSN: LSN? = nil, abortTimestamp: PostgresTimestamp? = nil) {
        self.xid = xid
        self.subtransactionXid = subtransactionXid
        self.abortLSN = abortLSN
        self.abortTimestamp = abortTimestamp
    }

    /// In v4 the abort LSN and timestamp follow only with `streaming = parallel`; their presence
    /// is told by the message length (exactly 16 more bytes).
    static func decode(from buffer: inout ByteBuffer, protocolVersion: Int) throws(PGOutputError) -> Self {
        var message = StreamAbortMessage(xid: try buffer.readWire("xid"), subtransactionXid: try buffer.readWire("subtransaction xid"))
        if protocolVersion >= 4 && buffer.readableBytes > 0 {
            message.abortLSN = try buffer.readWireLSN("abort LSN")
            message.abortTimestamp = try buffer.readWireTimestamp("abort timestamp")
        }
        return message
    }
}
