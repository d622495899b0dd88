import NIOCore

/// Commit Prepared ('K', v3+): a prepared transaction committed; its changes are now visible.
public struct CommitPreparedMessage: Hashable, Sendable {
    /// Flags (currently always 0).
    public var flags: UInt8
    /// The LSN of the commit prepared record.
    public var commitLSN: LSN
    /// The end LSN of the commit prepared record: the version of the transaction's changes.
    public var endLSN: LSN
    /// When it committed.
    public var commitTimestamp: PostgresTimestamp
    /// The transaction id.
    public var xid: UInt32
    /// The global transaction identifier.
    public var gid: String

    /// Makes a Commit Prepared message.
    public init(flags: UInt8 = 0, commitLSN: LSN, endLSN: LSN, commitTimestamp: PostgresTimestamp, xid: UInt32, gid: String) {
        self.flags = flags
        self.commitLSN = commitLSN
        self.endLSN = endLSN
        self.commitTimestamp = commitTimestamp
        self.xid = xid
        self.gid = gid
    }

    static func decode(from buffer: inout ByteBuffer) throws(PGOutputError) -> Self {
        CommitPreparedMessage(
            flags: try buffer.readWire("flags"),
            commitLSN: try buffer.readWireLSN("commit LSN"),
            endLSN: try buffer.readWireLSN("end LSN"),
            commitTimestamp: try buffer.readWireTimestamp("commit timestamp"),
            xid: try buffer.readWire("xid"),
            gid: try buffer.readWireString("gid"))
    }
}
