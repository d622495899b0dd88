/// How a ``RedisClusterClient`` follows the cluster. Every property has a default.
public struct RedisClusterOptions: Sendable, Hashable {
    /// Seconds after which a call also starts a refresh of the slot map in the background
    /// (default 10). `MOVED` replies and connection failures refresh it at once anyway.
    public var refreshInterval: Double = 10
    /// The most `MOVED`/`ASK` redirects one command may follow in one call (default 5).
    public var maximumRedirects: Int = 5
    /// Rounds of retries for commands answered `TRYAGAIN` or `CLUSTERDOWN`, or whose slot has no
    /// master in the map (default 6), before the call throws
    /// ``RedisError/Code-swift.enum/clusterDown``.
    public var busyRetries: Int = 6
    /// The first wait before such a retry in seconds (default 0.05); it doubles each round up
    /// to 1 s, so the default retries span about 2 s.
    public var busyDelay: Double = 0.05

    /// Cluster options with the defaults.
    public init() {}

    func validate() throws(RedisError) {
        guard refreshInterval > 0, refreshInterval.isFinite, maximumRedirects >= 1, busyRetries >= 0, busyDelay >= 0, busyDelay.isFinite else {
            throw RedisError(code: .invalidCommand, message: "cluster options need refreshInterval > 0, maximumRedirects >= 1, busyRetries >= 0, busyDelay >= 0")
        }
    }

    /// The wait before busy retry round `round` (1-based).
    func delay(beforeRound round: Int) -> Double {
        var delay = busyDelay
        for _ in 1..<max(round, 1) where delay < 1 { delay *= 2 }
        return min(delay, 1)
    }
}
