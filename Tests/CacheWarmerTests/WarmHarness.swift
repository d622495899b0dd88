import CacheContract
import CacheWarmer
import Foundation
import Logging
import PGOutput
import PostgresReplication
import RedisCache
import Synchronization
import TestSupport

/// A table of its own with `rows` generated rows (created before the worker's slot, so the
/// cache starts empty), its publication, a running in-process worker, and a YAML file for the
/// `cache-warmer` executable: what the resync, verify and inspect tests share.
final class WarmHarness: Sendable {
    let table = StackEnvironment.uniqueName("t_warm")
    let worker: WorkerHarness
    let config: String
    let directory: String
    let rows: Int
    let run: Task<Worker.Summary, any Error>?

    var publication: String { "\(table)_pub" }
    var namespace: String { worker.namespace }

    /// - Parameter inProcessWorker: start the worker in this process (false: the test runs the
    ///   executable's `run` itself).
    /// - Parameter extraYAML: appended to the executable's configuration file (e.g. `queries:`).
    /// - Parameter itemWarm: the entity's `warm:` mapping in the executable's configuration.
    init(rows: Int, inProcessWorker: Bool = true, itemWarm: String? = nil, extraYAML: (String) -> String = { _ in "" }) async throws {
        self.rows = rows
        let setup = try StackEnvironment.writerConnection()
        try setup.execute("""
            CREATE TABLE \(table) (id bigint PRIMARY KEY, label text NOT NULL, amount numeric(12,2), at timestamptz NOT NULL DEFAULT now());
            INSERT INTO \(table) SELECT g, md5(g::text), g / 100.0, timestamptz '2024-01-01 00:00:00+00' + g * interval '1 second' FROM generate_series(1, \(rows)) g;
            CREATE PUBLICATION \(table)_pub FOR TABLE \(table)
            """)
        let table = table
        worker = try WorkerHarness { configuration in
            configuration.publication = "\(table)_pub"
            configuration.entities = [EntityConfiguration(name: "item", table: TableName(schema: "public", name: table))]
            configuration.queries = []
        }
        directory = FileManager.default.temporaryDirectory.appendingPathComponent(table).path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        config = directory + "/cache-warmer.yaml"
        try """
            namespace: \(worker.namespace)
            slot: \(worker.slot)
            publication: \(table)_pub
            status_interval_s: 0.2
            metrics_port: 0
            resync_chunk_rows: 1000
            entities:
              item: { table: public.\(table), key: [id]\(itemWarm.map { ", warm: \($0)" } ?? "") }
            """.appending(extraYAML(table)).write(toFile: config, atomically: true, encoding: .utf8)
        guard inProcessWorker else {
            run = nil
            return
        }
        run = worker.start()
        let started = try await eventually(within: 90) { (try? self.worker.checkpoint()) != nil }
        guard started else { throw HarnessError(message: "the worker did not write a checkpoint") }
        try await waitForReplica(try worker.currentWAL())
    }

    /// The configuration the worker runs with (reader URL from the environment).
    var configuration: WorkerConfiguration { worker.configuration }

    /// Waits until the replica has replayed `lsn`.
    func waitForReplica(_ lsn: LSN, within seconds: Double = 60) async throws {
        let reader = try PostgresConnection(try StackEnvironment.reader())
        let caught = try await eventually(within: seconds) {
            (try reader.execute("SELECT pg_last_wal_replay_lsn()::text").scalar).flatMap { LSN($0) }.map { $0 >= lsn } == true
        }
        guard caught else { throw HarnessError(message: "the replica did not replay \(lsn) within \(seconds) s") }
    }

    /// Waits until the worker applied and the replica replayed everything committed so far.
    func settle() async throws {
        let now = try worker.currentWAL()
        guard try await worker.waitApplied(through: now, within: 60) else { throw HarnessError(message: "the worker did not apply \(now)") }
        try await waitForReplica(now)
    }

    func resync(_ configure: (inout ResyncOptions) -> Void = { _ in }) async throws -> ResyncReport {
        var options = ResyncOptions()
        configure(&options)
        return try await Resync(configuration: configuration, options: options, logger: Self.logger).run()
    }

    func verify(_ configure: (inout VerifyOptions) -> Void = { _ in }) async throws -> VerifyCounts {
        var options = VerifyOptions()
        configure(&options)
        let report = try await Verify(configuration: configuration, options: options, logger: Self.logger).run()
        guard let counts = report.entities.first else { throw HarnessError(message: "verify reported no entity") }
        return counts
    }

    /// Runs the executable with `arguments` and this harness's configuration; returns its exit
    /// status and everything it printed.
    func cli(_ arguments: [String], within seconds: Double = 120) async throws -> (status: Int32?, output: String) {
        let log = directory + "/\(UUID().uuidString).log"
        let pid = try StackEnvironment.spawn([WorkerProcessTests.binary] + arguments + ["--config", config], output: log)
        let status = try await onOwnThread { StackEnvironment.waitForExit(pid, within: seconds) }
        return (status, (try? String(contentsOfFile: log, encoding: .utf8)) ?? "")
    }

    func sql(_ statement: String) throws -> QueryResult {
        try worker.sql(statement)
    }

    func cleanUp() async {
        worker.worker.shutDown()
        _ = try? await run?.value
        await worker.cleanUp()
        _ = try? StackEnvironment.writerConnection().execute("DROP PUBLICATION IF EXISTS \(publication); DROP TABLE IF EXISTS \(table)")
        try? FileManager.default.removeItem(atPath: directory)
    }

    static let logger: Logger = {
        var logger = Logger(label: "test.resync")
        logger.logLevel = .warning
        return logger
    }()

    struct HarnessError: Error, CustomStringConvertible {
        var message: String
        var description: String { message }
    }
}

/// Random updates, deletes and inserts on a harness table from a thread of its own, until stopped.
final class ChangeLoad: Sendable {
    private final class Flag: Sendable {
        let raised = Atomic<Bool>(false)
    }

    private let stopped = Flag()
    let task: Task<(updates: Int, deletes: Int, inserts: Int), any Error>

    init(table: String, rows: Int, pause: UInt32 = 2_000) {
        let stopped = stopped
        task = Task {
            try await onOwnThread {
                let connection = try StackEnvironment.writerConnection()
                var counts = (updates: 0, deletes: 0, inserts: 0)
                var next = rows + 1
                while !stopped.raised.load(ordering: .relaxed) {
                    let id = Int.random(in: 1...rows)
                    switch Int.random(in: 0..<10) {
                    case 0..<6:
                        try connection.execute("UPDATE \(table) SET label = md5(random()::text), amount = amount + 1 WHERE id = \(id)")
                        counts.updates += 1
                    case 6..<8:
                        try connection.execute("DELETE FROM \(table) WHERE id = \(id)")
                        counts.deletes += 1
                    default:
                        try connection.execute("INSERT INTO \(table) (id, label) VALUES (\(next), 'new')")
                        next += 1
                        counts.inserts += 1
                    }
                    usleep(pause)
                }
                return counts
            }
        }
    }

    func stop() async throws -> (updates: Int, deletes: Int, inserts: Int) {
        stopped.raised.store(true, ordering: .relaxed)
        return try await task.value
    }
}
