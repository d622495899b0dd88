/// Exponential backoff with full jitter for reconnects: attempt n waits a random time in
/// `0...min(maximum, initial * multiplier^n)`, so many workers do not retry in lockstep.
public struct Backoff: Hashable, Sendable {
    /// The first attempt's ceiling, in seconds (default 0.5).
    public var initial: Double
    /// The ceiling no wait exceeds, in seconds (default 30).
    public var maximum: Double
    /// Growth per attempt (default 2).
    public var multiplier: Double

    /// Makes a backoff policy.
    public init(initial: Double = 0.5, maximum: Double = 30, multiplier: Double = 2) {
        self.initial = initial
        self.maximum = maximum
        self.multiplier = multiplier
    }

    /// The ceiling for attempt `attempt` (0-based).
    public func ceiling(attempt: Int) -> Double {
        var ceiling = initial
        for _ in 0..<min(attempt, 64) where ceiling < maximum {
            ceiling *= multiplier
        }
        return min(ceiling, maximum)
    }

    /// A jittered wait for attempt `attempt`, at least a tenth of the initial wait.
    public func delay(attempt: Int, using generator: inout some RandomNumberGenerator) -> Double {
        let ceiling = ceiling(attempt: attempt)
        return max(initial / 10, Double.random(in: 0...ceiling, using: &generator))
    }
}
