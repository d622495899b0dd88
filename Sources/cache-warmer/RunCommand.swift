import ArgumentParser
import CacheReads
import CacheWarmer
import Metrics
import Prometheus
import Logging
import PGOutput
import ServiceLifecycle

/// `cache-warmer run`: the worker, until SIGTERM/SIGINT.
struct RunCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Stream the slot and keep Redis fresh until SIGTERM/SIGINT (exit 0 after acknowledging)."
    )

    @OptionGroup var common: CommonOptions

    func run() async throws {
        try await runWorker(common: common, options: Worker.RunOptions())
    }
}

/// `cache-warmer replay`: applies a range of the slot and exits.
struct ReplayCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "replay",
        abstract: "Apply the slot from an LSN (to an LSN) and exit; --no-ack leaves the slot where it is.",
        discussion: "A start older than the slot's confirmed position is refused (exit 4) with the earliest LSN the slot can replay from."
    )

    @OptionGroup var common: CommonOptions

    @Option(help: "Start LSN (X/Y).")
    var from: String

    @Option(help: "End LSN (X/Y): stop after the commit that reaches it. Default: the writer's current WAL position at start.")
    var to: String?

    @Flag(help: "Do not acknowledge: replay without consuming the slot.")
    var noAck = false

    func run() async throws {
        guard let start = LSN(from) else { throw ValidationError("--from '\(from)' is not an LSN like 0/16B3748") }
        var end: LSN?
        if let to {
            guard let parsed = LSN(to) else { throw ValidationError("--to '\(to)' is not an LSN like 0/16B3748") }
            end = parsed
        }
        try await runWorker(common: common, options: Worker.RunOptions(startLSN: start, endLSN: end, acknowledge: !noAck), replay: true)
    }
}

/// Runs the worker as a service with signal handling; prints the run's totals.
func runWorker(common: CommonOptions, options: Worker.RunOptions, replay: Bool = false) async throws {
    let logger = common.bootstrapLogging()
    do {
        let configuration = try common.load()
        var options = options
        if replay && options.endLSN == nil {
            options.endLSN = try await Setup.currentWAL(configuration)
        }
        // Queries with `rewarm: N` get their N most-read entries recomputed after their fences move.
        var rewarmer: HotQueryRewarmer?
        var reads: CacheReads?
        let warmsQueries = configuration.resyncOnNewEpoch && ResyncCommand.needsQueries(configuration, [])
        if !replay && (configuration.queries.contains(where: { $0.rewarm > 0 }) || warmsQueries) {
            let readsClient = try CacheReads(configuration: CacheReadsConfiguration(worker: configuration), logger: logger)
            reads = readsClient
            rewarmer = try HotQueryRewarmer(reads: readsClient, logger: logger)
        }
        let notify = rewarmer
        let registry = PrometheusCollectorRegistry()
        MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry))
        // `resync: on_new_epoch`: a new epoch starts a background resync (streaming does not wait).
        let workerMetrics = WorkerMetrics()
        let warmUp = !replay && configuration.resyncOnNewEpoch
            ? WarmUpService(configuration: configuration, metrics: workerMetrics, logger: logger, queryFill: warmsQueries ? reads.map(queryFill) : nil)
            : nil
        let worker = Worker(
            configuration: configuration, logger: logger, metrics: workerMetrics, fencesMoved: { queries in notify?.fencesMoved(queries) },
            epochBegan: { epoch in warmUp?.epochBegan(epoch) })
        let metrics = MetricsServer(port: configuration.metricsPort, metrics: worker.metrics, registry: registry, logger: logger)
        let service = WorkerService(worker: worker, options: options) { summary in
            logger.info("run finished", metadata: [
                "transactions": "\(summary.transactions)", "changes": "\(summary.changes)", "batches": "\(summary.batches)",
                "last_applied": "\(summary.lastApplied.map { "\($0)" } ?? "none")", "epoch": "\(summary.epoch)",
            ])
        }
        var services: [ServiceGroupConfiguration.ServiceConfiguration] = [
            .init(service: service, successTerminationBehavior: .gracefullyShutdownGroup, failureTerminationBehavior: .gracefullyShutdownGroup)
        ]
        if configuration.metricsPort != 0 && !replay {
            services.append(.init(service: metrics))
        }
        if let reads, let rewarmer {
            services += [.init(service: reads), .init(service: rewarmer)]
        }
        if let warmUp {
            services.append(.init(service: warmUp))
        }
        let group = ServiceGroup(configuration: .init(services: services, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
    } catch {
        throw ExitCodes.fail(error)
    }
}
