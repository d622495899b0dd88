import PGOutput
import Synchronization

/// The worker's counters, cheap to update from the apply loop and rendered in Prometheus' text
/// format by ``prometheusText()``.
public final class WorkerMetrics: Sendable {
    /// A monotonically increasing counter.
    public final class Counter: Sendable {
        private let value = Atomic<Int>(0)

        /// Adds `amount`.
        public func increment(by amount: Int = 1) {
            value.add(amount, ordering: .relaxed)
        }

        /// The current value.
        public var current: Int { value.load(ordering: .relaxed) }
    }

    /// Transactions applied to Redis.
    public let transactions = Counter()
    /// Row changes seen.
    public let changes = Counter()
    /// Redis pipelines that succeeded.
    public let batches = Counter()
    /// Cache writes sent.
    public let writes = Counter()
    /// Redis failures (each retried).
    public let redisErrors = Counter()
    /// 1 while the worker streams (for `/readyz`).
    public let ready = Counter()
    private let applySeconds = Mutex<[Double]>([])
    private let latencySeconds = Mutex<[Double]>([])

    /// Samples kept for quantiles (the most recent).
    static let sampleLimit = 100_000

    /// Empty metrics.
    public init() {}

    func recordBatch(_ batch: WriteBatch, outcome: CacheApplier.Outcome, duration: Duration) {
        transactions.increment(by: batch.transactions)
        changes.increment(by: batch.changes)
        batches.increment()
        writes.increment(by: batch.writeCount)
        let seconds = Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
        Self.append([seconds], to: applySeconds)
        let now = PostgresTimestamp.now()
        Self.append(batch.commitTimes.map { Double(now.rawValue - $0.rawValue) / 1e6 }, to: latencySeconds)
    }

    private static func append(_ values: [Double], to samples: borrowing Mutex<[Double]>) {
        samples.withLock { samples in
            samples.append(contentsOf: values)
            if samples.count > sampleLimit { samples.removeFirst(samples.count - sampleLimit) }
        }
    }

    /// The `q` quantile of commit-to-Redis latency in seconds over the recent transactions
    /// (commit timestamp from the server's clock to the pipeline's confirmation).
    public func commitToRedisLatency(quantile q: Double) -> Double {
        Self.quantile(latencySeconds.withLock { $0 }.sorted(), q)
    }

    /// Forgets latency samples (a benchmark's warm-up).
    public func resetLatency() {
        latencySeconds.withLock { $0.removeAll() }
    }

    private static func quantile(_ sorted: [Double], _ q: Double) -> Double {
        sorted.isEmpty ? 0 : sorted[min(sorted.count - 1, Int(Double(sorted.count) * q))]
    }

    /// The counters in Prometheus' text exposition format.
    public func prometheusText() -> String {
        let samples = applySeconds.withLock { $0 }.sorted()
        let latency = latencySeconds.withLock { $0 }.sorted()
        func quantile(_ q: Double) -> Double { Self.quantile(samples, q) }
        return """
            # TYPE cache_warmer_transactions_total counter
            cache_warmer_transactions_total \(transactions.current)
            # TYPE cache_warmer_changes_total counter
            cache_warmer_changes_total \(changes.current)
            # TYPE cache_warmer_batches_total counter
            cache_warmer_batches_total \(batches.current)
            # TYPE cache_warmer_writes_total counter
            cache_warmer_writes_total \(writes.current)
            # TYPE cache_warmer_redis_errors_total counter
            cache_warmer_redis_errors_total \(redisErrors.current)
            # TYPE cache_warmer_streaming gauge
            cache_warmer_streaming \(ready.current)
            # TYPE cache_warmer_batch_apply_seconds summary
            cache_warmer_batch_apply_seconds{quantile="0.5"} \(quantile(0.5))
            cache_warmer_batch_apply_seconds{quantile="0.99"} \(quantile(0.99))
            # TYPE cache_warmer_commit_to_redis_seconds summary
            cache_warmer_commit_to_redis_seconds{quantile="0.5"} \(Self.quantile(latency, 0.5))
            cache_warmer_commit_to_redis_seconds{quantile="0.99"} \(Self.quantile(latency, 0.99))

            """
    }
}
