/// Runs a database attempt with a time limit, and again (up to a number of attempts) after a
/// transient failure, waiting a random time up to base * 2^attempt in between (full jitter).
struct Retrying: Sendable {
    var attempts: Int
    var baseDelay: Duration
    var timeout: Duration

    func run<T: Sendable>(_ what: String, _ body: @escaping @Sendable () async throws -> T) async throws -> T {
        var attempt = 0
        while true {
            do {
                return try await Self.withTimeout(timeout, what, body)
            } catch {
                attempt += 1
                guard attempt < attempts, TransientError.isTransient(error), !Task.isCancelled else { throw error }
                let ceiling = Double(DatabaseURL.milliseconds(baseDelay)) * Double(1 << min(attempt, 10))
                try await Task.sleep(for: .milliseconds(Int64(Double.random(in: 0...ceiling))))
            }
        }
    }

    /// `body`'s result, or a ``CacheReadsError/Code-swift.enum/timeout`` when `limit` passes first
    /// (`body` is cancelled).
    static func withTimeout<T: Sendable>(_ limit: Duration, _ what: String, _ body: @escaping @Sendable () async throws -> T) async throws -> T {
        try await withThrowingTaskGroup(of: T?.self) { group in
            group.addTask { try await body() }
            group.addTask {
                try await Task.sleep(for: limit)
                return nil
            }
            defer { group.cancelAll() }
            guard let first = try await group.next(), let value = first else {
                throw CacheReadsError(code: .timeout, context: what, message: "no answer within \(limit)")
            }
            return value
        }
    }
}
