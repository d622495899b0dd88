import NIOCore

/// XLogData ('w'): one chunk of WAL-derived data (for logical replication, one pgoutput message).
public struct XLogData: Hashable, Sendable {
    /// The WAL position the data starts at (0/0 for some messages, e.g. Relation).
    public var walStart: LSN
    /// The server's current end of WAL.
    public var walEnd: LSN
    /// The server's clock when it sent the message.
    public var serverClock: PostgresTimestamp
    /// The pgoutput message.
    public var payload: ByteBuffer

    /// Makes an XLogData message.
    public init(walStart: LSN, walEnd: LSN, serverClock: PostgresTimestamp, payload: ByteBuffer) {
        self.walStart = walStart
        self.walEnd = walEnd
        self.serverClock = serverClock
        self.payload = payload
    }

    /// Fixed header size before the payload.
    public static let headerSize = 24

    static func decode(from buffer: inout ByteBuffer) throws(PGOutputError) -> Self {
        let start = try buffer.readWireLSN("walStart")
        let end = try buffer.readWireLSN("walEnd")
        let clock = try buffer.readWireTimestamp("server clock")
        let payload = buffer.readSlice(length: buffer.readableBytes) ?? ByteBuffer()
        return XLogData(walStart: start, walEnd: end, serverClock: clock, payload: payload)
    }
}
