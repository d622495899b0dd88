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
        /// Entry writes sent (rows, tombstones and markers, after coalescing; fences not counted).
        public var rowWrites = 0
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
    private let epochContinued: @Sendable (Int64) -> Void
    private let acknowledged: @Sendable (LSN) -> Void
    private let interrupted = Atomic<Bool>(false)

    /// Makes a worker; nothing connects until ``run(_:)``.
    ///
    /// - Parameter fencesMoved: told, after each applied batch, which cached queries' fences
    ///   moved (the re-warmer recomputes their hot entries).
    /// - Parameter epochBegan: told when the worker began a new cache epoch (the warm-up resyncs).
    /// - Parameter epochContinued: told when the worker went on in the epoch Redis holds (a
    ///   warm-up that did not finish in it resumes).
    /// - Parameter acknowledged: told each position the worker confirmed to the slot after Redis
    ///   confirmed it (the history window records them); called inline, so it must be cheap.
    public init(
        configuration: WorkerConfiguration, logger: Logger, metrics: WorkerMetrics = WorkerMetrics(),
        fencesMoved: @escaping @Sendable (Set<String>) -> Void = { _ in },
        epochBegan: @escaping @Sendable (Int64) -> Void = { _ in },
        epochContinued: @escaping @Sendable (Int64) -> Void = { _ in },
        acknowledged: @escaping @Sendable (LSN) -> Void = { _ in }
    ) {
        self.configuration = configuration
        self.logger = logger
        self.metrics = metrics
        self.fencesMoved = fencesMoved
        self.epochBegan = epochBegan
        self.epochContinued = epochContinued
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
            let database: DatabaseCheck
            do {
                database = try await DatabaseCheck.run(configuration: configuration, writer: writer, logger: logger)
            } catch let error as ReplicationError where error.code == .slotInvalidated {
                // Changes were lost with the slot's WAL: void the entries of the current epoch
                // now, not when an operator recreates the slot (which begins a new epoch).
                let commands = CacheCommands(keys: keys)
                if let reply = try? await redis.pipeline([commands.getEpoch]).first, let epoch = try? CacheEpoch.parse(reply) {
                    try? await voidEntries(because: error.message, applier: applier, epoch: epoch, retrying: false)
                }
                throw error
            }
            let procedure = EpochProcedure(keys: keys, redis: redis, logger: logger)
            let reason = forceNewEpoch
            let start = try await retryingRedis("the cache epoch procedure") {
                try await procedure.establish(slotConfirmed: database.slot.confirmedFlushLSN ?? .zero, writerWAL: database.currentWAL, forceNew: reason)
            }
            forceNewEpoch = nil
            summary.epoch = start.epoch
            if start.checkpoint == nil { epochBegan(start.epoch) } else { epochContinued(start.epoch) }
            let planner = try ChangePlanner(
                configuration: configuration, types: database.types, invalidateOnly: database.invalidateOnly, uniqueKeys: database.uniqueKeys)
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
        var inFlight = InFlight(confirmed: start.checkpoint)
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
                for drift in try await watch.checkIfDue() {
                    guard case .shapeChanged(let table, let fingerprint, let invalidateOnly) = drift else { continue }
                    var voided = assembler.voidShape(table, fingerprint: fingerprint, invalidateOnly: invalidateOnly, at: try await Setup.currentWAL(configuration))
                    try await submit(&voided, to: &inFlight, applier: applier, stream: stream, epoch: epoch, summary: &summary)
                }
                for event in chunk {
                    if case .message(let message, _, _) = event {
                        if case .relation(let relation) = message {
                            switch try await watch.observe(relation) {
                            case .unchanged: break
                            case .shapeChanged(let table, let fingerprint, let invalidateOnly):
                                assembler.shapeChanged(table, fingerprint: fingerprint, invalidateOnly: invalidateOnly, voiding: true)
                            case .recordOnly(let table, let fingerprint, let invalidateOnly):
                                assembler.shapeChanged(table, fingerprint: fingerprint, invalidateOnly: invalidateOnly, voiding: false)
                            }
                        }
                        try watch.checkPlaceable(message)
                    }
                    switch event {
                    case .restarted:
                        metrics.reconnects.increment()
                        _ = try assembler.apply(event)
                    case .idle(let walEnd):
                        try await submit(&batch, to: &inFlight, applier: applier, stream: stream, epoch: epoch, summary: &summary)
                        try await drain(&inFlight, applier: applier, stream: stream, epoch: epoch, summary: &summary)
                        let lastWritten = inFlight.confirmed
                        try await retryingRedis("the idle checkpoint") { try await applier.checkpoint(walEnd, epoch: epoch, lastWritten: lastWritten) }
                        inFlight.confirmed = max(inFlight.confirmed ?? walEnd, walEnd)
                        stream.confirm(walEnd)
                        acknowledged(walEnd)
                    default:
                        switch try assembler.apply(event) {
                        case .committed(let transaction)?:
                            batch.merge(transaction.writes, committedAt: transaction.commitEnd, time: transaction.commitTime)
                            if batch.transactions >= configuration.batchMaxTransactions || batch.writeCount >= configuration.batchMaxWrites
                                || batch.payloadBytes >= configuration.maxTransactionBytes
                            {
                                try await submit(&batch, to: &inFlight, applier: applier, stream: stream, epoch: epoch, summary: &summary)
                            }
                        case .part(var part)?:
                            try await submit(&batch, to: &inFlight, applier: applier, stream: stream, epoch: epoch, summary: &summary)
                            try await submit(&part, to: &inFlight, applier: applier, stream: stream, epoch: epoch, summary: &summary)
                        case nil:
                            break
                        }
                    }
                }
                try await submit(&batch, to: &inFlight, applier: applier, stream: stream, epoch: epoch, summary: &summary)
                // Caught up with the stream: finish and acknowledge what is in Redis now, rather
                // than when more WAL arrives (the server's idle keepalives wait for it).
                if !stream.hasBacklog {
                    try await drain(&inFlight, applier: applier, stream: stream, epoch: epoch, summary: &summary)
                }
            }
            try await submit(&batch, to: &inFlight, applier: applier, stream: stream, epoch: epoch, summary: &summary)
            try await drain(&inFlight, applier: applier, stream: stream, epoch: epoch, summary: &summary)
        } catch let error as WorkerError where error.code == .notSetUp {
            await inFlight.abandon()
            await stream.stop()
            try await voidEntries(because: error.message, applier: applier, epoch: epoch)
            throw error
        } catch let error as ReplicationError where error.code == .publicationMismatch || error.code == .slotInvalidated {
            // Changes the slot can no longer deliver: nothing keeps the entries fresh.
            await inFlight.abandon()
            await stream.stop()
            try await voidEntries(because: error.message, applier: applier, epoch: epoch)
            throw error
        } catch {
            await inFlight.abandon()
            await stream.stop()
            throw error
        }
        await stream.stop()
        logger.info("worker stopped", metadata: ["acknowledged": "\(stream.reportedFlush)", "transactions": "\(summary.transactions)"])
    }

    /// The worker cannot follow a configured table any more (dropped, renamed, left the
    /// publication, or the slot cannot deliver its changes): readiness turns off, and every
    /// configured entity's and query's fence moves to the writer's WAL position now, so no entry
    /// written before is served while nobody keeps it fresh. Then the run ends as not set up.
    ///
    /// - Parameter retrying: retry Redis until it answers (false: one attempt, for a worker that
    ///   must exit promptly).
    private func voidEntries(because reason: String, applier: CacheApplier, epoch: Int64, retrying: Bool = true) async throws {
        logger.error("the slot and publication no longer deliver what the configuration needs: voiding the cached entries and stopping", metadata: [
            "publication": "\(configuration.publication)", "slot": "\(configuration.slot)", "error": "\(reason)",
        ])
        metrics.setCondition("publication", reason)
        let wal = try await Setup.currentWAL(configuration)
        var fences = WriteBatch()
        var planner = try ChangePlanner(configuration: configuration)
        for table in configuration.tables {
            planner.shapeChanged(table, invalidateOnly: true, lsn: wal, into: &fences)
        }
        let pending = fences
        guard retrying else {
            _ = try await applier.apply(pending, epoch: epoch, lastWritten: nil)
            return
        }
        try await retryingRedis("voiding the entries of tables that can no longer be followed") {
            _ = try await applier.apply(pending, epoch: epoch, lastWritten: nil)
        }
    }

    /// Batches submitted and not yet acknowledged: the next batch is read, decoded and planned
    /// while the previous one is in Redis, so Redis' time and the round trip no longer add to the
    /// stream's. They reach Redis one after the other, in commit order.
    static let batchesInFlight = 2

    /// Batches sent to Redis and not yet acknowledged, oldest first, and the checkpoint Redis
    /// confirmed last (a `set-checkpoint` finding less means Redis went back in time).
    struct InFlight {
        var confirmed: LSN?
        var batches: [(batch: WriteBatch, started: ContinuousClock.Instant, task: Task<CacheApplier.Outcome, any Error>)] = []

        /// Waits for every batch without acknowledging any (the run is ending with an error:
        /// the slot sends them again).
        mutating func abandon() async {
            for entry in batches { _ = try? await entry.task.value }
            batches.removeAll()
        }
    }

    /// Sends `batch` to Redis without waiting for it, once fewer than ``batchesInFlight`` are
    /// there; acknowledgements still follow commit order (``completeOldest``).
    private func submit(
        _ batch: inout WriteBatch, to inFlight: inout InFlight, applier: CacheApplier, stream: LogicalReplicationStream, epoch: Int64,
        summary: inout Summary
    ) async throws {
        guard batch.writeCount > 0 || batch.lastCommit != nil else { return }
        while inFlight.batches.count >= Self.batchesInFlight {
            try await completeOldest(&inFlight, applier: applier, stream: stream, epoch: epoch, summary: &summary)
        }
        let pending = batch
        let lastWritten = inFlight.confirmed
        // Each batch goes to Redis once the one before it is in (its failure fails this one too),
        // so a checkpoint is never written before the writes it covers, whatever the retries.
        let previous = inFlight.batches.last?.task
        let task = Task {
            _ = try await previous?.value
            return try await applier.apply(pending, epoch: epoch, lastWritten: lastWritten)
        }
        inFlight.batches.append((pending, .now, task))
        batch = WriteBatch()
    }

    /// Waits for every batch in Redis and acknowledges them in order.
    private func drain(
        _ inFlight: inout InFlight, applier: CacheApplier, stream: LogicalReplicationStream, epoch: Int64, summary: inout Summary
    ) async throws {
        while !inFlight.batches.isEmpty {
            try await completeOldest(&inFlight, applier: applier, stream: stream, epoch: epoch, summary: &summary)
        }
    }

    /// Waits for the oldest batch and acknowledges it. When Redis failed under it, the later
    /// batches are let finish and all are applied again one by one, in order, retrying with
    /// backoff (nothing is acknowledged and no more is read meanwhile; writes sent twice are
    /// no-ops, their versions being equal).
    private func completeOldest(
        _ inFlight: inout InFlight, applier: CacheApplier, stream: LogicalReplicationStream, epoch: Int64, summary: inout Summary
    ) async throws {
        let (batch, started, task) = inFlight.batches.removeFirst()
        do {
            let outcome = try await task.value
            acknowledge(batch, outcome: outcome, duration: .now - started, inFlight: &inFlight, stream: stream, summary: &summary)
        } catch let error as RedisError {
            metrics.redisErrors.increment()
            logger.warning("redis write failed: retrying; nothing is acknowledged meanwhile", metadata: [
                "error": "\(error)", "batch_last_commit": "\(batch.lastCommit.map { "\($0)" } ?? "part of a large transaction")",
            ])
            var again = [batch]
            for entry in inFlight.batches {
                _ = try? await entry.task.value
                again.append(entry.batch)
            }
            inFlight.batches.removeAll()
            for pending in again {
                let lastWritten = inFlight.confirmed
                let described = pending.lastCommit.map { "the batch ending at \($0)" } ?? "part of a large transaction"
                let retried = ContinuousClock.now
                let outcome = try await retryingRedis(described) { try await applier.apply(pending, epoch: epoch, lastWritten: lastWritten) }
                acknowledge(pending, outcome: outcome, duration: .now - retried, inFlight: &inFlight, stream: stream, summary: &summary)
            }
        } catch {
            await inFlight.abandon()
            throw error
        }
    }

    /// Records an applied batch and acknowledges its last commit.
    private func acknowledge(
        _ batch: WriteBatch, outcome: CacheApplier.Outcome, duration: Duration, inFlight: inout InFlight, stream: LogicalReplicationStream,
        summary: inout Summary
    ) {
        metrics.recordBatch(batch, outcome: outcome, duration: duration)
        if let lastCommit = batch.lastCommit {
            inFlight.confirmed = max(inFlight.confirmed ?? lastCommit, lastCommit)
            stream.confirm(lastCommit)
            acknowledged(lastCommit)
            summary.lastApplied = lastCommit
            metrics.replicationLag.record(max(0, stream.serverWALEnd.distance(from: lastCommit)))
        }
        if !batch.movedQueries.isEmpty { fencesMoved(batch.movedQueries) }
        summary.transactions += batch.transactions
        summary.changes += batch.changes
        summary.rowWrites += batch.rows.count
        summary.batches += 1
    }
}
