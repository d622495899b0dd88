import CacheContract

/// What happened to the cache after a database read.
public enum FillResult: Hashable, Sendable, CustomStringConvertible {
    /// `fill-if-not-stale` answered.
    case outcome(FillOutcome)
    /// Not offered to the cache: no current epoch, the row does not exist, the writer's snapshot
    /// wait timed out, or Redis failed (the reason).
    case skipped(String)
}

extension FillResult {
    /// The reason of a reader fill not offered because the reader had not replayed up to the
    /// worker's checkpoint in time (docs/consistency.md, eviction).
    public static let behindCheckpoint = "the reader had not replayed up to the worker's checkpoint"
}

extension FillResult {
    /// `filled`, `refused: a newer entry is cached`, `not offered: <reason>` (for people).
    public var description: String {
        switch self {
        case .outcome(let outcome): outcome.description
        case .skipped(let reason): "not offered: \(reason)"
        }
    }
}
