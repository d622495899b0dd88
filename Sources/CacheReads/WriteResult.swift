import PGOutput

/// What a ``CacheReads/write(_:)`` transaction returned, with the token for read-your-writes.
public struct WriteResult<Value: Sendable>: Sendable {
    /// The transaction closure's result.
    public var value: Value
    /// The writer's `pg_current_wal_lsn()` read after the commit: pass it as
    /// ``Consistency/readYourWrites(_:)`` so later reads include this write.
    public var token: LSN

    /// Makes a result.
    public init(value: Value, token: LSN) {
        self.value = value
        self.token = token
    }
}
