import CacheContract
import CacheWarmer
import Foundation
import Logging
import PGOutput
import PostgresReplication
import RedisCache
import TestSupport

/// A worker with its own slot and key namespace on the local stack, run in-process, plus helpers
/// to write rows and inspect what reached Redis.
final class WorkerHarness: Sendable {
    let slot = StackEnvironment.uniqueName("t_worker")
    let namespace = StackEnvironment.uniqueName("t").replacingOccurrences(of: "_", with: "-")
    let configuration: WorkerConfiguration
    let worker: Worker
    let writer: ConnectionString
    let redisURL: RedisURL

    init(_ configure: (inout WorkerConfiguration) -> Void = { _ in }) throws {
        var configuration = try WorkerConfiguration.parse(
            yaml: """
                entities:
                  order: { table: public."Order", key: [id] }
                  product: { table: public."Product", key: [id] }
                queries:
                  catalog-page:
                    sql: SELECT id FROM "Product" WHERE category = $category LIMIT 20 OFFSET $offset
                    params: [category, offset]
                    depends_on:
                      - { table: public."Product", match: { param: category, column: category } }
                """, file: "harness.yaml", environment: ProcessInfo.processInfo.environment)
        configuration.slot = slot
        configuration.namespace = namespace
        configuration.statusInterval = 0.2
        configuration.metricsPort = 0
        configure(&configuration)
        self.configuration = configuration
        writer = try StackEnvironment.writer()
        redisURL = try RedisURL(try configuration.redisURL ?? StackEnvironment.require("REDIS_URL"))
        var logger = Logger(label: "test.worker")
        logger.logLevel = .notice
        worker = Worker(configuration: configuration, logger: logger)
        try PostgresConnection(writer).createSlotIfMissing(slot)
    }

    /// A configuration file for a `cache-warmer` process on this harness's slot and namespace,
    /// caching "Order" by id, in a directory of the harness's own: (directory, file path).
    func processConfiguration() throws -> (URL, String) {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(slot)
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let path = directory.appendingPathComponent("worker.yaml").path
        try Self.writeOrderConfiguration(namespace: namespace, slot: slot, to: path)
        return (directory, path)
    }

    /// Writes a `cache-warmer` configuration caching "Order" by id on `slot` and `namespace`.
    static func writeOrderConfiguration(namespace: String, slot: String, to path: String) throws {
        try """
            namespace: \(namespace)
            slot: \(slot)
            status_interval_s: 0.2
            metrics_port: 0
            entities:
              order: { table: public."Order", key: [id] }
            """.write(toFile: path, atomically: true, encoding: .utf8)
    }

    func start(_ options: Worker.RunOptions = .init()) -> Task<Worker.Summary, any Error> {
        Task { try await worker.run(options) }
    }

    @discardableResult
    func sql(_ statement: String) throws -> QueryResult {
        try PostgresConnection(writer, settings: ["TimeZone": "UTC"]).execute(statement)
    }

    func currentWAL() throws -> LSN {
        LSN(try sql("SELECT pg_current_wal_lsn()").scalar ?? "") ?? .zero
    }

    func redis() throws -> RedisConnection {
        try RedisConnection(url: redisURL)
    }

    func hash(_ key: String) throws -> [String: String] {
        guard case .array(let items) = try redis().command(["HGETALL", key]) else { return [:] }
        var fields: [String: String] = [:]
        for index in stride(from: 0, to: items.count - 1, by: 2) {
            if let name = items[index].text { fields[name] = items[index + 1].text }
        }
        return fields
    }

    func checkpoint() throws -> LSN? {
        try redis().command(["GET", "\(namespace):meta:checkpoint"]).text.flatMap { LSN(parsing: $0) }
    }

    func epoch() throws -> String? {
        try redis().command(["GET", "\(namespace):meta:epoch"]).text
    }

    /// Waits until the worker's checkpoint reaches `lsn` (everything committed before it applied):
    /// at most `within` seconds, which only bounds a failure (a busy 2-core machine running every
    /// suite at once needs the room).
    func waitApplied(through lsn: LSN, within seconds: Double = 90) async throws -> Bool {
        try await eventually(within: seconds) { (try? self.checkpoint()).flatMap { $0 }.map { $0 >= lsn } == true }
    }

    /// What a reader would see for the row `key` of `entity` (the `read` script with the
    /// entity fence), as the contract decides it.
    func read(_ entity: String, _ key: String) throws -> CacheRead {
        let keys = CacheKeys(namespace: try CacheNamespace(namespace))
        let name = try EntityName(entity)
        let call = CacheCommands(keys: keys).read(keys.row(name, KeyPart(key)), fences: [keys.entityFence(name)])
        return try CacheRead(reply: try redis().evaluate(call))
    }

    func keys(_ pattern: String) throws -> [String] {
        guard case .array(let items) = try redis().command(["KEYS", "\(namespace):\(pattern)"]) else { return [] }
        return items.compactMap(\.text).sorted()
    }

    /// Drops the slot and deletes the namespace's keys.
    func cleanUp() async {
        for _ in 0..<50 {
            if (try? PostgresConnection(writer).slotState(slot)?.activePID) == nil { break }
            try? await Task.sleep(for: .milliseconds(100))
        }
        _ = try? PostgresConnection(writer).dropSlotIfExists(slot)
        if let keys = try? keys("*"), !keys.isEmpty {
            _ = try? redis().command(["DEL"] + keys)
        }
    }
}
