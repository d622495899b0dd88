import Logging

/// The calls the worker and the readers make to Redis, offered alike by the single-node
/// ``RedisClient`` and the ``RedisClusterClient``, so code written against this protocol takes
/// either one. Error replies come back as values (``RedisReply/error(_:)``); thrown errors are
/// transport, configuration or routing failures.
public protocol RedisCommandRunner: AnyObject, Sendable {
    /// Runs one command and returns its reply.
    func command(_ arguments: [String]) async throws(RedisError) -> RedisReply
    /// Runs commands as a pipeline and returns their replies in the commands' order.
    func pipeline(_ commands: [[String]]) async throws(RedisError) -> [RedisReply]
    /// Runs commands with raw byte arguments as a pipeline; replies in order.
    func pipeline(_ commands: [[[UInt8]]]) async throws(RedisError) -> [RedisReply]
    /// Runs script calls (`EVALSHA`, loading a script where the server answers `NOSCRIPT`);
    /// replies in the calls' order. `inline` allows a wait on the caller's thread (see
    /// ``RedisClient/inlineWait``).
    func evaluate(_ calls: [RedisScriptCall], inline: Bool) async throws(RedisError) -> [RedisReply]
    /// Closes the connections; later calls throw ``RedisError/Code-swift.enum/closed``.
    func close() async
}

extension RedisClient: RedisCommandRunner {}

/// Makes the client a Redis URL calls for.
public enum RedisCommandRunners {
    /// A ``RedisClusterClient`` for a cluster URL (several hosts or `cluster=true`, see
    /// ``RedisClusterURL/isCluster(_:)``), else a ``RedisClient``; throws
    /// ``RedisError/Code-swift.enum/invalidURL`` for a URL that is neither.
    public static func make(
        url text: String, options: RedisConnectionOptions = RedisConnectionOptions(),
        reconnect: RedisReconnectPolicy = RedisReconnectPolicy(), inlineWait: Double = 0,
        logger: Logger = Logger(label: "cache-warmer.redis")
    ) throws(RedisError) -> any RedisCommandRunner {
        if RedisClusterURL.isCluster(text) {
            return try RedisClusterClient(url: try RedisClusterURL(text), options: options, reconnect: reconnect, inlineWait: inlineWait, logger: logger)
        }
        return try RedisClient(url: try RedisURL(text), options: options, reconnect: reconnect, inlineWait: inlineWait, logger: logger)
    }
}
