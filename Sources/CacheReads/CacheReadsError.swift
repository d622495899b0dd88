/// A failure of the read path with a stable ``code`` and the context it happened in (an entity,
/// query, server), so callers can log it and decide.
public struct CacheReadsError: Error, Hashable, Sendable, CustomStringConvertible {
    /// What kind of failure.
    public enum Code: String, Hashable, Sendable {
        /// The configuration is incomplete or invalid (missing URL, bad name).
        case configuration = "configuration"
        /// No such entity or query in the configuration.
        case unknownName = "unknown-name"
        /// The key or parameters do not fit the entity or query.
        case invalidArguments = "invalid-arguments"
        /// The database failed (after retries).
        case database = "database"
        /// Redis failed where it was required.
        case redis = "redis"
        /// An operation exceeded its time limit.
        case timeout = "timeout"
        /// A write's commit LSN could not be read.
        case missingToken = "missing-token"
    }

    /// The kind of failure.
    public var code: Code
    /// What was being done (entity, query, server), empty when none.
    public var context: String
    /// What went wrong.
    public var message: String

    /// Makes an error.
    public init(code: Code, context: String = "", message: String) {
        self.code = code
        self.context = context
        self.message = message
    }

    /// One line: code, context and message.
    public var description: String {
        "cache-reads \(code.rawValue)\(context.isEmpty ? "" : " [\(context)]"): \(message)"
    }
}
