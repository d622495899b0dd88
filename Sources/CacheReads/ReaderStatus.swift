import PGOutput

/// What the last health probe of one reader found.
public struct ReaderStatus: Hashable, Sendable {
    /// The reader, `host:port/database` (no credentials).
    public var server: String
    /// True when the last probe answered, the server is a standby, and its lag is within the
    /// configured maximum; false before the first probe.
    public var isHealthy: Bool
    /// `pg_is_in_recovery()` at the last probe.
    public var inRecovery: Bool?
    /// Replication lag in seconds at the last probe: the larger of the reader's own view (0 when
    /// everything received is replayed, else the age of the last replayed transaction) and
    /// ``writerLag``.
    public var lag: Double?
    /// Seconds the replay position is behind the writer's sampled WAL positions (0 when it
    /// replayed the newest sample): grows while a standby cut off from its primary stands still.
    public var writerLag: Double?
    /// `pg_last_wal_replay_lsn()` at the last probe.
    public var replayLSN: LSN?
    /// Why the reader is not healthy, when it is not.
    public var problem: String?

    /// The state before any probe: not healthy.
    public init(server: String) {
        self.server = server
        self.isHealthy = false
        self.problem = "not probed yet"
    }
}
