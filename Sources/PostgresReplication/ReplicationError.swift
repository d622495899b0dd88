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
