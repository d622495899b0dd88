extension RedisClient {
    /// Sends script calls in one pipeline (loading scripts on `NOSCRIPT`, on the client's
    /// thread) and returns the replies in order. `inline` as in ``pipeline(_:inline:)``.
    public func evaluate(_ calls: [RedisScriptCall], inline: Bool = true) async throws(RedisError) -> [RedisReply] {
        let replies = try await pipeline(try RedisBatch(calls.map(\.command), for: url), inline: inline)
        guard replies.contains(where: RedisConnection.isNoScript) else { return replies }
        // No cancellation check now: the calls without NOSCRIPT have run, the others must follow.
        return try await runOnThread { connection throws(RedisError) in
            try connection.reloadingMissingScripts(calls, replies: replies)
        }
    }
}
