import CHiredis

/// Parses RESP replies from bytes in arbitrary chunks with hiredis' reader, and copies each
/// reply into a ``RedisReply`` at once. It owns the `redisReader` and frees it on deinit.
final class ReplyParser {
    private let reader: UnsafeMutablePointer<redisReader>

    /// A parser with hiredis' default reply objects.
    init() throws(RedisError) {
        guard let reader = redisReaderCreate() else {
            throw RedisError(code: .connectionFailed, message: "cannot allocate a hiredis reader")
        }
        self.reader = reader
    }

    deinit {
        redisReaderFree(reader)
    }

    /// Adds bytes received from the server.
    func feed(_ bytes: UnsafeRawBufferPointer) throws(RedisError) {
        guard let base = bytes.baseAddress, !bytes.isEmpty else { return }
        guard redisReaderFeed(reader, base.assumingMemoryBound(to: CChar.self), bytes.count) == REDIS_OK else {
            throw RedisError(code: .protocolError, message: "cannot buffer the reply: \(errorText)")
        }
    }

    /// The next complete reply, or nil when more bytes are needed. Throws
    /// ``RedisError/Code-swift.enum/protocolError`` on bytes that are not RESP.
    func next() throws(RedisError) -> RedisReply? {
        var raw: UnsafeMutableRawPointer?
        guard redisReaderGetReply(reader, &raw) == REDIS_OK else {
            throw RedisError(code: .protocolError, message: "invalid reply from the server: \(errorText)")
        }
        guard let raw else { return nil }
        defer { freeReplyObject(raw) }
        return ReplyParser.copy(raw.assumingMemoryBound(to: redisReply.self))
    }

    private var errorText: String {
        withUnsafeBytes(of: reader.pointee.errstr) { raw in
            String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
        }
    }

    private static func copy(_ reply: UnsafeMutablePointer<redisReply>) -> RedisReply {
        let value = reply.pointee
        switch value.type {
        case REDIS_REPLY_STRING:
            return .string(value.str.map { Array(UnsafeRawBufferPointer(start: $0, count: value.len)) } ?? [])
        case REDIS_REPLY_STATUS:
            return .status(text(value))
        case REDIS_REPLY_ERROR:
            return .error(text(value))
        case REDIS_REPLY_INTEGER:
            return .integer(Int64(value.integer))
        case REDIS_REPLY_ARRAY:
            guard let elements = value.element else { return .array([]) }
            return .array((0..<value.elements).map { index in elements[index].map(copy) ?? .null })
        default:
            return .null
        }
    }

    private static func text(_ value: redisReply) -> String {
        guard let str = value.str else { return "" }
        return String(decoding: UnsafeRawBufferPointer(start: str, count: value.len), as: UTF8.self)
    }
}
