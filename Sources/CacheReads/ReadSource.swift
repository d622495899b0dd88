/// Where a read's value came from.
public enum ReadSource: String, Hashable, Sendable {
    /// A valid Redis entry.
    case cache
    /// A reader (physical replica).
    case reader
    /// The writer (primary).
    case writer
}
