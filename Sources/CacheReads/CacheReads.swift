import CacheContract
import CacheWarmer
import Logging
import PGOutput
import PostgresNIO
import RedisCache
import ServiceLifecycle
import Synchronization

/// The read path embedded in services: reads entities and cached queries through Redis with a
/// chosen ``Consistency``, fills misses with versions that can never make the cache older
/// (`fill-if-not-stale`), shares concurrent misses of one key, probes the readers, and runs
/// writes on the writer returning a read-your-writes token.
///
/// Run ``run()`` (or add it to a `ServiceGroup`) for as long as reads are made: it runs the
/// connection pools and the reader probes. Calls made while it is not running wait for a
/// connection until their time limit.
public final class CacheReads: Sendable, Service {
    /// The settings this instance was made with.
    public let configuration: CacheReadsConfiguration
    let logger: Logger
    let retrying: Retrying
    private let keys: CacheKeys
    private let entities: [String: EntityPlan]
    private let queries: [String: QueryPlan]
    private let writer: PostgresClient
    private let writerReadOnly: PostgresClient
    /// The writer's URL, to name why connecting fails when the pool only times out.
    private let writerURL: DatabaseURL
    private let readers: [ReaderEndpoint]
    private let redis: [RedisClient]
    private let nextRedis = Atomic<UInt>(0)
    private let readsInProgress = Atomic<Int>(0)
    private let counters = Mutex(CacheReadsStatistics())
    private let flights = SingleFlight<ReadResult>()
    private let lastFallbackLog = Mutex<ContinuousClock.Instant?>(nil)
    private let writerPositions = WriterPositions()
    private let keyTypes = KeyTypes()

    /// Validates the configuration and makes the pools; connects nothing until ``run()``.
    public init(configuration: CacheReadsConfiguration, logger: Logger = Logger(label: "cache-reads")) throws(CacheReadsError) {
        self.configuration = configuration
        self.logger = logger
        let worker = configuration.worker
        guard let writerText = worker.writerURL else {
            throw CacheReadsError(code: .configuration, context: "writer_url", message: "is required (or set DB_WRITER_URL)")
        }
        guard let redisText = worker.redisURL else {
            throw CacheReadsError(code: .configuration, context: "redis_url", message: "is required (or set REDIS_URL)")
        }
        do {
            keys = CacheKeys(namespace: try CacheNamespace(worker.namespace))
        } catch {
            throw CacheReadsError(code: .configuration, context: "namespace", message: error.description)
        }
        let ttl = CacheTTL(
            entry: .milliseconds(Int64(worker.entryTTL * 1000)), tombstone: .milliseconds(Int64(worker.tombstoneTTL * 1000)),
            fence: .milliseconds(Int64(worker.tombstoneTTL * 1000)))
        var entities: [String: EntityPlan] = [:]
        for entity in worker.entities { entities[entity.name] = try EntityPlan(entity, keys: keys, ttl: ttl) }
        var queries: [String: QueryPlan] = [:]
        for query in worker.queries { queries[query.name] = try QueryPlan(query, keys: keys, ttl: ttl) }
        self.entities = entities
        self.queries = queries
        let writerURL = try DatabaseURL(writerText)
        self.writerURL = writerURL
        writer = PostgresClient(configuration: writerURL.clientConfiguration(settings: configuration), backgroundLogger: logger)
        writerReadOnly = PostgresClient(configuration: writerURL.clientConfiguration(settings: configuration), backgroundLogger: logger)
        var readers: [ReaderEndpoint] = []
        for text in configuration.readerURLs {
            readers.append(ReaderEndpoint(url: try DatabaseURL(text), settings: configuration, logger: logger))
        }
        self.readers = readers
        let inlineWait = configuration.redisInlineWait / .seconds(1)
        guard inlineWait >= 0, inlineWait < 1 else {
            throw CacheReadsError(code: .configuration, context: "redisInlineWait", message: "is \(configuration.redisInlineWait); it must be from 0 to under a second")
        }
        do {
            let redisURL = try RedisURL(redisText)
            let options = RedisConnectionOptions(connectTimeout: configuration.redisTimeout, commandTimeout: configuration.redisTimeout)
            redis = try (0..<max(1, configuration.redisConnections)).map { _ throws(RedisError) in
                try RedisClient(url: redisURL, options: options, inlineWait: inlineWait, logger: logger)
            }
        } catch {
            throw CacheReadsError(code: .configuration, context: "redis_url", message: error.description)
        }
        retrying = Retrying(attempts: max(1, configuration.attempts), baseDelay: configuration.retryBaseDelay, timeout: configuration.operationTimeout)
    }

    /// Runs the connection pools and probes every reader each `probeInterval`, until cancelled
    /// (or, in a `ServiceGroup`, until graceful shutdown).
    public func run() async throws {
        await cancelWhenGracefulShutdown {
            await self.runPools()
        }
    }

    private func runPools() async {
        await withDiscardingTaskGroup { group in
            group.addTask { await self.writer.run() }
            group.addTask { await self.writerReadOnly.run() }
            for reader in readers {
                group.addTask { await reader.client.run() }
            }
            group.addTask {
                while !Task.isCancelled {
                    await self.probeReaders()
                    try? await Task.sleep(for: self.configuration.probeInterval)
                }
            }
            group.addTask {
                while !Task.isCancelled, !self.keyTypes.knows(self.entities.keys) {
                    await self.loadKeyTypes()
                    if self.keyTypes.knows(self.entities.keys) { break }
                    try? await Task.sleep(for: .seconds(5))
                }
            }
        }
    }

    /// Probes every reader now (``run()`` must be running); ``readerStatus`` then holds the
    /// result. The writer's WAL position is sampled first: readers are measured against it.
    public func probeReaders() async {
        guard !readers.isEmpty else { return }
        let timeout = configuration.connectTimeout + configuration.statementTimeout
        let client = writerReadOnly
        let logger = self.logger
        do {
            let now = ContinuousClock.now
            let text = try await Retrying.withTimeout(timeout, "writer position") {
                try await client.withConnection { connection in
                    try await VersionedFetch.scalar(connection, "SELECT pg_current_wal_lsn()::text", logger)
                }
            }
            if let text, let lsn = LSN(text) { writerPositions.record(lsn, at: now) }
        } catch {
            logger.debug("cannot sample the writer's WAL position", metadata: ["error": "\(TransientError.describe(error))"])
        }
        let writer = writerPositions
        await withDiscardingTaskGroup { group in
            for reader in readers {
                group.addTask { await reader.probe(timeout: timeout, maximumLag: self.configuration.maximumReaderLag, writer: writer) }
            }
        }
    }

    /// Learns the type of every entity's key columns from the writer's catalog (``KeyTypes``).
    private func loadKeyTypes() async {
        let client = writerReadOnly
        let logger = self.logger
        for (name, plan) in entities {
            var query = PostgresQuery(unsafeSQL: """
                SELECT coalesce(array_agg(t.typname::text ORDER BY k.ord), '{}')::text
                FROM unnest($1::text[]) WITH ORDINALITY k(name, ord)
                JOIN pg_attribute a ON a.attrelid = to_regclass($2::text) AND a.attname = k.name
                JOIN pg_type t ON t.oid = a.atttypid
                """)
            do {
                try query.binds.append(UntypedText(text: CanonicalJSON.render(.array(plan.keyColumns.map { .string($0) })).replacingOccurrences(of: "[", with: "{").replacingOccurrences(of: "]", with: "}")))
                try query.binds.append(UntypedText(text: plan.table))
                let bound = query
                let text = try await Retrying.withTimeout(configuration.operationTimeout, "key types") {
                    try await client.withConnection { connection in try await VersionedFetch.scalar(connection, bound, logger) }
                }
                let names = (text ?? "{}").dropFirst().dropLast().split(separator: ",").map(String.init)
                if names.count == plan.keyColumns.count { keyTypes.record(name, names) }
            } catch {
                logger.debug("cannot read key column types", metadata: ["entity": "\(name)", "error": "\(TransientError.describe(error))"])
            }
        }
    }

    /// Every reader's last probe result, in configuration order.
    public var readerStatus: [ReaderStatus] { readers.map(\.status) }

    /// Counters since this instance was made.
    public var statistics: CacheReadsStatistics {
        var statistics = counters.withLock { $0 }
        for client in redis {
            statistics.redis.add(client.statistics)
        }
        return statistics
    }

    /// Arbitrary read-only SQL (readers, else the writer, sessions read-only).
    public var reads: ReadHandle { ReadHandle(reads: self) }

    /// Runs `body` in a READ COMMITTED transaction on the writer (with the contract's session
    /// settings and the write statement timeout, set for the transaction only) and returns its
    /// result with the WAL position after the commit. The transaction is retried (with `body`
    /// run again) on serialization failures and deadlocks, so `body` must only touch the database.
    public func write<T: Sendable>(_ body: @escaping @Sendable (PostgresConnection) async throws -> T) async throws -> WriteResult<T> {
        let writer = self.writer
        let logger = self.logger
        let settings = PostgresQuery(unsafeSQL: "SELECT \(VersionedFetch.settingsList(statementTimeout: configuration.writeStatementTimeout))")
        var attempt = 0
        while true {
            do {
                return try await Retrying.withTimeout(configuration.writeTimeout, "write") {
                    try await writer.withConnection { connection in
                        let value = try await VersionedFetch.transaction(connection, readOnly: false, logger) {
                            try await connection.query(settings, logger: logger)
                            return try await body(connection)
                        }
                        guard let text = try await VersionedFetch.scalar(connection, "SELECT pg_current_wal_lsn()::text", logger), let token = LSN(text) else {
                            throw CacheReadsError(code: .missingToken, context: "write", message: "pg_current_wal_lsn() returned no LSN")
                        }
                        return WriteResult(value: value, token: token)
                    }
                }
            } catch {
                attempt += 1
                let state = TransientError.sqlState(error)
                guard attempt < retrying.attempts, state == "40001" || state == "40P01" else { throw error }
                let ceiling = Double(DatabaseURL.milliseconds(retrying.baseDelay)) * Double(1 << min(attempt, 10))
                try await Task.sleep(for: .milliseconds(Int64(Double.random(in: 0...ceiling))))
            }
        }
    }

    /// Reads the row of `entity` (a configured entity name, e.g. `order`) whose key columns
    /// have the values `key` (in key order). The value is the row's canonical JSON, nil when it
    /// does not exist.
    public func row(entity: String, key: [KeyPart], consistency: Consistency = .eventual) async throws -> ReadResult {
        guard let plan = entities[entity] else {
            throw CacheReadsError(code: .unknownName, context: entity, message: "no such entity (configured: \(entities.keys.sorted().joined(separator: ", ")))")
        }
        return try await read(try plan.lookup(keyTypes.canonical(entity, key)), consistency)
    }

    /// Reads the row of a single-column-key entity.
    public func row(entity: String, key: KeyPart, consistency: Consistency = .eventual) async throws -> ReadResult {
        try await row(entity: entity, key: [key], consistency: consistency)
    }

    /// Reads the result of the configured query `name` (e.g. `catalog-page`) for `parameters`
    /// (every configured parameter): a JSON array with one object per result row.
    public func query(_ name: String, parameters: [String: JSONValue], consistency: Consistency = .eventual) async throws -> ReadResult {
        guard let plan = queries[name] else {
            throw CacheReadsError(code: .unknownName, context: name, message: "no such query (configured: \(queries.keys.sorted().joined(separator: ", ")))")
        }
        return try await read(try plan.lookup(parameters), consistency)
    }

    // MARK: - Reading

    private func read(_ lookup: Lookup, _ consistency: Consistency) async throws -> ReadResult {
        let ticket = flights.ticket()
        // Waiting for Redis on this thread pays only when no other read could use the thread.
        let alone = readsInProgress.wrappingAdd(1, ordering: .relaxed).newValue == 1
        defer { readsInProgress.wrappingSubtract(1, ordering: .relaxed) }
        let cached = await cacheRead(lookup, inline: alone)
        switch consistency {
        case .eventual, .readYourWrites:
            if let cached, cached.isValid, let lsn = cached.lsn {
                var fresh = true
                if case .readYourWrites(let token) = consistency { fresh = lsn >= token }
                if fresh {
                    switch cached.state {
                    case .value(let payload):
                        count { $0.cacheHits += 1 }
                        return ReadResult(value: payload, source: .cache, lsn: lsn)
                    case .tombstone:
                        count { $0.cacheHits += 1 }
                        return ReadResult(value: nil, source: .cache, lsn: lsn)
                    case .missing, .invalidated:
                        break
                    }
                }
            }
        case .boundedStaleness, .strong:
            break
        }
        let epoch = cached?.currentEpoch
        let checkpoint = cached?.checkpoint
        if case .strong = consistency {
            // Not shared: a query another caller started earlier may predate this caller's
            // request and miss a write that completed before it.
            return try await load(lookup, consistency, epoch: epoch, checkpoint: checkpoint)
        }
        let flightKey = lookup.entry + "|" + consistency.description
        let (result, shared) = try await flights.run(flightKey, ticket: ticket) { [self] in
            try await load(lookup, consistency, epoch: epoch, checkpoint: checkpoint)
        }
        if shared { count { $0.sharedQueries += 1 } }
        return result
    }

    /// The `read` script's answer, with a sampled `record-read` in the same round trip; nil
    /// when Redis fails (logged: the read goes to the database and does not fill). `inline`:
    /// may wait for Redis on the calling thread (``CacheReadsConfiguration/redisInlineWait``).
    private func cacheRead(_ lookup: Lookup, inline: Bool) async -> CacheRead? {
        var calls = [lookup.readCall]
        if let hot = lookup.hot, configuration.hotSampleRate > 0, Double.random(in: 0..<1) < configuration.hotSampleRate {
            calls.append(lookup.commands.recordRead(hot.query, hot.parameters))
        }
        do {
            let replies = try await nextExecutor().evaluate(calls, inline: inline)
            if calls.count > 1 { count { $0.recordedReads += 1 } }
            return try CacheRead(reply: replies[0])
        } catch {
            logger.warning("cache read failed, reading the database", metadata: ["entry": "\(lookup.entry)", "error": "\(error)"])
            return nil
        }
    }

    /// Reads the database by the consistency's rules and fills the cache. `checkpoint`: the
    /// worker's checkpoint read with the miss (a reader fill below it is not cached).
    private func load(_ lookup: Lookup, _ consistency: Consistency, epoch: Int64?, checkpoint: LSN?) async throws -> ReadResult {
        switch consistency {
        case .eventual:
            if let result = try await fromReader(lookup, maximumLag: configuration.maximumReaderLag, minimum: nil, epoch: epoch, checkpoint: checkpoint) {
                return result
            }
        case .readYourWrites(let token):
            if let result = try await fromReader(lookup, maximumLag: .infinity, minimum: token, epoch: epoch, checkpoint: checkpoint) {
                return result
            }
        case .boundedStaleness(let seconds):
            if let result = try await fromReader(lookup, maximumLag: seconds, minimum: nil, epoch: epoch, checkpoint: checkpoint) {
                return result
            }
        case .strong:
            break
        }
        return try await fromWriter(lookup, epoch: epoch, checkpoint: checkpoint)
    }

    /// Reads from the least lagging healthy reader within `maximumLag`; nil when there is none,
    /// it failed (it is then out of rotation until its next good probe), or its replay LSN is
    /// below `minimum`.
    private func fromReader(_ lookup: Lookup, maximumLag: Double, minimum: LSN?, epoch: Int64?, checkpoint: LSN?) async throws -> ReadResult? {
        guard !readers.isEmpty else { return nil }  // configured without readers: the writer is the plan
        let candidates = readers.filter { reader in
            let status = reader.status
            guard status.isHealthy, let lag = status.lag, lag <= maximumLag else { return false }
            if let minimum, let replay = status.replayLSN, replay < minimum, readers.count > 1 { return false }
            return true
        }
        guard let reader = candidates.min(by: { ($0.status.lag ?? .infinity) < ($1.status.lag ?? .infinity) }) else {
            if minimum == nil {
                count { $0.writerFallbacks += 1 }
                if shouldLogFallback() {
                    logger.warning(
                        "no healthy reader, reading from the writer (logged at most every 10 s; see statistics.writerFallbacks)",
                        metadata: ["entry": "\(lookup.entry)", "readers": "\(readers.map { "\($0.url): \($0.status.problem ?? "lag")" })"])
                }
            }
            return nil
        }
        let query = lookup.query
        let extra = lookup.parameterQuery
        let logger = self.logger
        let wait = configuration.checkpointWait
        let statementTimeout = configuration.statementTimeout
        let fetched: VersionedFetch.Fetched?
        do {
            fetched = try await Retrying.withTimeout(configuration.operationTimeout + wait, "reader \(reader.url)") {
                try await reader.client.withConnection { connection in
                    try await VersionedFetch.fromReader(
                        connection, query, extra: extra, minimum: minimum, checkpoint: checkpoint, checkpointWait: wait,
                        statementTimeout: statementTimeout, logger: logger)
                }
            }
        } catch {
            guard TransientError.isTransient(error) else { throw wrap(error, lookup) }
            reader.markUnhealthy(TransientError.describe(error))
            count { $0.writerFallbacks += 1 }
            logger.warning("reader failed, reading from the writer", metadata: ["reader": "\(reader.url)", "error": "\(TransientError.describe(error))"])
            return nil
        }
        guard let fetched else { return nil }
        count { $0.readerQueries += 1 }
        let fill = await self.fill(lookup, fetched, epoch: epoch, minimum: checkpoint)
        return ReadResult(value: fetched.payload, source: .reader, lsn: fetched.lsn, readerLag: reader.status.lag, fill: fill)
    }

    private func fromWriter(_ lookup: Lookup, epoch: Int64?, checkpoint: LSN?) async throws -> ReadResult {
        let query = lookup.query
        let extra = lookup.parameterQuery
        let logger = self.logger
        let wait = configuration.writerSnapshotWait
        let statementTimeout = configuration.statementTimeout
        let client = writerReadOnly
        let fetched: VersionedFetch.Fetched
        do {
            fetched = try await retrying.run("writer") {
                try await client.withConnection { connection in
                    try await VersionedFetch.fromWriter(connection, query, extra: extra, wait: wait, statementTimeout: statementTimeout, logger: logger)
                }
            }
        } catch {
            throw wrap(await Self.explained(error, url: writerURL, within: configuration.connectTimeout), lookup)
        }
        count { $0.writerQueries += 1 }
        if fetched.lsn == nil {
            count { $0.writerFillsSkipped += 1 }
            logger.notice("writer snapshot wait timed out: not caching", metadata: ["entry": "\(lookup.entry)"])
        }
        // The writer's version is read after the miss: never below the checkpoint seen with it.
        let fill = await self.fill(lookup, fetched, epoch: epoch, minimum: checkpoint)
        return ReadResult(value: fetched.payload, source: .writer, lsn: fetched.lsn, fill: fill)
    }

    /// Offers a fetched payload to `fill-if-not-stale` (never a missing row, never without a
    /// version or an epoch, never below the checkpoint read with the miss), under the entry and
    /// fences the worker would name for what was read (docs/cache-protocol.md section 2).
    private func fill(_ lookup: Lookup, _ fetched: VersionedFetch.Fetched, epoch: Int64?, minimum: LSN?) async -> FillResult {
        guard let payload = fetched.payload else { return .skipped("no such row") }
        guard let lsn = fetched.lsn else { return .skipped("no version (writer snapshot wait timed out)") }
        guard let epoch else { return .skipped("no current epoch in Redis") }
        if fetched.belowCheckpoint {
            count { $0.fillsBelowCheckpoint += 1 }
            return .skipped(FillResult.behindCheckpoint)
        }
        var entry = lookup.entry
        var fences = lookup.fences
        if lookup.rowKey != nil {
            guard let named = lookup.rowEntry(payload) else { return .skipped("the row's key columns are missing or null") }
            entry = named
        } else if lookup.parameterQuery != nil {
            guard let answer = fetched.extra, let named = lookup.fences(canonical: answer) else {
                return .skipped("a matched parameter's column has a nondeterministic collation: no fence names its values")
            }
            fences = named
        }
        // Byte comparison: Swift's String == treats canonically equivalent texts (NFC, NFD) as
        // equal, Redis keys are bytes.
        if !entry.utf8.elementsEqual(lookup.entry.utf8) || !fences.map(\.key.utf8).elementsEqual(lookup.fences.map(\.key.utf8), by: { $0.elementsEqual($1) }) {
            count { $0.fillsRenamed += 1 }
        }
        do {
            // Not inline: a miss already waited for the database; keep the thread for other reads.
            let reply = try await nextExecutor().evaluate([lookup.fillCall(payload, lsn: lsn, epoch: epoch, entry: entry, fences: fences, minimum: minimum)], inline: false)
            let outcome = try FillOutcome(reply: reply[0])
            count { if outcome == .filled { $0.fillsAccepted += 1 } else { $0.fillsRefused += 1 } }
            return .outcome(outcome)
        } catch {
            logger.warning("cache fill failed", metadata: ["entry": "\(lookup.entry)", "error": "\(error)"])
            return .skipped("redis: \(error)")
        }
    }

    /// A healthy reader's read-only pool, else the writer's read-only pool.
    func readOnlyClient() -> PostgresClient {
        readers.filter { $0.status.isHealthy }.min(by: { ($0.status.lag ?? .infinity) < ($1.status.lag ?? .infinity) })?.client ?? writerReadOnly
    }

    /// True at most once every 10 seconds, so a reader outage does not log every read.
    private func shouldLogFallback() -> Bool {
        let now = ContinuousClock.now
        return lastFallbackLog.withLock { last in
            if let previous = last, now - previous < .seconds(10) { return false }
            last = now
            return true
        }
    }

    /// The next Redis connection round robin, or an idle one after it (its calls can then
    /// wait inline instead of queueing).
    private func nextExecutor() -> RedisClient {
        let start = Int(nextRedis.wrappingAdd(1, ordering: .relaxed).oldValue % UInt(redis.count))
        for offset in 0..<redis.count where redis[(start + offset) % redis.count].isIdle {
            return redis[(start + offset) % redis.count]
        }
        return redis[start]
    }

    private func count(_ update: (inout CacheReadsStatistics) -> Void) {
        counters.withLock { update(&$0) }
    }

    private func wrap(_ error: any Error, _ lookup: Lookup) -> any Error {
        if error is CacheReadsError { return error }
        return CacheReadsError(code: .database, context: lookup.context, message: TransientError.describe(error))
    }
}
