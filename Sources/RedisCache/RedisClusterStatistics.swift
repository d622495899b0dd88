/// What a ``RedisClusterClient`` did to follow the cluster, counted since it was made.
public struct RedisClusterStatistics: Sendable, Hashable {
    /// Commands resent after a `MOVED` redirect.
    public var moved = 0
    /// Commands resent with `ASKING` after an `ASK` redirect.
    public var asked = 0
    /// Commands retried after `TRYAGAIN`, `CLUSTERDOWN` or a slot without a master in the map.
    public var busyRetries = 0
    /// Scripts loaded on a node after it answered `NOSCRIPT`.
    public var scriptLoads = 0
    /// Slot map reads that succeeded.
    public var refreshes = 0
    /// Slot map reads that found no node able to answer.
    public var refreshFailures = 0
}
