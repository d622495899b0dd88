import Foundation
import Logging
import ServiceLifecycle
import Synchronization

/// The automatic warm-up of `run` (`resync: on_new_epoch`): when the worker begins a new cache
/// epoch (first start, Redis lost its data, the slot was recreated) a background ``Resync`` of
/// every entity and warmable query starts; streaming does not wait for it. While it runs,
/// `/readyz` answers "warming" with its progress (a not-ready condition of ``WorkerMetrics``);
/// a newer epoch cancels it and starts over.
public final class WarmUpService: Service, Sendable {
    private let configuration: WorkerConfiguration
    private let metrics: WorkerMetrics
    private let logger: Logger
    private let queryFill: QueryFill?
    private let epochs: AsyncStream<Int64>
    private let continuation: AsyncStream<Int64>.Continuation
    private let current = Mutex<ResyncProgress?>(nil)

    /// A warm-up for `configuration`; `queryFill` fills cached queries (nil: entities only).
    public init(configuration: WorkerConfiguration, metrics: WorkerMetrics, logger: Logger, queryFill: QueryFill? = nil) {
        self.configuration = configuration
        self.metrics = metrics
        self.logger = logger
        self.queryFill = queryFill
        (epochs, continuation) = AsyncStream.makeStream(bufferingPolicy: .bufferingNewest(1))
    }

    /// The worker's `epochBegan`: starts (or restarts) the warm-up.
    public func epochBegan(_ epoch: Int64) {
        continuation.yield(epoch)
    }

    /// The running warm-up's progress, nil when none runs.
    public var progress: ResyncProgress? { current.withLock { $0 } }

    /// Runs warm-ups as epochs begin, until graceful shutdown.
    public func run() async throws {
        let continuation = continuation
        await withGracefulShutdownHandler {
            var running: Task<Void, Never>?
            for await epoch in epochs {
                running?.cancel()
                await running?.value
                running = Task { await warm(epoch) }
            }
            running?.cancel()
            await running?.value
        } onGracefulShutdown: {
            continuation.finish()
        }
    }

    private func warm(_ epoch: Int64) async {
        var options = ResyncOptions()
        options.source = configuration.readerURL == nil ? .writer : .reader
        options.chunkRows = configuration.resyncChunkRows
        options.parallel = configuration.resyncParallel
        let progress = ResyncProgress()
        current.withLock { $0 = progress }
        metrics.setCondition("warming", "resync of epoch \(epoch) starting")
        defer {
            metrics.setCondition("warming", nil)
            current.withLock { $0 = nil }
        }
        logger.notice("warm-up: a new cache epoch began; resyncing from the database while streaming", metadata: [
            "epoch": "\(epoch)", "source": "\(options.source.rawValue)",
        ])
        let reporter = Task {
            while !Task.isCancelled {
                try? await Task.sleep(for: .seconds(1))
                guard !Task.isCancelled else { break }
                metrics.setCondition("warming", progress.summary)
            }
        }
        let lines = Task { [logger] in
            await progress.report(terminal: false, interval: .seconds(10)) { logger.info("warm-up progress", metadata: ["progress": "\($0)"]) }
        }
        defer { lines.cancel() }
        // The reporter is stopped and waited for before the condition is cleared (the defer
        // above): a reporter waking after the clear would say "warming" for good.
        defer { reporter.cancel() }
        await withTaskCancellationHandler {
            await warm(options: options, progress: progress, epoch: epoch)
        } onCancel: {
            reporter.cancel()
        }
        reporter.cancel()
        await reporter.value
    }

    private func warm(options: ResyncOptions, progress: ResyncProgress, epoch: Int64) async {
        do {
            let resync = try Resync(configuration: configuration, options: options, logger: logger, progress: progress, queryFill: queryFill)
            let report = try await resync.run()
            logger.notice("warm-up finished", metadata: [
                "epoch": "\(report.epoch)", "progress": "\(progress.summary)",
            ])
        } catch is CancellationError {
            logger.info("warm-up cancelled", metadata: ["epoch": "\(epoch)"])
        } catch {
            logger.error("warm-up failed; the cache fills as rows change and readers miss", metadata: ["epoch": "\(epoch)", "error": "\(error)"])
        }
    }
}
