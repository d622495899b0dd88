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
    private let interrupted = Atomic<Bool>(false)

    /// Makes a worker; nothing connects until ``run(_:)``.
    ///
    /// - Parameter fencesMoved: told, after each applied batch, which cached queries' fences
    ///   moved (the re-warmer recomputes their hot entries).
    public init(
        configuration: WorkerConfiguration, logger: Logger, metrics: WorkerMetrics = WorkerMetrics(),
        fencesMoved: @escaping @Sendable (Set<String>) -> Void = { _ in }
    ) {
        self.configuration = configuration
        self.logger = logger
        self.metrics = metrics
        self.fencesMoved = fencesMoved
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
        while true {
            let database = try await DatabaseCheck.run(configuration: configuration, writer: writer, logger: logger)
            let epoch = try await EpochProcedure(keys: keys, redis: redis, logger: logger)
                .establish(slotConfirmed: database.slot.confirmedFlushLSN ?? .zero, writerWAL: database.currentWAL)
            summary.epoch = epoch
            let planner = try ChangePlanner(configuration: configuration, types: database.types, invalidateOnly: database.invalidateOnly)
            do {
                try await stream(options, writer: writer, planner: planner, applier: applier, epoch: epoch, summary: &summary)
                return summary
            } catch let error as WorkerError where error.code == .epochChanged && !interrupted.load(ordering: .acquiring) {
                logger.warning("cache epoch changed while running: starting over", metadata: ["error": "\(error.message)"])
            }
        }
    }

    private func stream(
        _ options: RunOptions, writer: ConnectionString, planner: ChangePlanner, applier: CacheApplier, epoch: Int64,
        summary: inout Summary
    ) async throws {
        var replication = ReplicationOptions(slot: configuration.slot, publications: [configuration.publication])
        replication.startLSN = options.startLSN
        replication.endLSN = options.endLSN
        replication.acknowledge = options.acknowledge
        replication.statusInterval = configuration.statusInterval
        let stream = try LogicalReplicationStream(target: writer, options: replication, logger: logger)
        current.withLock { $0 = stream }
        if interrupted.load(ordering: .acquiring) { stream.interruptConsumer() }
        defer { current.withLock { $0 = nil } }
        metrics.streamingStarted()
        defer { metrics.streamingStopped() }
        var assembler = TransactionAssembler(planner: planner, largeTransactionWrites: configuration.largeTransactionWrites)
        var batch = WriteBatch()
        do {
            for try await chunk in stream.batches {
                for event in chunk {
                    switch event {
                    case .restarted:
                        metrics.reconnects.increment()
                        _ = try assembler.apply(event)
                    case .idle(let walEnd):
                        try await flush(&batch, applier: applier, stream: stream, epoch: epoch, summary: &summary)
                        try await applier.checkpoint(walEnd, epoch: epoch)
                        stream.confirm(walEnd)
                    default:
                        switch try assembler.apply(event) {
                        case .committed(let transaction)?:
                            batch.merge(transaction.writes, committedAt: transaction.commitEnd, time: transaction.commitTime)
                            if batch.transactions >= configuration.batchMaxTransactions || batch.writeCount >= configuration.batchMaxWrites {
                                try await flush(&batch, applier: applier, stream: stream, epoch: epoch, summary: &summary)
                            }
                        case .part(var part)?:
                            try await flush(&batch, applier: applier, stream: stream, epoch: epoch, summary: &summary)
                            try await flush(&part, applier: applier, stream: stream, epoch: epoch, summary: &summary)
                        case nil:
                            break
                        }
                    }
                }
                try await flush(&batch, applier: applier, stream: stream, epoch: epoch, summary: &summary)
            }
            try await flush(&batch, applier: applier, stream: stream, epoch: epoch, summary: &summary)
        } catch {
            await stream.stop()
            throw error
        }
        await stream.stop()
        logger.info("worker stopped", metadata: ["acknowledged": "\(stream.reportedFlush)", "transactions": "\(summary.transactions)"])
    }

    /// Applies the batch, retrying Redis failures with backoff (nothing is acknowledged and no
    /// more is read meanwhile), then acknowledges its last commit.
    private func flush(_ batch: inout WriteBatch, applier: CacheApplier, stream: LogicalReplicationStream, epoch: Int64, summary: inout Summary) async throws {
        guard batch.writeCount > 0 || batch.lastCommit != nil else { return }
        var attempt = 0
        var generator = SystemRandomNumberGenerator()
        let backoff = Backoff(initial: 0.2, maximum: 10)
        while true {
            do {
                let started = ContinuousClock.now
                let outcome = try await applier.apply(batch, epoch: epoch)
                metrics.recordBatch(batch, outcome: outcome, duration: ContinuousClock.now - started)
                break
            } catch let error as RedisError {
                metrics.redisErrors.increment()
                let delay = backoff.delay(attempt: attempt, using: &generator)
                attempt += 1
                logger.warning("redis write failed: retrying; nothing is acknowledged meanwhile", metadata: [
                    "error": "\(error)", "batch_last_commit": "\(batch.lastCommit.map { "\($0)" } ?? "part of a large transaction")",
                    "retry_in_s": "\(String(format: "%.2f", delay))",
                ])
                try await Task.sleep(for: .milliseconds(Int(delay * 1000)))
            }
        }
        if let lastCommit = batch.lastCommit {
            stream.confirm(lastCommit)
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
