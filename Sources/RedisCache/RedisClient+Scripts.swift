extension RedisClient {
    /// Sends script calls in one pipeline on the client's thread (loading scripts on NOSCRIPT)
    /// and returns the replies in order.
    public func evaluate(_ calls: [RedisScriptCall]) async throws(RedisError) -> [RedisReply] {
        try await withConnection { connection throws(RedisError) in try connection.evaluate(calls) }
    }
}
