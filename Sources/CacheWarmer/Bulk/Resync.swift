import CacheContract
import Foundation
import Logging
import PGOutput
import PostgresReplication
import RedisCache

/// Settings of one resync (`cache-warmer resync`, or the warm-up of a new epoch).
public struct ResyncOptions: Sendable {
    /// Entities and queries to warm (empty: all configured).
    public var names: [String] = []
    /// Overrides every selected entity's `warm.where`.
    public var filter: String?
    /// Overrides every selected entity's `warm.limit`.
    public var limit: Int?
    /// Where rows are read.
    public var source: ResyncSource = .reader
    /// Entities and queries worked on at once.
    public var parallel = 4
    /// Rows per chunk.
    public var chunkRows = 2000
    /// How long a chunk waits for the reader to replay the checkpoint (and the epoch's floor).
    public var replayWait: Duration = .seconds(60)
    /// Leaves out entities this epoch's resync already finished in the same scope (a warm-up
    /// resumed after an interruption); otherwise a finished entity is read again.
    public var skipFinished = false

    /// Default options.
    public init() {}
}

/// The outcome of a resync.
public struct ResyncReport: Sendable, Codable, Hashable {
    /// The epoch it filled.
    public var epoch: Int64
    /// Per entity or query.
    public var items: [ResyncProgress.Item]
}

/// Fills one cached query's entry for one parameter set the way the read library does (its
/// query path: read, on a miss fetch from a reader and `fill-if-not-stale` the derived entry
/// with its fences). The executable passes `CacheReads.query`; this module cannot depend on it.
public typealias QueryFill = @Sendable (_ query: String, _ parameters: [String: JSONValue]) async throws -> QueryFillOutcome

/// What a ``QueryFill`` did.
public enum QueryFillOutcome: Sendable {
    /// The entry was filled now.
    case filled
    /// The cache already held a valid entry.
    case alreadyCached
    /// Not filled (refused, no version, Redis failed).
    case notFilled
}

/// Warms the cache from the database: every selected entity's rows in primary-key order
/// (keyset pagination, chunks read with a version and written with `fill-if-not-stale`, which
/// can never overwrite a newer worker write), then the cached queries' parameter sets. Runs
/// beside the streaming worker; resumable within an epoch (position in
/// ``CacheKeys/resyncPosition(_:)``).
public final class Resync: Sendable {
    let context: BulkContext
    let options: ResyncOptions
    /// Progress for bars, log lines, `/readyz` and metrics.
    public let progress: ResyncProgress
    let queryFill: QueryFill?

    /// Validates the selection; throws ``WorkerError`` for unknown names or missing URLs.
    public init(configuration: WorkerConfiguration, options: ResyncOptions, logger: Logger, progress: ResyncProgress = ResyncProgress(), queryFill: QueryFill? = nil) throws {
        let known = Set(configuration.entities.map(\.name) + configuration.queries.map(\.name))
        for name in options.names where !known.contains(name) {
            throw WorkerError(code: .invalidConfiguration, message: "'\(name)' is no configured entity or query (\(known.sorted().joined(separator: ", ")))")
        }
        context = try BulkContext(configuration: configuration, source: options.source, logger: logger)
        self.options = options
        self.progress = progress
        self.queryFill = queryFill
    }

    /// The entities selected, with the CLI overrides applied to their `warm:` settings.
    var entities: [EntityConfiguration] {
        context.configuration.entities.filter { options.names.isEmpty || options.names.contains($0.name) }.map { entity in
            var entity = entity
            if let filter = options.filter { entity.warm.filter = filter }
            if let limit = options.limit { entity.warm.limit = limit }
            return entity
        }
    }

    var queries: [QueryConfiguration] {
        context.configuration.queries.filter { query in
            options.names.isEmpty ? (query.warmSQL != nil || query.warmHot > 0) : options.names.contains(query.name)
        }
    }

    /// Runs to the end (or until cancelled). A new epoch meanwhile starts the resync over in it
    /// (its positions belong to the old epoch); gives up after three.
    public func run() async throws -> ResyncReport {
        progress.began()
        defer { progress.ended() }
        var attempts = 0
        while true {
            do {
                return try await runOnce()
            } catch let error as WorkerError where error.code == .epochChanged && attempts < 3 {
                attempts += 1
                context.logger.warning("the cache epoch changed during the resync: starting over in the new epoch", metadata: ["error": "\(error.message)"])
            }
        }
    }

    private func runOnce() async throws -> ResyncReport {
        let redis = try context.redis()
        let meta = try await context.meta(redis)
        guard let epoch = meta.epoch else {
            throw WorkerError(code: .notSetUp, message: "Redis has no cache epoch: start the worker (`cache-warmer run`) first; it begins one")
        }
        let types = try await context.types()
        let entities = entities
        let queries = queryFill == nil ? [] : queries
        var work: [(name: String, run: @Sendable () async throws -> Void)] = []
        for entity in entities {
            work.append((entity.name, { [self] in try await resyncEntity(entity, epoch: epoch, types: types) }))
        }
        for query in queries {
            work.append((query.name, { [self] in try await warmQuery(query) }))
        }
        // One item's failure (bad `warm:` SQL, say) does not stop the others; the first failure
        // is thrown once all ended. A new epoch or cancellation stops everything at once.
        let parallel = max(1, options.parallel)
        var failures: [(name: String, error: any Error)] = []
        try await withThrowingTaskGroup(of: (String, (any Error)?).self) { group in
            var next = 0
            func start() {
                let item = work[next]
                next += 1
                group.addTask {
                    do {
                        try await item.run()
                        return (item.name, nil)
                    } catch {
                        return (item.name, error)
                    }
                }
            }
            while next < min(parallel, work.count) { start() }
            while let (name, error) = try await group.next() {
                if let error {
                    if error is CancellationError || (error as? WorkerError)?.code == .epochChanged {
                        group.cancelAll()
                        throw error
                    }
                    context.logger.error("resync failed", metadata: ["name": "\(name)", "error": "\(error)"])
                    failures.append((name, error))
                }
                if next < work.count { start() }
            }
        }
        if let first = failures.first { throw first.error }
        return ResyncReport(epoch: epoch, items: progress.items)
    }

    // MARK: - Entities

    private struct Position {
        var after: [String]?
        var rows: Int
        var done = false
    }

    private func resyncEntity(_ entity: EntityConfiguration, epoch: Int64, types: PostgresTypes) async throws {
        let reader = context.reader()
        let redis = try context.redis()
        // The reads' checkpoint lookups on a connection of their own: behind a chunk's fill
        // pipeline they would wait for it, and the next chunk's read with them.
        let metaRedis = try context.redis()
        defer {
            Task {
                await redis.close()
                await metaRedis.close()
            }
        }
        let scan = try await offPool { try EntityScan.load(entity, warm: entity.warm, types: types, connection: try reader.open()) }
        let estimate = try await offPool { (try? reader.open()).flatMap { scan.estimate($0) } }
        let positionKey = context.keys.resyncPosition(scan.name)
        let scope = scan.source + scan.condition(after: nil)
        let position = try await loadPosition(redis, key: positionKey, epoch: epoch, scope: scope)
        if position.done && options.skipFinished {
            progress.start(entity.name, estimate: estimate, resumedRows: position.rows)
            progress.finish(entity.name)
            context.logger.info("resync of this entity already finished in this epoch", metadata: ["entity": "\(entity.name)", "rows": "\(position.rows)"])
            return
        }
        progress.start(entity.name, estimate: estimate, resumedRows: position.done ? 0 : position.rows)
        if !position.done && position.rows > 0 {
            context.logger.info("resync resumes where it stopped in this epoch", metadata: [
                "entity": "\(entity.name)", "rows_done": "\(position.rows)", "after": "\(position.after ?? [])",
            ])
        }
        let commands = context.commands(for: entity)
        let retryReader = context.reader()
        var after = position.done ? nil : position.after
        var rowsDone = position.done ? 0 : position.rows
        let chunkRows = max(1, options.chunkRows)
        // One chunk is read ahead while ``fillsInFlight`` chunks' fills are in Redis; positions
        // are saved in chunk order, each once its fill is done.
        struct Filling {
            var task: Task<FillCounts, any Error>
            var last: [String]?
            var rows: Int
            var isLast: Bool
        }
        var reading: Task<VersionedRows, any Error>? = readTask(scan, reader: reader, redis: metaRedis, after: after, rows: chunkRows)
        var filling: [Filling] = []
        var saving: Task<Void, any Error>?
        do {
            while reading != nil || !filling.isEmpty {
                if let current = reading {
                    let chunk = try await Self.value(of: current)
                    let last = chunk.lastKey
                    let isLast = chunk.scanned < chunkRows
                    reading = isLast ? nil : readTask(scan, reader: reader, redis: metaRedis, after: last, rows: chunkRows)
                    let task = Task { [self] in try await fill(chunk, scan: scan, commands: commands, redis: redis, epoch: epoch) }
                    after = last ?? after
                    filling.append(Filling(task: task, last: after, rows: chunk.scanned, isLast: isLast))
                }
                guard filling.count >= Self.fillsInFlight || (reading == nil && !filling.isEmpty) else { continue }
                let done = filling.removeFirst()
                var counts = try await Self.value(of: done.task)
                try await retryRefused(&counts, scan: scan, commands: commands, redis: redis, reader: retryReader, epoch: epoch)
                rowsDone += done.rows
                // Saved while the next chunk's fill goes out (same connection, so in this order):
                // Redis is not left idle for the round trip.
                try await saving?.value
                let position = (key: positionKey, scope: scope, after: done.last, rows: rowsDone, done: done.isLast)
                saving = Task { [self] in try await savePosition(redis, position: position, ttl: commands.ttl.entry, epoch: epoch) }
                progress.add(scan.entity.name, rows: done.rows, filled: counts.filled, alreadyNewer: counts.newer, skipped: counts.skipped + counts.refused.count)
            }
            try await saving?.value
        } catch {
            _ = try? await saving?.value
            reading?.cancel()
            _ = try? await reading?.value
            for pending in filling {
                pending.task.cancel()
                _ = try? await pending.task.value
            }
            if !(error is CancellationError) {
                // For `status`: this epoch's resync of the entity stopped, and why.
                _ = try? await redis.pipeline([["HSET", positionKey, "epoch", String(epoch), "scope", scope, "rows", String(rowsDone), "done", "0", "error", String(describing: error)]])
            }
            throw error
        }
        progress.finish(entity.name)
        context.logger.info("resync finished", metadata: ["entity": "\(entity.name)", "rows": "\(rowsDone)", "epoch": "\(epoch)"])
    }

    private func loadPosition(_ redis: RedisClient, key: String, epoch: Int64, scope: String) async throws -> Position {
        let reply = try await redis.command(["HMGET", key, "epoch", "scope", "after", "rows", "done"])
        guard case .array(let fields) = reply, fields.count == 5, fields[0].text == String(epoch), fields[1].text == scope else {
            return Position(after: nil, rows: 0)
        }
        if fields[4].text == "1" {
            // Finished: read again from the start, unless finished entities are left out.
            return Position(after: nil, rows: fields[3].text.flatMap { Int($0) } ?? 0, done: true)
        }
        guard let afterText = fields[2].text, let rows = fields[3].text.flatMap({ Int($0) }),
            case .array(let values)? = try? CanonicalJSON.parse(afterText)
        else { return Position(after: nil, rows: 0) }
        let after = values.compactMap { value -> String? in if case .string(let text) = value { return text } else { return nil } }
        return after.count == values.count && !after.isEmpty ? Position(after: after, rows: rows) : Position(after: nil, rows: 0)
    }

    /// Reads the chunk after `after`. Before it, the worker's checkpoint (and the epoch's floor)
    /// is read; a chunk whose version is below it waits until the reader has replayed that far
    /// and is read again, so a fill never goes below what the worker had applied when it began
    /// (an entry evicted meanwhile cannot come back older).
    private func readTask(_ scan: EntityScan, reader: VersionedReader, redis: RedisClient, after: [String]?, rows: Int) -> Task<VersionedRows, any Error> {
        let context = context
        let wait = options.replayWait
        return Task {
            let meta = try await context.meta(redis)
            let minimum = max(meta.checkpoint ?? .zero, meta.floor ?? .zero)
            var attempt = 0
            while true {
                let chunk: VersionedRows
                do {
                    chunk = try await offPool { try reader.readChunk(scan, after: after, rows: rows) }
                } catch let error as PostgresError where error.code == .connectionLost && attempt < 3 {
                    attempt += 1
                    reader.reset()
                    context.logger.warning("resync: reader connection lost, reconnecting", metadata: ["entity": "\(scan.name)", "error": "\(error)"])
                    try await Task.sleep(for: .milliseconds(200 << attempt))
                    continue
                }
                guard let lsn = chunk.lsn, lsn < minimum else {
                    context.logger.debug("resync chunk read", metadata: [
                        "entity": "\(scan.name)", "rows": "\(chunk.rows.count)", "lsn": "\(chunk.lsn.map { "\($0)" } ?? "none")",
                    ])
                    var chunk = chunk
                    chunk.minimum = minimum
                    return chunk
                }
                context.logger.debug("resync chunk read below the worker's checkpoint; reading it again once the reader replayed that far", metadata: [
                    "entity": "\(scan.name)", "lsn": "\(lsn)", "checkpoint": "\(minimum)",
                ])
                guard try await context.waitForReplay(reader, to: minimum, limit: wait) else {
                    throw WorkerError(
                        code: .replicaLag,
                        message: "\(context.target): the reader has not replayed the worker's checkpoint \(minimum) within \(wait) (replica lag): resync stopped")
                }
            }
        }
    }

    /// What the fills of a chunk did; `refused` are the keys refused as below the floor or the
    /// worker's checkpoint (the checkpoint moved past the chunk's version before the fill).
    private struct FillCounts: Sendable {
        var filled = 0
        var newer = 0
        var skipped = 0
        var refused: [[String]] = []
    }

    /// A task's value; cancelling the caller cancels the task too (an unstructured task does not
    /// inherit cancellation, and a stopping worker must not wait out a chunk's replay wait).
    static func value<T: Sendable>(of task: Task<T, any Error>) async throws -> T {
        try await withTaskCancellationHandler { try await task.value } onCancel: { task.cancel() }
    }

    /// Chunks whose fills are in Redis at once. One: a killed resync then reads at most one
    /// chunk twice (positions are saved per chunk, once its fill is done); two measured no faster
    /// (Redis' script time per row is the limit, not the wait between chunks).
    static let fillsInFlight = 1

    /// Rows and row bytes per `fill-rows-if-not-stale` call: enough to amortise the script's
    /// start, small enough that one call holds Redis' thread for well under a millisecond.
    static let rowsPerCall = 100
    static let bytesPerCall = 256 * 1024

    private func fill(_ chunk: VersionedRows, scan: EntityScan, commands: CacheCommands, redis: RedisClient, epoch: Int64) async throws -> FillCounts {
        var counts = FillCounts()
        for key in chunk.unreadable {
            counts.skipped += 1
            context.logger.warning("resync: Postgres cannot render this row as JSON (to_jsonb); not cached", metadata: ["entity": "\(scan.name)", "key": "\(key)"])
        }
        guard let lsn = chunk.lsn else {
            counts.skipped = chunk.rows.count
            return counts
        }
        // One `fill-rows-if-not-stale` call per group of rows (bounded in rows and bytes), all
        // groups of the chunk in one pipeline.
        var calls: [RedisScriptCall] = []
        var groups: [[[String]]] = []
        var group: [(entry: String, row: String)] = []
        var groupKeys: [[String]] = []
        var groupBytes = 0
        func close() {
            guard !group.isEmpty else { return }
            calls.append(commands.fillRows(group, lsn: lsn, epoch: epoch, minimum: chunk.minimum))
            groups.append(groupKeys)
            group.removeAll(keepingCapacity: true)
            groupKeys.removeAll(keepingCapacity: true)
            groupBytes = 0
        }
        let maxEntryBytes = context.configuration.maxEntryBytes
        for row in chunk.rows {
            // Larger rows are not cached, as the worker makes them markers (memory.max_entry_bytes).
            guard row.json.utf8.count <= maxEntryBytes else {
                counts.skipped += 1
                continue
            }
            do {
                group.append((try scan.entryKey(row.key, keys: commands.keys), row.json))
                groupKeys.append(row.key)
                groupBytes += row.json.utf8.count
                if group.count >= Self.rowsPerCall || groupBytes >= Self.bytesPerCall { close() }
            } catch {
                // A key the worker cannot render either (e.g. a NULL part): it has no entry.
                counts.skipped += 1
                context.logger.warning("resync: a row's key cannot be rendered; not cached", metadata: ["entity": "\(scan.name)", "key": "\(row.key)", "error": "\(error)"])
            }
        }
        close()
        guard !calls.isEmpty else { return counts }
        let replies = try await redis.evaluate(calls, inline: false)
        for (reply, keys) in zip(replies, groups) {
            for (outcome, key) in zip(try FillOutcome.many(reply: reply, count: keys.count), keys) {
                switch outcome {
                case .filled: counts.filled += 1
                case .refusedByEntry: counts.newer += 1
                case .refusedByFence: counts.skipped += 1
                case .refusedByFloor: counts.refused.append(key)
                case .refusedByEpoch:
                    throw WorkerError(code: .epochChanged, message: "fill refused: epoch \(epoch) is no longer current")
                }
            }
        }
        return counts
    }

    /// Reads the refused rows again by key once the reader has replayed the checkpoint as it is
    /// now, and fills them; a few times, as the worker's checkpoint keeps moving under writes.
    private func retryRefused(_ counts: inout FillCounts, scan: EntityScan, commands: CacheCommands, redis: RedisClient, reader: VersionedReader, epoch: Int64) async throws {
        var attempt = 0
        while !counts.refused.isEmpty && attempt < 8 {
            attempt += 1
            let meta = try await context.meta(redis)
            let minimum = max(meta.checkpoint ?? .zero, meta.floor ?? .zero)
            guard try await context.waitForReplay(reader, to: minimum, limit: options.replayWait) else { break }
            let keys = counts.refused
            var chunk = try await offPool { try reader.read(scan.select(keys: keys)) }
            chunk.minimum = minimum
            counts.refused = []
            counts.skipped += keys.count - chunk.rows.count  // deleted meanwhile
            let again = try await fill(chunk, scan: scan, commands: commands, redis: redis, epoch: epoch)
            counts.filled += again.filled
            counts.newer += again.newer
            counts.skipped += again.skipped
            counts.refused = again.refused
        }
        if !counts.refused.isEmpty {
            context.logger.notice("resync: rows refused below the worker's checkpoint after retries; not cached", metadata: [
                "entity": "\(scan.name)", "rows": "\(counts.refused.count)",
            ])
        }
    }

    private func savePosition(_ redis: RedisClient, position: (key: String, scope: String, after: [String]?, rows: Int, done: Bool), ttl: Duration, epoch: Int64) async throws {
        var save = ["HSET", position.key, "epoch", String(epoch), "scope", position.scope, "rows", String(position.rows), "done", position.done ? "1" : "0"]
        if let after = position.after { save += ["after", CanonicalJSON.render(.array(after.map { .string($0) }))] }
        _ = try await redis.pipeline([save, ["HDEL", position.key, "error"], ["PEXPIRE", position.key, String(max(1, Int64(ttl / .milliseconds(1))))]])
    }

    // MARK: - Queries

    private func warmQuery(_ query: QueryConfiguration) async throws {
        guard let queryFill else { return }
        let redis = try context.redis()
        defer { Task { await redis.close() } }
        let sets = try await QueryParameterSets.load(query, hot: query.warmHot, context: context, redis: redis)
        progress.start(query.name, estimate: sets.count, resumedRows: 0)
        for parameters in sets {
            try Task.checkCancellation()
            let values = QueryParameterSets.values(parameters)
            var filled = 0, newer = 0, skipped = 0
            // A fill refused because the reader had not replayed the worker's checkpoint (or a
            // fence) is tried again a few times, as the re-warmer does.
            for attempt in 0..<5 {
                do {
                    switch try await queryFill(query.name, values) {
                    case .filled: filled = 1
                    case .alreadyCached: newer = 1
                    case .notFilled:
                        if attempt < 4 {
                            try await Task.sleep(for: .milliseconds(50 << attempt))
                            continue
                        }
                        skipped = 1
                    }
                } catch is CancellationError {
                    throw CancellationError()
                } catch {
                    skipped = 1
                    context.logger.warning("resync: query read failed", metadata: ["query": "\(query.name)", "parameters": "\(parameters.json)", "error": "\(error)"])
                }
                break
            }
            progress.add(query.name, rows: 1, filled: filled, alreadyNewer: newer, skipped: skipped)
        }
        progress.finish(query.name)
    }
}
