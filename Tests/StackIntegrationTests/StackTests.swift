import Foundation
import PGOutput
import PostgresReplication
import RedisCache
import TestSupport
import Testing

/// Proves the local stack is real: a logical-WAL primary, a streaming standby that sees the
/// primary's writes, and a Redis server, reached through libpq and hiredis.
@Suite(.serialized) struct StackTests {
    @Test func primaryHasLogicalWAL() throws {
        let writer = try PostgresConnection(ConnectionString(try StackEnvironment.require("DB_WRITER_URL")))
        #expect(try writer.execute("SHOW wal_level").scalar == "logical")
        #expect(try writer.execute("SELECT pg_is_in_recovery()").scalar == "f")
        #expect(writer.serverVersion / 10000 == 15)
    }

    @Test func aReplicationConnectionIdentifiesTheSystem() throws {
        let writer = try StackEnvironment.writer()
        let replication = try PostgresConnection(writer, replication: true)
        let identity = try replication.identifySystem()
        let regular = try PostgresConnection(writer)
        #expect(identity.systemID == (try regular.execute("SELECT system_identifier::text FROM pg_control_system()").scalar))
        #expect(identity.timeline >= 1)
        #expect(identity.database == "cachewarmer")
        let current = try #require(LSN(try regular.execute("SELECT pg_current_wal_lsn()").scalar ?? ""))
        #expect(identity.walPosition <= current)
        #expect(throws: PostgresError.self) { try regular.identifySystem() }
    }

    @Test func replicaSeesARowInsertedOnThePrimary() async throws {
        let writer = try PostgresConnection(ConnectionString(try StackEnvironment.require("DB_WRITER_URL")))
        let reader = try PostgresConnection(ConnectionString(try StackEnvironment.require("DB_READER_URL")))
        #expect(try reader.execute("SELECT pg_is_in_recovery()").scalar == "t")
        let marker = "stack-test-\(UUID().uuidString)"
        try writer.execute("INSERT INTO \"AuditLog\" (message) VALUES ('\(marker)')")
        var seen = false
        let deadline = Date().addingTimeInterval(30)
        while Date() < deadline {
            if try reader.execute("SELECT count(*) FROM \"AuditLog\" WHERE message = '\(marker)'").scalar == "1" {
                seen = true
                break
            }
            try await Task.sleep(for: .milliseconds(50))
        }
        #expect(seen, "the row never reached the replica within 30 s")
        #expect(throws: PostgresError.self) {
            try reader.execute("INSERT INTO \"AuditLog\" (message) VALUES ('must fail')")
        }
    }

    @Test func wrongPasswordIsAClearConnectionError() throws {
        let url = try StackEnvironment.require("DB_WRITER_URL")
        let wrong = url.replacingOccurrences(of: "://cachewarmer:cachewarmer@", with: "://cachewarmer:not-the-password@")
        do {
            _ = try PostgresConnection(ConnectionString(wrong))
            Issue.record("connected with a wrong password")
        } catch {
            #expect(error.code == .connectionFailed)
            #expect(error.description.contains("password authentication failed"))
            #expect(!error.description.contains("not-the-password"))
        }
    }

    @Test func redisSetAndGetThroughHiredis() throws {
        let redis = try RedisConnection(url: try RedisURL(try StackEnvironment.require("REDIS_URL")))
        let key = "stack-test:\(UUID().uuidString)"
        let replies = try redis.pipeline([["SET", key, "hello ✓", "EX", "60"], ["GET", key], ["DEL", key], ["GET", key]])
        #expect(replies == [.status("OK"), .string(Array("hello ✓".utf8)), .integer(1), .null])
    }

    @Test func unreachableRedisIsAClearError() throws {
        do {
            _ = try RedisConnection(url: try RedisURL("redis://:secret@127.0.0.1:1/0"), connectTimeout: 1)
            Issue.record("connected to port 1")
        } catch {
            #expect(error.code == .connectionFailed)
            #expect(error.description.contains("127.0.0.1:1"))
            #expect(!error.description.contains("secret"))
        }
    }
}
