import Synchronization

/// Concurrent callers asking for the same key share one execution: the first starts it, the
/// others await its result (or its error).
///
/// A caller takes a ``ticket()`` before it looks at the cache. A caller that missed the cache
/// but arrives just after an execution for its key finished (and so also after that execution
/// filled the cache) gets that execution's result when it finished after the caller's ticket:
/// the result is then no older than the caller's request, and no second query is sent.
actor SingleFlight<Value: Sendable> {
    private struct Finished {
        var sequence: UInt64
        var value: Value
        var at: ContinuousClock.Instant
    }

    private var flights: [String: Task<Value, any Error>] = [:]
    private var finished: [String: Finished] = [:]
    private nonisolated let sequence = Atomic<UInt64>(0)
    /// How long a finished result stays available to callers whose ticket predates it.
    private let keep: Duration

    /// Keeps finished results for `keep` (default 1 s) for callers that took their ticket before.
    init(keep: Duration = .seconds(1)) {
        self.keep = keep
    }

    /// A number ordering the caller's request against finished executions.
    nonisolated func ticket() -> UInt64 {
        sequence.wrappingAdd(1, ordering: .sequentiallyConsistent).newValue
    }

    /// The result of `body` for `key`, shared with every concurrent caller of the same key;
    /// `shared` is true when another caller's execution produced it.
    func run(_ key: String, ticket: UInt64, _ body: @escaping @Sendable () async throws -> Value) async throws -> (value: Value, shared: Bool) {
        if let flight = flights[key] {
            return (try await flight.value, true)
        }
        let clock = ContinuousClock()
        if let done = finished[key], done.sequence > ticket, clock.now - done.at < keep {
            return (done.value, true)
        }
        let flight = Task { try await body() }
        flights[key] = flight
        defer { flights[key] = nil }
        let value = try await flight.value
        prune(clock.now)
        finished[key] = Finished(sequence: self.ticket(), value: value, at: clock.now)
        return (value, false)
    }

    private func prune(_ now: ContinuousClock.Instant) {
        guard finished.count > 256 else { return }
        finished = finished.filter { now - $0.value.at < keep }
    }
}
