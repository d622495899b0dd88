import CacheContract
import CacheReads
import CacheWarmer
import Foundation
import Logging
import PGOutput
import PostgresNIO
import RedisCache
import TestSupport

/// A `CacheReads` on the local stack with a Redis namespace of its own (an epoch begun, keys
/// removed afterwards), running for the duration of `body`.
struct ReadsHarness {
    let reads: CacheReads
    let redis: RedisConnection
    let commands: CacheCommands
    let epoch: Int64
    let logger = Logger(label: "cache-reads-test")

    /// The demo configuration (deploy/cache-warmer.yaml) with a fresh namespace.
    static func configuration(readers: [String]? = nil) throws -> CacheReadsConfiguration {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        var worker = try WorkerConfiguration.load(path: root.appendingPathComponent("deploy/cache-warmer.yaml").path)
        worker.namespace = "cwreads-" + UUID().uuidString.prefix(12).lowercased()
        var configuration = CacheReadsConfiguration(worker: worker)
        if let readers { configuration.readerURLs = readers }
        configuration.probeInterval = .milliseconds(200)
        configuration.maximumReaderLag = 3600
        return configuration
    }

    static func with<T: Sendable>(
        _ configuration: CacheReadsConfiguration, _ body: @Sendable (ReadsHarness) async throws -> T
    ) async throws -> T {
        var logger = Logger(label: "cache-reads-test")
        logger.logLevel = .error
        let reads = try CacheReads(configuration: configuration, logger: logger)
        let redis = try RedisConnection(url: try RedisURL(try StackEnvironment.require("REDIS_URL")))
        let keys = CacheKeys(namespace: try CacheNamespace(configuration.worker.namespace))
        let commands = CacheCommands(keys: keys)
        guard let epoch = try CacheEpoch.parse(try redis.evaluate(commands.beginEpoch(proposed: 1, floor: .zero))) else {
            throw CacheReadsError(code: .redis, message: "begin-epoch returned no epoch")
        }
        defer { removeKeys(redis, namespace: configuration.worker.namespace) }
        let harness = ReadsHarness(reads: reads, redis: redis, commands: commands, epoch: epoch)
        return try await withThrowingTaskGroup(of: T?.self) { group in
            group.addTask {
                try await reads.run()
                return nil
            }
            defer { group.cancelAll() }
            try await Task.sleep(for: .milliseconds(50))
            await reads.probeReaders()
            return try await body(harness)
        }
    }

    private static func removeKeys(_ redis: RedisConnection, namespace: String) {
        var cursor = "0"
        repeat {
            guard case .array(let parts)? = try? redis.command(["SCAN", cursor, "MATCH", namespace + ":*", "COUNT", "1000"]), parts.count == 2,
                let next = parts[0].text, case .array(let found) = parts[1]
            else { return }
            let keys = found.compactMap(\.text)
            if !keys.isEmpty { _ = try? redis.command(["DEL"] + keys) }
            cursor = next
        } while cursor != "0"
    }

    /// The `read` script's view of an entry.
    func cached(_ entry: String, fences: [FenceKey] = []) throws -> CacheRead {
        try CacheRead(reply: try redis.evaluate(commands.read(entry, fences: fences)))
    }

    /// Inserts an order on the writer; returns its id, its canonical JSON and the token.
    func insertOrder(status: String) async throws -> (id: Int, json: String, token: LSN) {
        try await reads.insertOrder(status: status)
    }

    /// Sets an order's status on the writer; returns its canonical JSON and the token.
    func updateOrder(_ id: Int, status: String) async throws -> (json: String, token: LSN) {
        try await reads.updateOrder(id, status: status)
    }
}

extension CacheReads {
    /// Inserts an order on the writer; returns its id, its canonical JSON and the token.
    func insertOrder(status: String) async throws -> (id: Int, json: String, token: LSN) {
        let result = try await write { connection in
            let rows = try await connection.query(
                #"INSERT INTO "Order" ("userId", status, "totalCents") VALUES (7, \#(status), 100) RETURNING id, to_jsonb("Order")::text"#,
                logger: Logger(label: "test"))
            for try await (id, json) in rows.decode((Int, String).self) { return (id, json) }
            throw CacheReadsError(code: .database, message: "INSERT returned nothing")
        }
        return (result.value.0, result.value.1, result.token)
    }

    /// Sets an order's status on the writer; returns its canonical JSON and the token.
    func updateOrder(_ id: Int, status: String) async throws -> (json: String, token: LSN) {
        let result = try await write { connection in
            let rows = try await connection.query(
                #"UPDATE "Order" SET status = \#(status) WHERE id = \#(id) RETURNING to_jsonb("Order")::text"#, logger: Logger(label: "test"))
            for try await (json) in rows.decode(String.self) { return json }
            throw CacheReadsError(code: .database, message: "UPDATE matched nothing")
        }
        return (result.value, result.token)
    }
}

/// Pauses WAL replay on the stack's replica (as the `postgres` superuser over the unix socket).
enum ReplicaReplay {
    /// Pauses replay on the stack's replica (`second`: on the proxy's second replica).
    static func pause(second: Bool = false) throws { try run("SELECT pg_wal_replay_pause()", second: second) }
    static func resume(second: Bool = false) throws { try run("SELECT pg_wal_replay_resume()", second: second) }

    private static func run(_ sql: String, second: Bool) throws {
        let directory = try StackEnvironment.require(second ? "STACK_REPLICA2_SOCKET_DIR" : "STACK_PG_SOCKET_DIR")
        let port = try StackEnvironment.require("STACK_REPLICA_PORT")
        let user = ProcessInfo.processInfo.environment["STACK_PG_OS_USER"] ?? "postgres"
        let psql = "psql -X -q -h \(directory) -p \(port) -U postgres -d postgres -Atc '\(sql)'"
        let status = getuid() == 0
            ? try StackEnvironment.run(["/usr/bin/su", user, "-c", psql])
            : try StackEnvironment.run(["/bin/sh", "-c", psql])
        guard status == 0 else { throw CacheReadsError(code: .database, context: sql, message: "psql exited with \(status)") }
    }
}
