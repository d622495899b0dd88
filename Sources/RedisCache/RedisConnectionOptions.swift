/// How a ``RedisConnection`` connects and waits. Every property has a default.
public struct RedisConnectionOptions: Sendable, Hashable {
    /// Seconds for the TCP connection plus the TLS handshake (default 5).
    public var connectTimeout: Double = 5
    /// Seconds the server may stay silent while a command or batch waits for it to accept
    /// bytes or to reply (default 5). It bounds each wait, not the whole batch, so a large
    /// pipeline that keeps making progress is not cut off.
    public var commandTimeout: Double = 5
    /// TLS settings for `rediss://` URLs (the URL's `ca=` and `insecure=` take precedence).
    public var tls = RedisTLSOptions()
    /// A name set with `CLIENT SETNAME` on connect, shown by `CLIENT LIST` (nil: none).
    public var clientName: String?

    /// Options with the given timeouts, defaults elsewhere.
    public init(connectTimeout: Double = 5, commandTimeout: Double = 5) {
        self.connectTimeout = connectTimeout
        self.commandTimeout = commandTimeout
    }

    func validate() throws(RedisError) {
        guard connectTimeout > 0, commandTimeout > 0, connectTimeout.isFinite, commandTimeout.isFinite else {
            throw RedisError(code: .invalidCommand, message: "connectTimeout (\(connectTimeout)) and commandTimeout (\(commandTimeout)) must be positive seconds")
        }
        if let clientName, clientName.isEmpty || clientName.contains(where: { $0 == " " || $0.isNewline }) {
            throw RedisError(code: .invalidCommand, message: "clientName '\(clientName)' must be non-empty without spaces")
        }
    }
}
