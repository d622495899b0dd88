import PGOutput

/// How fresh a read must be, chosen per read.
public enum Consistency: Hashable, Sendable {
    /// A valid cache entry, else a healthy reader (the result fills the cache), else the writer.
    case eventual
    /// At least as new as the write that returned `token` (``WriteResult/token``): a cache entry
    /// only if its LSN >= token, a reader only if its replay LSN >= token, else the writer.
    case readYourWrites(LSN)
    /// A reader whose replication lag is at most this many seconds, else the writer (the cache
    /// is not read, whose staleness the library cannot bound).
    case boundedStaleness(Double)
    /// The writer, never the cache (the result still fills it, with a sound version); never
    /// shared with concurrent callers (single-flight), so it reflects every write completed
    /// before the call.
    case strong
}

extension Consistency: CustomStringConvertible {
    /// `eventual`, `ryw:<lsn>`, `bounded:<seconds>` or `strong` (the CLI's spelling).
    public var description: String {
        switch self {
        case .eventual: "eventual"
        case .readYourWrites(let token): "ryw:\(token)"
        case .boundedStaleness(let seconds): "bounded:\(seconds)"
        case .strong: "strong"
        }
    }

    /// Parses the CLI's spelling: `eventual`, `ryw:<lsn>` (`16/B374D848` or 16 hex digits),
    /// `bounded:<seconds>`, `strong`; nil when malformed.
    public init?(parsing text: String) {
        if text == "eventual" {
            self = .eventual
        } else if text == "strong" {
            self = .strong
        } else if text.hasPrefix("ryw:") {
            let rest = text.dropFirst(4)
            guard let lsn = LSN(rest) ?? LSN(sortableString: rest) else { return nil }
            self = .readYourWrites(lsn)
        } else if text.hasPrefix("bounded:") {
            guard let seconds = Double(text.dropFirst(8)), seconds >= 0, seconds.isFinite else { return nil }
            self = .boundedStaleness(seconds)
        } else {
            return nil
        }
    }
}
