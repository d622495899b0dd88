import struct Foundation.URLComponents

/// A parsed `redis://[user[:password]@]host[:port][/db]` address (`rediss://` for TLS, with the
/// query options `ca=/path/ca.pem` and `insecure=true`). Its ``description`` never shows the password.
public struct RedisURL: Sendable, Hashable, CustomStringConvertible {
    /// The server's host name or address.
    public var host: String
    /// The server's port (default 6379).
    public var port: Int
    /// The ACL user name, if any (`AUTH user password`).
    public var user: String?
    /// The password, if any.
    public var password: String?
    /// The database number selected after connecting (default 0).
    public var database: Int
    /// True for `rediss://` (TLS).
    public var tls: Bool
    /// `?ca=`: a PEM file of CA certificates that replaces the system's for this server (TLS only).
    public var caFile: String?
    /// `?insecure=true`: skip certificate and host name verification (TLS only; tests and
    /// explicit opt-in, never a default).
    public var insecure: Bool

    /// Parses `text`; throws ``RedisError`` with the redacted URL when it is not a Redis URL.
    public init(_ text: String) throws(RedisError) {
        guard let components = URLComponents(string: text),
            let scheme = components.scheme, scheme == "redis" || scheme == "rediss",
            let host = components.host, !host.isEmpty
        else {
            let hint = text.contains(",") ? " (several hosts name a Redis Cluster: RedisClusterURL)" : ""
            throw RedisError(code: .invalidURL, message: "not a redis:// or rediss:// URL: \(RedisURL.redact(text))\(hint)")
        }
        self.host = host
        self.port = components.port ?? 6379
        self.user = components.user.flatMap { $0.isEmpty ? nil : $0.removingPercentEncoding ?? $0 }
        self.password = components.password.map { $0.removingPercentEncoding ?? $0 }
        self.tls = scheme == "rediss"
        let path = components.path.drop(while: { $0 == "/" })
        if path.isEmpty {
            self.database = 0
        } else if let database = Int(path), database >= 0 {
            self.database = database
        } else {
            throw RedisError(code: .invalidURL, message: "database number '\(path)' is not a non-negative integer in \(RedisURL.redact(text))")
        }
        guard (1...65535).contains(port) else {
            throw RedisError(code: .invalidURL, message: "port \(port) is out of range in \(RedisURL.redact(text))")
        }
        self.caFile = nil
        self.insecure = false
        for item in components.queryItems ?? [] {
            let value = item.value ?? ""
            switch item.name {
            case "ca" where !value.isEmpty:
                self.caFile = value
            case "insecure":
                switch value.lowercased() {
                case "true", "1", "yes": self.insecure = true
                case "false", "0", "no": self.insecure = false
                default:
                    throw RedisError(code: .invalidURL, message: "insecure=\(value) is not true or false in \(RedisURL.redact(text))")
                }
            case "cluster":
                throw RedisError(code: .invalidURL, message: "\(RedisURL.redact(text)) names a Redis Cluster (cluster=): use RedisClusterURL and RedisClusterClient")
            default:
                throw RedisError(code: .invalidURL, message: "unknown or empty option '\(item.name)' in \(RedisURL.redact(text)) (known: ca=/path/ca.pem, insecure=true)")
            }
        }
        if !tls, caFile != nil || insecure {
            throw RedisError(code: .invalidURL, message: "ca= and insecure= are TLS options, but \(RedisURL.redact(text)) is not rediss://")
        }
    }

    /// The URL without query options and with the password as `***`, for messages and logs.
    public var description: String {
        var text = tls ? "rediss://" : "redis://"
        if let user { text += user }
        if password != nil { text += ":***" }
        if user != nil || password != nil { text += "@" }
        return text + "\(host):\(port)/\(database)"
    }

    /// Replaces the password of a URL-shaped string with `***` (for logs and errors).
    public static func redact(_ text: String) -> String {
        guard var components = URLComponents(string: text), components.password != nil else { return text }
        components.password = "***"
        return components.string ?? "<unparsable URL>"
    }
}
