import Dispatch
import RedisCache

/// Runs blocking hiredis calls on a serial queue of its own, never on the cooperative pool, and
/// reconnects on the next call after a connection failed.
///
/// `@unchecked Sendable`: the connection is only touched from `queue`, which serializes access.
final class RedisExecutor: @unchecked Sendable {
    let url: RedisURL
    private let queue: DispatchQueue
    private var connection: RedisConnection?

    init(url: RedisURL) {
        self.url = url
        self.queue = DispatchQueue(label: "cache-warmer.redis")
    }

    /// Sends script calls in one pipeline (loading scripts on NOSCRIPT) and returns the replies.
    func evaluate(_ calls: [RedisScriptCall]) async throws -> [RedisReply] {
        try await run { try $0.evaluate(calls) }
    }

    /// Sends plain commands in one pipeline.
    func pipeline(_ commands: [[String]]) async throws -> [RedisReply] {
        try await run { try $0.pipeline(commands) }
    }

    private func run<T: Sendable>(_ body: @escaping @Sendable (RedisConnection) throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            queue.async {
                do {
                    let connection = try self.connection ?? RedisConnection(url: self.url)
                    self.connection = connection
                    continuation.resume(returning: try body(connection))
                } catch let error as RedisError {
                    if error.code == .connectionLost || error.code == .timeout || error.code == .connectionFailed {
                        self.connection = nil
                    }
                    continuation.resume(throwing: error)
                } catch {
                    continuation.resume(throwing: error)
                }
            }
        }
    }
}
