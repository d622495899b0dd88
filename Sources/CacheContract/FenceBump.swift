import PGOutput
import RedisCache

/// The result of `bump-fence`.
public enum FenceBump: Hashable, Sendable {
    /// The fence is now at `fence` (the max of the old and the new LSN) and `deleted` covered
    /// entries older than it were removed.
    case bumped(fence: LSN, deleted: Int)
    /// The bump's epoch is not the current epoch; nothing changed.
    case epochMismatch

    /// Parses the script's `{deleted, fence}` reply.
    public init(reply: RedisReply) throws(CacheContractError) {
        let parts = try ScriptReply.array(reply, "bump-fence", count: 2)
        let deleted = try ScriptReply.integer(parts[0], "bump-fence")
        if deleted == -1 {
            self = .epochMismatch
            return
        }
        guard deleted >= 0, let fence = try ScriptReply.optionalLSN(parts[1], "bump-fence") else {
            throw ScriptReply.unexpected(reply, "bump-fence")
        }
        self = .bumped(fence: fence, deleted: Int(deleted))
    }
}
