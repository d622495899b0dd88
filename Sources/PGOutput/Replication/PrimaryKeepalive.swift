import NIOCore

/// Primary keepalive ('k'): the server's end of WAL and clock; answer at once when ``replyRequested``.
public struct PrimaryKeepalive: Hashable, Sendable {
    /// The server's current end of WAL.
    public var walEnd: LSN
    /// The server's clock when it sent the message.
    public var serverClock: PostgresTimestamp
    /// True when the server will drop the connection unless a status update follows soon.
    public var replyRequested: Bool

    /// Makes a keepalive.
    public init(walEnd: LSN, serverClock: PostgresTimestamp, replyRequested: Bool) {
        self.walEnd = walEnd
        self.serverClock = serverClock
        self.replyRequested = replyRequested
    }

    static func decode(from buffer: inout ByteBuffer) throws(PGOutputError) -> Self {
        PrimaryKeepalive(
            walEnd: try buffer.readWireLSN("walEnd"),
            serverClock: try buffer.readWireTimestamp("server clock"),
            replyRequested: try buffer.readWire("reply requested", as: UInt8.self) != 0)
    }
}
