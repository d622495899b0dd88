import PGOutput
import RedisCache

/// What the `read` script saw: the entry, the highest current-epoch fence covering it, the
/// current epoch, and the verdict. Use the payload only when ``isValid``.
public struct CacheRead: Hashable, Sendable {
    /// What the entry key holds.
    public enum State: Hashable, Sendable {
        /// No entry (never written, expired, or deleted by a fence bump).
        case missing
        /// A row (`row` field) or derived value (`value` field).
        case value(String)
        /// A tombstone: the row was deleted at ``CacheRead/lsn``.
        case tombstone
        /// A version marker without a value (the worker could not render the change at
        /// ``CacheRead/lsn``): never valid; read the database and fill.
        case invalidated
    }

    /// True when the entry belongs to the current epoch and its LSN >= ``maxFence``: a valid
    /// value is served, a valid tombstone means "no such row".
    public var isValid: Bool
    /// The entry's state.
    public var state: State
    /// The entry's LSN.
    public var lsn: LSN?
    /// The entry's epoch.
    public var epoch: Int64?
    /// The highest LSN among the given fences of the current epoch.
    public var maxFence: LSN?
    /// The current epoch (nil when Redis has none: every entry is then invalid).
    public var currentEpoch: Int64?
    /// The worker's checkpoint at this read (nil when there is none): a fill after this miss
    /// is cached only at a version at least this high (docs/consistency.md, eviction).
    public var checkpoint: LSN?

    /// Makes a read result.
    public init(isValid: Bool, state: State, lsn: LSN?, epoch: Int64?, maxFence: LSN?, currentEpoch: Int64?, checkpoint: LSN? = nil) {
        self.isValid = isValid
        self.state = state
        self.lsn = lsn
        self.epoch = epoch
        self.maxFence = maxFence
        self.currentEpoch = currentEpoch
        self.checkpoint = checkpoint
    }

    /// Parses the script's 8-element reply.
    public init(reply: RedisReply) throws(CacheContractError) {
        let parts = try ScriptReply.array(reply, "read", count: 8)
        let valid = try ScriptReply.integer(parts[0], "read")
        let state: State
        switch try ScriptReply.integer(parts[1], "read") {
        case 0: state = .missing
        case 1:
            guard let payload = parts[4].text else { throw ScriptReply.unexpected(reply, "read") }
            state = .value(payload)
        case 2: state = .tombstone
        case 3: state = .invalidated
        default: throw ScriptReply.unexpected(reply, "read")
        }
        self.init(
            isValid: valid == 1, state: state,
            lsn: try ScriptReply.optionalLSN(parts[2], "read"),
            epoch: try ScriptReply.optionalEpoch(parts[3], "read"),
            maxFence: try ScriptReply.optionalLSN(parts[5], "read"),
            currentEpoch: try ScriptReply.optionalEpoch(parts[6], "read"),
            checkpoint: try ScriptReply.optionalLSN(parts[7], "read"))
    }
}
