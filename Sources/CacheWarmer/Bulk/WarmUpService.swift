import Foundation
import PostgresReplication
import RedisCache
import Logging
import ServiceLifecycle
import Synchronization

/// The automatic warm-up of `run` (`resync: on_new_epoch`): when the worker begins a new cache
/// epoch (first start, Redis lost its data, the slot was recreated) a background ``Resync`` of
/// every entity and warmable query starts; streaming does not wait for it. While it runs,
/// `/readyz` answers "warming" with its progress (a not-ready condition of ``WorkerMetrics``);
/// a newer epoch cancels it and starts over. An interruption (Redis or the reader unreachable,
/// replica lag) resumes it from its positions after a pause; a worker restarted in the same
/// epoch resumes one that did not finish (``CacheKeys/warmUp``).
public final class WarmUpService: Service, Sendable {
    private let configuration: WorkerConfiguration
    private let metrics: WorkerMetrics
    private let logger: Logger
    private let queryFill: QueryFill?
    private let epochs: AsyncStream<Start>
    private let continuation: AsyncStream<Start>.Continuation
    private let current = Mutex<ResyncProgress?>(nil)

    /// A warm-up for `configuration`; `queryFill` fills cached queries (nil: entities only).
    public init(configuration: WorkerConfiguration, metrics: WorkerMetrics, logger: Logger, queryFill: QueryFill? = nil) {
        self.configuration = configuration
        self.metrics = metrics
        self.logger = logger
        self.queryFill = queryFill
        (epochs, continuation) = AsyncStream.makeStream(bufferingPolicy: .bufferingNewest(1))
    }

    /// A warm-up to run: of a new epoch, or the resumption of an unfinished one.
    private struct Start: Sendable {
        var epoch: Int64
        var resuming: Bool
    }

    /// Pauses between attempts after an interruption (the last one repeats).
    static let retryPauses: [Duration] = [.seconds(1), .seconds(2), .seconds(5), .seconds(10), .seconds(30)]

    /// The worker's `epochBegan`: starts (or restarts) the warm-up.
    public func epochBegan(_ epoch: Int64) {
        continuation.yield(Start(epoch: epoch, resuming: false))
    }

    /// The worker's `epochContinued`: resumes the epoch's warm-up if it began and did not finish.
    public func epochContinued(_ epoch: Int64) {
        continuation.yield(Start(epoch: epoch, resuming: true))
    }

    /// The running warm-up's progress, nil when none runs.
    public var progress: ResyncProgress? { current.withLock { $0 } }

    /// Runs warm-ups as epochs begin, until graceful shutdown.
    public func run() async throws {
        let continuation = continuation
        await withGracefulShutdownHandler {
            var running: Task<Void, Never>?
            for await start in epochs {
                running?.cancel()
                await running?.value
                running = Task { await warm(start) }
            }
            running?.cancel()
            await running?.value
        } onGracefulShutdown: {
            continuation.finish()
        }
    }

    private func warm(_ start: Start) async {
        let epoch = start.epoch
        var options = ResyncOptions()
        options.source = configuration.readerURL == nil ? .writer : .reader
        options.chunkRows = configuration.resyncChunkRows
        options.parallel = configuration.resyncParallel
        options.skipFinished = start.resuming
        let record: WarmUpRecord
        do {
            record = try WarmUpRecord(configuration: configuration, source: options.source, logger: logger)
            if start.resuming {
                guard try await record.unfinished(epoch) else { return }
                logger.notice("warm-up: this epoch's warm-up did not finish; resuming it", metadata: ["epoch": "\(epoch)"])
            } else {
                try await record.began(epoch)
            }
        } catch {
            logger.error("warm-up not started: its record in Redis could not be read or written", metadata: ["epoch": "\(epoch)", "error": "\(error)"])
            return
        }
        defer { Task { await record.close() } }
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
            await warm(options: options, progress: progress, epoch: epoch, record: record)
        } onCancel: {
            reporter.cancel()
        }
        reporter.cancel()
        await reporter.value
    }

    /// Runs the resync to its end; after an interruption that may pass (Redis or the database
    /// unreachable, replica lag) it pauses and resumes from the positions kept in Redis, leaving
    /// out the entities already finished.
    private func warm(options: ResyncOptions, progress: ResyncProgress, epoch: Int64, record: WarmUpRecord) async {
        var options = options
        var attempt = 0
        while !Task.isCancelled {
            let rowsBefore = progress.items.reduce(0) { $0 + $1.rows }
            do {
                let resync = try Resync(configuration: configuration, options: options, logger: logger, progress: progress, queryFill: queryFill)
                let report = try await resync.run()
                try await record.finished(report.epoch)
                logger.notice("warm-up finished", metadata: [
                    "epoch": "\(report.epoch)", "progress": "\(progress.summary)",
                ])
                return
            } catch is CancellationError {
                logger.info("warm-up cancelled", metadata: ["epoch": "\(epoch)"])
                return
            } catch let error as WorkerError where error.code == .notAStandby && options.source == .reader {
                // reader_url names the primary (a small deployment without replicas): read it
                // with the writer's versioning procedure.
                logger.notice("warm-up: reader_url is not a standby; reading the writer instead", metadata: ["epoch": "\(epoch)", "error": "\(error.message)"])
                options.source = .writer
                options.skipFinished = true
            } catch where Self.mayPass(error) {
                // Pauses grow only while attempts make no progress.
                if progress.items.reduce(0, { $0 + $1.rows }) > rowsBefore { attempt = 0 }
                let pause = Self.retryPauses[min(attempt, Self.retryPauses.count - 1)]
                attempt += 1
                logger.warning("warm-up interrupted; resuming from its position after a pause", metadata: [
                    "epoch": "\(epoch)", "attempt": "\(attempt)", "pause": "\(pause)", "error": "\(error)",
                ])
                options.skipFinished = true
                do { try await Task.sleep(for: pause) } catch { return }
            } catch {
                logger.error("warm-up failed; the cache fills as rows change and readers miss (a restart in this epoch resumes it)", metadata: [
                    "epoch": "\(epoch)", "error": "\(error)",
                ])
                return
            }
        }
    }

    /// Failures that may pass by themselves: a server unreachable or a connection lost, a
    /// reader behind. Anything else (bad SQL in `warm:`, a contract violation) stops the warm-up.
    static func mayPass(_ error: any Error) -> Bool {
        switch error {
        case is RedisError: return true
        case let error as PostgresError: return error.code == .connectionFailed || error.code == .connectionLost
        case let error as WorkerError: return error.code == .replicaLag || error.code == .epochChanged
        default: return false
        }
    }
}
