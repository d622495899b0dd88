import RedisCache
import Testing

/// Server error replies map to stable codes; URLs parse their TLS options and hide passwords.
@Suite struct ErrorClassificationTests {
    @Test(arguments: [
        ("READONLY You can't write against a read only replica.", RedisError.Code.readOnlyReplica),
        ("LOADING Redis is loading the dataset in memory", .loading),
        ("OOM command not allowed when used memory > 'maxmemory'.", .outOfMemory),
        ("WRONGPASS invalid username-password pair or user is disabled.", .authenticationFailed),
        ("NOAUTH Authentication required.", .authenticationFailed),
        ("NOPERM this user has no permissions to run the 'set' command", .authenticationFailed),
        ("ERR unknown command 'FOO'", .serverError),
        ("WRONGTYPE Operation against a key holding the wrong kind of value", .serverError),
        ("READONLYX not a code", .serverError),
        ("", .serverError),
    ])
    func classifiesByFirstWord(reply: String, code: RedisError.Code) {
        let error = RedisError(serverReply: reply, server: "redis://127.0.0.1:6379/0")
        #expect(error.code == code)
        #expect(error.message == "redis://127.0.0.1:6379/0: \(reply)")
    }

    @Test func namesTheCommandWithoutChangingTheClass() {
        let error = RedisError(serverReply: "OOM command not allowed", server: "redis://h:1/0", command: "SET")
        #expect(error.code == .outOfMemory)
        #expect(error.description == "redis out-of-memory: redis://h:1/0: SET failed: OOM command not allowed")
    }

    @Test func tlsURLOptions() throws {
        let url = try RedisURL("rediss://app:s%40cret@cache.internal:6380/2?ca=/etc/ssl/redis-ca.pem")
        #expect(url.tls && url.host == "cache.internal" && url.port == 6380 && url.database == 2)
        #expect(url.user == "app" && url.password == "s@cret")
        #expect(url.caFile == "/etc/ssl/redis-ca.pem" && !url.insecure)
        #expect(url.description == "rediss://app:***@cache.internal:6380/2")
        #expect(try RedisURL("rediss://h?insecure=true").insecure)
        #expect(try RedisURL("rediss://h?insecure=false").insecure == false)
    }

    @Test(arguments: [
        "redis://h?ca=/tmp/ca.pem",
        "redis://h?insecure=true",
        "rediss://h?insecure=maybe",
        "rediss://h?verify=none",
        "rediss://:pw@h:0",
        "http://h",
        "redis://h/x",
    ])
    func rejectsInvalidURLs(text: String) {
        guard let error = redisError({ () throws(RedisError) in try RedisURL(text) }) else {
            Issue.record("accepted \(text)")
            return
        }
        #expect(error.code == .invalidURL)
        #expect(!error.message.contains(":pw@"))
    }

    @Test func reconnectPolicyGrowsToItsCeiling() {
        let policy = RedisReconnectPolicy(attempts: 10, initialDelay: 0.1, maximumDelay: 0.5, multiplier: 2)
        #expect((0..<6).map { policy.ceiling(beforeAttempt: $0) } == [0, 0.1, 0.2, 0.4, 0.5, 0.5])
        var generator = SystemRandomNumberGenerator()
        for attempt in 0..<100 {
            let delay = policy.delay(beforeAttempt: attempt, using: &generator)
            #expect(delay >= 0 && delay <= policy.ceiling(beforeAttempt: attempt))
        }
    }
}
