import NIOCore

/// A decoding error: what went wrong (``code``), where (``offset`` in the message and its type
/// byte), and the bytes involved (hex, truncated) so that a bad message can be reported and kept.
public struct PGOutputError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The kind of decoding failure.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Base: String, Hashable, Sendable {
            case truncatedMessage = "truncated message"
            case unknownMessageType = "unknown message type"
            case badTupleKind = "bad tuple column kind"
            case badTupleMarker = "bad tuple marker"
            case trailingBytes = "trailing bytes"
            case stringNotTerminated = "string not terminated"
            case invalidUTF8 = "invalid UTF-8 in string"
            case negativeLength = "negative length"
            case unknownRelation = "unknown relation OID"
            case columnCountMismatch = "column count mismatch"
            case emptyMessage = "empty message"
            case unsupportedProtocolVersion = "unsupported protocol version"
        }
        private let base: Base

        /// The message ended before a field it must contain.
        public static let truncatedMessage = Code(base: .truncatedMessage)
        /// The first byte names no message of this protocol (version).
        public static let unknownMessageType = Code(base: .unknownMessageType)
        /// A tuple column kind other than `n`, `u`, `t`, `b`.
        public static let badTupleKind = Code(base: .badTupleKind)
        /// An Update/Delete tuple marker other than `K`, `O`, `N` where one is expected.
        public static let badTupleMarker = Code(base: .badTupleMarker)
        /// Bytes left over after the message's last field.
        public static let trailingBytes = Code(base: .trailingBytes)
        /// A C string with no terminating NUL inside the message.
        public static let stringNotTerminated = Code(base: .stringNotTerminated)
        /// A name that is not valid UTF-8.
        public static let invalidUTF8 = Code(base: .invalidUTF8)
        /// A length or count field below zero.
        public static let negativeLength = Code(base: .negativeLength)
        /// A change for a relation OID that no Relation message described.
        public static let unknownRelation = Code(base: .unknownRelation)
        /// A tuple whose column count differs from its relation's.
        public static let columnCountMismatch = Code(base: .columnCountMismatch)
        /// A message with no bytes at all.
        public static let emptyMessage = Code(base: .emptyMessage)
        /// A protocol version outside 1...4.
        public static let unsupportedProtocolVersion = Code(base: .unsupportedProtocolVersion)

        public var description: String { base.rawValue }
    }

    /// How many message bytes ``bytesHex`` keeps at most.
    public static let maxReportedBytes = 64

    /// The kind of failure.
    public var code: Code
    /// The message type byte (e.g. `I`), when known.
    public var messageType: UInt8?
    /// The byte offset within the message where decoding failed.
    public var offset: Int
    /// A detail such as the expected field or the bad value.
    public var detail: String
    /// The message's bytes in hex, at most ``maxReportedBytes`` of them.
    public var bytesHex: String

    /// Makes an error; the decoder fills in type byte and bytes as the error leaves a message.
    public init(code: Code, offset: Int, detail: String = "", messageType: UInt8? = nil, bytesHex: String = "") {
        self.code = code
        self.offset = offset
        self.detail = detail
        self.messageType = messageType
        self.bytesHex = bytesHex
    }

    public var description: String {
        var text = "pgoutput: \(code)"
        if let messageType {
            let printable = (0x21...0x7E).contains(messageType)
            text += " in message '\(printable ? String(UnicodeScalar(messageType)) : "?")' (0x\(String(messageType, radix: 16)))"
        }
        text += " at offset \(offset)"
        if !detail.isEmpty { text += ": \(detail)" }
        if !bytesHex.isEmpty { text += " [bytes: \(bytesHex)]" }
        return text
    }
}

extension PGOutputError {
    /// Places an error raised while reading `message` in it: offsets from the message start,
    /// its type byte and its bytes.
    func located(in message: ByteBuffer) -> PGOutputError {
        var error = self
        error.offset -= message.readerIndex
        error.messageType = message.getInteger(at: message.readerIndex, as: UInt8.self)
        error.bytesHex = message.hexPrefix(limit: PGOutputError.maxReportedBytes)
        return error
    }
}
