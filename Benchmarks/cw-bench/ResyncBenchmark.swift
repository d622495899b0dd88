import ArgumentParser
import CacheContract
import Foundation
import PGOutput
import PostgresReplication
import RedisCache

/// `resync` and `verify --all` of a large "Order"-like table from the reader, against the read
/// side's limit: `COPY (SELECT to_jsonb(o)::text FROM ... o) TO STDOUT` on the same reader, in
/// the same run. Both commands run as the executable, so their peak RSS is measured too.
struct ResyncBenchmark: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "resync",
        abstract: "resync vs COPY of to_jsonb on the reader (goal >= 0.5x), peak RSS (goal <= 100 MB), verify --all vs the same COPY (goal >= 0.5x)."
    )

    @Option(help: "Writer URL (default: DB_WRITER_URL).")
    var writerURL = ProcessInfo.processInfo.environment["DB_WRITER_URL"] ?? ""

    @Option(help: "Reader URL (default: DB_READER_URL).")
    var readerURL = ProcessInfo.processInfo.environment["DB_READER_URL"] ?? ""

    @Option(help: "Redis URL (default: REDIS_URL).")
    var redisURL = ProcessInfo.processInfo.environment["REDIS_URL"] ?? ""

    @Option(help: "Rows in the table.")
    var rows = 1_000_000

    @Option(help: "Rows per resync chunk.")
    var chunkRows = 2000

    @Option(help: "The cache-warmer executable.")
    var binary = ".build/release/cache-warmer"

    @Option(help: "Where to write the JSON result.")
    var output = "bench-results/resync.json"

    static let table = "cw_bench_resync_orders"
    static let namespace = "bench-resync"

    func run() async throws {
        guard !writerURL.isEmpty, !readerURL.isEmpty, !redisURL.isEmpty else {
            throw ValidationError("set DB_WRITER_URL, DB_READER_URL and REDIS_URL (eval \"$(deploy/local/stack.sh env)\")")
        }
        let writer = try PostgresConnection(ConnectionString(writerURL))
        let existing = Int((try? writer.execute("SELECT count(*) FROM \(Self.table)").scalar) ?? "") ?? -1
        if existing != rows {
            print("preparing \(rows) rows in \(Self.table) ...")
            try writer.execute("""
                DROP TABLE IF EXISTS \(Self.table);
                CREATE TABLE \(Self.table) (id bigint PRIMARY KEY, "userId" int NOT NULL, status text NOT NULL DEFAULT 'pending',
                    "totalCents" int NOT NULL, currency char(3) NOT NULL DEFAULT 'USD', items jsonb NOT NULL DEFAULT '[]',
                    note text, "createdAt" timestamptz(3) NOT NULL DEFAULT now(), "updatedAt" timestamptz(3) NOT NULL DEFAULT now());
                INSERT INTO \(Self.table) (id, "userId", status, "totalCents", items, note)
                  SELECT g, g % 10000, (ARRAY['pending', 'paid', 'shipped'])[1 + g % 3], g % 100000,
                         jsonb_build_array(jsonb_build_object('sku', 'sku-' || (g % 500), 'qty', 1 + g % 4)),
                         CASE WHEN g % 5 = 0 THEN 'gift wrap' END
                  FROM generate_series(1, \(rows)) g;
                ANALYZE \(Self.table);
                """)
        }
        let wal = LSN(try writer.execute("SELECT pg_current_wal_lsn()").scalar ?? "") ?? .zero
        let reader = try PostgresConnection(ConnectionString(readerURL))
        while (LSN(try reader.execute("SELECT pg_last_wal_replay_lsn()").scalar ?? "") ?? .zero) < wal {
            try await Task.sleep(for: .milliseconds(200))
        }
        // A cache epoch of its own (no worker runs: the benchmark measures the bulk path alone).
        let redis = try RedisConnection(url: try RedisURL(redisURL))
        try RedisNamespace.remove(Self.namespace, url: try RedisURL(redisURL))
        let keys = CacheKeys(namespace: try CacheNamespace(Self.namespace))
        _ = try redis.evaluate(CacheCommands(keys: keys).beginEpoch(proposed: 1, floor: wal))
        let config = FileManager.default.temporaryDirectory.appendingPathComponent("cw-bench-resync.yaml").path
        try """
            namespace: \(Self.namespace)
            metrics_port: 0
            resync_chunk_rows: \(chunkRows)
            entities:
              order: { table: public.\(Self.table), key: [id] }
            """.write(toFile: config, atomically: true, encoding: .utf8)

        print("COPY (SELECT to_jsonb(o)::text ...) TO STDOUT on the reader ...")
        let copy = try measure(["/usr/bin/env", "psql", readerURL, "-X", "-q", "-c", "COPY (SELECT to_jsonb(o)::text FROM \(Self.table) o) TO STDOUT"])
        let copyRate = Double(rows) / copy.seconds
        print("resync ...")
        let resync = try measure([binary, "resync", "--config", config, "--log-level", "warning"])
        let filled = try redis.command(["HGET", keys.resyncPosition(try EntityName("order")), "rows"]).text.flatMap { Int($0) } ?? 0
        guard filled == rows else { throw BenchmarkError("resync read \(filled) rows, expected \(rows)") }
        let resyncRate = Double(rows) / resync.seconds
        print("verify --all ...")
        let verify = try measure([binary, "verify", "--all", "--config", config, "--log-level", "warning"])
        guard verify.status == 0 else { throw BenchmarkError("verify exited \(verify.status)") }
        let verifyRate = Double(rows) / verify.seconds
        try RedisNamespace.remove(Self.namespace, url: try RedisURL(redisURL))
        try BenchmarkResult(
            name: "resync",
            parameters: ["rows": "\(rows)", "chunk_rows": "\(chunkRows)", "source": "reader"],
            rows: [
                .init(label: "COPY to_jsonb on the reader", value: copyRate, unit: "rows/s"),
                .init(label: "resync (read, fill-if-not-stale)", value: resyncRate, unit: "rows/s"),
                .init(label: "resync ratio (goal >= 0.5)", value: resyncRate / copyRate, unit: "ratio"),
                .init(label: "resync peak RSS (goal <= 100)", value: resync.peakMB, unit: "MB"),
                .init(label: "resync CPU per row", value: resync.cpuSeconds / Double(rows) * 1e6, unit: "us"),
                .init(label: "verify --all (read, compare)", value: verifyRate, unit: "rows/s"),
                .init(label: "verify ratio (goal >= 0.5)", value: verifyRate / copyRate, unit: "ratio"),
                .init(label: "verify peak RSS", value: verify.peakMB, unit: "MB"),
                .init(label: "verify CPU per row", value: verify.cpuSeconds / Double(rows) * 1e6, unit: "us"),
            ]
        ).report(to: output)
    }

    /// Runs a program to its end; its wall time, exit status, peak RSS (VmHWM, polled) and CPU
    /// time (user + system, from the children's resource usage).
    private func measure(_ arguments: [String]) throws -> (seconds: Double, status: Int32, peakMB: Double, cpuSeconds: Double) {
        let cpuBefore = Self.childrenCPUSeconds()
        let process = Process()
        process.executableURL = URL(fileURLWithPath: arguments[0])
        process.arguments = Array(arguments.dropFirst())
        process.standardOutput = FileHandle(forWritingAtPath: "/dev/null")
        let started = ContinuousClock.now
        try process.run()
        var peakKB = 0.0
        while process.isRunning {
            let status = (try? String(contentsOfFile: "/proc/\(process.processIdentifier)/status", encoding: .utf8)) ?? ""
            if let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }),
                let value = Double(line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first ?? "")
            {
                peakKB = max(peakKB, value)
            }
            usleep(20_000)
        }
        process.waitUntilExit()
        let seconds = (ContinuousClock.now - started).seconds
        let cpu = Self.childrenCPUSeconds() - cpuBefore
        print(String(format: "  %.2f s, CPU %.2f s, peak RSS %.0f MB", seconds, cpu, peakKB / 1024))
        return (seconds, process.terminationStatus, peakKB / 1024, cpu)
    }

    /// User + system CPU seconds of this process' children that have been waited for.
    private static func childrenCPUSeconds() -> Double {
        var usage = rusage()
        getrusage(RUSAGE_CHILDREN.rawValue, &usage)
        return Double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) + Double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6
    }
}
