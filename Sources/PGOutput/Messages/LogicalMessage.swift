import NIOCore

/// Message ('M'): a logical decoding message written with `pg_logical_emit_message`.
public struct LogicalMessage: Hashable, Sendable {
    /// The transaction id, present only inside a streamed transaction.
    public var xid: UInt32?
    /// True when the message was emitted transactionally (delivered with its transaction).
    public var isTransactional: Bool
    /// The LSN of the message.
    public var lsn: LSN
    /// The prefix given to `pg_logical_emit_message`.
    public var prefix: String
    /// The message content.
    public var content: ByteBuffer

    /// Makes a logical decoding message.
    public init(xid: UInt32? = nil, isTransactional: Bool, lsn: LSN, prefix: String, content: ByteBuffer) {
        self.xid = xid
        self.isTransactional = isTransactional
        self.lsn = lsn
        self.prefix = prefix
        self.content = content
    }

    static func decode(from buffer: inout ByteBuffer, inStream: Bool) throws(PGOutputError) -> Self {
        let xid: UInt32? = inStream ? try buffer.readWire("xid") : nil
        let flags: UInt8 = try buffer.readWire("flags")
        return LogicalMessage(
            xid: xid,
            isTransactional: flags & 1 == 1,
            lsn: try buffer.readWireLSN("message LSN"),
            prefix: try buffer.readWireString("prefix"),
            content: try buffer.readWireLengthPrefixed("content"))
    }
}
