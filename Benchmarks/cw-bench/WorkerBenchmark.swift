import ArgumentParser
import CacheWarmer
import Foundation
import Logging
import PGOutput
import PostgresReplication
import RedisCache

/// The worker end to end on the two realistic workloads (small transactions over three tables;
/// one transaction updating many orders): `pg_recvlogical` and the worker in write-through and
/// invalidate mode on copies of one template slot, in the same run; the worker's CPU and Redis'
/// script time per row write; commit-to-Redis latency at a steady rate; peak memory during one
/// very large transaction and with very large rows.
struct WorkerBenchmark: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "worker",
        abstract: "Worker replay vs pg_recvlogical on realistic WAL (write-through >= 0.9x small transactions, >= 0.8x one big one; invalidate >= 1.0x / 0.9x), worker CPU per change (<= 3 µs), Redis time per row write (<= 2.5 µs), commit-to-Redis p99 at 1k tx/s (<= 5 ms), RSS in a 1M-row transaction (<= 64 MB) and with 50 MB rows (<= 512 MB)."
    )

    @Option(help: "Writer URL (default: DB_WRITER_URL).")
    var writerURL = ProcessInfo.processInfo.environment["DB_WRITER_URL"] ?? ""

    @Option(help: "Redis URL (default: REDIS_URL).")
    var redisURL = ProcessInfo.processInfo.environment["REDIS_URL"] ?? ""

    @Option(help: "Small transactions (4 changes each) of the first workload.")
    var transactions = 50_000

    @Option(help: "Orders the one big transaction of the second workload updates (0 skips it).")
    var bigTransactionRows = 200_000

    @Option(help: "Rounds of pg_recvlogical, write-through and invalidate per workload (medians are reported).")
    var runs = 3

    @Option(help: "Transactions per second for the latency part.")
    var rate = 1000

    @Option(help: "Seconds of steady writes for the latency part (0 skips it).")
    var seconds = 10

    @Option(help: "Rows in the single large transaction of the memory part (0 skips it).")
    var largeTransactionRows = 1_000_000

    @Option(help: "Size in MB of each jsonb row of the large-row memory part (0 skips it).")
    var largeRowMegabytes = 50

    @Option(help: "Rows of that size in the one transaction of the large-row memory part.")
    var largeRowsInTransaction = 22

    @Option(help: "Extra top-level YAML for every worker of the run, e.g. \"memory: { max_queue_bytes: 8MB }\" (default: the worker's defaults).")
    var workerSettings = ""

    @Flag(help: "A short run: 10k small transactions, a 50k-row big one, one round, 3 s of latency, a 200k-row memory transaction, no large rows.")
    var quick = false

    @Option(help: "The cache-warmer executable, for the memory parts.")
    var binary = ".build-release/release/cache-warmer"

    @Option(help: "Where to write the JSON result.")
    var output = "bench-results/worker.json"

    mutating func run() async throws {
        guard !writerURL.isEmpty, !redisURL.isEmpty else { throw ValidationError("set DB_WRITER_URL and REDIS_URL (eval \"$(deploy/local/stack.sh env)\")") }
        if quick {
            (transactions, bigTransactionRows, runs, seconds, largeTransactionRows, largeRowMegabytes) = (10_000, 50_000, 1, 3, 200_000, 0)
        }
        let writer = ConnectionString(writerURL)
        var rows: [BenchmarkResult.Row] = []

        let workload = try RealisticWorkload.create(writer: writer)
        defer { try? workload.cleanUp() }
        print("writing the workloads (\(workload.prefix)_*): \(transactions) transactions of 4 changes, then one updating \(max(bigTransactionRows, transactions)) orders ...")
        if bigTransactionRows > 0 { try workload.prefill(orders: max(0, bigTransactionRows - transactions)) }
        var ranges = [try workload.writeSmallTransactions(transactions)]
        if bigTransactionRows > 0 { ranges.append(try workload.writeBigTransaction(orders: max(bigTransactionRows, transactions))) }
        for range in ranges {
            rows += try await compare(range, workload: workload)
        }

        if seconds > 0 {
            print("latency: \(rate) transactions/s for \(seconds) s ...")
            rows += try await latency(workload: workload)
        }
        if largeTransactionRows > 0 {
            print("memory: one transaction of \(largeTransactionRows) rows ...")
            rows.append(try await memory(workload: workload))
        }
        if largeRowMegabytes > 0 {
            print("memory: one \(largeRowMegabytes) MB row, then \(largeRowsInTransaction) of them in one transaction ...")
            rows.append(try await largeRowMemory(writer: writer))
        }
        try BenchmarkResult(
            name: "worker",
            parameters: [
                "transactions": "\(transactions)", "big_transaction_rows": "\(bigTransactionRows)", "runs": "\(runs)", "rate": "\(rate)",
                "seconds": "\(seconds)", "large_transaction_rows": "\(largeTransactionRows)", "worker_settings": workerSettings.isEmpty ? "defaults" : workerSettings,
            ],
            rows: rows
        ).report(to: output)
    }

    /// One consumer's figures on one range.
    struct Replay {
        var rate: Double
        var cpuPerChange: Double
        var redisPerRowWrite: Double
        var redisCPUPerChange: Double
    }

    /// pg_recvlogical, write-through and invalidate on `range`, `runs` rounds interleaved (so
    /// the ratios share the machine's state); medians.
    private func compare(_ range: RealisticWorkload.Range, workload: RealisticWorkload) async throws -> [BenchmarkResult.Row] {
        print("\(range.name): \(range.changes) row changes, \(runs) round(s) ...")
        let (throughGoal, invalidateGoal) = range.name == "small-tx" ? (0.9, 1.0) : (0.8, 0.9)
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("\(workload.prefix)-recvlogical.out").path
        defer { try? FileManager.default.removeItem(atPath: file) }
        var raw: [Double] = []
        var through: [Replay] = []
        var invalidate: [Replay] = []
        for _ in 0..<runs {
            let slot = workload.prefix + "_raw"
            try workload.copySlot(range, to: slot)
            raw.append(try PgRecvlogical(file: file).rate(writer: workload.writer, slot: slot, end: range.end, publication: workload.publication, changes: range.changes))
            through.append(try await replay(range, workload: workload, mode: "write-through"))
            invalidate.append(try await replay(range, workload: workload, mode: "invalidate"))
        }
        let rawRate = Self.median(raw)
        let name = range.name
        func figures(_ label: String, _ replays: [Replay], goal: Double) -> [BenchmarkResult.Row] {
            let rate = Self.median(replays.map(\.rate))
            return [
                .init(label: "\(name): worker replay, \(label)", value: rate, unit: "changes/s"),
                .init(label: "\(name): \(label) ratio (goal >= \(goal))", value: rate / rawRate, unit: "ratio"),
                .init(label: "\(name): \(label) worker CPU per change (goal <= 3)", value: Self.median(replays.map(\.cpuPerChange)), unit: "µs"),
                .init(label: "\(name): \(label) Redis script time per row write (goal <= 2.5)", value: Self.median(replays.map(\.redisPerRowWrite)), unit: "µs"),
                .init(label: "\(name): \(label) Redis CPU per change", value: Self.median(replays.map(\.redisCPUPerChange)), unit: "µs"),
            ]
        }
        return [.init(label: "\(name): pg_recvlogical --plugin=pgoutput to a file", value: rawRate, unit: "changes/s")]
            + figures("write-through", through, goal: throughGoal) + figures("invalidate", invalidate, goal: invalidateGoal)
    }

    /// The worker (in this process) replaying `range` from a copy of its template slot into a
    /// namespace of its own, removed afterwards.
    private func replay(_ range: RealisticWorkload.Range, workload: RealisticWorkload, mode: String) async throws -> Replay {
        let slot = workload.prefix + (mode == "invalidate" ? "_inv" : "_wt")
        try workload.copySlot(range, to: slot)
        let namespace = slot
        let statistics = try RedisConnection(url: try RedisURL(redisURL))
        defer { try? RedisNamespace.remove(namespace, url: try RedisURL(redisURL)) }
        _ = try statistics.command(["CONFIG", "RESETSTAT"])
        let redisCPUBefore = try Self.redisCPU(statistics)
        let cpuBefore = ProcessCPU.seconds()
        let started = ContinuousClock.now
        let worker = Worker(
            configuration: try configuration(namespace: namespace, slot: slot, publication: workload.publication, entities: workload.entities(mode: mode)),
            logger: quietLogger())
        let summary = try await worker.run(.init(endLSN: range.end))
        let elapsed = (ContinuousClock.now - started).seconds
        let cpu = ProcessCPU.seconds() - cpuBefore
        let redisCPU = try Self.redisCPU(statistics) - redisCPUBefore
        let script = try Self.scriptMicroseconds(statistics)
        _ = try? PostgresConnection(workload.writer).dropSlotIfExists(slot)
        guard summary.changes == range.changes else { throw BenchmarkError("the worker applied \(summary.changes) changes, expected \(range.changes)") }
        let changes = Double(max(1, summary.changes))
        print(
            "  worker \(mode): \(summary.changes) changes in \(String(format: "%.2f", elapsed)) s, \(summary.batches) pipelines, \(summary.rowWrites) row writes, CPU \(String(format: "%.2f", cpu)) s")
        return Replay(
            rate: Double(summary.changes) / elapsed, cpuPerChange: cpu * 1e6 / changes, redisPerRowWrite: script / Double(max(1, summary.rowWrites)),
            redisCPUPerChange: redisCPU * 1e6 / changes)
    }

    private func configuration(namespace: String, slot: String, publication: String, entities: String) throws -> WorkerConfiguration {
        var configuration = try WorkerConfiguration.parse(
            yaml: """
                namespace: \(namespace)
                publication: \(publication)
                metrics_port: 0
                resync: "off"
                \(memorySection)
                entities:
                \(entities)
                """, file: "worker-benchmark", environment: ["DB_WRITER_URL": writerURL, "REDIS_URL": redisURL])
        configuration.slot = slot
        return configuration
    }

    /// The YAML given with `--worker-settings`, or nothing.
    private var memorySection: String { workerSettings }

    static func median(_ values: [Double]) -> Double {
        let sorted = values.sorted()
        guard !sorted.isEmpty else { return 0 }
        return sorted.count % 2 == 1 ? sorted[sorted.count / 2] : (sorted[sorted.count / 2 - 1] + sorted[sorted.count / 2]) / 2
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

    /// Seconds of CPU Redis' process used so far (`INFO cpu`: `used_cpu_user` + `used_cpu_sys`).
    static func redisCPU(_ redis: RedisConnection) throws -> Double {
        let info = try redis.command(["INFO", "cpu"]).text ?? ""
        return info.split(whereSeparator: \.isNewline).reduce(0) { total, line in
            let parts = line.split(separator: ":")
            guard parts.count == 2, parts[0] == "used_cpu_user" || parts[0] == "used_cpu_sys" else { return total }
            return total + (Double(parts[1].trimmingCharacters(in: .whitespaces)) ?? 0)
        }
    }

    private func quietLogger() -> Logger {
        var logger = Logger(label: "bench")
        logger.logLevel = .warning
        return logger
    }

    /// Steady single-row transactions while the worker streams; latency from each commit's
    /// timestamp to Redis confirming the pipeline that holds it.
    private func latency(workload: RealisticWorkload) async throws -> [BenchmarkResult.Row] {
        let slot = workload.prefix + "_latency"
        try workload.createSlot(slot)
        let namespace = slot
        defer { try? RedisNamespace.remove(namespace, url: try RedisURL(redisURL)) }
        let worker = Worker(
            configuration: try configuration(
                namespace: namespace, slot: slot, publication: workload.publication, entities: workload.entities(mode: "write-through")),
            logger: quietLogger())
        let run = Task { try await worker.run() }
        try await Task.sleep(for: .seconds(1))
        let connection = try PostgresConnection(workload.writer)
        let interval = Duration.seconds(1) / rate
        var next = ContinuousClock.now
        var count = 0
        while count < rate * seconds {
            try connection.execute("INSERT INTO \(workload.events) (id, order_id, kind, amount) VALUES ('lat_\(count)', 'ord_1', 'order.viewed', 1.5)")
            count += 1
            if count == rate { worker.metrics.resetLatency() }
            next += interval
            if next > ContinuousClock.now { try await Task.sleep(until: next) }
        }
        try await Task.sleep(for: .seconds(1))
        worker.shutDown()
        _ = try await run.value
        _ = try? PostgresConnection(workload.writer).dropSlotIfExists(slot)
        let p50 = worker.metrics.commitToRedisLatency(quantile: 0.5) * 1000
        let p99 = worker.metrics.commitToRedisLatency(quantile: 0.99) * 1000
        print("  commit-to-Redis p50 \(String(format: "%.2f", p50)) ms, p99 \(String(format: "%.2f", p99)) ms")
        return [
            .init(label: "commit-to-Redis p50 at \(rate) tx/s", value: p50, unit: "ms"),
            .init(label: "commit-to-Redis p99 (goal <= 5)", value: p99, unit: "ms"),
        ]
    }

    /// The worker executable's peak RSS (VmHWM) while it applies one transaction inserting
    /// `largeTransactionRows` orders (write-through).
    private func memory(workload: RealisticWorkload) async throws -> BenchmarkResult.Row {
        let slot = workload.prefix + "_memory"
        try workload.createSlot(slot)
        defer { _ = try? PostgresConnection(workload.writer).dropSlotIfExists(slot) }
        let peakMB = try await peakRSS(
            slot: slot, publication: workload.publication, entities: workload.entities(mode: "write-through"),
            writer: try PostgresConnection(workload.writer),
            statements: [
                """
                INSERT INTO \(workload.orders) (id, customer_id, product_id, status, total)
                  SELECT 'mem_' || lpad(g::text, 8, '0'), 'cus_' || (g % 5000), 'prod_000001', 'pending', (g % 10000) / 100.0 + 5
                  FROM generate_series(1, \(largeTransactionRows)) g
                """
            ])
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
            slot: "cw_bench_doc", publication: "cw_bench_doc_pub", entities: "  doc: { table: public.cw_bench_doc, key: [id] }", writer: admin,
            statements: [
                "INSERT INTO cw_bench_doc VALUES (1, jsonb_build_object('blob', repeat('x', \(size)), 'n', 1))",
                "INSERT INTO cw_bench_doc SELECT 100 + g, jsonb_build_object('blob', repeat(chr(97 + g % 26), \(size)), 'n', g) FROM generate_series(1, \(largeRowsInTransaction)) g",
            ])
        return .init(label: "peak RSS, \(largeRowMegabytes) MB rows, \(largeRowsInTransaction) in one transaction (goal <= 512)", value: peakMB, unit: "MB")
    }

    /// A process' peak RSS so far (VmHWM) in kB.
    static func peakKB(_ pid: Int32) -> Double {
        let status = (try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)) ?? ""
        return status.split(separator: "\n").first { $0.hasPrefix("VmHWM:") }.flatMap { Double($0.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first ?? "") } ?? 0
    }

    /// Runs the worker executable on `slot`, runs `statements` on the writer, waits until the
    /// worker's checkpoint passes them, and returns the process's peak RSS (VmHWM) in MB.
    private func peakRSS(slot: String, publication: String, entities: String, writer: PostgresConnection, statements: [String]) async throws -> Double {
        let config = FileManager.default.temporaryDirectory.appendingPathComponent("cw-bench-\(slot).yaml").path
        try """
            namespace: \(slot)
            slot: \(slot)
            publication: \(publication)
            metrics_port: 0
            resync: "off"
            \(memorySection)
            entities:
            \(entities)
            """.write(toFile: config, atomically: true, encoding: .utf8)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = ["run", "--config", config, "--log-level", "warning"]
        try process.run()
        defer {
            process.terminate()
            process.waitUntilExit()
            try? FileManager.default.removeItem(atPath: config)
            try? RedisNamespace.remove(slot, url: try RedisURL(redisURL))
        }
        try await Task.sleep(for: .seconds(2))
        print("  peak RSS before the writes (started, streaming): \(String(format: "%.0f", Self.peakKB(process.processIdentifier) / 1024)) MB")
        for statement in statements {
            try writer.execute(statement)
        }
        let end = LSN(try writer.execute("SELECT pg_current_wal_lsn()").scalar ?? "") ?? .zero
        let redis = try RedisConnection(url: try RedisURL(redisURL))
        let deadline = ContinuousClock.now + .seconds(900)
        while ContinuousClock.now < deadline, process.isRunning {
            if let checkpoint = try redis.command(["GET", "\(slot):meta:checkpoint"]).text.flatMap({ LSN(parsing: $0) }), checkpoint >= end { break }
            try await Task.sleep(for: .milliseconds(200))
        }
        guard process.isRunning else { throw BenchmarkError("the worker exited with status \(process.terminationStatus)") }
        let peakKB = Self.peakKB(process.processIdentifier)
        print("  peak RSS \(String(format: "%.0f", peakKB / 1024)) MB")
        return peakKB / 1024
    }
}
