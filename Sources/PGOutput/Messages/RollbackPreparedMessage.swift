import NIOCore

/// Rollback Prepared ('r', v3+): a prepared transaction was rolled back; drop its changes.
public struct RollbackPreparedMessage: Hashable, Sendable {
    /// Flags (currently always 0).
    public var flags: UInt8
    /// The end LSN of the prepared transaction.
    public var preparedEndLSN: LSN
    /// The end LSN of the rollback prepared record.
    public var rollbackEndLSN: LSN
    /// When the transaction was prepared.
    public var prepareTimestamp: PostgresTimestamp
    /// When it was rolled back.
    public var rollbackTimestamp: PostgresTimestamp
    /// The transaction id.
    public var xid: UInt32
    /// The global transaction identifier.
    public var gid: String

    /// Makes a Rollback Prepared message.
    public init(
        flags: UInt8 = 0, preparedEndLSN: LSN, rollbackEndLSN: LSN, prepareTimestamp: PostgresTimestamp,
        rollbackTimestamp: PostgresTimestamp, xid: UInt32, gid: String
    ) {
        self.flags = flags
        self.preparedEndLSN = preparedEndLSN
        self.rollbackEndLSN = rollbackEndLSN
        self.prepareTimestamp = prepareTimestamp
        self.rollbackTimestamp = rollbackTimestamp
        self.xid = xid
        self.gid = gid
    }

    static func decode(from buffer: inout ByteBuffer) throws(PGOutputError) -> Self {
        RollbackPreparedMessage(
            flags: try buffer.readWire("flags"),
            preparedEndLSN: try buffer.readWireLSN("prepared end LSN"),
            rollbackEndLSN: try buffer.readWireLSN("rollback end LSN"),
            prepareTimestamp: try buffer.readWireTimestamp("prepare timestamp"),
            rollbackTimestamp: try buffer.readWireTimestamp("rollback timestamp"),
            xid: try buffer.readWire("xid"),
            gid: try buffer.readWireString("gid"))
    }
}
