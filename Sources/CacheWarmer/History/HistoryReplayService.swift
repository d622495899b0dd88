import Foundation
import Logging
import PGOutput
import PostgresReplication
import ServiceLifecycle
import Synchronization

/// `replay` from the history window: copies `<slot>_history`, advances the copy to the range's
/// start, streams it to the end with the worker (into the configured namespace or another one,
/// with its own epoch and checkpoint), and drops the copy on every exit, a graceful shutdown
/// (SIGINT/SIGTERM) included. Neither the main slot nor the history slot moves.
public final class HistoryReplayService: Service, Sendable {
    /// What a finished replay did.
    public struct Outcome: Sendable {
        /// The worker's totals.
        public var summary: Worker.Summary
        /// Seconds spent advancing the copy to the start (server-side decoding, no Redis writes).
        public var advanceSeconds: Double
        /// Seconds spent streaming and applying.
        public var streamSeconds: Double
    }

    private let configuration: WorkerConfiguration
    private let range: HistoryRange
    private let logger: Logger
    private let metrics: WorkerMetrics
    private let progress: @Sendable (LSN) -> Void
    private let onFinish: @Sendable (Outcome) -> Void
    private let state = Mutex<(worker: Worker?, stopping: Bool)>((nil, false))

    /// A replay of `range` with `configuration` (its namespace is the target). `progress` is
    /// told every position the worker confirms.
    public init(
        configuration: WorkerConfiguration, range: HistoryRange, logger: Logger, metrics: WorkerMetrics = WorkerMetrics(),
        progress: @escaping @Sendable (LSN) -> Void = { _ in }, onFinish: @escaping @Sendable (Outcome) -> Void = { _ in }
    ) {
        self.configuration = configuration
        self.range = range
        self.logger = logger
        self.metrics = metrics
        self.progress = progress
        self.onFinish = onFinish
    }

    public func run() async throws {
        let outcome = try await withGracefulShutdownHandler {
            try await replay()
        } onGracefulShutdown: {
            let worker = self.state.withLock { state -> Worker? in
                state.stopping = true
                return state.worker
            }
            worker?.shutDown()
        }
        onFinish(outcome)
    }

    /// Runs the replay (also usable without a service group).
    public func replay() async throws -> Outcome {
        let writer = try Setup.writerURL(configuration)
        return try await SlotCopy.with(writer, source: range.source, start: range.start, logger: logger) { copy in
            var copied = configuration
            copied.slot = copy.name
            copied.metricsPort = 0
            // Requests keepalives often, so the end of the range is noticed at once.
            copied.statusInterval = min(configuration.statusInterval, 0.5)
            let worker = Worker(configuration: copied, logger: logger, metrics: metrics, acknowledged: progress)
            let stopping = state.withLock { state -> Bool in
                state.worker = worker
                return state.stopping
            }
            if stopping { worker.shutDown() }
            let began = ContinuousClock.now
            var summary = Worker.Summary()
            if range.end > copy.position {
                summary = try await worker.run(Worker.RunOptions(endLSN: range.end, acknowledge: true))
            }
            let elapsed = ContinuousClock.now - began
            return Outcome(
                summary: summary, advanceSeconds: copy.advanceSeconds,
                streamSeconds: Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18)
        }
    }
}
