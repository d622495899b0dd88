import ArgumentParser
import CacheContract
import Foundation
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

/// `cache-warmer replay`: applies a range of the past and exits. With `history:` configured every
/// replay reads a copy of the history slot (neither the main slot nor the history slot moves);
/// without it, the main slot from its confirmed position (the former behaviour, `--no-ack`).
struct ReplayCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "replay",
        abstract: "Apply a range of past changes (--from LSN or --since TIME) into the cache or another --namespace, and exit.",
        discussion: """
            With `history:` configured, a copy of the <slot>_history slot is advanced to the start, streamed to the end \
            (--to/--until, default the writer's WAL position now) and dropped; --namespace replays into another namespace \
            with its own epoch and checkpoint. A start outside the window is refused (exit 4) with the earliest LSN and time \
            available. Without `history:`, the main slot is read from --from (which cannot be before its confirmed position).
            """
    )

    @OptionGroup var common: CommonOptions

    @Option(help: "Start LSN (X/Y): transactions committing after it.")
    var from: String?

    @Option(help: "Start time: a duration ago (15m, 1h, 2d) or ISO 8601 (2026-11-29T13:00:00Z). Needs history:.")
    var since: String?

    @Option(help: "End LSN (X/Y): stop after the commit that reaches it. Default: the writer's current WAL position at start.")
    var to: String?

    @Option(help: "End time (same forms as --since): stop after the last transaction committed by then. Needs history:.")
    var until: String?

    @Option(help: "Replay into this key namespace instead of the configured one (its own epoch and checkpoint).")
    var namespace: String?

    @Flag(help: "Print the resolved range and exit without replaying.")
    var dryRun = false

    @Flag(help: "Without history: only. Do not acknowledge: replay without consuming the main slot.")
    var noAck = false

    func validate() throws {
        if (from == nil) == (since == nil) { throw ValidationError("give exactly one of --from LSN and --since TIME") }
        if to != nil && until != nil { throw ValidationError("give at most one of --to LSN and --until TIME") }
        if let from, LSN(from) == nil { throw ValidationError("--from '\(from)' is not an LSN like 0/16B3748") }
        if let to, LSN(to) == nil { throw ValidationError("--to '\(to)' is not an LSN like 0/16B3748") }
        if let since, TimeArgument.parse(since) == nil { throw ValidationError("--since '\(since)' is neither a duration (15m, 1h) nor an ISO 8601 time") }
        if let until, TimeArgument.parse(until) == nil { throw ValidationError("--until '\(until)' is neither a duration (15m, 1h) nor an ISO 8601 time") }
    }

    func run() async throws {
        // The history record (`<ns>:meta:history`) is the configured namespace's; the replay
        // writes into `target`.
        let configuration: WorkerConfiguration
        var target: WorkerConfiguration
        do {
            configuration = try common.load()
            target = configuration
            if let namespace { target.namespace = try CacheNamespace(namespace).rawValue }
        } catch {
            throw ExitCodes.fail(error)
        }
        guard configuration.history != nil else {
            if since != nil || until != nil || dryRun {
                throw ExitCodes.fail(ValidationFailure("--since, --until and --dry-run need a history window (history: { keep: 1h } in the configuration, then cache-warmer setup)"))
            }
            let end = to.flatMap { LSN($0) }
            try await runWorker(
                common: common, options: Worker.RunOptions(startLSN: from.flatMap { LSN($0) }, endLSN: end, acknowledge: !noAck), replay: true,
                override: target)
            return
        }
        if noAck { throw ExitCodes.fail(ValidationFailure("--no-ack is for replays of the main slot: with history: a replay never moves a slot")) }
        let logger = common.bootstrapLogging()
        let now = Date()
        let start: HistoryRange.Start = from.flatMap { LSN($0) }.map { .lsn($0) } ?? .time(TimeArgument.parse(since ?? "", now: now) ?? now)
        let end: HistoryRange.End? = to.flatMap { LSN($0) }.map { .lsn($0) } ?? until.flatMap { TimeArgument.parse($0, now: now) }.map { .time($0) }
        do {
            let range = try await HistoryRange.resolve(configuration, source: configuration.historySlot, start: start, end: end, logger: logger)
            let earliest = "\(range.earliest)\(range.earliestTime.map { " (confirmed at \(ISO8601DateFormatter().string(from: $0)))" } ?? "")"
            if dryRun {
                print("replay from \(range.start) to \(range.end) (\(range.bytes) bytes of WAL) into namespace \(target.namespace), reading a copy of \(range.source); earliest available \(earliest)")
                return
            }
            try await runHistoryReplay(configuration: target, range: range, logger: logger)
        } catch {
            throw ExitCodes.fail(error)
        }
    }
}

/// Runs the worker as a service with signal handling; prints the run's totals.
func runWorker(common: CommonOptions, options: Worker.RunOptions, replay: Bool = false, override: WorkerConfiguration? = nil) async throws {
    let logger = common.bootstrapLogging()
    do {
        let configuration = try override ?? common.load()
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
        // `history:` keeps the window: positions the worker confirms advance <slot>_history.
        let history = !replay ? configuration.history.map { HistoryKeeper(configuration: configuration, window: $0, logger: logger) } : nil
        let worker = Worker(
            configuration: configuration, logger: logger, metrics: workerMetrics, fencesMoved: { queries in notify?.fencesMoved(queries) },
            epochBegan: { epoch in warmUp?.epochBegan(epoch) }, epochContinued: { epoch in warmUp?.epochContinued(epoch) }, acknowledged: { lsn in history?.acknowledged(lsn) })
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
        if let history {
            // First in the list, so it shuts down after the worker (the group stops services in
            // reverse order) and records the worker's last acknowledgement; its end never ends the run.
            services.insert(.init(service: history, successTerminationBehavior: .ignore, failureTerminationBehavior: .ignore), at: 0)
        }
        let group = ServiceGroup(configuration: .init(services: services, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
    } catch {
        throw ExitCodes.fail(error)
    }
}
