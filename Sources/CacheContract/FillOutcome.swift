import RedisCache

/// The result of `fill-if-not-stale`; every refusal leaves Redis unchanged, and the reader
/// still returns the data it read (it just does not cache it).
public enum FillOutcome: Hashable, Sendable, CustomStringConvertible {
    /// The entry now holds the fill.
    case filled
    /// The stored entry or tombstone has a version >= the fill's (ties refuse).
    case refusedByEntry
    /// The fill's epoch is not the current epoch (or there is no current epoch).
    case refusedByEpoch
    /// A covering fence of the current epoch is above the fill's LSN.
    case refusedByFence
    /// The fill's LSN is below the epoch's floor.
    case refusedByFloor

    /// Parses the script's integer reply.
    public init(reply: RedisReply) throws(CacheContractError) {
        try self.init(code: try ScriptReply.integer(reply, "fill-if-not-stale"), reply: reply, script: "fill-if-not-stale")
    }

    /// Parses `fill-rows-if-not-stale`'s reply: exactly `count` outcomes, in entry order.
    public static func many(reply: RedisReply, count: Int) throws(CacheContractError) -> [FillOutcome] {
        guard case .array(let items) = reply, items.count == count else { throw ScriptReply.unexpected(reply, "fill-rows-if-not-stale") }
        var outcomes: [FillOutcome] = []
        outcomes.reserveCapacity(count)
        for item in items {
            outcomes.append(try FillOutcome(code: try ScriptReply.integer(item, "fill-rows-if-not-stale"), reply: item, script: "fill-rows-if-not-stale"))
        }
        return outcomes
    }

    private init(code: Int64, reply: RedisReply, script: String) throws(CacheContractError) {
        switch code {
        case 1: self = .filled
        case 0: self = .refusedByEntry
        case -1: self = .refusedByEpoch
        case -2: self = .refusedByFence
        case -3: self = .refusedByFloor
        default: throw ScriptReply.unexpected(reply, script)
        }
    }
}

extension FillOutcome {
    /// What the script decided, for people (`get`, logs).
    public var description: String {
        switch self {
        case .filled: "filled"
        case .refusedByEntry: "refused: the cache holds this version or a newer one"
        case .refusedByEpoch: "refused: the epoch is no longer current"
        case .refusedByFence: "refused: a fence above the read's version"
        case .refusedByFloor: "refused: below the epoch's floor or the worker's checkpoint"
        }
    }
}
