/// A failure of the cache contract: a stable ``code`` and the context (the column, name or
/// reply involved) so the caller can log it and fall back (usually: invalidate the entry).
public struct CacheContractError: Error, Hashable, Sendable, CustomStringConvertible {
    /// What kind of failure.
    public enum Code: String, Hashable, Sendable {
        /// A namespace, entity, query or parameter name outside the allowed grammar.
        case invalidName = "invalid-name"
        /// A column that cannot be rendered from the stream (`u` unchanged TOAST, `b` binary).
        case unrenderableColumn = "unrenderable-column"
        /// A column's text is not the output form its type should have.
        case invalidTextForm = "invalid-text-form"
        /// A text form that only appears when the session settings differ from the contract's
        /// (e.g. a timestamptz not in UTC).
        case sessionSettings = "session-settings"
        /// JSON text that is invalid or that `jsonb` refuses (`\u0000`, lone surrogates, ...).
        case invalidJSON = "invalid-json"
        /// A number outside what Postgres `numeric` accepts.
        case numberOutOfRange = "number-out-of-range"
        /// A script reply with an unexpected shape (or a script error reply).
        case unexpectedReply = "unexpected-reply"
        /// A catalog row that does not have the expected columns.
        case invalidCatalogRow = "invalid-catalog-row"
    }

    /// The kind of failure.
    public var code: Code
    /// What was being processed (column name, key, script name), empty when none.
    public var context: String
    /// What went wrong.
    public var message: String

    /// Makes an error.
    public init(code: Code, context: String = "", message: String) {
        self.code = code
        self.context = context
        self.message = message
    }

    /// The same error with `context` in front of the existing one (e.g. a column name).
    func within(_ outer: String) -> CacheContractError {
        var error = self
        error.context = context.isEmpty ? outer : "\(outer).\(context)"
        return error
    }

    /// One line: code, context and message.
    public var description: String {
        "cache-contract \(code.rawValue)\(context.isEmpty ? "" : " [\(context)]"): \(message)"
    }
}
