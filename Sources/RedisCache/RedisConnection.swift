import CHiredis
import struct Foundation.Date

/// One blocking connection to a Redis server through hiredis, which formats commands and parses
/// replies. It owns its `redisContext` and frees it on deinit.
///
/// Calls block the calling thread: async callers run them on a dedicated thread, never on the
/// cooperative pool.
public final class RedisConnection {
    private let context: UnsafeMutablePointer<redisContext>
    /// The server, for messages (password redacted).
    public let url: RedisURL

    /// Connects, authenticates and selects the URL's database.
    ///
    /// - Parameters:
    ///   - connectTimeout: seconds to wait for the TCP connection.
    ///   - commandTimeout: seconds to wait for each reply.
    public init(url: RedisURL, connectTimeout: Double = 5, commandTimeout: Double = 5) throws(RedisError) {
        guard !url.tls else {
            throw RedisError(code: .connectionFailed, message: "\(url): TLS (rediss://) is not supported by this hiredis build (0.14 has no TLS)")
        }
        self.url = url
        guard let context = redisConnectWithTimeout(url.host, Int32(url.port), timeval(seconds: connectTimeout)) else {
            throw RedisError(code: .connectionFailed, message: "\(url): cannot allocate a hiredis context")
        }
        if context.pointee.err != 0 {
            let reason = RedisConnection.errorString(context)
            redisFree(context)
            let timedOut = reason.localizedCaseInsensitiveContains("timed out")
            throw RedisError(code: timedOut ? .timeout : .connectionFailed, message: "\(url): cannot connect: \(reason)")
        }
        // From here on a thrown error runs deinit, which frees the context.
        self.context = context
        redisSetTimeout(context, timeval(seconds: commandTimeout))
        if let password = url.password {
            try expectOK(try command(url.user.map { ["AUTH", $0, password] } ?? ["AUTH", password]), what: "AUTH")
        }
        if url.database != 0 {
            try expectOK(try command(["SELECT", String(url.database)]), what: "SELECT \(url.database)")
        }
    }

    deinit {
        redisFree(context)
    }

    /// Runs one command and returns its reply (error replies are returned, not thrown).
    public func command(_ arguments: [String]) throws(RedisError) -> RedisReply {
        try pipeline([arguments])[0]
    }

    /// Sends every command, then reads every reply: one round trip for the whole batch.
    public func pipeline(_ commands: [[String]]) throws(RedisError) -> [RedisReply] {
        for arguments in commands {
            append(arguments)
        }
        var replies: [RedisReply] = []
        replies.reserveCapacity(commands.count)
        for _ in commands {
            var raw: UnsafeMutableRawPointer?
            guard redisGetReply(context, &raw) == REDIS_OK, let raw else {
                let reason = RedisConnection.errorString(context)
                let timedOut = reason.localizedCaseInsensitiveContains("temporarily unavailable") || reason.localizedCaseInsensitiveContains("timed out")
                throw RedisError(code: timedOut ? .timeout : .connectionLost, message: "\(url): \(reason)")
            }
            let reply = raw.assumingMemoryBound(to: redisReply.self)
            replies.append(RedisConnection.copy(reply))
            freeReplyObject(raw)
        }
        return replies
    }

    private func append(_ arguments: [String]) {
        // All arguments in one buffer (plus a NUL so it is never empty); hiredis copies them
        // while formatting, so the pointers only need to live through the call.
        var storage: [UInt8] = []
        var lengths: [Int] = []
        lengths.reserveCapacity(arguments.count)
        for argument in arguments {
            let before = storage.count
            storage.append(contentsOf: argument.utf8)
            lengths.append(storage.count - before)
        }
        storage.append(0)
        storage.withUnsafeBufferPointer { buffer in
            let base = UnsafeRawPointer(buffer.baseAddress!)
            var offset = 0
            var pointers: [UnsafePointer<CChar>?] = lengths.map { length in
                defer { offset += length }
                return (base + offset).assumingMemoryBound(to: CChar.self)
            }
            _ = redisAppendCommandArgv(context, Int32(arguments.count), &pointers, &lengths)
        }
    }

    private func expectOK(_ reply: RedisReply, what: String) throws(RedisError) {
        if case .error(let message) = reply {
            throw RedisError(serverReply: "\(what) failed: \(message)", server: url.description)
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
            return .array((0..<value.elements).compactMap { index in value.element[index].map(copy) })
        default:
            return .null
        }
    }

    private static func text(_ value: redisReply) -> String {
        guard let str = value.str else { return "" }
        return String(decoding: UnsafeRawBufferPointer(start: str, count: value.len), as: UTF8.self)
    }

    private static func errorString(_ context: UnsafeMutablePointer<redisContext>) -> String {
        withUnsafeBytes(of: context.pointee.errstr) { raw in
            String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
        }
    }
}

extension timeval {
    init(seconds: Double) {
        let whole = Int(seconds)
        self.init(tv_sec: whole, tv_usec: Int((seconds - Double(whole)) * 1_000_000))
    }
}
