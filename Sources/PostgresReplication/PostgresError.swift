/// A Postgres failure: a ``code``, the server's SQLSTATE when there is one, and a one-line
/// message naming the server (password redacted) and what was being done.
public struct PostgresError: Error, Hashable, Sendable, CustomStringConvertible {
    /// What kind of failure.
    public enum Code: String, Hashable, Sendable {
        /// The connection could not be made (unreachable, refused, wrong credentials, timeout).
        case connectionFailed = "connection-failed"
        /// The connection broke while in use.
        case connectionLost = "connection-lost"
        /// A statement failed on the server.
        case queryFailed = "query-failed"
        /// The server answered in a way this client did not expect.
        case unexpectedResponse = "unexpected-response"
    }

    /// The kind of failure.
    public var code: Code
    /// The SQLSTATE (e.g. `55006` for "replication slot is active"), when the server sent one.
    public var sqlState: String?
    /// What happened and where.
    public var message: String

    /// Makes an error.
    public init(code: Code, sqlState: String? = nil, message: String) {
        self.code = code
        self.sqlState = sqlState
        self.message = message
    }

    public var description: String {
        "postgres \(code.rawValue)\(sqlState.map { " [\($0)]" } ?? ""): \(message)"
    }
}
