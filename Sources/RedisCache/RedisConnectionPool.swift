import Logging
import Synchronization

/// A fixed number of ``RedisClient``s for the read path, leased one caller at a time.
///
/// A lease takes an idle client, creates one while fewer than ``size`` exist, or waits in FIFO
/// order for one to come back, for at most the lease timeout
/// (``RedisError/Code-swift.enum/poolExhausted``). A client whose connection broke drops it at
/// once, and its next call opens a new one (with ``RedisReconnectPolicy`` backoff), so a broken
/// connection is replaced by the next lessee's first call. Clients connect on first use.
public final class RedisConnectionPool: Sendable {
    /// The server (password redacted in its description).
    public let url: RedisURL
    /// The most clients (connections) the pool holds.
    public let size: Int
    /// Seconds a lease waits for a free client unless the call says otherwise.
    public let leaseTimeout: Double
    private let options: RedisConnectionOptions
    private let reconnect: RedisReconnectPolicy
    private let logger: Logger
    private let state = Mutex(State())

    private struct Waiter {
        var id: Int
        var continuation: CheckedContinuation<Result<RedisClient, RedisError>, Never>
    }

    private struct State {
        var idle: [RedisClient] = []
        var created = 0
        var leased = 0
        var waiters: [Waiter] = []
        var nextWaiter = 0
        var closed = false
    }

    /// A pool of up to `size` clients for `url`; nothing connects until the first lease is used.
    public init(
        url: RedisURL, size: Int = 8, leaseTimeout: Double = 1, options: RedisConnectionOptions = RedisConnectionOptions(),
        reconnect: RedisReconnectPolicy = RedisReconnectPolicy(), logger: Logger = Logger(label: "cache-warmer.redis.pool")
    ) throws(RedisError) {
        guard size >= 1, leaseTimeout > 0, leaseTimeout.isFinite else {
            throw RedisError(code: .invalidCommand, message: "\(url): a pool needs size >= 1 (got \(size)) and a positive lease timeout (got \(leaseTimeout))")
        }
        do {
            try options.validate()
            try reconnect.validate()
        } catch {
            throw error.about(url)
        }
        self.url = url
        self.size = size
        self.leaseTimeout = leaseTimeout
        self.options = options
        self.reconnect = reconnect
        self.logger = logger
    }

    /// Leases a client, waiting at most `timeout` seconds (default ``leaseTimeout``) for one.
    public func lease(timeout: Double? = nil) async throws(RedisError) -> RedisLease {
        RedisLease(client: try await checkOut(timeout: timeout ?? leaseTimeout), pool: self)
    }

    /// Runs `body` with a leased client and returns the client afterwards.
    public func withClient<T: Sendable>(timeout: Double? = nil, _ body: @Sendable (RedisClient) async throws(RedisError) -> T) async throws(RedisError) -> T {
        let lease = try await lease(timeout: timeout)
        defer { lease.release() }
        return try await body(lease.client)
    }

    /// Runs one command on a leased client.
    public func command(_ arguments: [String]) async throws(RedisError) -> RedisReply {
        try await withClient { client throws(RedisError) in try await client.command(arguments) }
    }

    /// Runs a pipeline (one round trip) on a leased client.
    public func pipeline(_ commands: [[String]]) async throws(RedisError) -> [RedisReply] {
        try await withClient { client throws(RedisError) in try await client.pipeline(commands) }
    }

    /// Current counts of clients and waiters.
    public var statistics: RedisPoolStatistics {
        state.withLock { state in
            RedisPoolStatistics(size: size, created: state.created, idle: state.idle.count, leased: state.leased, waiting: state.waiters.count)
        }
    }

    /// Fails every waiter and later lease with ``RedisError/Code-swift.enum/closed`` and drops
    /// the idle clients; leased clients are dropped when they come back.
    public func close() {
        let waiters = state.withLock { state -> [Waiter] in
            state.closed = true
            state.created -= state.idle.count
            state.idle.removeAll()
            defer { state.waiters.removeAll() }
            return state.waiters
        }
        for waiter in waiters {
            waiter.continuation.resume(returning: .failure(closedError))
        }
    }

    /// Takes a client back from a lease: to the longest waiter, or to the idle list.
    func checkIn(_ client: RedisClient) {
        let waiter = state.withLock { state -> Waiter? in
            if state.closed {
                state.leased -= 1
                state.created -= 1
                return nil
            }
            if !state.waiters.isEmpty {
                return state.waiters.removeFirst()
            }
            state.leased -= 1
            state.idle.append(client)
            return nil
        }
        waiter?.continuation.resume(returning: .success(client))
    }

    private enum Immediate {
        case client(RedisClient)
        case create
        case wait(Int)
        case closed
    }

    private func checkOut(timeout: Double) async throws(RedisError) -> RedisClient {
        guard !Task.isCancelled else {
            throw RedisError(code: .cancelled, message: "\(url): the task was cancelled while leasing a connection")
        }
        let immediate = state.withLock { state -> Immediate in
            if state.closed { return .closed }
            if let client = state.idle.popLast() {
                state.leased += 1
                return .client(client)
            }
            if state.created < size {
                state.created += 1
                state.leased += 1
                return .create
            }
            state.nextWaiter += 1
            return .wait(state.nextWaiter)
        }
        switch immediate {
        case .client(let client):
            return client
        case .closed:
            throw closedError
        case .create:
            do {
                return try RedisClient(url: url, options: options, reconnect: reconnect, logger: logger)
            } catch {
                state.withLock { state in
                    state.created -= 1
                    state.leased -= 1
                }
                throw error
            }
        case .wait(let id):
            return try await wait(id: id, timeout: timeout).get()
        }
    }

    /// Waits in line until a client comes back, the timeout passes, the task is cancelled or
    /// the pool closes.
    private func wait(id: Int, timeout: Double) async -> Result<RedisClient, RedisError> {
        let exhausted = RedisError(
            code: .poolExhausted,
            message: "\(url): no connection free within \(timeout) s (pool of \(size), all leased)")
        let timer = Task { [weak self] in
            try? await Task.sleep(for: .seconds(timeout))
            self?.fail(waiter: id, with: exhausted)
        }
        defer { timer.cancel() }
        return await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                let ready = state.withLock { state -> Result<RedisClient, RedisError>? in
                    if state.closed { return .failure(closedError) }
                    if let client = state.idle.popLast() {
                        state.leased += 1
                        return .success(client)
                    }
                    // Checked under the lock: a cancellation handler that already ran found no waiter.
                    if Task.isCancelled { return .failure(cancelledError) }
                    state.waiters.append(Waiter(id: id, continuation: continuation))
                    return nil
                }
                if let ready { continuation.resume(returning: ready) }
            }
        } onCancel: {
            fail(waiter: id, with: cancelledError)
        }
    }

    private func fail(waiter id: Int, with error: RedisError) {
        let waiter = state.withLock { state -> Waiter? in
            guard let index = state.waiters.firstIndex(where: { $0.id == id }) else { return nil }
            return state.waiters.remove(at: index)
        }
        waiter?.continuation.resume(returning: .failure(error))
    }

    private var closedError: RedisError {
        RedisError(code: .closed, message: "\(url): the connection pool is closed")
    }

    private var cancelledError: RedisError {
        RedisError(code: .cancelled, message: "\(url): the task was cancelled while waiting for a pooled connection")
    }
}
