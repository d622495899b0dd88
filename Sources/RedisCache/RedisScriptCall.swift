/// One invocation of a ``RedisScript``: the keys and arguments, ready to be sent as `EVALSHA`
/// alone or inside a pipeline.
public struct RedisScriptCall: Hashable, Sendable {
    /// The script to run.
    public let script: RedisScript
    /// The keys the script touches (`KEYS` in Lua).
    public let keys: [String]
    /// The other arguments (`ARGV` in Lua).
    public let arguments: [String]

    /// Makes a call.
    public init(script: RedisScript, keys: [String], arguments: [String]) {
        self.script = script
        self.keys = keys
        self.arguments = arguments
    }

    /// `EVALSHA <sha1> <number of keys> keys... arguments...`, for ``RedisConnection/pipeline(_:)``.
    public var command: [String] {
        ["EVALSHA", script.sha1, String(keys.count)] + keys + arguments
    }
}
