/// How long each kind of key lives; every script sets the TTL as part of its write.
public struct CacheTTL: Hashable, Sendable {
    /// Row and derived entries (default 1 hour).
    public var entry: Duration
    /// Tombstones: must exceed the worst replica lag plus the longest fill, or a late fill of a
    /// deleted row is accepted after the tombstone expired (default 1 hour).
    public var tombstone: Duration
    /// Fences, refreshed by each bump: same rule as tombstones (default 1 hour).
    public var fence: Duration
    /// Hot sets of sampled reads (default 1 day).
    public var hot: Duration
    /// Members a hot set keeps (it is trimmed to this when it grows to twice as many; default 1000).
    public var hotMembers: Int

    /// TTLs with the defaults above.
    public init(
        entry: Duration = .seconds(3600), tombstone: Duration = .seconds(3600), fence: Duration = .seconds(3600),
        hot: Duration = .seconds(86_400), hotMembers: Int = 1000
    ) {
        self.entry = entry
        self.tombstone = tombstone
        self.fence = fence
        self.hot = hot
        self.hotMembers = hotMembers
    }

    /// Whole milliseconds, at least 1, as the scripts take them.
    static func milliseconds(_ duration: Duration) -> String {
        let (seconds, attoseconds) = duration.components
        let total = seconds.multipliedReportingOverflow(by: 1000)
        guard !total.overflow else { return String(Int64.max) }
        return String(max(1, total.partialValue + attoseconds / 1_000_000_000_000_000))
    }
}
