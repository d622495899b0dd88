import ArgumentParser
import CacheContract
import CacheReads
import CacheWarmer
import Foundation
import Logging
import RedisCache

/// `cache-warmer resync`: warms the cache from the database while the worker streams.
struct ResyncCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "resync",
        abstract: "Warm the cache from the database (a replica by default), online and resumable.",
        discussion: """
            Entities are read in primary-key order in chunks, each in one READ COMMITTED transaction
            with the reader's replay LSN as version, and written with fill-if-not-stale (never over
            a newer worker write). The position per entity is kept in Redis for the current epoch:
            a killed resync continues; a new epoch starts over. Cached queries are filled for the
            parameter sets of their `warm.sql` and the readers' hot set. Exit 0 when done.
            """
    )

    @OptionGroup var common: CommonOptions

    @Argument(help: "Entities and queries to warm (default: every entity, and the queries with warm settings).")
    var names: [String] = []

    @Option(name: .customLong("where"), help: "SQL condition on the entity's columns (overrides warm.where).")
    var filter: String?

    @Option(help: "At most this many rows per entity (overrides warm.limit; the first by warm.order_by).")
    var limit: Int?

    @Option(help: "reader (the replica, default) or writer (the primary, with the writer versioning procedure).")
    var source: String = "reader"

    @Option(help: "Entities and queries worked on at once (default: resync_parallel, 4).")
    var parallel: Int?

    @Option(help: "Rows per chunk (default: resync_chunk_rows, 2000).")
    var chunkRows: Int?

    @Flag(help: "Print the report as one JSON object.")
    var json = false

    func run() async throws {
        let logger = common.bootstrapLogging()
        guard let source = ResyncSource(rawValue: source) else { throw ValidationError("--source must be reader or writer, not '\(source)'") }
        if let limit, limit < 1 { throw ValidationError("--limit must be at least 1") }
        if let parallel, !(1...64).contains(parallel) { throw ValidationError("--parallel must be from 1 to 64") }
        if let chunkRows, !(1...100_000).contains(chunkRows) { throw ValidationError("--chunk-rows must be from 1 to 100000") }
        if let filter, WorkerConfiguration.sqlFragment(filter) == nil { throw ValidationError("--where must not be empty") }
        let report: ResyncReport
        do {
            let configuration = try common.load()
            var options = ResyncOptions()
            options.names = names
            options.filter = filter.flatMap(WorkerConfiguration.sqlFragment)
            options.limit = limit
            options.source = source
            options.parallel = parallel ?? configuration.resyncParallel
            options.chunkRows = chunkRows ?? configuration.resyncChunkRows
            let settings = options
            let json = json
            report = try await withQueryFill(configuration, logger: logger, needed: Self.needsQueries(configuration, names)) { fill in
                let resync = try Resync(configuration: configuration, options: settings, logger: logger, queryFill: fill)
                let terminal = isatty(STDERR_FILENO) == 1 && !json
                let reporter = Task {
                    await resync.progress.report(terminal: terminal, interval: .seconds(10)) { line in logger.info("resync progress", metadata: ["progress": "\(line)"]) }
                }
                defer { reporter.cancel() }
                return try await resync.run()
            }
        } catch {
            throw ExitCodes.fail(error)
        }
        if json {
            try JSONOutput.print(report)
        } else {
            print("epoch \(report.epoch)")
            for item in report.items {
                print("\(item.name): \(item.rows) read (\(item.resumedRows) done before), \(item.filled) filled, \(item.alreadyNewer) already newer, \(item.skipped) not cached, \(String(format: "%.1f", item.seconds)) s")
            }
        }
    }

    static func needsQueries(_ configuration: WorkerConfiguration, _ names: [String]) -> Bool {
        configuration.queries.contains { query in names.isEmpty ? (query.warmSQL != nil || query.warmHot > 0) : names.contains(query.name) }
    }
}

/// Runs `body` with a ``QueryFill`` backed by a running ``CacheReads`` (the read library's query
/// path fills derived entries exactly as services do), or with nil when no query is warmed.
func withQueryFill<T: Sendable>(
    _ configuration: WorkerConfiguration, logger: Logger, needed: Bool, _ body: @escaping @Sendable (QueryFill?) async throws -> T
) async throws -> T {
    try await withCacheReads(configuration, logger: logger, needed: needed) { reads in try await body(reads.map(queryFill)) }
}

/// Runs `body` with a running ``CacheReads`` for `configuration`, or with nil when not `needed`.
func withCacheReads<T: Sendable>(
    _ configuration: WorkerConfiguration, logger: Logger, needed: Bool, _ body: @escaping @Sendable (CacheReads?) async throws -> T
) async throws -> T {
    guard needed else { return try await body(nil) }
    let reads = try CacheReads(configuration: CacheReadsConfiguration(worker: configuration), logger: logger)
    return try await withThrowingTaskGroup(of: T?.self) { group in
        group.addTask {
            try await reads.run()
            return nil
        }
        defer { group.cancelAll() }
        try await Task.sleep(for: .milliseconds(20))  // let the pools start before the first lease
        await reads.probeReaders()
        return try await body(reads)
    }
}

/// A ``QueryRead`` through `reads`: the result from a reader whose lag is at most a minute, else
/// from the writer (never the cache), with its version.
func queryRead(_ reads: CacheReads) -> QueryRead {
    { query, parameters in
        let result = try await reads.query(query, parameters: parameters, consistency: .boundedStaleness(60))
        return (result.value, result.lsn)
    }
}

/// A ``QueryFill`` through `reads`: an eventual read that fills on a miss.
func queryFill(_ reads: CacheReads) -> QueryFill {
    { query, parameters in
        let result = try await reads.query(query, parameters: parameters, consistency: .eventual)
        switch (result.source, result.fill) {
        case (.cache, _): return .alreadyCached
        case (_, .outcome(.filled)?): return .filled
        case (_, .outcome(.refusedByEntry)?): return .alreadyCached
        default: return .notFilled
        }
    }
}

/// `status` lines for resyncs of the current epoch (`warming: 120000 rows so far`); none when
/// nothing was resynced in this epoch.
func resyncStatusRows(_ statuses: [ResyncStatus]) -> [(String, String)] {
    return statuses.map { status in
        let text: String
        if status.done {
            text = "warm: \(status.rows) rows filled in this epoch"
        } else if let error = status.error {
            text = "failed after \(status.rows) rows: \(error)"
        } else {
            text = "warming: \(status.rows) rows so far"
        }
        return ("resync \(status.entity)", text)
    }
}
