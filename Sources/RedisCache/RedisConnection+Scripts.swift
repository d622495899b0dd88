extension RedisConnection {
    /// Loads `script` (`SCRIPT LOAD`) and checks that the server's SHA-1 equals ours.
    public func load(_ script: RedisScript) throws(RedisError) {
        let reply = try command(["SCRIPT", "LOAD", script.source])
        if case .error(let message) = reply {
            throw RedisError(serverReply: "SCRIPT LOAD \(script.name) failed: \(message)", server: url.description)
        }
        guard reply.text == script.sha1 else {
            throw RedisError(code: .unexpectedReply, message: "\(url): SCRIPT LOAD \(script.name) returned \(reply), expected \(script.sha1)")
        }
    }

    /// Runs one script call with `EVALSHA`; on `NOSCRIPT` loads the script and retries once.
    /// Error replies of the script itself are returned, not thrown.
    public func evaluate(_ call: RedisScriptCall) throws(RedisError) -> RedisReply {
        try evaluate([call])[0]
    }

    /// Runs the calls in one pipeline (one round trip). Calls that fail with `NOSCRIPT` (the
    /// server lost its script cache: restart, failover, `SCRIPT FLUSH`) have their scripts
    /// loaded and are sent again once, in their original relative order, after the others ran.
    /// That reordering is harmless only for scripts whose effect does not depend on the order
    /// (such as the cache contract's version compare-and-set scripts).
    public func evaluate(_ calls: [RedisScriptCall]) throws(RedisError) -> [RedisReply] {
        try reloadingMissingScripts(calls, replies: try pipeline(calls.map(\.command)))
    }

    /// `replies` (to `calls`), with the calls that failed with `NOSCRIPT` loaded and run again.
    func reloadingMissingScripts(_ calls: [RedisScriptCall], replies: [RedisReply]) throws(RedisError) -> [RedisReply] {
        var replies = replies
        let missing = replies.indices.filter { RedisConnection.isNoScript(replies[$0]) }
        guard !missing.isEmpty else { return replies }
        var loaded: Set<String> = []
        for index in missing where loaded.insert(calls[index].script.sha1).inserted {
            try load(calls[index].script)
        }
        let retried = try pipeline(missing.map { calls[$0].command })
        for (index, reply) in zip(missing, retried) {
            replies[index] = reply
        }
        return replies
    }

    static func isNoScript(_ reply: RedisReply) -> Bool {
        if case .error(let message) = reply { return message.hasPrefix("NOSCRIPT") }
        return false
    }
}
