import PGOutput
import RedisCache

/// The result of `set-checkpoint`, with the checkpoint stored afterwards.
public struct CheckpointOutcome: Hashable, Sendable {
    /// What happened.
    public enum Result: Hashable, Sendable {
        /// The checkpoint moved forward to the given LSN.
        case moved
        /// The stored checkpoint was already at or past it.
        case notMoved
        /// The epoch is not the current epoch (Redis lost data, or a newer epoch began).
        case epochMismatch
        /// The stored checkpoint is missing or below the one the worker last wrote: Redis went
        /// back in time (an older snapshot, or a lagging replica promoted) within the epoch.
        case wentBack
    }

    /// What happened.
    public var result: Result
    /// The checkpoint stored now (nil when none).
    public var checkpoint: LSN?

    /// Makes an outcome.
    public init(result: Result, checkpoint: LSN?) {
        self.result = result
        self.checkpoint = checkpoint
    }

    /// Parses the script's `{code, checkpoint}` reply.
    public init(reply: RedisReply) throws(CacheContractError) {
        let parts = try ScriptReply.array(reply, "set-checkpoint", count: 2)
        let result: Result
        switch try ScriptReply.integer(parts[0], "set-checkpoint") {
        case 1: result = .moved
        case 0: result = .notMoved
        case -1: result = .epochMismatch
        case -2: result = .wentBack
        default: throw ScriptReply.unexpected(reply, "set-checkpoint")
        }
        self.init(result: result, checkpoint: try ScriptReply.optionalLSN(parts[1], "set-checkpoint"))
    }
}
