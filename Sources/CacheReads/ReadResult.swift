import PGOutput

/// The answer to one read: the value (nil when the row or result does not exist), where it came
/// from and the version it is known to include.
public struct ReadResult: Hashable, Sendable {
    /// The JSON text: a row's canonical JSON (`to_jsonb`), a query's result array; nil when the
    /// row does not exist (or a tombstone says it was deleted).
    public var value: String?
    /// Where the value came from.
    public var source: ReadSource
    /// An LSN every commit up to which the value includes: the entry's version for a cache hit,
    /// the replay LSN read before the query on a reader, the WAL position on the writer. Nil
    /// when the writer's snapshot wait timed out (the value was then not cached).
    public var lsn: LSN?
    /// The reader's replication lag in seconds at its last probe (reader reads only).
    public var readerLag: Double?
    /// What the fill did, when the value was read from the database (nil for cache hits and
    /// reads that do not fill).
    public var fill: FillResult?

    /// Makes a result.
    public init(value: String?, source: ReadSource, lsn: LSN?, readerLag: Double? = nil, fill: FillResult? = nil) {
        self.value = value
        self.source = source
        self.lsn = lsn
        self.readerLag = readerLag
        self.fill = fill
    }
}
