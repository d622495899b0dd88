import Logging
import RedisCache
import Testing

/// A dropped connection fails the call in flight (nothing is resent) and the next call reconnects.
@Suite struct ReconnectTests {
    @Test func callAfterClientKillFailsThenTheNextReconnects() async throws {
        let url = try stackURL()
        let client = try RedisClient(url: url)
        let killer = try RedisConnection(url: url)
        let key = uniquePrefix()
        let firstID = try #require(try await client.command(["CLIENT", "ID"]).integer)
        #expect(try killer.command(["CLIENT", "KILL", "ID", String(firstID)]) == .integer(1))
        let error = await redisError { () async throws(RedisError) in try await client.pipeline([["INCR", key], ["EXPIRE", key, "60"]]) }
        let lost = try #require(error, "a batch succeeded on a killed connection")
        #expect(lost.code == .connectionLost)
        #expect(lost.message.contains(url.description))
        #expect(lost.message.contains("0 of 2 replies received"))
        // The failed batch was not sent again behind the caller's back.
        #expect(try killer.command(["GET", key]) == .null)
        let secondID = try #require(try await client.command(["CLIENT", "ID"]).integer)
        #expect(secondID != firstID)
        #expect(try await client.command(["INCR", key]) == .integer(1))
        _ = try killer.command(["DEL", key])
    }

    @Test func reconnectAttemptsAreBoundedWithBackoff() async throws {
        let (logger, messages) = CapturingLogHandler.logger()
        let policy = RedisReconnectPolicy(attempts: 4, initialDelay: 0.05, maximumDelay: 0.1)
        let client = try RedisClient(url: try RedisURL("redis://127.0.0.1:\(try closedPort())/0"), reconnect: policy, logger: logger)
        let error = await redisError { () async throws(RedisError) in try await client.command(["PING"]) }
        #expect(try #require(error, "connected to a closed port").code == .connectionFailed)
        // The waits between attempts are the logged delays (the client's thread sleeps them).
        let retries = messages.all.filter { $0.message.contains("retrying") }
        #expect(retries.count == 3)
        for (index, retry) in retries.enumerated() {
            let delay = try #require(retry.metadata["delay"].flatMap(Double.init), "no delay in \(retry)")
            #expect(delay >= 0 && delay <= policy.ceiling(beforeAttempt: index + 1))
        }
    }

    @Test func configurationErrorsAreNotRetried() async throws {
        let (logger, messages) = CapturingLogHandler.logger()
        var url = try stackURL()
        url.user = "nobody"
        url.password = "wrong"
        let client = try RedisClient(url: url, reconnect: RedisReconnectPolicy(attempts: 5), logger: logger)
        let error = await redisError { () async throws(RedisError) in try await client.command(["PING"]) }
        #expect(try #require(error, "connected with wrong credentials").code == .authenticationFailed)
        #expect(messages.all.filter { $0.message.contains("retrying") }.isEmpty)
    }

    @Test func closedClientRefusesCalls() async throws {
        let client = try RedisClient(url: try stackURL())
        #expect(try await client.command(["PING"]) == .status("PONG"))
        await client.close()
        let error = await redisError { () async throws(RedisError) in try await client.command(["PING"]) }
        #expect(try #require(error, "a closed client ran a command").code == .closed)
    }
}
