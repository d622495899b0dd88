import NIOCore

/// Decodes a session's pgoutput messages in order, tracking the state the wire format depends on
/// (inside a Stream Start/Stop block, changes carry an xid).
public struct PGOutputDecoder: Sendable {
    /// The `proto_version` the stream was started with.
    public let protocolVersion: Int
    /// True between Stream Start and Stream Stop.
    public private(set) var inStream = false

    /// Makes a decoder for a stream started with `proto_version = protocolVersion` (1...4).
    public init(protocolVersion: Int) throws(PGOutputError) {
        guard (1...4).contains(protocolVersion) else {
            throw PGOutputError(code: .unsupportedProtocolVersion, offset: 0, detail: "version \(protocolVersion)")
        }
        self.protocolVersion = protocolVersion
    }

    /// Decodes the next message of the session; `buffer` holds exactly one message.
    public mutating func decode(_ buffer: ByteBuffer) throws(PGOutputError) -> PGOutputMessage {
        let message = try PGOutputMessage.decode(from: buffer, protocolVersion: protocolVersion, inStream: inStream)
        switch message {
        case .streamStart: inStream = true
        case .streamStop: inStream = false
        default: break
        }
        return message
    }
}
