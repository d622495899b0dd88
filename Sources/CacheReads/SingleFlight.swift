/// Concurrent callers asking for the same key share one execution: the first starts it, the
/// others await its result (or its error). The entry is removed when the execution ends, so a
/// later caller starts a new one.
actor SingleFlight<Value: Sendable> {
    private var flights: [String: Task<Value, any Error>] = [:]
    /// How many callers joined an execution someone else started (for tests and metrics).
    private(set) var joined = 0

    /// The result of `body` for `key`, shared with every concurrent caller of the same key;
    /// `shared` is true when another caller's execution produced it.
    func run(_ key: String, _ body: @escaping @Sendable () async throws -> Value) async throws -> (value: Value, shared: Bool) {
        if let flight = flights[key] {
            joined += 1
            return (try await flight.value, true)
        }
        let flight = Task { try await body() }
        flights[key] = flight
        defer { flights[key] = nil }
        return (try await flight.value, false)
    }
}
