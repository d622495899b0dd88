/// How a ``RedisClient``'s calls were served, counted since it was made.
public struct RedisClientStatistics: Sendable, Hashable {
    /// Calls answered within ``RedisClient/inlineWait`` on the caller's thread.
    public var inline = 0
    /// Calls sent inline whose wait then moved to the client's thread.
    public var handedOff = 0
    /// Calls run on the client's thread from the start.
    public var onThread = 0
    /// Of those, calls sent in the round trip of a call queued before them.
    public var coalesced = 0

    /// Adds `other`'s counts to these (say, to sum the clients of a set).
    public mutating func add(_ other: RedisClientStatistics) {
        inline += other.inline
        handedOff += other.handedOff
        onThread += other.onThread
        coalesced += other.coalesced
    }

    /// Counts as given (zero by default).
    public init(inline: Int = 0, handedOff: Int = 0, onThread: Int = 0, coalesced: Int = 0) {
        self.inline = inline
        self.handedOff = handedOff
        self.onThread = onThread
        self.coalesced = coalesced
    }
}
