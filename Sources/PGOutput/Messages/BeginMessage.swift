import NIOCore

/// Begin ('B'): a transaction starts; its changes follow until the matching Commit.
public struct BeginMessage: Hashable, Sendable {
    /// The LSN of the commit record (the transaction's final LSN).
    public var finalLSN: LSN
    /// When the transaction committed.
    public var commitTimestamp: PostgresTimestamp
    /// The transaction id.
    public var xid: UInt32

    /// Makes a Begin message.
    public init(finalLSN: LSN, commitTimestamp: PostgresTimestamp, xid: UInt32) {
        self.finalLSN = finalLSN
        self.commitTimestamp = commitTimestamp
        self.xid = xid
    }

    static func decode(from buffer: inout ByteBuffer) throws(PGOutputError) -> Self {
        BeginMessage(
            finalLSN: try buffer.readWireLSN("final LSN"),
            commitTimestamp: try buffer.readWireTimestamp("commit timestamp"),
            xid: try buffer.readWire("xid"))
    }
}
