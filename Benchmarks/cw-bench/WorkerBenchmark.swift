import ArgumentParser
import CacheWarmer
import Foundation
import Logging
import PGOutput
import PostgresReplication
import RedisCache

/// The worker end to end: replay throughput against pg_recvlogical, commit-to-Redis latency at a
/// steady rate, and peak memory during one very large transaction.
struct WorkerBenchmark: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "worker",
        abstract: "Worker replay vs pg_recvlogical (goal >= 0.8x), commit-to-Redis p99 at 1k tx/s (goal <= 10 ms), RSS in a 1M-row transaction (goal <= 64 MB) and with 50 MB rows (goal <= 512 MB)."
    )

    @Option(help: "Writer URL (default: DB_WRITER_URL).")
    var writerURL = ProcessInfo.processInfo.environment["DB_WRITER_URL"] ?? ""

    @Option(help: "Redis URL (default: REDIS_URL).")
    var redisURL = ProcessInfo.processInfo.environment["REDIS_URL"] ?? ""

    @Option(help: "Transactions of 4 changes for the replay part.")
    var transactions = 50_000

    @Option(help: "Transactions per second for the latency part.")
    var rate = 1000

    @Option(help: "Seconds of steady writes for the latency part.")
    var seconds = 10

    @Option(help: "Rows in the single large transaction of the memory part (0 skips it).")
    var largeTransactionRows = 1_000_000

    @Option(help: "Size in MB of each jsonb row of the large-row memory part (0 skips it).")
    var largeRowMegabytes = 50

    @Option(help: "Rows of that size in the one transaction of the large-row memory part.")
    var largeRowsInTransaction = 22

    @Option(help: "The cache-warmer executable, for the memory part.")
    var binary = ".build/release/cache-warmer"

    @Option(help: "Where to write the JSON result.")
    var output = "bench-results/worker.json"

    func run() async throws {
        guard !writerURL.isEmpty, !redisURL.isEmpty else { throw ValidationError("set DB_WRITER_URL and REDIS_URL (eval \"$(deploy/local/stack.sh env)\")") }
        let writer = ConnectionString(writerURL)
        var rows: [BenchmarkResult.Row] = []

        print("replay: writing \(transactions * 4) row changes ...")
        let workload = try ReplicationWorkload.prepare(writer: writer, transactions: transactions)
        defer { try? workload.cleanUp() }
        try workload.copySlot("cw_bench_worker")
        let statistics = try RedisConnection(url: try RedisURL(redisURL))
        _ = try statistics.command(["CONFIG", "RESETSTAT"])
        let cpuBefore = ProcessCPU.seconds()
        let started = ContinuousClock.now
        let worker = Worker(configuration: try configuration(slot: "cw_bench_worker"), logger: quietLogger())
        let summary = try await worker.run(.init(endLSN: workload.end))
        let workerRate = Double(summary.changes) / (ContinuousClock.now - started).seconds
        let workerCPU = ProcessCPU.seconds() - cpuBefore
        let scriptMicroseconds = try Self.scriptMicroseconds(statistics)
        guard summary.changes == workload.changes else { throw BenchmarkError("the worker applied \(summary.changes) changes, expected \(workload.changes)") }
        print("  worker replay: \(summary.changes) changes in \(summary.batches) pipelines")
        try workload.copySlot("cw_bench_raw")
        let rawRate = try PgRecvlogical().rate(workload, slot: "cw_bench_raw")
        rows += [
            .init(label: "worker replay (decode, plan, Redis, ack)", value: workerRate, unit: "changes/s"),
            .init(label: "pg_recvlogical --plugin=pgoutput", value: rawRate, unit: "changes/s"),
            .init(label: "replay ratio (goal >= 0.8)", value: workerRate / rawRate, unit: "ratio"),
            .init(label: "worker CPU per change (goal <= 3)", value: workerCPU * 1e6 / Double(max(1, summary.changes)), unit: "µs"),
            .init(label: "Redis script time per change (goal <= 2.5)", value: scriptMicroseconds / Double(max(1, summary.changes)), unit: "µs"),
        ]

        print("latency: \(rate) transactions/s for \(seconds) s ...")
        rows += try await latency(writer: writer, workload: workload)

        if largeTransactionRows > 0 {
            print("memory: one transaction of \(largeTransactionRows) rows ...")
            rows.append(try await memory(writer: writer, workload: workload))
        }
        if largeRowMegabytes > 0 {
            print("memory: one \(largeRowMegabytes) MB row, then \(largeRowsInTransaction) of them in one transaction ...")
            rows.append(try await largeRowMemory(writer: writer))
        }
        try RedisNamespace.remove("bench", url: try RedisURL(redisURL))
        try BenchmarkResult(
            name: "worker",
            parameters: ["transactions": "\(transactions)", "rate": "\(rate)", "seconds": "\(seconds)", "large_transaction_rows": "\(largeTransactionRows)"],
            rows: rows
        ).report(to: output)
    }

    private func configuration(slot: String) throws -> WorkerConfiguration {
        var configuration = try WorkerConfiguration.parse(
            yaml: """
                namespace: bench
                publication: \(ReplicationWorkload.publication)
                metrics_port: 0
                entities:
                  order: { table: public.\(ReplicationWorkload.table), key: [id] }
                """, file: "worker-benchmark", environment: ["DB_WRITER_URL": writerURL, "REDIS_URL": redisURL])
        configuration.slot = slot
        return configuration
    }

    /// Microseconds Redis spent in `EVALSHA` since the last `CONFIG RESETSTAT`
    /// (`INFO commandstats`: `cmdstat_evalsha:calls=...,usec=...`).
    static func scriptMicroseconds(_ redis: RedisConnection) throws -> Double {
        let info = try redis.command(["INFO", "commandstats"]).text ?? ""
        guard let line = info.split(whereSeparator: \.isNewline).first(where: { $0.hasPrefix("cmdstat_evalsha:") }),
            let field = line.split(separator: ",").first(where: { $0.hasPrefix("usec=") })
        else { return 0 }
        return Double(field.dropFirst("usec=".count)) ?? 0
    }

    private func quietLogger() -> Logger {
        var logger = Logger(label: "bench")
        logger.logLevel = .warning
        return logger
    }

    /// Steady single-row transactions while the worker streams; latency from each commit's
    /// timestamp to Redis confirming the pipeline that holds it.
    private func latency(writer: ConnectionString, workload: ReplicationWorkload) async throws -> [BenchmarkResult.Row] {
        try workload.copySlot("cw_bench_latency")
        let admin = try PostgresConnection(writer)
        try admin.execute("SELECT pg_replication_slot_advance('cw_bench_latency', pg_current_wal_lsn())")
        let worker = Worker(configuration: try configuration(slot: "cw_bench_latency"), logger: quietLogger())
        let run = Task { try await worker.run() }
        try await Task.sleep(for: .seconds(1))
        let connection = try PostgresConnection(writer)
        let interval = Duration.seconds(1) / rate
        var next = ContinuousClock.now
        var count = 0
        while count < rate * seconds {
            try connection.execute("INSERT INTO \(ReplicationWorkload.table) (\"userId\", status, \"totalCents\") VALUES (\(count), 'new', 1)")
            count += 1
            if count == rate { worker.metrics.resetLatency() }
            next += interval
            if next > ContinuousClock.now { try await Task.sleep(until: next) }
        }
        try await Task.sleep(for: .seconds(1))
        worker.shutDown()
        _ = try await run.value
        let p50 = worker.metrics.commitToRedisLatency(quantile: 0.5) * 1000
        let p99 = worker.metrics.commitToRedisLatency(quantile: 0.99) * 1000
        print("  commit-to-Redis p50 \(String(format: "%.2f", p50)) ms, p99 \(String(format: "%.2f", p99)) ms")
        return [
            .init(label: "commit-to-Redis p50 at \(rate) tx/s", value: p50, unit: "ms"),
            .init(label: "commit-to-Redis p99 (goal <= 10)", value: p99, unit: "ms"),
        ]
    }

    /// The worker executable's peak RSS (VmHWM) while it applies one transaction of many rows.
    private func memory(writer: ConnectionString, workload: ReplicationWorkload) async throws -> BenchmarkResult.Row {
        try workload.copySlot("cw_bench_memory")
        let admin = try PostgresConnection(writer)
        try admin.execute("SELECT pg_replication_slot_advance('cw_bench_memory', pg_current_wal_lsn())")
        let peakMB = try await peakRSS(
            slot: "cw_bench_memory", publication: ReplicationWorkload.publication, entity: "order: { table: public.\(ReplicationWorkload.table), key: [id] }",
            writer: admin,
            statements: ["INSERT INTO \(ReplicationWorkload.table) (\"userId\", status, \"totalCents\") SELECT g, 'bulk', g FROM generate_series(1, \(largeTransactionRows)) g"])
        return .init(label: "peak RSS, \(largeTransactionRows)-row transaction (goal <= 64)", value: peakMB, unit: "MB")
    }

    /// Peak RSS while the worker applies one row of `largeRowMegabytes` of jsonb, then a
    /// transaction of `largeRowsInTransaction` such rows (more than Redis' default 1 GB query
    /// buffer if it were sent as one command). Goal: within the systemd unit's MemoryMax (512 MB).
    private func largeRowMemory(writer: ConnectionString) async throws -> BenchmarkResult.Row {
        let admin = try PostgresConnection(writer)
        try admin.execute(
            """
            DROP TABLE IF EXISTS cw_bench_doc; CREATE TABLE cw_bench_doc (id int PRIMARY KEY, body jsonb);
            DROP PUBLICATION IF EXISTS cw_bench_doc_pub; CREATE PUBLICATION cw_bench_doc_pub FOR TABLE cw_bench_doc;
            """)
        defer { _ = try? admin.execute("DROP PUBLICATION IF EXISTS cw_bench_doc_pub; DROP TABLE IF EXISTS cw_bench_doc") }
        _ = try admin.dropSlotIfExists("cw_bench_doc")
        try admin.createSlotIfMissing("cw_bench_doc")
        defer { _ = try? admin.dropSlotIfExists("cw_bench_doc") }
        let size = largeRowMegabytes * 1024 * 1024
        let peakMB = try await peakRSS(
            slot: "cw_bench_doc", publication: "cw_bench_doc_pub", entity: "doc: { table: public.cw_bench_doc, key: [id] }", writer: admin,
            statements: [
                "INSERT INTO cw_bench_doc VALUES (1, jsonb_build_object('blob', repeat('x', \(size)), 'n', 1))",
                "INSERT INTO cw_bench_doc SELECT 100 + g, jsonb_build_object('blob', repeat(chr(97 + g % 26), \(size)), 'n', g) FROM generate_series(1, \(largeRowsInTransaction)) g",
            ])
        return .init(label: "peak RSS, \(largeRowMegabytes) MB rows, \(largeRowsInTransaction) in one transaction (goal <= 512)", value: peakMB, unit: "MB")
    }

    /// Runs the worker executable on `slot`, runs `statements` on the writer, waits until the
    /// worker's checkpoint passes them, and returns the process's peak RSS (VmHWM) in MB.
    private func peakRSS(slot: String, publication: String, entity: String, writer: PostgresConnection, statements: [String]) async throws -> Double {
        let config = FileManager.default.temporaryDirectory.appendingPathComponent("cw-bench-\(slot).yaml").path
        try """
            namespace: bench
            slot: \(slot)
            publication: \(publication)
            metrics_port: 0
            entities:
              \(entity)
            """.write(toFile: config, atomically: true, encoding: .utf8)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = ["run", "--config", config, "--log-level", "warning"]
        try process.run()
        defer {
            process.terminate()
            process.waitUntilExit()
        }
        for statement in statements {
            try writer.execute(statement)
        }
        let end = LSN(try writer.execute("SELECT pg_current_wal_lsn()").scalar ?? "") ?? .zero
        let redis = try RedisConnection(url: try RedisURL(redisURL))
        let deadline = ContinuousClock.now + .seconds(900)
        while ContinuousClock.now < deadline, process.isRunning {
            if let checkpoint = try redis.command(["GET", "bench:meta:checkpoint"]).text.flatMap({ LSN(parsing: $0) }), checkpoint >= end { break }
            try await Task.sleep(for: .milliseconds(200))
        }
        guard process.isRunning else { throw BenchmarkError("the worker exited with status \(process.terminationStatus)") }
        let status = (try? String(contentsOfFile: "/proc/\(process.processIdentifier)/status", encoding: .utf8)) ?? ""
        let peakKB = status.split(separator: "\n").first { $0.hasPrefix("VmHWM:") }.flatMap { Double($0.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first ?? "") } ?? 0
        print("  peak RSS \(String(format: "%.0f", peakKB / 1024)) MB")
        return peakKB / 1024
    }
}
