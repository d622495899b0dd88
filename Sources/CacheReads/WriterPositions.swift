import PGOutput
import Synchronization

/// The writer's WAL positions (`pg_current_wal_lsn()`) sampled at each reader probe, to measure a
/// reader's lag against the writer rather than against what the reader itself received: a
/// standby cut off from its primary has replayed all it received and reports no lag of its own
/// while it falls behind (docs/consistency.md, reader freshness).
final class WriterPositions: Sendable {
    private struct Sample {
        var time: ContinuousClock.Instant
        var lsn: LSN
    }

    /// Samples older than this are dropped (beyond it a reader counts as lagging at least this much).
    let retention: Duration
    private let samples = Mutex<[Sample]>([])

    init(retention: Duration = .seconds(600)) {
        self.retention = retention
    }

    /// Records the writer's position read at `time`.
    func record(_ lsn: LSN, at time: ContinuousClock.Instant) {
        samples.withLock { samples in
            samples.append(Sample(time: time, lsn: lsn))
            let oldest = time - retention
            if let keep = samples.firstIndex(where: { $0.time >= oldest }), keep > 0 { samples.removeFirst(keep) }
            if samples.count > 4096 { samples.removeFirst(samples.count - 4096) }
        }
    }

    /// Seconds a reader whose replay position is `replay` may be behind the writer at `now`:
    /// 0 when it has replayed the newest sample; else the age of the newest sample it has
    /// replayed (it holds every commit the writer had then, so it is at most that stale); else,
    /// when it is below every sample, at least the age of the oldest. Nil before any sample.
    func lag(of replay: LSN, now: ContinuousClock.Instant) -> Double? {
        samples.withLock { samples in
            guard let newest = samples.last, let oldest = samples.first else { return nil }
            if replay >= newest.lsn { return 0 }
            let reached = samples.last(where: { $0.lsn <= replay }) ?? oldest
            return Double((now - reached.time) / .milliseconds(1)) / 1000
        }
    }
}
