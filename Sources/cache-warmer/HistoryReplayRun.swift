import CacheWarmer
import Foundation
import Logging
import Metrics
import PGOutput
import Prometheus
import ServiceLifecycle
import Synchronization

/// Runs a replay from the history window with SIGINT/SIGTERM handling (the slot copy is dropped
/// on every exit) and, on a terminal, one progress line a second on standard error: the LSN
/// reached, changes per second and the ETA by WAL bytes.
func runHistoryReplay(configuration: WorkerConfiguration, range: HistoryRange, logger: Logger) async throws {
    let registry = PrometheusCollectorRegistry()
    MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry))
    let reached = Reached()
    let finished = Finished()
    let service = HistoryReplayService(
        configuration: configuration, range: range, logger: logger, progress: { lsn in reached.value.withLock { $0 = max($0 ?? lsn, lsn) } }
    ) { outcome in finished.value.withLock { $0 = outcome } }
    let progress = isatty(STDERR_FILENO) == 1 ? Task { await printProgress(range: range, reached: reached, registry: registry) } : nil
    let group = ServiceGroup(
        configuration: .init(
            services: [.init(service: service, successTerminationBehavior: .gracefullyShutdownGroup, failureTerminationBehavior: .gracefullyShutdownGroup)],
            gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
    do {
        try await group.run()
    } catch {
        progress?.cancel()
        await progress?.value
        throw error
    }
    progress?.cancel()
    await progress?.value
    if let outcome = finished.value.withLock({ $0 }) {
        let summary = outcome.summary
        let rate = outcome.streamSeconds > 0 ? Double(summary.changes) / outcome.streamSeconds : 0
        print(
            "replayed \(summary.transactions) transactions, \(summary.changes) changes from \(range.start) to \(summary.lastApplied.map { "\($0)" } ?? "\(range.start)") "
                + "into namespace \(configuration.namespace) (epoch \(summary.epoch)) in \(String(format: "%.2f", outcome.streamSeconds)) s "
                + "(\(Int(rate)) changes/s; advancing the copy to the start took \(String(format: "%.2f", outcome.advanceSeconds)) s)")
    }
}

/// One line a second until cancelled: `replay: 0/5A3B1C8 (42.0%) 31250 changes/s, ETA 12 s`.
private func printProgress(range: HistoryRange, reached: Reached, registry: PrometheusCollectorRegistry) async {
    var standardError = StandardError()
    let began = ContinuousClock.now
    var lastChanges = 0.0
    var lastTime = began
    while !Task.isCancelled {
        try? await Task.sleep(for: .seconds(1))
        if Task.isCancelled { break }
        guard let position = reached.value.withLock({ $0 }) else { continue }
        let now = ContinuousClock.now
        let changes = changesTotal(registry)
        let interval = (now - lastTime).seconds
        let rate = interval > 0 ? (changes - lastChanges) / interval : 0
        (lastChanges, lastTime) = (changes, now)
        let done = Double(max(0, position.distance(from: range.start)))
        let total = Double(max(1, range.bytes))
        let elapsed = (now - began).seconds
        let eta = done > 0 ? elapsed * (total - done) / done : 0
        print("\rreplay: \(position) (\(String(format: "%.1f", min(100, 100 * done / total)))%) \(Int(rate)) changes/s, ETA \(Int(eta.rounded())) s   ", terminator: "", to: &standardError)
    }
    print("", to: &standardError)
}

/// `cache_warmer_changes_total` as the registry renders it.
private func changesTotal(_ registry: PrometheusCollectorRegistry) -> Double {
    var buffer: [UInt8] = []
    registry.emit(into: &buffer)
    for line in String(decoding: buffer, as: UTF8.self).split(separator: "\n") where line.hasPrefix("cache_warmer_changes_total") {
        return line.split(separator: " ").last.flatMap { Double($0) } ?? 0
    }
    return 0
}

extension Duration {
    fileprivate var seconds: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
}

/// The newest position the replay confirmed, shared with the progress line.
private final class Reached: Sendable {
    let value = Mutex<LSN?>(nil)
}

/// The replay's outcome, once it finished.
private final class Finished: Sendable {
    let value = Mutex<HistoryReplayService.Outcome?>(nil)
}
