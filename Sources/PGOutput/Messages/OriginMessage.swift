import NIOCore

/// Origin ('O'): the transaction came from another node through replication origin ``name``.
public struct OriginMessage: Hashable, Sendable {
    /// The commit LSN on the origin server.
    public var commitLSN: LSN
    /// The replication origin's name.
    public var name: String

    /// Makes an Origin message.
    public init(commitLSN: LSN, name: String) {
        self.commitLSN = commitLSN
        self.name = name
    }

    static func decode(from buffer: inout ByteBuffer) throws(PGOutputError) -> Self {
        OriginMessage(commitLSN: try buffer.readWireLSN("origin commit LSN"), name: try buffer.readWireString("origin name"))
    }
}
