@testable import RedisCache
import Testing

/// Pure logic of the cluster client: key hashing, command keys, URLs, slot maps, redirects.
@Suite struct RedisClusterUnitTests {
    /// The specification's reference vector ("Keys distribution model": CRC16/XMODEM).
    @Test func crc16MatchesTheSpecificationVector() {
        #expect(RedisClusterSlot.crc16(Array("123456789".utf8)) == 0x31C3)
        #expect(RedisClusterSlot.crc16([]) == 0)
    }

    /// Slots as `CLUSTER KEYSLOT` of Redis 7.0 reports them.
    @Test func slotsMatchRedis() {
        #expect(RedisClusterSlot.of("foo") == 12182)
        #expect(RedisClusterSlot.of("bar") == 5061)
        #expect(RedisClusterSlot.of("somekey") == 11058)
        #expect(RedisClusterSlot.of("hello") == 866)
        #expect(RedisClusterSlot.of("") == 0)
        #expect(RedisClusterSlot.of(Array("foo".utf8)) == 12182)
    }

    /// "Hash tags": only the first `{...}` with something inside counts.
    @Test func hashTagRules() {
        #expect(RedisClusterSlot.of("{user1000}.following") == RedisClusterSlot.of("{user1000}.followers"))
        #expect(RedisClusterSlot.of("{user1000}.following") == RedisClusterSlot.of("user1000"))
        #expect(RedisClusterSlot.of("{user1000}.following") == 3443)
        // Empty tag: the whole key.
        #expect(RedisClusterSlot.of("foo{}{bar}") == 8363)
        // The first '}' after the first '{': the tag is "{bar".
        #expect(RedisClusterSlot.of("foo{{bar}}zap") == 4015)
        #expect(RedisClusterSlot.of("foo{{bar}}zap") == RedisClusterSlot.of("{bar"))
        // Only the first tag.
        #expect(RedisClusterSlot.of("foo{bar}{zap}") == RedisClusterSlot.of("bar"))
        // No closing brace: the whole key.
        #expect(RedisClusterSlot.of("foo{bar") != RedisClusterSlot.of("bar"))
        #expect(RedisClusterSlot.of("cw:{ns:17}:order:42") == RedisClusterSlot.of("ns:17"))
    }

    @Test func commandKeysAndCrossSlot() throws {
        #expect(try RedisClusterKeys.slot(["GET", "foo"]) == 12182)
        #expect(try RedisClusterKeys.slot(["PING"]) == nil)
        #expect(try RedisClusterKeys.slot(["INFO", "replication"]) == nil)
        #expect(try RedisClusterKeys.slot(["MGET", "{t}a", "{t}b", "{t}c"]) == RedisClusterSlot.of("t"))
        #expect(try RedisClusterKeys.slot(["MSET", "{t}a", "foo", "{t}b", "bar"]) == RedisClusterSlot.of("t"))
        #expect(try RedisClusterKeys.slot(["EVALSHA", "abc", "2", "{t}a", "{t}b", "foo", "bar"]) == RedisClusterSlot.of("t"))
        #expect(try RedisClusterKeys.slot(["EVALSHA", "abc", "0", "foo"]) == nil)
        #expect(try RedisClusterKeys.slot([Array("HGET".utf8), Array("foo".utf8), [0, 1]]) == 12182)
        let cross = redisError { () throws(RedisError) in try RedisClusterKeys.slot(["MGET", "foo", "bar"]) }
        #expect(cross?.code == .crossSlot)
        #expect(cross?.message.contains("12182") == true && cross?.message.contains("5061") == true)
        let script = redisError { () throws(RedisError) in try RedisClusterKeys.slot(["EVALSHA", "abc", "2", "foo", "bar"]) }
        #expect(script?.code == .crossSlot)
        #expect(redisError { () throws(RedisError) in try RedisClusterKeys.slot(["EVALSHA", "abc", "3", "foo"]) }?.code == .invalidCommand)
        #expect(redisError { () throws(RedisError) in try RedisClusterKeys.slot(["MULTI"]) }?.code == .invalidCommand)
        #expect(redisError { () throws(RedisError) in try RedisClusterKeys.slot([String]()) }?.code == .invalidCommand)
    }

    @Test func clusterURLs() throws {
        let url = try RedisClusterURL("redis://app:secret@127.0.0.1:7000,127.0.0.2:7001/?cluster=true")
        #expect(url.seeds.map { "\($0.host):\($0.port)" } == ["127.0.0.1:7000", "127.0.0.2:7001"])
        #expect(url.seeds.allSatisfy { $0.user == "app" && $0.password == "secret" && !$0.tls })
        #expect(url.description == "redis://app:***@127.0.0.1:7000,127.0.0.2:7001/?cluster=true")
        #expect(!url.description.contains("secret"))
        let two = try RedisClusterURL("redis://h1:7000,h2")
        #expect(two.seeds.map(\.port) == [7000, 6379])
        let tls = try RedisClusterURL("rediss://h1:6380/?cluster=true&ca=/tmp/ca.pem")
        #expect(tls.seeds.count == 1 && tls.seeds[0].tls && tls.seeds[0].caFile == "/tmp/ca.pem")
        #expect(tls.node(host: "10.0.0.9", port: 6390).caFile == "/tmp/ca.pem")
        #expect(RedisClusterURL.isCluster("redis://h1:1,h2:2"))
        #expect(RedisClusterURL.isCluster("redis://h1:1/?cluster=true"))
        #expect(!RedisClusterURL.isCluster("redis://h1:1/0"))
        #expect(redisError { () throws(RedisError) in try RedisClusterURL("redis://h1:1/0") }?.code == .invalidURL)
        #expect(redisError { () throws(RedisError) in try RedisClusterURL("redis://h1:1,h2:2/3") }?.message.contains("only database 0") == true)
        #expect(redisError { () throws(RedisError) in try RedisClusterURL("redis://h1:1,,h2:2") }?.code == .invalidURL)
        #expect(redisError { () throws(RedisError) in try RedisClusterURL("redis://h1:1/?cluster=maybe") }?.code == .invalidURL)
        #expect(redisError { () throws(RedisError) in try RedisClusterURL("redis://h1:1,h2:2/?insecure=true") }?.code == .invalidURL)
        // The single-node URL points at the cluster types.
        #expect(redisError { () throws(RedisError) in try RedisURL("redis://h1:1/?cluster=true") }?.message.contains("RedisClusterClient") == true)
        #expect(redisError { () throws(RedisError) in try RedisURL("redis://h1:1,h2:2") }?.message.contains("RedisClusterURL") == true)
        let leaked = redisError { () throws(RedisError) in try RedisClusterURL("http://u:hunter2@h1:1,h2:2") }
        #expect(leaked?.code == .invalidURL && leaked?.message.contains("hunter2") == false)
    }

    /// A `CLUSTER SHARDS` reply as Redis 7.0 sends it over RESP2 (captured from the stack's cluster).
    @Test func shardsReply() throws {
        func node(_ id: String, _ port: Int64, _ role: String, _ health: String, endpoint: String = "127.0.0.1") -> RedisReply {
            .array([
                .string(Array("id".utf8)), .string(Array(id.utf8)), .string(Array("port".utf8)), .integer(port),
                .string(Array("ip".utf8)), .string(Array("127.0.0.1".utf8)), .string(Array("endpoint".utf8)), .string(Array(endpoint.utf8)),
                .string(Array("role".utf8)), .string(Array(role.utf8)), .string(Array("replication-offset".utf8)), .integer(0),
                .string(Array("health".utf8)), .string(Array(health.utf8)),
            ])
        }
        func shard(_ slots: [Int64], _ nodes: [RedisReply]) -> RedisReply {
            .array([.string(Array("slots".utf8)), .array(slots.map { .integer($0) }), .string(Array("nodes".utf8)), .array(nodes)])
        }
        let reply = RedisReply.array([
            shard([10923, 16383], [node("c", 27003, "master", "online"), node("f", 27006, "replica", "loading")]),
            shard([0, 5460], [node("a", 27001, "master", "online"), node("d", 27004, "replica", "online")]),
            shard([5461, 10922], [node("b", 27002, "master", "online", endpoint: ""), node("e", 27005, "replica", "online", endpoint: "?")]),
            shard([], [node("g", 27007, "master", "online")]),
        ])
        let asked = RedisClusterTopology.Address(host: "localhost", port: 27001)
        let topology = try RedisClusterTopology.fromShards(reply, asked: asked, tls: false)
        #expect(topology.uncoveredSlots == 0)
        #expect(topology.master(forSlot: 0)?.description == "127.0.0.1:27001")
        #expect(topology.master(forSlot: 5460)?.description == "127.0.0.1:27001")
        #expect(topology.master(forSlot: 5461)?.description == "localhost:27002")
        #expect(topology.master(forSlot: 16383)?.description == "127.0.0.1:27003")
        #expect(topology.masters.count == 3)
        #expect(topology.shards[0].replicas.map(\.port) == [27006])
        // The replica with an unknown endpoint ('?') is left out.
        #expect(topology.shards[2].replicas.isEmpty)
        #expect(throws: RedisError.self) { try RedisClusterTopology.fromShards(.array([.integer(1)]), asked: asked, tls: false) }
    }

    @Test func slotsReplyAndGaps() throws {
        func endpoint(_ port: Int64) -> RedisReply { .array([.string(Array("127.0.0.1".utf8)), .integer(port), .string(Array("id".utf8))]) }
        let reply = RedisReply.array([
            .array([.integer(0), .integer(100), endpoint(1), endpoint(4)]),
            .array([.integer(200), .integer(16383), endpoint(2)]),
            .array([.integer(101), .integer(150), endpoint(1)]),
        ])
        let topology = try RedisClusterTopology.fromSlots(reply, asked: .init(host: "x", port: 1))
        #expect(topology.shards.count == 2)
        #expect(topology.shards[0].slots == [0...100, 101...150])
        #expect(topology.uncoveredSlots == 49)
        #expect(topology.master(forSlot: 175) == nil)
        #expect(topology.master(forSlot: 150)?.port == 1)
    }

    @Test func redirects() {
        let from = RedisClusterTopology.Address(host: "10.0.0.1", port: 7000)
        #expect(RedisClusterRedirect(.error("MOVED 3999 127.0.0.1:6381"), from: from) == .moved(slot: 3999, to: .init(host: "127.0.0.1", port: 6381)))
        #expect(RedisClusterRedirect(.error("ASK 3999 127.0.0.1:6381"), from: from) == .ask(slot: 3999, to: .init(host: "127.0.0.1", port: 6381)))
        #expect(RedisClusterRedirect(.error("MOVED 1 :6381"), from: from) == .moved(slot: 1, to: .init(host: "10.0.0.1", port: 6381)))
        #expect(RedisClusterRedirect(.error("TRYAGAIN Multiple keys request during rehashing of slot"), from: from) == .busy)
        #expect(RedisClusterRedirect(.error("CLUSTERDOWN The cluster is down"), from: from) == .busy)
        #expect(RedisClusterRedirect(.error("ERR wrong number of arguments"), from: from) == nil)
        #expect(RedisClusterRedirect(.status("OK"), from: from) == nil)
    }

    @Test func busyDelaysGrowToOneSecond() {
        let options = RedisClusterOptions()
        #expect(options.delay(beforeRound: 1) == 0.05)
        #expect(options.delay(beforeRound: 2) == 0.1)
        #expect(options.delay(beforeRound: 10) == 1)
    }
}
