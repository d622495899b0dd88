import RedisCache

/// The result of `set-if-newer`, `tombstone-if-newer` and `invalidate-if-newer`.
public enum WriteOutcome: Hashable, Sendable {
    /// The entry now holds this version.
    case written
    /// The stored entry or tombstone has an equal or newer version: nothing changed (a replay).
    case notNewer
    /// The write's epoch is not the current epoch (Redis lost its data, or another worker began
    /// a newer epoch): the worker must stop and re-check its epoch.
    case epochMismatch

    /// Parses the script's integer reply.
    public init(reply: RedisReply) throws(CacheContractError) {
        switch try ScriptReply.integer(reply, "set/tombstone/invalidate-if-newer") {
        case 1: self = .written
        case 0: self = .notNewer
        case -1: self = .epochMismatch
        default: throw ScriptReply.unexpected(reply, "set/tombstone/invalidate-if-newer")
        }
    }

    /// Parses `write-many-if-newer`'s reply: one outcome per entry, all ``epochMismatch`` when
    /// the epoch was not current.
    public static func many(reply: RedisReply, count: Int) throws(CacheContractError) -> [WriteOutcome] {
        if case .integer(-1) = reply { return Array(repeating: .epochMismatch, count: count) }
        guard case .array(let items) = reply, items.count == count else { throw ScriptReply.unexpected(reply, "write-many-if-newer") }
        var outcomes: [WriteOutcome] = []
        outcomes.reserveCapacity(count)
        for item in items {
            switch item {
            case .integer(1): outcomes.append(.written)
            case .integer(0): outcomes.append(.notNewer)
            default: throw ScriptReply.unexpected(reply, "write-many-if-newer")
            }
        }
        return outcomes
    }
}
