/// A Redis Cluster address: `redis://[user[:password]@]host1:port1,host2:port2/?cluster=true`
/// (`rediss://` for TLS, with ``RedisURL``'s `ca=` and `insecure=` options). The hosts are seeds:
/// any one that answers tells the client the whole cluster's layout. A URL with several hosts
/// is a cluster URL even without `cluster=true`; one host needs `cluster=true`. Cluster mode
/// has only database 0 (Redis Cluster specification, "Implemented subset").
public struct RedisClusterURL: Sendable, Hashable, CustomStringConvertible {
    /// One ``RedisURL`` per seed host, each with the URL's credentials and TLS options.
    public let seeds: [RedisURL]

    /// Parses `text`; throws ``RedisError/Code-swift.enum/invalidURL`` with the redacted URL.
    public init(_ text: String) throws(RedisError) {
        let parts = try RedisClusterURL.split(text)
        guard !parts.hosts.isEmpty, parts.hosts.allSatisfy({ !$0.isEmpty }) else {
            throw RedisError(code: .invalidURL, message: "no seed host (or an empty one) in \(RedisURL.redact(parts.redactable))")
        }
        var query: [String] = []
        var cluster: Bool?
        for item in parts.query.split(separator: "&", omittingEmptySubsequences: true) {
            let pair = item.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            if pair[0] == "cluster" {
                switch pair.count > 1 ? pair[1].lowercased() : "" {
                case "true", "1", "yes": cluster = true
                case "false", "0", "no": cluster = false
                default:
                    throw RedisError(code: .invalidURL, message: "cluster=\(pair.count > 1 ? String(pair[1]) : "") is not true or false in \(RedisURL.redact(parts.redactable))")
                }
            } else {
                query.append(String(item))
            }
        }
        guard cluster ?? (parts.hosts.count > 1) else {
            throw RedisError(code: .invalidURL, message: "\(RedisURL.redact(parts.redactable)) is not a cluster URL: give several seed hosts or cluster=true")
        }
        var seeds: [RedisURL] = []
        for host in parts.hosts {
            let single = "\(parts.scheme)://\(parts.userInfo.map { $0 + "@" } ?? "")\(host)\(parts.path)" + (query.isEmpty ? "" : "?" + query.joined(separator: "&"))
            let url = try RedisURL(single)
            guard url.database == 0 else {
                throw RedisError(code: .invalidURL, message: "database \(url.database) in \(RedisURL.redact(parts.redactable)): a Redis Cluster has only database 0")
            }
            seeds.append(url)
        }
        self.seeds = seeds
    }

    /// True when `text` names a cluster (several hosts, or `cluster=true`), so a caller can
    /// choose between ``RedisClient`` and ``RedisClusterClient`` from one setting.
    public static func isCluster(_ text: String) -> Bool {
        guard let parts = try? split(text) else { return false }
        if parts.hosts.count > 1 { return true }
        return parts.query.split(separator: "&").contains { ["cluster=true", "cluster=1", "cluster=yes"].contains($0.lowercased()) }
    }

    /// The seeds' addresses with the password as `***`.
    public var description: String {
        guard let first = seeds.first else { return "redis cluster (no seeds)" }
        var text = first.tls ? "rediss://" : "redis://"
        if let user = first.user { text += user }
        if first.password != nil { text += ":***" }
        if first.user != nil || first.password != nil { text += "@" }
        return text + seeds.map { "\($0.host):\($0.port)" }.joined(separator: ",") + "/?cluster=true"
    }

    /// The URL a node at `host:port` is reached with: the seeds' credentials and TLS options.
    func node(host: String, port: Int) -> RedisURL {
        var url = seeds[0]
        url.host = host
        url.port = port
        return url
    }

    private struct Parts {
        var scheme: String
        var userInfo: String?
        var hosts: [String]
        var path: String
        var query: String
        /// The text with only the first host, which ``RedisURL/redact(_:)`` can parse.
        var redactable: String
    }

    /// Splits `scheme://userinfo@h1:p1,h2:p2/path?query` by hand: URL parsers take one host.
    private static func split(_ text: String) throws(RedisError) -> Parts {
        let schemes = ["redis://", "rediss://"]
        guard let scheme = schemes.first(where: { text.hasPrefix($0) }) else {
            throw RedisError(code: .invalidURL, message: "not a redis:// or rediss:// URL: \(RedisClusterURL.redactUserInfo(text))")
        }
        let rest = text.dropFirst(scheme.count)
        let authorityEnd = rest.firstIndex(where: { $0 == "/" || $0 == "?" }) ?? rest.endIndex
        let authority = rest[..<authorityEnd]
        var tail = rest[authorityEnd...]
        var query = ""
        if let mark = tail.firstIndex(of: "?") {
            query = String(tail[tail.index(after: mark)...])
            tail = tail[..<mark]
        }
        var userInfo: String?
        var hostList = authority
        if let at = authority.lastIndex(of: "@") {
            userInfo = String(authority[..<at])
            hostList = authority[authority.index(after: at)...]
        }
        let hosts = hostList.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
        let redactable = scheme + (userInfo.map { $0 + "@" } ?? "") + (hosts.first ?? "") + tail + (query.isEmpty ? "" : "?" + query)
        return Parts(scheme: String(scheme.dropLast(3)), userInfo: userInfo, hosts: hosts, path: String(tail), query: query, redactable: redactable)
    }

    /// `text` with everything between `://` and the last `@` of the authority replaced by `***`.
    private static func redactUserInfo(_ text: String) -> String {
        guard let start = text.range(of: "://")?.upperBound, let at = text[start...].prefix(while: { $0 != "/" && $0 != "?" }).lastIndex(of: "@") else { return text }
        return String(text[..<start]) + "***" + String(text[at...])
    }
}
