import NIOCore

/// Commit ('C'): the end of a transaction. ``endLSN`` is the version the cache uses for its changes.
public struct CommitMessage: Hashable, Sendable {
    /// Flags (currently always 0).
    public var flags: UInt8
    /// The LSN of the commit record.
    public var commitLSN: LSN
    /// The end LSN of the commit record: acknowledge this once applied.
    public var endLSN: LSN
    /// When the transaction committed.
    public var commitTimestamp: PostgresTimestamp

    /// Makes a Commit message.
    public init(flags: UInt8 = 0, commitLSN: LSN, endLSN: LSN, commitTimestamp: PostgresTimestamp) {
        self.flags = flags
        self.commitLSN = commitLSN
        self.endLSN = endLSN
        self.commitTimestamp = commitTimestamp
    }

    static func decode(from buffer: inout ByteBuffer) throws(PGOutputError) -> Self {
        CommitMessage(
            flags: try buffer.readWire("flags"),
            commitLSN: try buffer.readWireLSN("commit LSN"),
            endLSN: try buffer.readWireLSN("end LSN"),
            commitTimestamp: try buffer.readWireTimestamp("commit timestamp"))
    }
}
