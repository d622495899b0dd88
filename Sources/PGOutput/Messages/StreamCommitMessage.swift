import NIOCore

/// Stream Commit ('c', v2+): a streamed transaction committed; apply its buffered blocks.
public struct StreamCommitMessage: Hashable, Sendable {
    /// The streamed transaction's id.
    public var xid: UInt32
    /// Flags (currently always 0).
    public var flags: UInt8
    /// The LSN of the commit record.
    public var commitLSN: LSN
    /// The end LSN of the commit record: acknowledge this once applied.
    public var endLSN: LSN
    /// When the transaction committed.
    public var commitTimestamp: PostgresTimestamp

    /// Makes a Stream Commit message.
    public init(xid: UInt32, flags: UInt8 = 0, commitLSN: LSN, endLSN: LSN, commitTimestamp: PostgresTimestamp) {
        self.xid = xid
        self.flags = flags
        self.commitLSN = commitLSN
        self.endLSN = endLSN
        self.commitTimestamp = commitTimestamp
    }

    static func decode(from buffer: inout ByteBuffer) throws(PGOutputError) -> Self {
        StreamCommitMessage(
            xid: try buffer.readWire("xid"),
            flags: try buffer.readWire("flags"),
            commitLSN: try buffer.readWireLSN("commit LSN"),
            endLSN: try buffer.readWireLSN("end LSN"),
            commitTimestamp: try buffer.readWireTimestamp("commit timestamp"))
    }
}
