/// A Redis failure with a stable ``code`` and a one-line message that names the server
/// (password redacted).
public struct RedisError: Error, Hashable, Sendable, CustomStringConvertible {
    /// What kind of failure.
    public enum Code: String, Hashable, Sendable {
        /// The URL could not be parsed.
        case invalidURL = "invalid-url"
        /// The TCP connection could not be made.
        case connectionFailed = "connection-failed"
        /// The connection broke while in use.
        case connectionLost = "connection-lost"
        /// The server refused the credentials (`WRONGPASS`, `NOAUTH`).
        case authenticationFailed = "authentication-failed"
        /// A connect or command timeout expired.
        case timeout = "timeout"
        /// The server answered with an error reply.
        case serverError = "server-error"
        /// The server is a read-only replica (`READONLY`).
        case readOnlyReplica = "readonly-replica"
        /// The server is out of memory (`OOM`).
        case outOfMemory = "out-of-memory"
        /// The server is loading its dataset (`LOADING`).
        case loading = "loading"
        /// The reply had an unexpected shape.
        case unexpectedReply = "unexpected-reply"
    }

    /// The kind of failure.
    public var code: Code
    /// What happened and where.
    public var message: String

    /// Makes an error.
    public init(code: Code, message: String) {
        self.code = code
        self.message = message
    }

    /// Classifies a server error reply by its prefix (`READONLY`, `OOM`, `LOADING`, `WRONGPASS`, `NOAUTH`).
    public init(serverReply: String, server: String) {
        let prefix = serverReply.prefix(while: { $0 != " " })
        let code: Code
        switch prefix {
        case "READONLY": code = .readOnlyReplica
        case "OOM": code = .outOfMemory
        case "LOADING": code = .loading
        case "WRONGPASS", "NOAUTH", "NOPERM": code = .authenticationFailed
        default: code = .serverError
        }
        self.init(code: code, message: "\(server): \(serverReply)")
    }

    public var description: String { "redis \(code.rawValue): \(message)" }
}
