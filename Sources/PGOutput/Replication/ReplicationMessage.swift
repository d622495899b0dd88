import NIOCore

/// A message the server sends inside COPY BOTH during streaming replication.
public enum ReplicationMessage: Hashable, Sendable {
    /// 'w': WAL data (a pgoutput message).
    case xLogData(XLogData)
    /// 'k': a keepalive.
    case keepalive(PrimaryKeepalive)

    /// Decodes one CopyData payload; it must hold exactly one message.
    public static func decode(from buffer: ByteBuffer) throws(PGOutputError) -> ReplicationMessage {
        var body = buffer
        do throws(PGOutputError) {
            guard let typeByte: UInt8 = body.readInteger() else {
                throw PGOutputError(code: .emptyMessage, offset: body.readerIndex)
            }
            let message: ReplicationMessage
            switch typeByte {
            case UInt8(ascii: "w"): message = .xLogData(try .decode(from: &body))
            case UInt8(ascii: "k"): message = .keepalive(try .decode(from: &body))
            default:
                throw PGOutputError(code: .unknownMessageType, offset: buffer.readerIndex, detail: "replication message type byte 0x\(String(typeByte, radix: 16))")
            }
            try body.expectFullyConsumed()
            return message
        } catch {
            throw error.located(in: buffer)
        }
    }
}
