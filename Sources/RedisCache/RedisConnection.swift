/// One blocking connection to a Redis server. It does its own socket I/O (non-blocking TCP with
/// `ppoll`, TLS through OpenSSL for `rediss://`) and uses hiredis only to format commands and
/// parse replies. Nothing outside this module sees a C handle.
///
/// Calls block the calling thread: async callers use ``RedisClient``, which runs them on a
/// dedicated thread (or, with ``RedisClient/inlineWait``, waits briefly on the caller's).
/// After a transport failure (lost connection, timeout, garbled reply) the connection is
/// ``isBroken`` and every call throws: replies could be out of step with commands, so a new
/// connection is needed.
public final class RedisConnection {
    /// The server, for messages (password redacted in its description).
    public let url: RedisURL
    /// The timeouts and TLS settings this connection was opened with.
    public let options: RedisConnectionOptions
    /// True after a transport failure; every later call throws ``RedisError/Code-swift.enum/connectionLost``.
    public private(set) var isBroken = false

    private let channel: ByteChannel
    private let parser: ReplyParser
    private var failure: String?
    /// The batch whose replies ``pipeline(_:patience:)`` stopped waiting for.
    private var open: OpenExchange?

    private struct OpenExchange {
        var count: Int
        var replies: [RedisReply]
    }

    /// Connects, authenticates (`AUTH [user] password`), selects the URL's database, sets the
    /// client name and checks the server answers (`PING`), in one round trip after the handshake.
    public init(url: RedisURL, options: RedisConnectionOptions) throws(RedisError) {
        do {
            try options.validate()
        } catch {
            throw error.about(url)
        }
        self.url = url
        self.options = options
        do {
            let context = url.tls
                ? try TLSContext(caFile: url.caFile ?? options.tls.caFile, verify: !(url.insecure || options.tls.insecureSkipVerification))
                : nil
            channel = try ByteChannel.open(host: url.host, port: url.port, tls: context, timeout: options.connectTimeout)
            parser = try ReplyParser()
        } catch {
            throw error.about(url)
        }
        try handshake()
    }

    /// Connects with the given timeouts in seconds and default options otherwise.
    public convenience init(url: RedisURL, connectTimeout: Double = 5, commandTimeout: Double = 5) throws(RedisError) {
        try self.init(url: url, options: RedisConnectionOptions(connectTimeout: connectTimeout, commandTimeout: commandTimeout))
    }

    /// Runs one command and returns its reply (error replies are returned, not thrown).
    public func command(_ arguments: [String]) throws(RedisError) -> RedisReply {
        try pipeline([arguments])[0]
    }

    /// Runs one command whose arguments are raw bytes (binary keys or values).
    public func command(_ arguments: [[UInt8]]) throws(RedisError) -> RedisReply {
        try pipeline([arguments])[0]
    }

    /// Formats every command into one buffer, sends it and reads every reply: one round trip for
    /// the whole batch. An error reply to one command is returned in its place and hides nothing else.
    public func pipeline(_ commands: [[String]]) throws(RedisError) -> [RedisReply] {
        try pipeline(try RedisBatch(commands, for: url))
    }

    /// Like ``pipeline(_:)-([[String]])``, for commands whose arguments are raw bytes.
    public func pipeline(_ commands: [[[UInt8]]]) throws(RedisError) -> [RedisReply] {
        try pipeline(try RedisBatch(commands, for: url))
    }

    /// Sends a batch formatted beforehand and reads its replies (one round trip).
    public func pipeline(_ batch: RedisBatch) throws(RedisError) -> [RedisReply] {
        try checkUsable()
        return try exchange(batch.bytes, count: batch.count)
    }

    /// Like ``pipeline(_:)-(RedisBatch)``, but a failure comes back with the replies that
    /// arrived before it, so a batch that combines several callers' pipelines can still answer
    /// those whose replies are all in. The failure carries no reply count (see
    /// ``progressError(_:received:of:)``).
    func pipelineKeepingReplies(_ batch: RedisBatch) -> (replies: [RedisReply], failure: RedisError?) {
        var replies: [RedisReply] = []
        do {
            try checkUsable()
            try transfer(batch.bytes, count: batch.count, into: &replies)
            return (replies, nil)
        } catch {
            return (replies, error)
        }
    }

    /// Sends a batch formatted beforehand and waits at most `patience` seconds for its replies:
    /// the replies, or nil when they have not all come. The exchange then stays open, and only
    /// ``finishExchange()`` may use the connection next (``RedisClient`` hands it to its own
    /// thread that way).
    func pipeline(_ batch: RedisBatch, patience: Double) throws(RedisError) -> [RedisReply]? {
        try checkUsable()
        var replies: [RedisReply] = []
        do {
            guard batch.count > 0 else { return [] }
            try enqueue(batch.bytes)
            if try advance(batch.count, &replies, patience: Deadline(after: patience)) { return replies }
        } catch {
            throw progressError(error, received: replies.count, of: batch.count)
        }
        open = OpenExchange(count: batch.count, replies: replies)
        return nil
    }

    /// Waits, within the command timeout, for the rest of the replies of the exchange that
    /// ``pipeline(_:patience:)`` left open, and returns all of them.
    func finishExchange() throws(RedisError) -> [RedisReply] {
        guard var exchange = open else {
            throw RedisError(code: .invalidCommand, message: "\(url): no exchange is open")
        }
        open = nil
        do {
            _ = try advance(exchange.count, &exchange.replies, patience: nil)
            return exchange.replies
        } catch {
            throw progressError(error, received: exchange.replies.count, of: exchange.count)
        }
    }

    private func checkUsable() throws(RedisError) {
        if isBroken {
            throw RedisError(code: .connectionLost, message: "\(url): connection unusable after an earlier failure (\(failure ?? "unknown")); open a new one")
        }
        if open != nil {
            throw RedisError(code: .invalidCommand, message: "\(url): an exchange is still open; finish it first")
        }
    }

    /// Queues `bytes` (`count` commands), then sends and receives until `count` replies are in.
    /// A failure marks the connection broken and names the server and how far the batch got.
    private func exchange(_ bytes: [UInt8], count: Int) throws(RedisError) -> [RedisReply] {
        var replies: [RedisReply] = []
        do {
            try transfer(bytes, count: count, into: &replies)
            return replies
        } catch {
            throw progressError(error, received: replies.count, of: count)
        }
    }

    /// `error` naming the server and how far a batch of `count` commands got.
    func progressError(_ error: RedisError, received: Int, of count: Int) -> RedisError {
        RedisError(
            code: error.code,
            message: "\(url): \(error.message) (\(received) of \(count) replies received; the others may or may not have run)")
    }

    private func transfer(_ bytes: [UInt8], count: Int, into replies: inout [RedisReply]) throws(RedisError) {
        guard count > 0 else { return }
        try enqueue(bytes)
        _ = try advance(count, &replies, patience: nil)
    }

    /// Sends what the socket takes, waits for it to take more or for replies, reads them, until
    /// `count` replies are in (true) or `patience` passed first (false). One poll per wake-up,
    /// and a batch larger than the socket buffers never deadlocks. Each wait may last the
    /// command timeout; a failure marks the connection broken.
    private func advance(_ count: Int, _ replies: inout [RedisReply], patience: Deadline?) throws(RedisError) -> Bool {
        replies.reserveCapacity(count)
        do throws(RedisError) {
            while replies.count < count {
                // Checked on every pass: replies that keep trickling in must not hold the
                // caller's thread past its patience either.
                if let patience, patience.hasPassed { return false }
                if channel.hasPendingOutput {
                    _ = try channel.flushSome()
                }
                let timeout = Deadline(after: options.commandTimeout)
                let limit = patience.map { Swift.min($0, timeout) } ?? timeout
                guard try channel.wait(until: limit) else {
                    if let patience, patience <= timeout { return false }
                    throw RedisError(code: .timeout, message: "no reply within \(options.commandTimeout) s")
                }
                if try channel.receiveSome({ chunk throws(RedisError) in try parser.feed(chunk) }) {
                    while replies.count < count, let reply = try parser.next() {
                        replies.append(reply)
                    }
                }
            }
            return true
        } catch {
            isBroken = true
            failure = error.message
            throw error
        }
    }

    /// Queues `bytes` for sending; a failure (TLS) marks the connection broken.
    private func enqueue(_ bytes: [UInt8]) throws(RedisError) {
        do {
            try bytes.withUnsafeBytes { try channel.enqueue($0) }
        } catch {
            isBroken = true
            let failed = (error as? RedisError) ?? RedisError(code: .connectionLost, message: "cannot queue the request: \(error)")
            failure = failed.message
            throw failed
        }
    }

    /// AUTH, SELECT, CLIENT SETNAME and PING in one round trip; the first error reply fails.
    private func handshake() throws(RedisError) {
        var commands: [[String]] = []
        var names: [String] = []
        if let password = url.password {
            commands.append(url.user.map { ["AUTH", $0, password] } ?? ["AUTH", password])
            names.append("AUTH")
        }
        if url.database != 0 {
            commands.append(["SELECT", String(url.database)])
            names.append("SELECT \(url.database)")
        }
        if let name = options.clientName {
            commands.append(["CLIENT", "SETNAME", name])
            names.append("CLIENT SETNAME")
        }
        commands.append(["PING"])
        names.append("PING")
        var replies: [RedisReply] = []
        do throws(RedisError) {
            let batch = try RedisBatch(commands)
            try transfer(batch.bytes, count: batch.count, into: &replies)
        } catch {
            throw setupError(error, commands: names)
        }
        for (name, reply) in zip(names, replies) {
            if case .error(let message) = reply {
                throw RedisError(serverReply: message, server: url.description, command: name)
            }
        }
        guard replies.last == .status("PONG") else {
            throw RedisError(code: .unexpectedReply, message: "\(url): PING answered \(replies.last.map { "\($0)" } ?? "nothing")")
        }
    }

    /// A transport failure while setting up. A closed connection or bytes that are not RESP on
    /// a plain connection most often mean a TLS port.
    private func setupError(_ error: RedisError, commands: [String]) -> RedisError {
        let hint = url.tls ? "" : " (if this is a TLS port, use rediss://)"
        let context = "\(url): \(error.message) while setting up the connection (\(commands.joined(separator: ", ")))"
        switch error.code {
        case .connectionLost:
            return RedisError(code: .connectionFailed, message: context + hint)
        case .protocolError:
            return RedisError(code: .protocolError, message: context + hint)
        default:
            return RedisError(code: error.code, message: context)
        }
    }
}
