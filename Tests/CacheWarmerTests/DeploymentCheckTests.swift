@testable import CacheWarmer
import Foundation
import PostgresReplication
import RedisCache
import TestSupport
import Testing

/// `cache-warmer check`'s rules (pure) and its inspection of the real stack.
@Suite struct DeploymentCheckTests {
    @Test func walLevelAdviceNamesTheRDSParameterOnRDSOnly() {
        #expect(DeploymentRules.walLevel("logical", rdsLogicalReplication: nil).verdict == .ok)
        let plain = DeploymentRules.walLevel("replica", rdsLogicalReplication: nil)
        #expect(plain.verdict == .fail && plain.message.contains("ALTER SYSTEM SET wal_level = logical"))
        let rdsOff = DeploymentRules.walLevel("replica", rdsLogicalReplication: "off")
        #expect(rdsOff.verdict == .fail && rdsOff.message.contains("rds.logical_replication = 1") && rdsOff.message.contains("reboot"))
        let rdsPending = DeploymentRules.walLevel("replica", rdsLogicalReplication: "on")
        #expect(rdsPending.verdict == .fail && rdsPending.message.contains("reboot the DB instance"))
    }

    @Test func unlimitedOrMissingSlotWALLimitFails() {
        #expect(DeploymentRules.slotWALLimit("-1").verdict == .fail)
        #expect(DeploymentRules.slotWALLimit(nil).verdict == .fail)
        #expect(DeploymentRules.slotWALLimit("8GB") == DeploymentFinding(.ok, "writer", "max_slot_wal_keep_size=8GB"))
    }

    @Test func replicationNeedsTheAttributeOrRDSReplicationMembership() {
        #expect(DeploymentRules.replicationPrivilege(role: "w", superuser: false, replication: true, rdsReplicationMember: nil).verdict == .ok)
        #expect(DeploymentRules.replicationPrivilege(role: "w", superuser: false, replication: false, rdsReplicationMember: true).verdict == .ok)
        let rds = DeploymentRules.replicationPrivilege(role: "w", superuser: false, replication: false, rdsReplicationMember: false)
        #expect(rds.verdict == .fail && rds.message.contains("GRANT rds_replication TO w"))
        let plain = DeploymentRules.replicationPrivilege(role: "w", superuser: false, replication: false, rdsReplicationMember: nil)
        #expect(plain.verdict == .fail && plain.message.contains("ALTER ROLE w REPLICATION"))
    }

    @Test func tlsIsRequiredOffLoopbackOnly() {
        for host in ["127.0.0.1", "127.1.2.3", "::1", "[::1]", "localhost", "/var/run/postgresql"] {
            #expect(DeploymentRules.isLoopback(host), "\(host)")
        }
        #expect(DeploymentRules.isLoopback(nil))
        for host in ["10.0.1.5", "db.cluster-abc.eu-west-1.rds.amazonaws.com", "::2"] {
            #expect(!DeploymentRules.isLoopback(host), "\(host)")
        }
        #expect(DeploymentRules.postgresTransport("writer", serverAddress: "10.0.1.5", ssl: false, verified: false).verdict == .fail)
        #expect(DeploymentRules.postgresTransport("writer", serverAddress: "10.0.1.5", ssl: true, verified: false).verdict == .warn)
        #expect(DeploymentRules.postgresTransport("writer", serverAddress: "10.0.1.5", ssl: true, verified: true).verdict == .ok)
        #expect(DeploymentRules.postgresTransport("writer", serverAddress: "127.0.0.1", ssl: false, verified: false).verdict == .ok)
        #expect(DeploymentRules.redisTransport(host: "master.cw.cache.amazonaws.com", tls: false, insecure: false).verdict == .fail)
        #expect(DeploymentRules.redisTransport(host: "master.cw.cache.amazonaws.com", tls: true, insecure: true).verdict == .warn)
        #expect(DeploymentRules.redisTransport(host: "master.cw.cache.amazonaws.com", tls: true, insecure: false).verdict == .ok)
        #expect(DeploymentRules.redisTransport(host: "127.0.0.1", tls: false, insecure: false).verdict == .ok)
    }

    @Test func evictionPoliciesThatCanEvictTheEpochAreRefused() {
        for policy in ["allkeys-lru", "allkeys-lfu", "allkeys-random"] {
            #expect(DeploymentRules.evictionPolicy(policy).verdict == .fail, "\(policy)")
        }
        #expect(DeploymentRules.evictionPolicy("noeviction").verdict == .warn)
        for policy in ["volatile-lru", "volatile-lfu", "volatile-ttl", "volatile-random"] {
            #expect(DeploymentRules.evictionPolicy(policy).verdict == .ok, "\(policy)")
        }
    }

    @Test func clusterModeNeedsAHashTaggedNamespace() {
        #expect(DeploymentRules.clusterMode(enabled: false, namespace: "cw") == nil)
        #expect(DeploymentRules.clusterMode(enabled: true, namespace: "cw")?.verdict == .fail)
        #expect(DeploymentRules.clusterMode(enabled: true, namespace: "{cw}")?.verdict == .warn)
        #expect(DeploymentRules.clusterMode(enabled: true, namespace: "app.{cw}")?.verdict == .warn)
    }

    @Test func findingsPrintAsOneLineWithTheVerdictFirst() {
        #expect("\(DeploymentFinding(.ok, "redis", "PONG"))" == "ok    redis: PONG")
        #expect("\(DeploymentFinding(.fail, "writer", "a\nb"))" == "FAIL  writer: a b")
        #expect(DeploymentCheck.infoField("maxmemory_policy")("# Memory\r\nmaxmemory:0\r\nmaxmemory_policy:volatile-lru\r\n") == "volatile-lru")
        #expect(DeploymentCheck.infoField("maxmemory_policy")("# Memory\r\nmaxmemory:0\r\n") == nil)
    }

    @Test func theStackWriterPassesAndAnUnreadableOrMissingTableFails() throws {
        let writer = try StackEnvironment.require("DB_WRITER_URL")
        let table = StackEnvironment.uniqueName("t_check")
        let connection = try StackEnvironment.writerConnection()
        try connection.execute("CREATE TABLE \(table) (id int PRIMARY KEY)")
        defer { _ = try? connection.execute("DROP TABLE IF EXISTS \(table)") }
        let readable = TableName(schema: "public", name: table)
        let good = DeploymentCheck.writer(writer, tables: [readable])
        #expect(!good.contains { $0.verdict != .ok }, "\(good)")
        #expect(good.contains { $0.message.contains("SELECT on the 1 configured tables") })

        try connection.execute("REVOKE SELECT ON \(table) FROM CURRENT_USER")
        let missing = TableName(schema: "public", name: table + "_missing")
        let bad = DeploymentCheck.writer(writer, tables: [readable, missing]).filter { $0.verdict == .fail }
        #expect(bad.count == 2, "\(bad)")
        #expect(bad.contains { $0.message.contains("do not exist: public.\(table)_missing") })
        #expect(bad.contains { $0.message.contains("lacks SELECT: GRANT SELECT ON \"public\".\"\(table)\" TO") })
    }

    @Test func aSchemaWithoutUsageIsNamedWithItsGrant() throws {
        let writer = try StackEnvironment.require("DB_WRITER_URL")
        let schema = StackEnvironment.uniqueName("t_check_schema")
        let connection = try StackEnvironment.writerConnection()
        try connection.execute("CREATE SCHEMA \(schema); CREATE TABLE \(schema).t (id int PRIMARY KEY)")
        defer { _ = try? connection.execute("DROP SCHEMA IF EXISTS \(schema) CASCADE") }
        let table = TableName(schema: schema, name: "t")
        #expect(!DeploymentCheck.writer(writer, tables: [table]).contains { $0.verdict == .fail })
        try connection.execute("REVOKE USAGE ON SCHEMA \(schema) FROM CURRENT_USER")
        let failed = DeploymentCheck.writer(writer, tables: [table]).filter { $0.verdict == .fail }
        #expect(failed.count == 1, "\(failed)")
        #expect(failed.first?.message.contains("lacks USAGE on schema \"\(schema)\": GRANT USAGE ON SCHEMA \"\(schema)\" TO") == true, "\(failed)")
    }

    /// The command itself: one finding per line, exit 0 on the stack, exit 1 when a requirement fails.
    @Test func theCommandExitsNonZeroWhenARequirementFails() throws {
        let config = ConfigurationTests.repositoryRoot.appendingPathComponent("deploy/cache-warmer.yaml").path
        let log = FileManager.default.temporaryDirectory.appendingPathComponent(StackEnvironment.uniqueName("t_check") + ".log").path
        defer { try? FileManager.default.removeItem(atPath: log) }
        let good = StackEnvironment.waitForExit(try StackEnvironment.spawn([WorkerProcessTests.binary, "check", "--config", config], output: log))
        let goodLines = try String(contentsOfFile: log, encoding: .utf8).split(separator: "\n")
        #expect(good == 0, "\(goodLines)")
        #expect(goodLines.count >= 10 && goodLines.allSatisfy { $0.hasPrefix("ok    ") || $0.hasPrefix("WARN  ") }, "\(goodLines)")
        try FileManager.default.removeItem(atPath: log)
        let bad = StackEnvironment.waitForExit(
            try StackEnvironment.spawn([WorkerProcessTests.binary, "check", "--config", config, "--redis-url", "redis://127.0.0.1:1/0"], output: log))
        let badLines = try String(contentsOfFile: log, encoding: .utf8).split(separator: "\n")
        #expect(bad == 1, "\(badLines)")
        #expect(badLines.filter { $0.hasPrefix("FAIL  ") }.count == 1 && badLines.contains { $0.hasPrefix("FAIL  redis: ") }, "\(badLines)")
    }

    @Test func unreachableServersAreOneFailingLineEach() {
        let writer = DeploymentCheck.writer("postgres://nobody:secret@127.0.0.1:1/none", tables: [])
        #expect(writer.count == 1 && writer[0].verdict == .fail)
        #expect(!writer[0].description.contains("secret"))
        let redis = DeploymentCheck.redis("redis://127.0.0.1:1/0")
        #expect(redis.count == 1 && redis[0].verdict == .fail)
    }

    @Test func theStackReaderAndRedisAreInspected() throws {
        let reader = DeploymentCheck.reader(try StackEnvironment.require("DB_READER_URL"))
        #expect(reader.map(\.verdict) == [.ok, .ok], "\(reader)")
        #expect(reader[0].message.contains("standby"))
        let url = try StackEnvironment.require("REDIS_URL")
        let policy = try RedisConnection(url: try RedisURL(url)).command(["CONFIG", "GET", "maxmemory-policy"])
        guard case .array(let pair) = policy, pair.count == 2, let name = pair[1].text else {
            Issue.record("CONFIG GET maxmemory-policy answered \(policy)")
            return
        }
        let redis = DeploymentCheck.redis(url)
        #expect(redis.count == 3, "\(redis)")
        #expect(redis.contains(DeploymentRules.evictionPolicy(name)))
        #expect(redis.last == DeploymentRules.redisTransport(host: "127.0.0.1", tls: false, insecure: false))
    }
}
