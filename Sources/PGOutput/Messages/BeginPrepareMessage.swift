import NIOCore

/// Begin Prepare ('b', v3+): a two-phase transaction's changes follow, up to its Prepare.
public struct BeginPrepareMessage: Hashable, Sendable {
    /// The LSN of the prepare record.
    public var prepareLSN: LSN
    /// The end LSN of the prepared transaction.
    public var endLSN: LSN
    /// When the transaction was prepared.
    public var prepareTimestamp: PostgresTimestamp
    /// The transaction id.
    public var xid: UInt32
    /// The global transaction identifier given to `PREPARE TRANSACTION`.
    public var gid: String

    /// Makes a Begin Prepare message.
    public init(prepareLSN: LSN, endLSN: LSN, prepareTimestamp: PostgresTimestamp, xid: UInt32, gid: String) {
        self.prepareLSN = prepareLSN
        self.endLSN = endLSN
        self.prepareTimestamp = prepareTimestamp
        self.xid = xid
        self.gid = gid
    }

    static func decode(from buffer: inout ByteBuffer) throws(PGOutputError) -> Self {
        BeginPrepareMessage(
            prepareLSN: try buffer.readWireLSN("prepare LSN"),
            endLSN: try buffer.readWireLSN("end LSN"),
            prepareTimestamp: try buffer.readWireTimestamp("prepare timestamp"),
            xid: try buffer.readWire("xid"),
            gid: try buffer.readWireString("gid"))
    }
}
