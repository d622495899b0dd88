import Dispatch
import Synchronization

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

    /// `body`'s result, or a ``CacheReadsError/Code-swift.enum/timeout`` when `limit` passes first.
    /// `body` is then cancelled but not waited for: a call that does not honour cancellation
    /// (e.g. a connection lease from a pool that keeps failing to connect) must not hold the
    /// caller past its limit.
    static func withTimeout<T: Sendable>(_ limit: Duration, _ what: String, _ body: @escaping @Sendable () async throws -> T) async throws -> T {
        let work = Task { try await body() }
        let first = FirstOutcome<T>()
        // A Dispatch timer: it fires even while every cooperative thread is busy.
        let timer = DispatchWorkItem {
            // The timeout first: the cancelled work's own error must not take its place.
            first.finish(.failure(CacheReadsError(code: .timeout, context: what, message: "no answer within \(limit)")))
            work.cancel()
        }
        DispatchQueue.global().asyncAfter(deadline: .now() + .nanoseconds(Int(DatabaseURL.milliseconds(limit) * 1_000_000)), execute: timer)
        defer { timer.cancel() }
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, any Error>) in
                first.wait(continuation)
                Task { first.finish(await work.result) }
            }
        } onCancel: {
            work.cancel()
        }
    }
}

/// The first of several outcomes (the work's result, or the timeout), handed once to the one
/// continuation waiting for it, whichever comes first.
private final class FirstOutcome<T: Sendable>: Sendable {
    private enum State {
        case pending(CheckedContinuation<T, any Error>?)
        case finished(Result<T, any Error>?)
    }

    private let state = Mutex(State.pending(nil))

    /// Registers the waiting continuation; resumes it at once when an outcome came first.
    func wait(_ continuation: CheckedContinuation<T, any Error>) {
        let early: Result<T, any Error>? = state.withLock { state in
            switch state {
            case .pending:
                state = .pending(continuation)
                return nil
            case .finished(let result):
                state = .finished(nil)
                return result
            }
        }
        if let early { continuation.resume(with: early) }
    }

    /// Offers an outcome; only the first one is delivered.
    func finish(_ result: Result<T, any Error>) {
        let waiting: CheckedContinuation<T, any Error>? = state.withLock { state in
            guard case .pending(let continuation) = state else { return nil }
            state = .finished(continuation == nil ? result : nil)
            return continuation
        }
        waiting?.resume(with: result)
    }
}
