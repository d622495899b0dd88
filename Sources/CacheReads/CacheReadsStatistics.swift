import RedisCache

/// Counters of one ``CacheReads`` since it was made, for metrics and tests.
public struct CacheReadsStatistics: Hashable, Sendable {
    /// Reads answered by a valid cache entry.
    public var cacheHits = 0
    /// Data queries sent to a reader (fills and uncached reads).
    public var readerQueries = 0
    /// Data queries sent to the writer.
    public var writerQueries = 0
    /// Reads that wanted a reader but found none healthy (or it failed) and used the writer.
    public var writerFallbacks = 0
    /// Callers that shared a concurrent caller's database query instead of sending their own.
    public var sharedQueries = 0
    /// Fills the cache accepted.
    public var fillsAccepted = 0
    /// Fills the cache refused (entry, fence, floor or epoch).
    public var fillsRefused = 0
    /// Writer reads not cached because the snapshot wait timed out.
    public var writerFillsSkipped = 0
    /// Reader reads not cached because the reader had not replayed up to the worker's
    /// checkpoint within ``CacheReadsConfiguration/checkpointWait``.
    public var fillsBelowCheckpoint = 0
    /// Row fills named by the row's own key because the caller spelled the key differently
    /// (e.g. an upper-case uuid), and query fills whose parameter fences were renamed likewise.
    public var fillsRenamed = 0
    /// Sampled `record-read` calls sent.
    public var recordedReads = 0
    /// How the Redis calls were served: answered on the caller's thread, handed to a
    /// connection's thread after the inline wait, or run on that thread from the start.
    public var redis = RedisClientStatistics()

    /// All zero.
    public init() {}

    /// Data queries sent to any database.
    public var databaseQueries: Int { readerQueries + writerQueries }
}
