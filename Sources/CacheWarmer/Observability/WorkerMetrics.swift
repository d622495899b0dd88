import Metrics
import PGOutput
import Synchronization

/// The worker's metrics, reported through swift-metrics (the executable exports them for
/// Prometheus at `/metrics`; without a bootstrapped backend they cost next to nothing), plus the
/// recent commit-to-Redis latencies kept locally for quantiles (benchmarks, tests).
public final class WorkerMetrics: Sendable {
    /// Transactions applied to Redis.
    let transactions = Counter(label: "cache_warmer_transactions_total")
    /// Row changes seen.
    let changes = Counter(label: "cache_warmer_changes_total")
    /// Redis pipelines that succeeded.
    let batches = Counter(label: "cache_warmer_batches_total")
    /// Cache writes sent (rows, tombstones, markers, fence bumps).
    let writes = Counter(label: "cache_warmer_writes_total")
    /// Row writes Redis refused because an equal or newer version was there (replays after a
    /// restart, or readers' fills that were newer).
    let writesNotNewer = Counter(label: "cache_warmer_writes_not_newer_total")
    /// Cached query results deleted by fence bumps.
    let fencedEntriesDeleted = Counter(label: "cache_warmer_fenced_entries_deleted_total")
    /// Redis failures (each retried).
    let redisErrors = Counter(label: "cache_warmer_redis_errors_total")
    /// Replication reconnects (the stream resumed after a lost connection).
    let reconnects = Counter(label: "cache_warmer_replication_reconnects_total")
    /// Commit timestamp to Redis confirmation, per transaction.
    let commitToRedis = Timer(label: "cache_warmer_commit_to_redis_seconds")
    /// Time to apply one pipeline.
    let batchApply = Timer(label: "cache_warmer_batch_apply_seconds")
    /// Bytes of WAL the server has that the worker has not acknowledged.
    let replicationLag = Gauge(label: "cache_warmer_replication_lag_bytes")
    /// 1 while the worker streams.
    let streamingGauge = Gauge(label: "cache_warmer_streaming")

    private let streaming = Atomic<Int>(0)
    private let latencySeconds = Mutex<[Double]>([])
    private let conditions = Mutex<[String: String]>([:])

    /// Samples kept for quantiles (the most recent).
    static let sampleLimit = 100_000

    /// Metrics reported to the bootstrapped swift-metrics backend.
    public init() {}

    /// True while the worker streams (for `/readyz`).
    public var isStreaming: Bool { streaming.load(ordering: .relaxed) > 0 }

    /// Why the worker is not ready although it may be streaming (waiting for Redis, a table it
    /// can no longer follow), one line per condition, sorted; empty when nothing is wrong.
    public var notReadyReasons: [String] {
        conditions.withLock { $0.sorted { $0.key < $1.key }.map { "\($0.key): \($0.value)" } }
    }

    /// Sets (`reason` non-nil) or clears the not-ready condition `name` (e.g. `redis`).
    public func setCondition(_ name: String, _ reason: String?) {
        conditions.withLock { $0[name] = reason }
    }

    func streamingStarted() {
        streaming.add(1, ordering: .relaxed)
        streamingGauge.record(1)
    }

    func streamingStopped() {
        if streaming.subtract(1, ordering: .relaxed).newValue == 0 { streamingGauge.record(0) }
    }

    func recordBatch(_ batch: WriteBatch, outcome: CacheApplier.Outcome, duration: Duration) {
        writesNotNewer.increment(by: outcome.unchanged)
        fencedEntriesDeleted.increment(by: outcome.fencedEntriesDeleted)
        transactions.increment(by: batch.transactions)
        changes.increment(by: batch.changes)
        batches.increment()
        writes.increment(by: batch.writeCount)
        batchApply.recordInterval(duration)
        let now = PostgresTimestamp.now()
        let latencies = batch.commitTimes.map { Double(now.rawValue - $0.rawValue) / 1e6 }
        for seconds in latencies {
            commitToRedis.recordNanoseconds(Int64(max(0, seconds) * 1e9))
        }
        latencySeconds.withLock { samples in
            samples.append(contentsOf: latencies)
            if samples.count > Self.sampleLimit { samples.removeFirst(samples.count - Self.sampleLimit) }
        }
    }

    /// The `q` quantile of commit-to-Redis latency in seconds over the recent transactions
    /// (commit timestamp from the server's clock to the pipeline's confirmation).
    public func commitToRedisLatency(quantile q: Double) -> Double {
        let sorted = latencySeconds.withLock { $0 }.sorted()
        return sorted.isEmpty ? 0 : sorted[min(sorted.count - 1, Int(Double(sorted.count) * q))]
    }

    /// Forgets latency samples (a benchmark's warm-up).
    public func resetLatency() {
        latencySeconds.withLock { $0.removeAll() }
    }
}

extension Timer {
    fileprivate func recordInterval(_ duration: Duration) {
        let (seconds, attoseconds) = duration.components
        recordNanoseconds(seconds * 1_000_000_000 + attoseconds / 1_000_000_000)
    }
}
