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

    /// Empty metrics.
    public init() {}

    func recordBatch(_ batch: WriteBatch, outcome: CacheApplier.Outcome, duration: Duration) {
        transactions.increment(by: batch.transactions)
        changes.increment(by: batch.changes)
        batches.increment()
        writes.increment(by: batch.writeCount)
        let seconds = Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
        applySeconds.withLock { samples in
            samples.append(seconds)
            if samples.count > 4096 { samples.removeFirst(samples.count - 4096) }
        }
    }

    /// The counters in Prometheus' text exposition format.
    public func prometheusText() -> String {
        let samples = applySeconds.withLock { $0 }.sorted()
        func quantile(_ q: Double) -> Double { samples.isEmpty ? 0 : samples[min(samples.count - 1, Int(Double(samples.count) * q))] }
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

            """
    }
}
