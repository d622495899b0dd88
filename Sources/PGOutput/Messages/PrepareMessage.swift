import NIOCore

/// Prepare ('P', v3+) and Stream Prepare ('p', v3+): a transaction was prepared for two-phase
/// commit; nothing is visible until its Commit Prepared. Both messages share this layout.
public struct PrepareMessage: Hashable, Sendable {
    /// Flags (currently always 0).
    public var flags: UInt8
    /// The LSN of the prepare record.
    public var prepareLSN: LSN
    /// The end LSN of the prepared transaction.
    public var endLSN: LSN
    /// When the transaction was prepared.
    public var prepareTimestamp: PostgresTimestamp
    /// The transaction id.
    public var xid: UInt32
    /// The global transaction identifier.
    public var gid: String

    /// Makes a Prepare message.
    public init(flags: UInt8 = 0, prepareLSN: LSN, endLSN: LSN, prepareTimestamp: PostgresTimestamp, xid: UInt32, gid: String) {
        self.flags = flags
        self.prepareLSN = prepareLSN
        self.endLSN = endLSN
        self.prepareTimestamp = prepareTimestamp
        self.xid = xid
        self.gid = gid
    }

    static func decode(from buffer: inout ByteBuffer) throws(PGOutputError) -> Self {
        PrepareMessage(
            flags: try buffer.readWire("flags"),
            prepareLSN: try buffer.readWireLSN("prepare LSN"),
            endLSN: try buffer.readWireLSN("end LSN"),
            prepareTimestamp: try buffer.readWireTimestamp("prepare timestamp"),
            xid: try buffer.readWire("xid"),
            gid: try buffer.readWireString("gid"))
    }
}
