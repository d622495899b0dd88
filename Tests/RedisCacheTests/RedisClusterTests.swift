import Foundation
import RedisCache
import TestSupport
import Testing

/// The cluster client against the stack's Redis Cluster (three masters, one replica each),
/// without changing the cluster's layout (that is ``RedisClusterFaultTests``).
@Suite struct RedisClusterTests {
    /// Our hash slots equal the server's `CLUSTER KEYSLOT` for keys with and without tags.
    @Test func slotsAgreeWithTheServer() async throws {
        let client = try clusterClient()
        defer { Task { await client.close() } }
        var random = SystemRandomNumberGenerator()
        let keys = (0..<300).map { index -> String in
            let body = String((0..<Int.random(in: 0...24, using: &random)).map { _ in "ab{}:x9é".randomElement(using: &random)! })
            return "\(index)\(body)"
        }
        let replies = try await client.pipeline(keys.map { ["CLUSTER", "KEYSLOT", $0] })
        #expect(replies.map(\.integer) == keys.map { Int64(RedisClusterSlot.of($0)) })
    }

    /// A pipeline over keys of every master comes back in the caller's order, each key on the
    /// master its slot belongs to.
    @Test func pipelineSpanningAllMastersKeepsOrder() async throws {
        let client = try clusterClient()
        defer { Task { await client.close() } }
        let prefix = uniquePrefix("rcl")
        let topology = try await client.topology()
        #expect(topology.masters.count == 3)
        let keys = (0..<3000).map { "\(prefix):\($0)" }
        let owners = Set(keys.compactMap { topology.master(forSlot: RedisClusterSlot.of($0)) })
        #expect(owners == Set(topology.masters))
        var commands: [[String]] = []
        for (index, key) in keys.enumerated() {
            commands.append(["SET", key, "v\(index)", "EX", "120"])
            commands.append(["GET", key])
            commands.append(["APPEND", key, "!"])
        }
        let replies = try await client.pipeline(commands)
        #expect(replies.count == commands.count)
        var expected: [RedisReply] = []
        for index in keys.indices {
            expected += [.status("OK"), .string(Array("v\(index)".utf8)), .integer(Int64("v\(index)!".utf8.count))]
        }
        #expect(replies == expected)
        // Each key lives on the master of its slot (asked directly, no redirect).
        for key in keys.prefix(60) {
            let owner = try #require(topology.master(forSlot: RedisClusterSlot.of(key)))
            let direct = try await client.client(for: owner).command(["GET", key])
            #expect(direct.text?.hasSuffix("!") == true, "\(key) on \(owner): \(direct)")
        }
        let binary = try await client.pipeline(keys.prefix(10).map { [Array("STRLEN".utf8), Array($0.utf8)] })
        #expect(binary == keys.prefix(10).indices.map { .integer(Int64("v\($0)!".utf8.count)) })
        #expect(client.statistics.moved == 0 && client.statistics.asked == 0)
    }

    /// A script unknown to every node: `EVALSHA` answers `NOSCRIPT`, the client loads it on each
    /// master once and the calls' replies come back in order.
    @Test func scriptsAreLoadedOnEachNode() async throws {
        let client = try clusterClient()
        defer { Task { await client.close() } }
        let prefix = uniquePrefix("rcs")
        let script = RedisScript(name: "test-echo", source: "-- \(prefix)\nredis.call('SET', KEYS[1], ARGV[1], 'EX', 120)\nreturn KEYS[1] .. '=' .. ARGV[1]")
        let topology = try await client.topology()
        let keys = (0..<600).map { "{\(prefix)-\($0)}:k" }
        #expect(Set(keys.compactMap { topology.master(forSlot: RedisClusterSlot.of($0)) }).count == 3)
        let calls = keys.enumerated().map { script.call(keys: [$1], arguments: ["\($0)"]) }
        let replies = try await client.evaluate(calls)
        #expect(replies == keys.enumerated().map { .string(Array("\($1)=\($0)".utf8)) })
        #expect(client.statistics.scriptLoads == 3)
        for master in topology.masters {
            let exists = try await client.client(for: master).command(["SCRIPT", "EXISTS", script.sha1])
            #expect(exists == .array([.integer(1)]), "\(master)")
        }
        // Loaded now: no more loads, same answers.
        let again = try await client.evaluate(Array(calls.prefix(30)))
        #expect(again == Array(replies.prefix(30)))
        #expect(client.statistics.scriptLoads == 3)
        // A script call whose keys hash to two slots is refused before anything is sent.
        let cross = await redisError { () async throws(RedisError) in
            try await client.evaluate([script.call(keys: ["\(prefix):a", "\(prefix):b"], arguments: ["x"])])
        }
        #expect(cross?.code == .crossSlot)
    }

    /// Multi-key commands must stay in one slot: the client refuses others before sending,
    /// and one hash tag makes them legal.
    @Test func crossSlotCommandsAreRefusedBeforeSending() async throws {
        let client = try clusterClient()
        defer { Task { await client.close() } }
        let prefix = uniquePrefix("rcx")
        let error = await redisError { () async throws(RedisError) in
            try await client.pipeline([["SET", "\(prefix):set-first", "1"], ["MGET", "\(prefix):a", "\(prefix):b"]])
        }
        #expect(error?.code == .crossSlot)
        #expect(error?.message.contains("command 2 of 2") == true)
        // Nothing of that pipeline ran.
        #expect(try await client.command(["EXISTS", "\(prefix):set-first"]) == .integer(0))
        let tagged = try await client.pipeline([
            ["MSET", "{\(prefix)}:a", "1", "{\(prefix)}:b", "2"], ["MGET", "{\(prefix)}:a", "{\(prefix)}:b"], ["DEL", "{\(prefix)}:a", "{\(prefix)}:b"],
        ])
        #expect(tagged == [.status("OK"), .array([.string(Array("1".utf8)), .string(Array("2".utf8))]), .integer(2)])
    }

    /// A map older than ``RedisClusterOptions/refreshInterval`` is read again in the background
    /// by the next call; a fresh one is not.
    @Test func oldMapIsReadAgainByTheNextCall() async throws {
        var options = RedisClusterOptions()
        options.refreshInterval = 2
        let client = try clusterClient(cluster: options)
        defer { Task { await client.close() } }
        _ = try await client.command(["PING"])
        _ = try await client.command(["PING"])
        #expect(client.statistics.refreshes == 1)
        try await Task.sleep(for: .milliseconds(2500))
        #expect(try await client.command(["PING"]) == .status("PONG"))
        #expect(try await eventually(within: 5) { client.statistics.refreshes == 2 })
    }

    /// Seeds that do not answer are skipped; any node that answers gives the whole map.
    @Test func deadSeedsAreSkipped() async throws {
        let live = try clusterURL()
        let dead = try closedPort()
        let text = "redis://127.0.0.1:\(dead)," + live.seeds.map { "\($0.host):\($0.port)" }.joined(separator: ",") + "/?cluster=true"
        let client = try RedisClusterClient(url: try RedisClusterURL(text), reconnect: RedisReconnectPolicy(attempts: 1))
        defer { Task { await client.close() } }
        let key = uniquePrefix("rcd")
        #expect(try await client.pipeline([["SET", key, "1", "EX", "60"], ["GET", key]]) == [.status("OK"), .string(Array("1".utf8))])
        #expect(try await client.topology().uncoveredSlots == 0)
    }

    /// Nodes are asked for the map at once: a seed that accepts connections but never answers
    /// (the command timeout is 60 s here) does not hold up the first call.
    @Test func aSilentSeedDoesNotHoldUpTheMap() async throws {
        let silent = try SilentServer()
        let live = try clusterURL()
        let text = "redis://127.0.0.1:\(silent.port)," + live.seeds.map { "\($0.host):\($0.port)" }.joined(separator: ",") + "/?cluster=true"
        var options = RedisConnectionOptions()
        options.commandTimeout = 60
        let client = try RedisClusterClient(url: try RedisClusterURL(text), options: options)
        defer { Task { await client.close() } }
        let key = uniquePrefix("rcq")
        let (replies, seconds) = try await elapsed { try await client.pipeline([["SET", key, "1", "EX", "60"]]) }
        #expect(replies == [.status("OK")])
        // Waiting for the silent seed would take its 60 s command timeout; 30 s leaves room for a
        // busy machine.
        #expect(seconds < 30, "the first call waited for the silent seed: \(seconds) s")
        withExtendedLifetime(silent) {}
    }

    /// A server without cluster mode (the stack's plain Redis) fails with the server's reason.
    @Test func plainRedisIsNotACluster() async throws {
        let plain = try stackURL()
        let client = try RedisClusterClient(url: try RedisClusterURL("redis://\(plain.host):\(plain.port)/?cluster=true"))
        defer { Task { await client.close() } }
        let error = await redisError { () async throws(RedisError) in try await client.command(["PING"]) }
        #expect(error?.message.contains("cluster support disabled") == true, "\(String(describing: error))")
    }

    /// Code written against ``RedisCommandRunner`` runs unchanged on a single Redis and on the cluster.
    @Test func oneProtocolForBothClients() async throws {
        let script = RedisScript(name: "test-incr", source: "return redis.call('INCRBY', KEYS[1], ARGV[1])")
        func exercise(_ redis: any RedisCommandRunner, _ prefix: String) async throws -> [RedisReply] {
            let keys = (0..<20).map { "\(prefix):\($0)" }
            _ = try await redis.pipeline(keys.map { ["SET", $0, "10", "EX", "60"] })
            let replies = try await redis.evaluate(keys.map { script.call(keys: [$0], arguments: ["5"]) }, inline: true)
            _ = try await redis.command(["DEL", keys[0]])
            return replies + [try await redis.command(["EXISTS", keys[0]])]
        }
        let single = try RedisCommandRunners.make(url: try StackEnvironment.require("REDIS_URL"))
        let cluster = try RedisCommandRunners.make(url: try clusterURLText())
        #expect(single is RedisClient && cluster is RedisClusterClient)
        let expected = Array(repeating: RedisReply.integer(15), count: 20) + [.integer(0)]
        #expect(try await exercise(single, uniquePrefix("rcp")) == expected)
        #expect(try await exercise(cluster, uniquePrefix("rcp")) == expected)
        await single.close()
        await cluster.close()
        let closed = await redisError { () async throws(RedisError) in try await cluster.command(["PING"]) }
        #expect(closed?.code == .closed)
    }
}
