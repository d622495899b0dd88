import ArgumentParser
import CacheContract
import CacheReads
import CacheWarmer
import Foundation
import Logging
import PGOutput
import PostgresNIO
import RedisCache

/// The read path: a cache hit through `CacheReads` against a raw `HGET` of the same entry, and
/// cached `order(id:)` throughput against the same query sent to the reader directly.
struct ReadsBenchmark: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "reads",
        abstract: "Cache-hit read vs raw HGET (goal: p50 <= 1.5x); cached reads vs the reader, throughput ratio."
    )

    @Option(help: "Sequential reads for the latency part.")
    var reads = 20_000

    @Option(help: "Concurrent tasks for the throughput part.")
    var concurrency = 16

    @Option(help: "Seconds per throughput run.")
    var seconds = 5.0

    @Option(help: "Microseconds a cache read may wait for Redis on the calling thread (default: the library's).")
    var redisInlineWait: Int?

    @Option(help: "Configuration file (YAML).")
    var config = "deploy/cache-warmer.yaml"

    @Option(help: "Where to write the JSON result.")
    var output = "bench-results/reads.json"

    func run() async throws {
        var worker = try WorkerConfiguration.load(path: config)
        worker.namespace = "bench-reads"
        var configuration = CacheReadsConfiguration(worker: worker)
        configuration.hotSampleRate = 0
        if let redisInlineWait { configuration.redisInlineWait = .microseconds(redisInlineWait) }
        var logger = Logger(label: "bench")
        logger.logLevel = .error
        let cache = try CacheReads(configuration: configuration, logger: logger)
        let service = Task { try await cache.run() }
        defer { service.cancel() }
        try await Task.sleep(for: .milliseconds(300))
        await cache.probeReaders()

        let redisURL = try RedisURL(worker.redisURL ?? "")
        let redis = try RedisConnection(url: redisURL)
        let commands = CacheCommands(keys: CacheKeys(namespace: try CacheNamespace(worker.namespace)))
        if try CacheEpoch.parse(try redis.command(commands.getEpoch)) == nil {
            _ = try redis.evaluate(commands.beginEpoch(proposed: 1, floor: .zero))
        }
        let quiet = logger
        let written = try await cache.write { connection in
            let rows = try await connection.query(#"INSERT INTO "Order" ("userId", "totalCents", note) VALUES (7, 4200, 'benchmark') RETURNING id"#, logger: quiet)
            for try await id in rows.decode(Int.self) { return id }
            return 0
        }
        let id = written.value
        var warmed = try await cache.row(entity: "order", key: KeyPart(id), consistency: .readYourWrites(written.token))
        for _ in 0..<50 where warmed.source != .cache {
            warmed = try await cache.row(entity: "order", key: KeyPart(id))
        }
        guard warmed.source == .cache else { throw BenchmarkError("the order never reached the cache: \(warmed)") }
        let key = commands.keys.row(try EntityName("order"), KeyPart(id))

        // Alternating blocks, so each kind is timed in its own steady state (how recently the
        // CPUs ran decides how fast a sleeping thread wakes on a VM) and both see the same machine.
        var library: [Double] = []
        var raw: [Double] = []
        let block = 500
        for _ in 0..<max(1, reads / block) {
            for _ in 0..<block {
                let start = ContinuousClock.now
                let result = try await cache.row(entity: "order", key: KeyPart(id))
                library.append((ContinuousClock.now - start).seconds)
                guard result.source == .cache else { throw BenchmarkError("a read missed the cache: \(result.source)") }
            }
            for _ in 0..<block {
                let start = ContinuousClock.now
                _ = try redis.command(["HGET", key, "row"])
                raw.append((ContinuousClock.now - start).seconds)
            }
        }
        library.sort()
        raw.sort()
        let libraryP50 = library[library.count / 2] * 1e6
        let rawP50 = raw[raw.count / 2] * 1e6

        let cachedRate = try await throughput { _ = try await cache.row(entity: "order", key: KeyPart(id)) }
        let readerRate = try await throughput {
            let rows = try await cache.reads.query(#"SELECT to_jsonb(t)::text FROM "Order" t WHERE id = \#(id)"#)
            guard rows.count == 1 else { throw BenchmarkError("the reader did not find the order") }
        }
        try RedisNamespace.remove(worker.namespace, url: redisURL)
        try BenchmarkResult(
            name: "reads",
            parameters: [
                "reads": "\(reads)", "concurrency": "\(concurrency)", "seconds": "\(seconds)",
                "redis inline wait": "\(configuration.redisInlineWait)",
            ],
            rows: [
                .init(label: "cache hit through CacheReads, p50", value: libraryP50, unit: "µs"),
                .init(label: "raw HGET (hiredis, no pipelining), p50", value: rawP50, unit: "µs"),
                .init(label: "p50 ratio (goal <= 1.5)", value: libraryP50 / rawP50, unit: "ratio"),
                .init(label: "cached order reads, \(concurrency) tasks", value: cachedRate, unit: "reads/s"),
                .init(label: "same query on the reader, \(concurrency) tasks", value: readerRate, unit: "reads/s"),
                .init(label: "cached / reader", value: cachedRate / readerRate, unit: "ratio"),
            ]
        ).report(to: output)
    }

    /// Operations per second with `concurrency` tasks for `seconds`.
    private func throughput(_ operation: @escaping @Sendable () async throws -> Void) async throws -> Double {
        let deadline = ContinuousClock.now + .milliseconds(Int(seconds * 1000))
        let start = ContinuousClock.now
        let total = try await withThrowingTaskGroup(of: Int.self) { group in
            for _ in 0..<concurrency {
                group.addTask {
                    var count = 0
                    while ContinuousClock.now < deadline {
                        try await operation()
                        count += 1
                    }
                    return count
                }
            }
            return try await group.reduce(0, +)
        }
        return Double(total) / (ContinuousClock.now - start).seconds
    }
}
