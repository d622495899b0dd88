/// A worker failure with a stable code and a one-line message naming what and where.
public struct WorkerError: Error, Hashable, Sendable, CustomStringConvertible {
    /// What kind of failure.
    public enum Code: String, Hashable, Sendable {
        /// Another worker began a newer cache epoch, or Redis lost the epoch key while running.
        case epochChanged = "epoch-changed"
        /// Redis lost writes it had confirmed while the worker ran (its checkpoint went back):
        /// a new epoch begins.
        case cacheWentBack = "cache-went-back"
        /// The database is not set up (slot, publication, wal_level).
        case notSetUp = "not-set-up"
        /// A script answered something the contract does not allow.
        case contractViolation = "contract-violation"
        /// The configuration names something that cannot be used.
        case invalidConfiguration = "invalid-configuration"
        /// A reader did not replay far enough within the wait (replica lag): try again later.
        case replicaLag = "replica-lag"
        /// The reader URL names a server that is not a standby (no replay position to version
        /// reads with): read the writer with its procedure instead.
        case notAStandby = "not-a-standby"
    }

    /// The kind of failure.
    public var code: Code
    /// What happened and where.
    public var message: String

    /// Makes an error.
    public init(code: Code, message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "worker \(code.rawValue): \(message)" }
}
