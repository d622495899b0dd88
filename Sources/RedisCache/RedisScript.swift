/// A Lua script with its SHA-1, so that callers send `EVALSHA` without asking the server first.
public struct RedisScript: Hashable, Sendable {
    /// A short name for messages (e.g. `set-if-newer`).
    public let name: String
    /// The Lua source, byte for byte what `SCRIPT LOAD` receives.
    public let source: String
    /// The lowercase hex SHA-1 of ``source``, as Redis computes it.
    public let sha1: String

    /// Wraps a script and computes its SHA-1.
    public init(name: String, source: String) {
        self.name = name
        self.source = source
        self.sha1 = HexDigest.sha1(source.utf8)
    }

    /// A call of this script with `keys` (`KEYS`) and `arguments` (`ARGV`).
    public func call(keys: [String], arguments: [String]) -> RedisScriptCall {
        RedisScriptCall(script: self, keys: keys, arguments: arguments)
    }
}
