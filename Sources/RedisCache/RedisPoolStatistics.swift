/// A snapshot of a ``RedisConnectionPool``'s clients and waiters.
public struct RedisPoolStatistics: Sendable, Hashable {
    /// The most clients the pool holds.
    public var size: Int
    /// Clients created so far (at most ``size``).
    public var created: Int
    /// Clients free to lease now.
    public var idle: Int
    /// Clients currently leased.
    public var leased: Int
    /// Callers waiting for a client.
    public var waiting: Int
}
