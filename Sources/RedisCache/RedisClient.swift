import Glibc
import Logging
import Synchronization

/// An async Redis client: one ``RedisConnection`` and a dedicated thread for its blocking I/O,
/// so waiting for Redis does not hold a thread of the cooperative pool (but see ``inlineWait``).
///
/// It connects on first use. After the connection is lost, the failed call throws (a batch is
/// never sent again silently: the caller decides whether it is safe to retry) and the next
/// call reconnects, making up to ``RedisReconnectPolicy/attempts`` attempts with jittered
/// exponential backoff. Calls run one at a time in arrival order.
public final class RedisClient: Sendable {
    /// The server (password redacted in its description).
    public let url: RedisURL
    /// Timeouts, TLS and client name for each connection.
    public let options: RedisConnectionOptions
    /// How lost connections are re-established.
    public let reconnect: RedisReconnectPolicy
    /// Seconds a call may wait for its replies on the caller's own thread (default 0: never).
    ///
    /// Handing a call to the client's thread and back costs two thread wake-ups, which is more
    /// than a round trip to a Redis on the same host. With a positive value, a call of one
    /// exchange (``command(_:)-([String])``, ``pipeline(_:inline:)``, ``evaluate(_:inline:)``)
    /// made while the client is idle and connected is sent from the caller's thread, which
    /// then waits up to this long for the replies (blocking that thread, so keep it well
    /// under a millisecond); only a slower answer hands the rest of the wait to the client's
    /// thread. After ``inlineMissesBeforeCooldown`` such hand-offs in a row, the next
    /// ``inlineCooldown`` calls go to that thread directly, so a slow server costs little.
    public let inlineWait: Double
    /// Inline waits in a row that must run out before calls stop waiting inline for a while.
    public static let inlineMissesBeforeCooldown = 3
    /// Calls that skip the inline wait after ``inlineMissesBeforeCooldown`` ran out.
    public static let inlineCooldown = 100
    /// The most commands queued pipelines are combined into for one round trip.
    public static let coalescedCommands = 512

    private let logger: Logger
    private let core: ClientCore
    private let cooldown = Atomic<Int>(0)
    private let misses = Atomic<Int>(0)
    private let counters = Mutex(RedisClientStatistics())

    /// A client for `url`; no I/O happens until the first call.
    public init(
        url: RedisURL, options: RedisConnectionOptions = RedisConnectionOptions(),
        reconnect: RedisReconnectPolicy = RedisReconnectPolicy(), inlineWait: Double = 0,
        logger: Logger = Logger(label: "cache-warmer.redis")
    ) throws(RedisError) {
        do throws(RedisError) {
            try options.validate()
            try reconnect.validate()
            guard inlineWait >= 0, inlineWait < 1 else {
                throw RedisError(code: .invalidCommand, message: "inlineWait (\(inlineWait)) must be at least 0 and under a second")
            }
        } catch {
            throw error.about(url)
        }
        self.url = url
        self.options = options
        self.reconnect = reconnect
        self.inlineWait = inlineWait
        self.logger = logger
        self.core = ClientCore(name: "redis \(url.host):\(url.port)")
    }

    deinit {
        core.finish()
    }

    /// Runs one command and returns its reply (error replies are returned, not thrown).
    public func command(_ arguments: [String]) async throws(RedisError) -> RedisReply {
        try await pipeline(try RedisBatch([arguments], for: url))[0]
    }

    /// Runs one command whose arguments are raw bytes.
    public func command(_ arguments: [[UInt8]]) async throws(RedisError) -> RedisReply {
        try await pipeline(try RedisBatch([arguments], for: url))[0]
    }

    /// Sends the commands as one pipeline (one round trip) and returns their replies in order.
    public func pipeline(_ commands: [[String]]) async throws(RedisError) -> [RedisReply] {
        try await pipeline(try RedisBatch(commands, for: url))
    }

    /// Sends commands with raw byte arguments as one pipeline.
    public func pipeline(_ commands: [[[UInt8]]]) async throws(RedisError) -> [RedisReply] {
        try await pipeline(try RedisBatch(commands, for: url))
    }

    /// Sends a batch formatted beforehand (one round trip). With `inline` false, the call
    /// does not wait on the caller's thread even when ``inlineWait`` allows it (say, because
    /// other work waits for that thread).
    public func pipeline(_ batch: RedisBatch, inline: Bool = true) async throws(RedisError) -> [RedisReply] {
        guard !Task.isCancelled else { throw cancelledError }
        if inline, inlineWait > 0 {
            if cooldown.load(ordering: .relaxed) > 0 {
                cooldown.wrappingSubtract(1, ordering: .relaxed)
            } else if let connection = core.claim() {
                return try await sendInline(batch, connection)
            }
        }
        return try await onThread(batch)
    }

    /// Runs `body` with the connection on the client's thread (connecting first if needed), for
    /// blocking extensions of ``RedisConnection`` such as script loading.
    public func withConnection<T: Sendable>(_ body: @escaping @Sendable (RedisConnection) throws(RedisError) -> T) async throws(RedisError) -> T {
        guard !Task.isCancelled else { throw cancelledError }
        return try await runOnThread(body)
    }

    /// ``withConnection(_:)`` without the cancellation check, for the second step of a call
    /// whose first step already sent commands.
    func runOnThread<T: Sendable>(_ body: @escaping @Sendable (RedisConnection) throws(RedisError) -> T) async throws(RedisError) -> T {
        counters.withLock { $0.onThread += 1 }
        let result = await withCheckedContinuation { (continuation: CheckedContinuation<Result<T, RedisError>, Never>) in
            core.submit { slot in
                let result = Result { () throws(RedisError) in try self.run(body, slot) }
                return { continuation.resume(returning: result) }
            }
        }
        return try result.get()
    }

    /// Queues `batch` for the client's thread. Pipelines queued behind one another go out in
    /// one round trip (up to ``coalescedCommands`` commands), so callers that arrive while the
    /// connection is busy wait for one round trip, not one each; each gets its own replies (or,
    /// when the round trip fails before they are all in, the failure with its own count).
    private func onThread(_ batch: RedisBatch) async throws(RedisError) -> [RedisReply] {
        guard !Task.isCancelled else { throw cancelledError }
        counters.withLock { $0.onThread += 1 }
        let result = await withCheckedContinuation { (continuation: CheckedContinuation<Result<[RedisReply], RedisError>, Never>) in
            let exchange = ClientCore.QueuedExchange(batch: batch) { continuation.resume(returning: $0) }
            core.submit({ slot in self.runExchanges(exchange, slot) }, exchange: exchange)
        }
        return try result.get()
    }

    /// On the client's thread: `first` and the pipelines queued right behind it, as one.
    private func runExchanges(_ first: ClientCore.QueuedExchange, _ slot: ConnectionSlot) -> ClientCore.Completion {
        let exchanges = [first] + core.takeQueuedExchanges(maximumCommands: RedisClient.coalescedCommands - first.batch.count)
        var combined = first.batch
        for exchange in exchanges.dropFirst() {
            combined.append(exchange.batch)
        }
        if exchanges.count > 1 {
            counters.withLock { $0.coalesced += exchanges.count - 1 }
        }
        let connection: RedisConnection
        do {
            connection = try connected(slot)
        } catch {
            return { exchanges.forEach { $0.deliver(.failure(error)) } }
        }
        let (replies, failure) = connection.pipelineKeepingReplies(combined)
        if let failure { dropIfBroken(connection, slot, failure) }
        // Each caller gets its own replies, or the failure with its own count when they are not all in.
        var results: [Result<[RedisReply], RedisError>] = []
        var offset = 0
        for exchange in exchanges {
            let count = exchange.batch.count
            let received = min(max(replies.count - offset, 0), count)
            if received == count {
                results.append(.success(Array(replies[offset..<offset + count])))
            } else {
                let error = failure ?? RedisError(code: .unexpectedReply, message: "missing replies")
                results.append(.failure(connection.progressError(error, received: received, of: count)))
            }
            offset += count
        }
        return { [results] in
            for (exchange, result) in zip(exchanges, results) {
                exchange.deliver(result)
            }
        }
    }

    /// How calls were served so far.
    public var statistics: RedisClientStatistics {
        counters.withLock { $0 }
    }

    /// Calls waiting for the client's thread (a queue depth for metrics and tests).
    public var queuedCalls: Int {
        core.queued
    }

    /// True when no call is running or queued and the connection is open, so a call now may
    /// wait inline (a hint: another caller may take it first).
    public var isIdle: Bool {
        core.isIdle
    }

    /// True while a connection is open (it may still turn out broken on the next call).
    public var isConnected: Bool {
        get async {
            await withCheckedContinuation { continuation in
                core.submit { slot in
                    let connected = slot.connection != nil
                    return { continuation.resume(returning: connected) }
                }
            }
        }
    }

    /// Closes the connection; later calls throw ``RedisError/Code-swift.enum/closed``.
    public func close() async {
        core.close()
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            core.submit { slot in
                slot.connection = nil
                return { continuation.resume() }
            }
        }
    }

    /// One exchange sent from the caller's thread with the connection `claim` gave it; the
    /// wait moves to the client's thread after ``inlineWait``.
    private func sendInline(_ batch: RedisBatch, _ connection: RedisConnection) async throws(RedisError) -> [RedisReply] {
        let replies: [RedisReply]?
        do {
            replies = try connection.pipeline(batch, patience: inlineWait)
        } catch {
            dropIfBroken(connection, core.slot, error)
            core.release()
            throw error
        }
        if let replies {
            core.release()
            misses.store(0, ordering: .relaxed)
            counters.withLock { $0.inline += 1 }
            return replies
        }
        counters.withLock { $0.handedOff += 1 }
        if misses.wrappingAdd(1, ordering: .relaxed).newValue >= RedisClient.inlineMissesBeforeCooldown {
            misses.store(0, ordering: .relaxed)
            cooldown.store(RedisClient.inlineCooldown, ordering: .relaxed)
        }
        let result = await withCheckedContinuation { (continuation: CheckedContinuation<Result<[RedisReply], RedisError>, Never>) in
            core.handOff { slot in
                // Straight to the open exchange: it was sent, so its outcome is reported even
                // if the client was closed meanwhile (the close job queued behind drops it).
                let result = Result { () throws(RedisError) in
                    guard let connection = slot.connection else {
                        throw RedisError(code: .connectionLost, message: "\(self.url): the connection of a handed-off exchange is gone")
                    }
                    do throws(RedisError) {
                        return try connection.finishExchange()
                    } catch {
                        self.dropIfBroken(connection, slot, error)
                        throw error
                    }
                }
                return { continuation.resume(returning: result) }
            }
        }
        return try result.get()
    }

    /// On the client's thread: `body` with the open connection, or a new one.
    private func run<T>(_ body: (RedisConnection) throws(RedisError) -> T, _ slot: ConnectionSlot) throws(RedisError) -> T {
        let connection = try connected(slot)
        do {
            return try body(connection)
        } catch {
            dropIfBroken(connection, slot, error)
            throw error
        }
    }

    private func dropIfBroken(_ connection: RedisConnection, _ slot: ConnectionSlot, _ error: RedisError) {
        guard connection.isBroken else { return }
        slot.connection = nil
        logger.warning("redis connection lost; the next call reconnects", metadata: ["server": "\(url)", "error": "\(error)"])
    }

    /// The open connection, or a new one after up to `reconnect.attempts` attempts.
    private func connected(_ slot: ConnectionSlot) throws(RedisError) -> RedisConnection {
        guard !core.isClosed else {
            slot.connection = nil
            throw RedisError(code: .closed, message: "\(url): the client is closed")
        }
        if let connection = slot.connection { return connection }
        var random = SystemRandomNumberGenerator()
        var attempt = 0
        while true {
            do {
                let connection = try RedisConnection(url: url, options: options)
                if attempt > 0 {
                    logger.info("redis reconnected", metadata: ["server": "\(url)", "attempts": "\(attempt + 1)"])
                }
                slot.connection = connection
                return connection
            } catch {
                attempt += 1
                guard error.isTransient, attempt < reconnect.attempts else { throw error }
                let delay = reconnect.delay(beforeAttempt: attempt, using: &random)
                logger.warning(
                    "redis connect failed; retrying",
                    metadata: ["server": "\(url)", "attempt": "\(attempt)", "delay": "\(delay)", "error": "\(error)"])
                // Blocks only this client's own thread; queued calls wait their turn anyway.
                RedisClient.sleep(seconds: delay)
            }
        }
    }

    private static func sleep(seconds: Double) {
        var remaining = timespec(tv_sec: Int(seconds), tv_nsec: Int((seconds - seconds.rounded(.down)) * 1e9))
        var request = remaining
        while nanosleep(&request, &remaining) != 0, errno == EINTR {
            request = remaining
        }
    }

    private var cancelledError: RedisError {
        RedisError(code: .cancelled, message: "\(url): the task was cancelled before the command was sent")
    }
}
