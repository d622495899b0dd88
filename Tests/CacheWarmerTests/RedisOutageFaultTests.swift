import CacheContract
import CacheWarmer
import Foundation
import PGOutput
import PostgresReplication
import RedisCache
import Synchronization
import TestSupport
import Testing

/// Redis stalls, goes away, and comes back from an older snapshot while the worker runs: the
/// worker waits and retries, keeps its replication connection alive, acknowledges nothing Redis
/// has not confirmed, and never serves what Redis lost. Each test uses a Redis of its own; the
/// suite runs alone (`*FaultTests`) because one test shortens the server's `wal_sender_timeout`.
@Suite(.serialized) struct RedisOutageFaultTests {
    static func harness(_ redis: PrivateRedis, table: String, statusInterval: Double) throws -> WorkerHarness {
        try StackEnvironment.writerConnection().execute(
            "CREATE TABLE \(table) (id bigint PRIMARY KEY, v text NOT NULL); CREATE PUBLICATION \(table)_pub FOR TABLE \(table)")
        return try WorkerHarness { configuration in
            configuration.redisURL = redis.url
            configuration.publication = "\(table)_pub"
            configuration.entities = [EntityConfiguration(name: "evt", table: TableName(schema: "public", name: table))]
            configuration.queries = []
            configuration.statusInterval = statusInterval
        }
    }

    static func drop(_ table: String) {
        _ = try? StackEnvironment.writerConnection().execute("DROP PUBLICATION IF EXISTS \(table)_pub; DROP TABLE IF EXISTS \(table)")
    }

    @Test func aRedisStallLongerThanTheWalSenderTimeoutKeepsTheStreamAlive() async throws {
        let writer = try StackEnvironment.writerConnection()
        // ALTER SYSTEM needs the server's superuser: the stack's OS user over its socket.
        let superuser = try PostgresConnection(ConnectionString(
            "host=\(try StackEnvironment.require("STACK_PG_SOCKET_DIR")) port=\(try StackEnvironment.require("STACK_PG_PORT")) user=\(try StackEnvironment.require("STACK_PG_OS_USER")) dbname=postgres"))
        try superuser.execute("ALTER SYSTEM SET wal_sender_timeout = '3s'")
        try superuser.execute("SELECT pg_reload_conf()")
        defer {
            _ = try? superuser.execute("ALTER SYSTEM RESET wal_sender_timeout")
            _ = try? superuser.execute("SELECT pg_reload_conf()")
        }
        let redis = try PrivateRedis()
        let table = StackEnvironment.uniqueName("t_evt")
        defer { Self.drop(table) }
        // The production status interval (10 s), more than three times the server's timeout.
        let harness = try Self.harness(redis, table: table, statusInterval: 10)
        let run = harness.start()
        try harness.sql("INSERT INTO \(table) VALUES (0, 'first')")
        #expect(try await harness.waitApplied(through: try harness.currentWAL()))
        let walsender = try #require(try writer.slotState(harness.slot)?.activePID)

        _ = try redis.connection().command(["CLIENT", "PAUSE", "8000", "WRITE"])
        try harness.sql("INSERT INTO \(table) SELECT g, repeat('p', 100) FROM generate_series(1, 60000) g")
        #expect(try await harness.waitApplied(through: try harness.currentWAL(), within: 90))
        let stored = try redis.connection().command(["EVAL", "return #redis.call('KEYS', ARGV[1])", "0", "\(harness.namespace):evt:*"]).integer
        #expect(stored == 60_001, "every row is a row or a marker")
        #expect(try writer.slotState(harness.slot)?.activePID == walsender, "the walsender was never ended for a timeout")
        harness.worker.shutDown()
        _ = try await run.value
        await harness.cleanUp()
    }

    @Test func redisDownWhileOnlyUnrelatedWALIsWrittenIsWaitedFor() async throws {
        let redis = try PrivateRedis()
        let table = StackEnvironment.uniqueName("t_idle")
        defer {
            Self.drop(table)
            Self.drop("\(table)_audit")
        }
        let harness = try Self.harness(redis, table: table, statusInterval: 0.5)
        try harness.sql("CREATE TABLE \(table)_audit (id serial PRIMARY KEY, msg text NOT NULL)")
        let finished = Mutex(false)
        let run = Task {
            defer { finished.withLock { $0 = true } }
            return try await harness.worker.run()
        }
        try harness.sql("INSERT INTO \(table) VALUES (1, 'a')")
        #expect(try await harness.waitApplied(through: try harness.currentWAL()))
        let confirmed = try #require(try harness.checkpoint())

        redis.stop()
        try harness.sql("INSERT INTO \(table)_audit (msg) SELECT 'x' FROM generate_series(1, 1000)")
        try await Task.sleep(for: .seconds(3))
        #expect(!finished.withLock { $0 }, "the worker waits for Redis instead of exiting")
        #expect(harness.worker.metrics.notReadyReasons.contains { $0.hasPrefix("redis:") }, "/readyz says what it waits for")
        let slot = try StackEnvironment.writerConnection().slotState(harness.slot)
        #expect(slot?.confirmedFlushLSN.map { $0 <= confirmed } == true, "nothing acknowledged past what Redis confirmed")

        try redis.start()
        try harness.sql("INSERT INTO \(table) VALUES (2, 'b')")
        #expect(try await harness.waitApplied(through: try harness.currentWAL(), within: 60))
        #expect(try harness.read("evt", "2").isValid)
        #expect(harness.worker.metrics.notReadyReasons.isEmpty)
        harness.worker.shutDown()
        _ = try await run.value
        await harness.cleanUp()
    }

    @Test func redisRestoredFromAnOlderSnapshotWhileRunningBeginsANewEpoch() async throws {
        let redis = try PrivateRedis()
        let table = StackEnvironment.uniqueName("t_snap")
        defer { Self.drop(table) }
        let harness = try Self.harness(redis, table: table, statusInterval: 0.2)
        var run = harness.start()
        try harness.sql("INSERT INTO \(table) VALUES (1, 'v1'), (2, 'v1'), (3, 'v1')")
        #expect(try await harness.waitApplied(through: try harness.currentWAL()))
        _ = try redis.connection().command(["SAVE"])
        try harness.sql("UPDATE \(table) SET v = 'v2' WHERE id = 1")
        try harness.sql("DELETE FROM \(table) WHERE id = 2")
        #expect(try await harness.waitApplied(through: try harness.currentWAL()))
        let before = try #require(try harness.epoch())

        // Redis dies and comes back from the snapshot: same epoch, older checkpoint, old rows.
        redis.stop()
        try harness.sql("INSERT INTO \(table) VALUES (4, 'v1')")
        try redis.start()
        #expect(try await harness.waitApplied(through: try harness.currentWAL(), within: 60))
        let after = try #require(try harness.epoch())
        #expect(after != before, "the worker saw its checkpoint go back and began a new epoch")
        func served(_ id: String) throws -> String? {
            let read = try harness.read("evt", id)
            guard read.isValid, case .value(let row) = read.state else { return nil }
            return row
        }
        #expect(try served("1") != #"{"v": "v1", "id": 1}"#, "the old row of the snapshot is not served")
        #expect(try served("2") == nil, "the deleted row of the snapshot is not served")
        #expect(try served("4") == #"{"v": "v1", "id": 4}"#)

        // The same after a restart of the worker.
        harness.worker.shutDown()
        _ = try await run.value
        let restarted = Worker(configuration: harness.configuration, logger: .init(label: "test"))
        run = Task { try await restarted.run() }
        try harness.sql("INSERT INTO \(table) VALUES (5, 'v1')")
        #expect(try await harness.waitApplied(through: try harness.currentWAL(), within: 30))
        #expect(try served("1") != #"{"v": "v1", "id": 1}"#)
        #expect(try served("2") == nil)
        restarted.shutDown()
        _ = try await run.value
        await harness.cleanUp()
    }
}
