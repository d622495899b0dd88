import Glibc
import Logging

/// An async Redis client: one ``RedisConnection`` driven by a dedicated thread (the actor's
/// executor), so its blocking I/O never holds a thread of the cooperative pool.
///
/// It connects on first use. After the connection is lost, the failed call throws (a batch is
/// never sent again silently: the caller decides whether it is safe to retry) and the next
/// call reconnects, making up to ``RedisReconnectPolicy/attempts`` attempts with jittered
/// exponential backoff. Calls run one at a time in arrival order.
public actor RedisClient {
    /// The server (password redacted in its description).
    public nonisolated let url: RedisURL
    /// Timeouts, TLS and client name for each connection.
    public nonisolated let options: RedisConnectionOptions
    /// How lost connections are re-established.
    public nonisolated let reconnect: RedisReconnectPolicy

    private let executor: ThreadExecutor
    private let logger: Logger
    private var connection: RedisConnection?
    private var closed = false
    private var random = SystemRandomNumberGenerator()

    /// Runs this actor on its own thread.
    public nonisolated var unownedExecutor: UnownedSerialExecutor {
        executor.asUnownedSerialExecutor()
    }

    /// A client for `url`; no I/O happens until the first call.
    public init(
        url: RedisURL, options: RedisConnectionOptions = RedisConnectionOptions(),
        reconnect: RedisReconnectPolicy = RedisReconnectPolicy(), logger: Logger = Logger(label: "cache-warmer.redis")
    ) throws(RedisError) {
        do {
            try options.validate()
            try reconnect.validate()
        } catch {
            throw RedisError(code: error.code, message: "\(url): \(error.message)")
        }
        self.url = url
        self.options = options
        self.reconnect = reconnect
        self.logger = logger
        self.executor = ThreadExecutor(name: "redis \(url.host):\(url.port)")
    }

    /// Runs one command and returns its reply (error replies are returned, not thrown).
    public func command(_ arguments: [String]) async throws(RedisError) -> RedisReply {
        try await withConnection { connection throws(RedisError) in try connection.command(arguments) }
    }

    /// Runs one command whose arguments are raw bytes.
    public func command(_ arguments: [[UInt8]]) async throws(RedisError) -> RedisReply {
        try await withConnection { connection throws(RedisError) in try connection.command(arguments) }
    }

    /// Sends the commands as one pipeline (one round trip) and returns their replies in order.
    public func pipeline(_ commands: [[String]]) async throws(RedisError) -> [RedisReply] {
        try await withConnection { connection throws(RedisError) in try connection.pipeline(commands) }
    }

    /// Sends commands with raw byte arguments as one pipeline.
    public func pipeline(_ commands: [[[UInt8]]]) async throws(RedisError) -> [RedisReply] {
        try await withConnection { connection throws(RedisError) in try connection.pipeline(commands) }
    }

    /// Sends a batch formatted beforehand (one round trip).
    public func pipeline(_ batch: RedisBatch) async throws(RedisError) -> [RedisReply] {
        try await withConnection { connection throws(RedisError) in try connection.pipeline(batch) }
    }

    /// Runs `body` with the connection on the client's thread (connecting first if needed), for
    /// blocking extensions of ``RedisConnection`` such as script calls.
    public func withConnection<T: Sendable>(_ body: @Sendable (RedisConnection) throws(RedisError) -> T) async throws(RedisError) -> T {
        guard !Task.isCancelled else {
            throw RedisError(code: .cancelled, message: "\(url): the task was cancelled before the command was sent")
        }
        let connection = try connected()
        do {
            return try body(connection)
        } catch {
            if connection.isBroken {
                self.connection = nil
                logger.warning("redis connection lost; the next call reconnects", metadata: ["server": "\(url)", "error": "\(error)"])
            }
            throw error
        }
    }

    /// True while a connection is open (it may still turn out broken on the next call).
    public var isConnected: Bool {
        connection != nil
    }

    /// Closes the connection; later calls throw ``RedisError/Code-swift.enum/closed``.
    public func close() {
        closed = true
        connection = nil
    }

    private static func sleep(seconds: Double) {
        var remaining = timespec(tv_sec: Int(seconds), tv_nsec: Int((seconds - seconds.rounded(.down)) * 1e9))
        var request = remaining
        while nanosleep(&request, &remaining) != 0, errno == EINTR {
            request = remaining
        }
    }

    /// The open connection, or a new one after up to `reconnect.attempts` attempts.
    private func connected() throws(RedisError) -> RedisConnection {
        guard !closed else {
            throw RedisError(code: .closed, message: "\(url): the client is closed")
        }
        if let connection { return connection }
        var attempt = 0
        while true {
            do {
                let connection = try RedisConnection(url: url, options: options)
                if attempt > 0 {
                    logger.info("redis reconnected", metadata: ["server": "\(url)", "attempts": "\(attempt + 1)"])
                }
                self.connection = connection
                return connection
            } catch {
                attempt += 1
                guard error.isTransient, attempt < reconnect.attempts, !Task.isCancelled else { throw error }
                let delay = reconnect.delay(beforeAttempt: attempt, using: &random)
                logger.warning(
                    "redis connect failed; retrying",
                    metadata: ["server": "\(url)", "attempt": "\(attempt)", "delay": "\(delay)", "error": "\(error)"])
                // Blocks only this client's own thread; queued calls wait their turn anyway.
                RedisClient.sleep(seconds: delay)
            }
        }
    }
}
