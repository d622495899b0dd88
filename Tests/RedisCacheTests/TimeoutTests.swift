import Logging
import RedisCache
import Testing

/// Timeouts are reported as such, name the server, and come within the configured time.
@Suite struct TimeoutTests {
    @Test func serverThatNeverAnswersTimesOutClearly() async throws {
        let server = try SilentServer()
        let url = try RedisURL("redis://:hidden@127.0.0.1:\(server.port)/0")
        let (error, seconds) = elapsed {
            redisError { () throws(RedisError) in try RedisConnection(url: url, options: RedisConnectionOptions(connectTimeout: 2, commandTimeout: 0.5)) }
        }
        let failure = try #require(error, "connected to a server that never answers")
        #expect(failure.code == .timeout)
        #expect(failure.message.contains("127.0.0.1:\(server.port)"))
        #expect(failure.message.contains("no reply within 0.5 s"))
        #expect(!failure.description.contains("hidden"))
        #expect(seconds >= 0.45 && seconds < 2, "took \(seconds) s")
    }

    @Test func blockedCommandTimesOutAndBreaksTheConnection() async throws {
        let connection = try RedisConnection(url: try stackURL(), options: RedisConnectionOptions(commandTimeout: 0.3))
        let key = uniquePrefix()
        let (error, seconds) = elapsed {
            redisError { () throws(RedisError) in try connection.command(["BLPOP", key, "0"]) }
        }
        #expect(try #require(error, "BLPOP returned").code == .timeout)
        #expect(seconds >= 0.25 && seconds < 1.5, "took \(seconds) s")
        #expect(connection.isBroken)
        let reuse = try #require(redisError { () throws(RedisError) in try connection.command(["PING"]) }, "a broken connection was used again")
        #expect(reuse.code == .connectionLost)
        #expect(reuse.message.contains("unusable"))
    }

    @Test func clientReconnectsAfterATimeout() async throws {
        let client = try RedisClient(url: try stackURL(), options: RedisConnectionOptions(commandTimeout: 0.3))
        let key = uniquePrefix()
        let error = await redisError { () async throws(RedisError) in try await client.command(["BLPOP", key, "0"]) }
        #expect(try #require(error, "BLPOP returned").code == .timeout)
        #expect(await client.isConnected == false)
        #expect(try await client.command(["PING"]) == .status("PONG"))
    }

    @Test func wrongCredentialsAreAnAuthenticationFailure() throws {
        var url = try stackURL()
        url.user = "nobody"
        url.password = "secret-pw"
        let error = try #require(redisError { () throws(RedisError) in try RedisConnection(url: url) }, "connected with wrong credentials")
        #expect(error.code == .authenticationFailed)
        #expect(error.message.contains("AUTH failed: WRONGPASS"))
        #expect(!error.description.contains("secret-pw"))
    }

    @Test func refusedConnectionNamesTheServer() throws {
        let port = try closedPort()
        let url = try RedisURL("redis://127.0.0.1:\(port)/0")
        let error = try #require(redisError { () throws(RedisError) in try RedisConnection(url: url, connectTimeout: 1) }, "connected to a closed port")
        #expect(error.code == .connectionFailed)
        #expect(error.message.contains("127.0.0.1:\(port)"))
        #expect(error.message.contains("refused"))
    }
}
