import CacheContract
import Foundation
import Logging
import PGOutput
import PostgresReplication
import RedisCache
import Synchronization

/// The cache warmer: streams the slot, plans cache writes per transaction, applies each chunk of
/// transactions to Redis in one pipeline, and acknowledges a commit only after Redis confirmed it.
public final class Worker: Sendable {
    /// What to stream: the whole slot (`run`) or a range (`replay`).
    public struct RunOptions: Sendable {
        /// Start position (nil: the slot's confirmed position).
        public var startLSN: LSN?
        /// Stop after the commit that reaches this position.
        public var endLSN: LSN?
        /// Acknowledge applied positions to Postgres (false: replay without consuming).
        public var acknowledge = true

        /// Options for a normal run.
        public init(startLSN: LSN? = nil, endLSN: LSN? = nil, acknowledge: Bool = true) {
            self.startLSN = startLSN
            self.endLSN = endLSN
            self.acknowledge = acknowledge
        }
    }

    /// Totals of one run.
    public struct Summary: Sendable, Hashable {
        /// Transactions applied.
        public var transactions = 0
        /// Row changes seen.
        public var changes = 0
        /// Redis pipelines sent.
        public var batches = 0
        /// The last position acknowledged (or, without acknowledging, applied).
        public var lastApplied: LSN?
        /// The cache epoch the run wrote with.
        public var epoch: Int64 = 0
    }

    let configuration: WorkerConfiguration
    let logger: Logger
    /// The run's counters (served by ``MetricsServer``).
    public let metrics: WorkerMetrics
    private let current = Mutex<LogicalReplicationStream?>(nil)
    private let fencesMoved: @Sendable (Set<String>) -> Void
    private let epochBegan: @Sendable (Int64) -> Void
    private let acknowledged: @Sendable (LSN) -> Void
    private let interrupted = Atomic<Bool>(false)

    /// Makes a worker; nothing connects until ``run(_:)``.
    ///
    /// - Parameter fencesMoved: told, after each applied batch, which cached queries' fences
    ///   moved (the re-warmer recomputes their hot entries).
    /// - Parameter epochBegan: told when the worker began a new cache epoch (the warm-up resyncs).
    /// - Parameter acknowledged: told each position the worker confirmed to the slot after Redis
    ///   confirmed it (the history window records them); called inline, so it must be cheap.
    public init(
        configuration: WorkerConfiguration, logger: Logger, metrics: WorkerMetrics = WorkerMetrics(),
        fencesMoved: @escaping @Sendable (Set<String>) -> Void = { _ in },
        epochBegan: @escaping @Sendable (Int64) -> Void = { _ in },
        acknowledged: @escaping @Sendable (LSN) -> Void = { _ in }
    ) {
        self.configuration = configuration
        self.logger = logger
        self.metrics = metrics
        self.fencesMoved = fencesMoved
        self.epochBegan = epochBegan
        self.acknowledged = acknowledged
    }

    /// Ends the run after the batch in progress: it is applied and acknowledged, a final status
    /// update is sent, and ``run(_:)`` returns.
    public func shutDown() {
        interrupted.store(true, ordering: .releasing)
        current.withLock { $0 }?.interruptConsumer()
    }

    /// Streams and applies until the end position, a shutdown, or an error. An epoch change
    /// (another worker, or Redis lost data) restarts from the slot with the start procedure.
    public func run(_ options: RunOptions = RunOptions()) async throws -> Summary {
        guard let writerURL = configuration.writerURL, let redisText = configuration.redisURL else {
            throw WorkerError(code: .invalidConfiguration, message: "writer_url and redis_url are required")
        }
        let writer = ConnectionString(writerURL)
        let redis = try RedisClient(url: try RedisURL(redisText), logger: logger)
        let keys = CacheKeys(namespace: try CacheNamespace(configuration.namespace))
        let ttl = CacheTTL(
            entry: .milliseconds(Int64(configuration.entryTTL * 1000)), tombstone: .milliseconds(Int64(configuration.tombstoneTTL * 1000)),
            fence: .milliseconds(Int64(configuration.tombstoneTTL * 1000)))
        let applier = CacheApplier(keys: keys, ttl: ttl, redis: redis)
        var summary = Summary()
        var forceNewEpoch: String?
        while true {
            let database = try await DatabaseCheck.run(configuration: configuration, writer: writer, logger: logger)
            let procedure = EpochProcedure(keys: keys, redis: redis, logger: logger)
            let reason = forceNewEpoch
            let start = try await retryingRedis("the cache epoch procedure") {
                try await procedure.establish(slotConfirmed: database.slot.confirmedFlushLSN ?? .zero, writerWAL: database.currentWAL, forceNew: reason)
            }
            forceNewEpoch = nil
            summary.epoch = start.epoch
            if start.checkpoint == nil { epochBegan(start.epoch) }
            let planner = try ChangePlanner(
                configuration: configuration, types: database.types, invalidateOnly: database.invalidateOnly)
            do {
                try await stream(options, writer: writer, database: database, planner: planner, applier: applier, start: start, summary: &summary)
                return summary
            } catch let error as WorkerError where error.code == .epochChanged && !interrupted.load(ordering: .acquiring) {
                logger.warning("cache epoch changed while running: starting over", metadata: ["error": "\(error.message)"])
            } catch let error as WorkerError where error.code == .cacheWentBack && !interrupted.load(ordering: .acquiring) {
                logger.error("Redis lost writes it had confirmed: beginning a new cache epoch", metadata: ["error": "\(error.message)"])
                forceNewEpoch = error.message
            }
        }
    }

    /// Runs `body` until Redis answers: each failure is logged, counted and retried with backoff
    /// (at most 10 s apart), `/readyz` says what it waits for, and nothing is acknowledged
    /// meanwhile (callers acknowledge only after this returns).
    func retryingRedis<T>(_ what: String, _ body: () async throws -> T) async throws -> T {
        var attempt = 0
        var generator = SystemRandomNumberGenerator()
        let backoff = Backoff(initial: 0.2, maximum: 10)
        // Redis answered (or the operation failed for another reason): not waiting any more.
        defer { if attempt > 0 { metrics.setCondition("redis", nil) } }
        while true {
            do {
                let result = try await body()
                if attempt > 0 {
                    logger.notice("redis answers again", metadata: ["operation": "\(what)", "attempts": "\(attempt + 1)"])
                }
                return result
            } catch let error as RedisError {
                if interrupted.load(ordering: .acquiring) { throw error }
                metrics.redisErrors.increment()
                let delay = backoff.delay(attempt: attempt, using: &generator)
                attempt += 1
                metrics.setCondition("redis", "waiting for Redis (\(what)): \(error)")
                logger.warning("redis write failed: retrying; nothing is acknowledged meanwhile", metadata: [
                    "operation": "\(what)", "error": "\(error)", "attempt": "\(attempt)", "retry_in_s": "\(String(format: "%.2f", delay))",
                ])
                try await Task.sleep(for: .milliseconds(Int(delay * 1000)))
            }
        }
    }

    private func stream(
        _ options: RunOptions, writer: ConnectionString, database: DatabaseCheck, planner: ChangePlanner, applier: CacheApplier,
        start: EpochProcedure.Start, summary: inout Summary
    ) async throws {
        let epoch = start.epoch
        let shapes = try await retryingRedis("reading the table shapes") {
            try await SchemaWatch.storedShapes(applier.redis, keys: applier.keys, configuration: configuration)
        }
        var watch = SchemaWatch(configuration: configuration, writer: writer, tables: database.tables, shapes: shapes, logger: logger)
        /// The checkpoint this worker last wrote in this epoch: Redis holding less went back in time.
        var checkpoint = start.checkpoint
        var replication = ReplicationOptions(slot: configuration.slot, publications: [configuration.publication])
        replication.startLSN = options.startLSN
        replication.endLSN = options.endLSN
        replication.acknowledge = options.acknowledge
        replication.statusInterval = configuration.statusInterval
        replication.queueBytes = configuration.maxQueueBytes
        let stream = try LogicalReplicationStream(target: writer, options: replication, logger: logger)
        current.withLock { $0 = stream }
        if interrupted.load(ordering: .acquiring) { stream.interruptConsumer() }
        defer { current.withLock { $0 = nil } }
        metrics.streamingStarted()
        defer { metrics.streamingStopped() }
        var assembler = TransactionAssembler(
            planner: planner, largeTransactionWrites: configuration.largeTransactionWrites, largeTransactionBytes: configuration.maxTransactionBytes)
        var batch = WriteBatch()
        do {
            for try await chunk in stream.batches {
                try await watch.checkIfDue()
                for event in chunk {
                    if case .message(let message, _, _) = event {
                        if case .relation(let relation) = message,
                            case .shapeChanged(let table, let fingerprint, let invalidateOnly) = try await watch.observe(relation)
                        {
                            assembler.shapeChanged(table, fingerprint: fingerprint, invalidateOnly: invalidateOnly)
                        }
                        try watch.checkPlaceable(message)
                    }
                    switch event {
                    case .restarted:
                        metrics.reconnects.increment()
                        _ = try assembler.apply(event)
                    case .idle(let walEnd):
                        try await flush(&batch, applier: applier, stream: stream, epoch: epoch, checkpoint: &checkpoint, summary: &summary)
                        let lastWritten = checkpoint
                        try await retryingRedis("the idle checkpoint") { try await applier.checkpoint(walEnd, epoch: epoch, lastWritten: lastWritten) }
                        checkpoint = max(checkpoint ?? walEnd, walEnd)
                        stream.confirm(walEnd)
                        acknowledged(walEnd)
                    default:
                        switch try assembler.apply(event) {
                        case .committed(let transaction)?:
                            batch.merge(transaction.writes, committedAt: transaction.commitEnd, time: transaction.commitTime)
                            if batch.transactions >= configuration.batchMaxTransactions || batch.writeCount >= configuration.batchMaxWrites
                                || batch.payloadBytes >= configuration.maxTransactionBytes
                            {
                                try await flush(&batch, applier: applier, stream: stream, epoch: epoch, checkpoint: &checkpoint, summary: &summary)
                            }
                        case .part(var part)?:
                            try await flush(&batch, applier: applier, stream: stream, epoch: epoch, checkpoint: &checkpoint, summary: &summary)
                            try await flush(&part, applier: applier, stream: stream, epoch: epoch, checkpoint: &checkpoint, summary: &summary)
                        case nil:
                            break
                        }
                    }
                }
                try await flush(&batch, applier: applier, stream: stream, epoch: epoch, checkpoint: &checkpoint, summary: &summary)
            }
            try await flush(&batch, applier: applier, stream: stream, epoch: epoch, checkpoint: &checkpoint, summary: &summary)
        } catch let error as WorkerError where error.code == .notSetUp {
            await stream.stop()
            try await voidEntries(because: error, applier: applier, epoch: epoch)
            throw error
        } catch {
            await stream.stop()
            throw error
        }
        await stream.stop()
        logger.info("worker stopped", metadata: ["acknowledged": "\(stream.reportedFlush)", "transactions": "\(summary.transactions)"])
    }

    /// The worker cannot follow a configured table any more (dropped, renamed, left the
    /// publication): readiness turns off, and every configured entity's and query's fence moves
    /// to the writer's WAL position now, so no entry written before is served while nobody keeps
    /// it fresh. Then the run ends as not set up.
    private func voidEntries(because error: WorkerError, applier: CacheApplier, epoch: Int64) async throws {
        logger.error("the publication no longer delivers what the configuration needs: voiding the cached entries and stopping", metadata: [
            "publication": "\(configuration.publication)", "error": "\(error.message)",
        ])
        metrics.setCondition("publication", error.message)
        let wal = try await Setup.currentWAL(configuration)
        var fences = WriteBatch()
        var planner = try ChangePlanner(configuration: configuration)
        for table in configuration.tables {
            planner.shapeChanged(table, invalidateOnly: true, lsn: wal, into: &fences)
        }
        let pending = fences
        try await retryingRedis("voiding the entries of tables that can no longer be followed") {
            _ = try await applier.apply(pending, epoch: epoch, lastWritten: nil)
        }
    }

    /// Applies the batch, retrying Redis failures with backoff (nothing is acknowledged and no
    /// more is read meanwhile), then acknowledges its last commit.
    private func flush(
        _ batch: inout WriteBatch, applier: CacheApplier, stream: LogicalReplicationStream, epoch: Int64, checkpoint: inout LSN?,
        summary: inout Summary
    ) async throws {
        guard batch.writeCount > 0 || batch.lastCommit != nil else { return }
        let pending = batch
        let lastWritten = checkpoint
        let described = batch.lastCommit.map { "the batch ending at \($0)" } ?? "part of a large transaction"
        try await retryingRedis(described) {
            let started = ContinuousClock.now
            let outcome = try await applier.apply(pending, epoch: epoch, lastWritten: lastWritten)
            metrics.recordBatch(pending, outcome: outcome, duration: ContinuousClock.now - started)
        }
        if let lastCommit = batch.lastCommit {
            checkpoint = max(checkpoint ?? lastCommit, lastCommit)
            stream.confirm(lastCommit)
            acknowledged(lastCommit)
            summary.lastApplied = lastCommit
            metrics.replicationLag.record(max(0, stream.serverWALEnd.distance(from: lastCommit)))
        }
        if !batch.movedQueries.isEmpty { fencesMoved(batch.movedQueries) }
        summary.transactions += batch.transactions
        summary.changes += batch.changes
        summary.batches += 1
        batch = WriteBatch()
    }
}
