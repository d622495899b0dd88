import PGOutput

/// A replication failure the worker can act on: a stable ``code`` and a one-line message that
/// names the server (password redacted), the slot and the LSN involved.
public struct ReplicationError: Error, Hashable, Sendable, CustomStringConvertible {
    /// What kind of failure.
    public enum Code: String, Hashable, Sendable {
        /// The slot does not exist.
        case slotMissing = "slot-missing"
        /// The slot was invalidated (`wal_status = lost`): its WAL is gone; it must be recreated.
        case slotInvalidated = "slot-invalidated"
        /// Another consumer holds the slot (SQLSTATE 55006).
        case slotInUse = "slot-in-use"
        /// The requested start LSN is older than the slot's confirmed position: Postgres would
        /// silently skip ahead, so the replay is refused.
        case startBeforeSlotPosition = "start-before-slot-position"
        /// `wal_level` is not `logical`.
        case walLevelNotLogical = "wal-level-not-logical"
        /// The publication is missing or does not cover the configured tables.
        case publicationMismatch = "publication-mismatch"
        /// Connecting or talking to the server failed.
        case connection = "connection"
        /// A server message could not be decoded.
        case protocolViolation = "protocol-violation"
        /// A setting is out of range.
        case invalidConfiguration = "invalid-configuration"
    }

    /// The kind of failure.
    public var code: Code
    /// What happened, where, with what to do when known.
    public var message: String
    /// For ``Code-swift.enum/startBeforeSlotPosition``: the earliest LSN this slot can replay from.
    public var earliestAvailable: LSN?
    /// The underlying Postgres error, if any.
    public var postgres: PostgresError?

    /// Makes an error.
    public init(code: Code, message: String, earliestAvailable: LSN? = nil, postgres: PostgresError? = nil) {
        self.code = code
        self.message = message
        self.earliestAvailable = earliestAvailable
        self.postgres = postgres
    }

    public var description: String { "replication \(code.rawValue): \(message)" }
}

extension ReplicationError {
    /// The one-line error for a slot whose WAL is gone (`wal_status = lost`, e.g. past
    /// `max_slot_wal_keep_size`), with the recovery steps: changes were lost, so the slot must be
    /// recreated and the cache must begin a new epoch.
    public static func slotLost(target: ConnectionString, slot: String, restartLSN: LSN?) -> ReplicationError {
        ReplicationError(
            code: .slotInvalidated,
            message: "\(target): replication slot \(slot) was invalidated (wal_status = lost, restart_lsn \(restartLSN.map { "\($0)" } ?? "none")): the WAL it needed is gone and changes were lost; recover with `cache-warmer setup --recreate-slot` (drops and recreates the slot and begins a new cache epoch), then start the worker; raise max_slot_wal_keep_size to keep it from happening again")
    }
}
