/// Commands formatted once as RESP and sent later as one pipeline (one round trip) with
/// ``RedisConnection/pipeline(_:)-(RedisBatch)``. Building the batch in the caller's task
/// leaves the connection's thread only the I/O, and a benchmark can time the round trip alone.
public struct RedisBatch: Sendable {
    /// The number of commands, which is the number of replies the batch expects.
    public private(set) var count = 0
    /// The formatted commands.
    private(set) var bytes: [UInt8] = []
    private var encoder = CommandEncoder()

    /// An empty batch.
    public init() {}

    /// A batch of text commands (each an argument list such as `["SET", key, value]`).
    public init(_ commands: [[String]]) throws(RedisError) {
        for command in commands {
            try append(command)
        }
    }

    /// A batch of commands whose arguments are raw bytes.
    public init(_ commands: [[[UInt8]]]) throws(RedisError) {
        for command in commands {
            try append(command)
        }
    }

    /// A batch of text commands for `server`'s connection; a failure names the server.
    init(_ commands: [[String]], for server: RedisURL) throws(RedisError) {
        self = try RedisBatch.naming(server) { () throws(RedisError) in try RedisBatch(commands) }
    }

    /// A batch of raw-byte commands for `server`'s connection; a failure names the server.
    init(_ commands: [[[UInt8]]], for server: RedisURL) throws(RedisError) {
        self = try RedisBatch.naming(server) { () throws(RedisError) in try RedisBatch(commands) }
    }

    private static func naming(_ server: RedisURL, _ make: () throws(RedisError) -> RedisBatch) throws(RedisError) -> RedisBatch {
        do {
            return try make()
        } catch {
            throw error.about(server)
        }
    }

    /// Adds a text command; throws ``RedisError/Code-swift.enum/invalidCommand`` when it is empty.
    public mutating func append(_ command: [String]) throws(RedisError) {
        try encoder.append(command, to: &bytes)
        count += 1
    }

    /// Adds a command with raw byte arguments; throws when it is empty.
    public mutating func append(_ command: [[UInt8]]) throws(RedisError) {
        try encoder.append(command, to: &bytes)
        count += 1
    }

    /// Adds the commands of `other` after these.
    mutating func append(_ other: RedisBatch) {
        bytes.append(contentsOf: other.bytes)
        count += other.count
    }

    /// The size of the formatted commands in bytes.
    public var byteCount: Int {
        bytes.count
    }
}
