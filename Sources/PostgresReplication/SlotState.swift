import PGOutput

/// A replication slot as `pg_replication_slots` reports it.
public struct SlotState: Hashable, Sendable {
    /// The slot name.
    public var name: String
    /// The output plugin (`pgoutput`), nil for physical slots.
    public var plugin: String?
    /// `logical` or `physical`.
    public var slotType: String
    /// The database of a logical slot.
    public var database: String?
    /// The position up to which the consumer confirmed: streaming resumes here.
    public var confirmedFlushLSN: LSN?
    /// The oldest WAL the slot still needs.
    public var restartLSN: LSN?
    /// `reserved`, `extended`, `unreserved` (WAL about to be removed) or `lost` (invalidated).
    public var walStatus: String?
    /// The walsender process holding the slot, if any.
    public var activePID: Int?

    /// Makes a slot state.
    public init(
        name: String, plugin: String?, slotType: String, database: String?, confirmedFlushLSN: LSN?,
        restartLSN: LSN?, walStatus: String?, activePID: Int?
    ) {
        self.name = name
        self.plugin = plugin
        self.slotType = slotType
        self.database = database
        self.confirmedFlushLSN = confirmedFlushLSN
        self.restartLSN = restartLSN
        self.walStatus = walStatus
        self.activePID = activePID
    }

    /// True when the slot was invalidated and can no longer stream.
    public var isLost: Bool { walStatus == "lost" }

    /// True when the slot is about to lose WAL it needs (`max_slot_wal_keep_size` exceeded).
    public var isUnreserved: Bool { walStatus == "unreserved" }
}
