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
        /// The bytes from the server are not RESP (often: a TLS port reached with `redis://`).
        case protocolError = "protocol-error"
        /// The TLS handshake failed for a reason other than the certificate (protocol, cipher, a
        /// plain-text port reached with `rediss://`).
        case tlsHandshakeFailed = "tls-handshake-failed"
        /// The server's certificate was not trusted or does not match the host name.
        case tlsCertificateRejected = "tls-certificate-rejected"
        /// A command had no arguments, or the options are invalid.
        case invalidCommand = "invalid-command"
        /// No pooled connection became free within the lease timeout.
        case poolExhausted = "pool-exhausted"
        /// The client or pool was closed.
        case closed = "closed"
        /// The calling task was cancelled before the command was sent.
        case cancelled = "cancelled"
        /// The keys of one command hash to different Redis Cluster slots (found before sending).
        case crossSlot = "cross-slot"
        /// The Redis Cluster kept answering `CLUSTERDOWN` or `TRYAGAIN`, or left a slot without
        /// a master, past the cluster client's retries.
        case clusterDown = "cluster-down"
        /// A command was redirected (`MOVED`, `ASK`) more times than the cluster client allows.
        case tooManyRedirects = "too-many-redirects"
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
        self.init(code: RedisError.classify(serverReply), message: "\(server): \(serverReply)")
    }

    /// Classifies a server error reply to `command` (named in the message, e.g. `AUTH`) by the
    /// reply's prefix, as ``init(serverReply:server:)`` does.
    public init(serverReply: String, server: String, command: String) {
        self.init(code: RedisError.classify(serverReply), message: "\(server): \(command) failed: \(serverReply)")
    }

    /// The code for a server error reply, from its first word.
    static func classify(_ serverReply: String) -> Code {
        switch serverReply.prefix(while: { $0 != " " }) {
        case "READONLY": .readOnlyReplica
        case "OOM": .outOfMemory
        case "LOADING": .loading
        case "WRONGPASS", "NOAUTH", "NOPERM": .authenticationFailed
        default: .serverError
        }
    }

    /// True for failures a new connection attempt may cure (refused, timed out, dropped,
    /// loading); false for configuration problems (credentials, certificates, URL).
    var isTransient: Bool {
        switch code {
        case .connectionFailed, .connectionLost, .timeout, .loading: true
        default: false
        }
    }

    /// The same error with the server in front of its message, for failures found before
    /// any I/O (options, command formatting) whose message does not name it yet.
    func about(_ server: RedisURL) -> RedisError {
        RedisError(code: code, message: "\(server): \(message)")
    }

    /// `redis <code>: <message>`, for logs and command-line output.
    public var description: String { "redis \(code.rawValue): \(message)" }
}
