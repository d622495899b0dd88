import RedisCache
import Testing

/// TLS and ACL against a Redis this suite starts (`deploy/local/redis-tls.sh`): TLS-only,
/// default user off, user `app`. Serialized: some tests change the server's configuration.
@Suite(.serialized, .dedicatedRedis) struct TLSTests {
    private func server() throws -> DedicatedRedis {
        try #require(DedicatedRedis.current)
    }

    @Test func verifiedTLSWithACLUser() throws {
        let server = try server()
        let connection = try RedisConnection(url: try server.trustedURL())
        let key = uniquePrefix()
        let replies = try connection.pipeline([["SET", key, "över TLS", "EX", "60"], ["GET", key], ["ACL", "WHOAMI"]])
        #expect(replies == [.status("OK"), .string(Array("över TLS".utf8)), .string(Array("app".utf8))])
    }

    @Test func hostNameIsVerifiedWithSNI() throws {
        let server = try server()
        let connection = try RedisConnection(url: try server.trustedURL(host: "localhost"))
        #expect(try connection.command(["PING"]) == .status("PONG"))
        let otherAddress = try server.trustedURL(host: "127.0.0.2")
        let error = try #require(redisError { () throws(RedisError) in try RedisConnection(url: otherAddress) }, "accepted a certificate for another address")
        #expect(error.code == .tlsCertificateRejected)
        #expect(error.message.contains("mismatch"))
    }

    @Test func tenThousandCommandPipelineOverTLS() throws {
        let connection = try RedisConnection(url: try server().trustedURL())
        let prefix = uniquePrefix()
        let replies = try connection.pipeline((0..<10_000).map { ["SET", "\(prefix):\($0)", String(repeating: "v", count: $0 % 200), "EX", "60"] })
        #expect(replies.count == 10_000 && replies.allSatisfy { $0 == .status("OK") })
        let lengths = try connection.pipeline((0..<10_000).map { ["STRLEN", "\(prefix):\($0)"] })
        #expect(lengths == (0..<10_000).map { .integer(Int64($0 % 200)) })
    }

    @Test func wrongPasswordIsAnAuthenticationFailure() throws {
        let server = try server()
        let url = try server.url(password: "not-apppass", query: "ca=\(server.caFile)")
        let error = try #require(redisError { () throws(RedisError) in try RedisConnection(url: url) }, "connected with a wrong password")
        #expect(error.code == .authenticationFailed)
        #expect(error.message.contains("WRONGPASS"))
        #expect(!error.description.contains("not-apppass"))
    }

    @Test func missingCredentialsAreAnAuthenticationFailure() throws {
        let server = try server()
        let url = try server.url(user: nil, password: nil, query: "ca=\(server.caFile)")
        let error = try #require(redisError { () throws(RedisError) in try RedisConnection(url: url) }, "connected as the disabled default user")
        #expect(error.code == .authenticationFailed)
        #expect(error.message.contains("NOAUTH"))
    }

    @Test(arguments: [true, false])
    func untrustedCertificateIsRejected(otherCA: Bool) throws {
        let server = try server()
        let url = try server.url(query: otherCA ? "ca=\(server.otherCAFile)" : nil)
        let error = try #require(redisError { () throws(RedisError) in try RedisConnection(url: url) }, "trusted a certificate from an unknown CA")
        #expect(error.code == .tlsCertificateRejected)
        #expect(error.message.contains("certificate verification failed"))
        #expect(error.message.contains("127.0.0.1:\(server.port)"))
        #expect(!error.description.contains("apppass"))
    }

    @Test func insecureSkipsVerificationOnlyWhenAsked() throws {
        let server = try server()
        let connection = try RedisConnection(url: try server.url(query: "insecure=true"))
        #expect(try connection.command(["PING"]) == .status("PONG"))
        var options = RedisConnectionOptions()
        options.tls = RedisTLSOptions(insecureSkipVerification: true)
        #expect(try RedisConnection(url: try server.url(), options: options).command(["PING"]) == .status("PONG"))
        options.tls = RedisTLSOptions(caFile: server.caFile)
        #expect(try RedisConnection(url: try server.url(), options: options).command(["PING"]) == .status("PONG"))
    }

    @Test func plainConnectionToTheTLSPortIsAClearError() throws {
        let server = try server()
        let url = try server.url(scheme: "redis")
        let error = try #require(
            redisError { () throws(RedisError) in try RedisConnection(url: url, connectTimeout: 2, commandTimeout: 2) }, "a plain connection to a TLS port worked")
        #expect([.connectionFailed, .protocolError].contains(error.code))
        #expect(error.message.contains("use rediss://"))
        #expect(!error.description.contains("apppass"))
    }

    @Test func tlsConnectionToAPlainPortIsAClearError() throws {
        let plain = try stackURL()
        let url = try RedisURL("rediss://\(plain.host):\(plain.port)/0")
        let error = try #require(
            redisError { () throws(RedisError) in try RedisConnection(url: url, connectTimeout: 1, commandTimeout: 1) }, "a TLS handshake with a plain port worked")
        #expect([.tlsHandshakeFailed, .timeout].contains(error.code))
        #expect(error.message.contains("TLS"))
    }

    @Test func missingCAFileIsAClearError() throws {
        let server = try server()
        let url = try server.url(query: "ca=/nonexistent/ca.pem")
        let error = try #require(redisError { () throws(RedisError) in try RedisConnection(url: url) }, "connected with a missing CA file")
        #expect(error.code == .tlsHandshakeFailed)
        #expect(error.message.contains("/nonexistent/ca.pem"))
    }

    @Test func clientReconnectsOverTLSAfterClientKill() async throws {
        let server = try server()
        let client = try RedisClient(url: try server.trustedURL())
        let admin = try RedisConnection(url: try server.trustedURL())
        let id = try #require(try await client.command(["CLIENT", "ID"]).integer)
        _ = try admin.command(["CLIENT", "KILL", "ID", String(id)])
        let error = await redisError { () async throws(RedisError) in try await client.command(["PING"]) }
        #expect(try #require(error, "PING succeeded on a killed connection").code == .connectionLost)
        #expect(try await client.command(["PING"]) == .status("PONG"))
    }

    @Test func inlineWaitsAndHandOffsWorkOverTLS() async throws {
        let client = try RedisClient(url: try server().trustedURL(), inlineWait: 0.05)
        let key = uniquePrefix()
        _ = try await client.command(["PING"])
        for index in 0..<10 {
            #expect(try await client.command(["ECHO", "tls-\(index)"]) == .string(Array("tls-\(index)".utf8)))
        }
        let before = client.statistics
        #expect(before.inline > 0 && before.inline + before.handedOff == 10, "\(before)")
        // Longer than the inline wait: the rest of the TLS read moves to the client's thread.
        #expect(try await client.pipeline([["BLPOP", key, "0.1"], ["ECHO", "after"]]) == [.null, .string(Array("after".utf8))])
        #expect(client.statistics.handedOff == before.handedOff + 1)
    }

    @Test func realOutOfMemoryIsClassified() throws {
        let admin = try RedisConnection(url: try server().trustedURL())
        #expect(try admin.command(["CONFIG", "SET", "maxmemory", "1"]) == .status("OK"))
        defer { _ = try? admin.command(["CONFIG", "SET", "maxmemory", "0"]) }
        let reply = try admin.command(["SET", uniquePrefix(), "x"])
        guard case .error(let message) = reply else {
            Issue.record("SET succeeded over maxmemory: \(reply)")
            return
        }
        #expect(RedisError(serverReply: message, server: admin.url.description).code == .outOfMemory)
    }

    @Test func realReadOnlyReplicaIsClassified() throws {
        let admin = try RedisConnection(url: try server().trustedURL())
        #expect(try admin.command(["REPLICAOF", "127.0.0.1", String(try closedPort())]) == .status("OK"))
        defer { _ = try? admin.command(["REPLICAOF", "NO", "ONE"]) }
        let reply = try admin.command(["SET", uniquePrefix(), "x"])
        guard case .error(let message) = reply else {
            Issue.record("SET succeeded on a replica: \(reply)")
            return
        }
        #expect(RedisError(serverReply: message, server: admin.url.description).code == .readOnlyReplica)
    }
}
