/// How a ``RedisClient`` reconnects after a lost connection: up to ``attempts`` connection
/// attempts per call, the first at once, the next after exponentially growing waits with full
/// jitter (random in `0...ceiling`), so many clients do not reconnect in lockstep.
public struct RedisReconnectPolicy: Sendable, Hashable {
    /// Connection attempts per call, at least 1 (default 3); 1 fails fast.
    public var attempts: Int
    /// The ceiling of the wait before the second attempt, in seconds (default 0.05).
    public var initialDelay: Double
    /// The ceiling no wait exceeds, in seconds (default 2).
    public var maximumDelay: Double
    /// Growth of the ceiling per attempt (default 2).
    public var multiplier: Double

    /// A reconnect policy; the defaults retry twice within about 0.15 s.
    public init(attempts: Int = 3, initialDelay: Double = 0.05, maximumDelay: Double = 2, multiplier: Double = 2) {
        self.attempts = attempts
        self.initialDelay = initialDelay
        self.maximumDelay = maximumDelay
        self.multiplier = multiplier
    }

    /// The longest wait before attempt `attempt` (0-based; attempt 0 does not wait).
    public func ceiling(beforeAttempt attempt: Int) -> Double {
        guard attempt > 0 else { return 0 }
        var ceiling = initialDelay
        for _ in 1..<min(attempt, 64) where ceiling < maximumDelay {
            ceiling *= multiplier
        }
        return min(ceiling, maximumDelay)
    }

    /// A jittered wait before attempt `attempt`, in `0...ceiling(beforeAttempt:)`.
    public func delay(beforeAttempt attempt: Int, using generator: inout some RandomNumberGenerator) -> Double {
        let ceiling = ceiling(beforeAttempt: attempt)
        return ceiling > 0 ? Double.random(in: 0...ceiling, using: &generator) : 0
    }

    func validate() throws(RedisError) {
        guard attempts >= 1, initialDelay >= 0, maximumDelay >= initialDelay, multiplier >= 1, maximumDelay.isFinite else {
            throw RedisError(code: .invalidCommand, message: "reconnect policy needs attempts >= 1, 0 <= initialDelay <= maximumDelay (finite), multiplier >= 1")
        }
    }
}
