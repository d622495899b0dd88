import Foundation
import Metrics
import Synchronization

/// What a resync has done so far, per entity or query, for progress bars, log lines, `/readyz`
/// and metrics (`cache_warmer_resync_rows_total{entity}`, `cache_warmer_resync_filled_total{entity}`,
/// `cache_warmer_resync_running`).
public final class ResyncProgress: Sendable {
    /// One entity's or query's counts.
    public struct Item: Sendable, Hashable, Codable {
        /// Entity or query name.
        public var name: String
        /// Rows (or parameter sets) read from the database in this run.
        public var rows = 0
        /// Rows already done in earlier runs of this epoch (the resumed position).
        public var resumedRows = 0
        /// Entries written (`fill-if-not-stale` answered filled).
        public var filled = 0
        /// Fills refused because the cache already held an equal or newer version.
        public var alreadyNewer = 0
        /// Fills not made: no version (writer wait timed out), refused by a fence or floor.
        public var skipped = 0
        /// Estimated rows in all (`pg_class.reltuples`, capped by `limit`), if known.
        public var estimate: Int?
        /// True once finished.
        public var done = false
        /// Seconds since this item started.
        public var seconds = 0.0
    }

    private let state = Mutex<[String: (item: Item, started: ContinuousClock.Instant)]>([:])
    private let order = Mutex<[String]>([])
    private let running = Atomic<Int>(0)
    private let runningGauge = Gauge(label: "cache_warmer_resync_running")

    /// Empty progress.
    public init() {}

    func start(_ name: String, estimate: Int?, resumedRows: Int) {
        state.withLock { $0[name] = (Item(name: name, resumedRows: resumedRows, estimate: estimate), .now) }
        order.withLock { if !$0.contains(name) { $0.append(name) } }
    }

    func add(_ name: String, rows: Int, filled: Int, alreadyNewer: Int, skipped: Int) {
        state.withLock { items in
            items[name]?.item.rows += rows
            items[name]?.item.filled += filled
            items[name]?.item.alreadyNewer += alreadyNewer
            items[name]?.item.skipped += skipped
        }
        Counter(label: "cache_warmer_resync_rows_total", dimensions: [("entity", name)]).increment(by: rows)
        Counter(label: "cache_warmer_resync_filled_total", dimensions: [("entity", name)]).increment(by: filled)
    }

    func finish(_ name: String) {
        state.withLock { items in
            guard let entry = items[name] else { return }
            items[name]?.item.done = true
            items[name]?.item.seconds = (ContinuousClock.now - entry.started) / .seconds(1)
        }
    }

    func began() {
        runningGauge.record(running.add(1, ordering: .relaxed).newValue)
    }

    func ended() {
        runningGauge.record(running.subtract(1, ordering: .relaxed).newValue)
    }

    /// True while a resync runs.
    public var isRunning: Bool { running.load(ordering: .relaxed) > 0 }

    /// Every item, in the order they started.
    public var items: [Item] {
        let names = order.withLock { $0 }
        let now = ContinuousClock.now
        return state.withLock { items in
            names.compactMap { name in
                guard var entry = items[name] else { return nil }
                if !entry.item.done { entry.item.seconds = (now - entry.started) / .seconds(1) }
                return entry.item
            }
        }
    }

    /// One line per item: `order 120000/1000000 rows 45000 rows/s ETA 20 s`.
    public var summary: String {
        items.map(Self.line).joined(separator: "; ")
    }

    static func line(_ item: Item) -> String {
        let done = item.rows + item.resumedRows
        let rate = item.seconds > 0 ? Double(item.rows) / item.seconds : 0
        var text = "\(item.name) \(done)" + (item.estimate.map { "/~\($0)" } ?? "") + " rows \(Int(rate)) rows/s"
        if item.done {
            text += " done"
        } else if let estimate = item.estimate, rate > 0, estimate > done {
            text += " ETA \(Int(Double(estimate - done) / rate)) s"
        }
        return text
    }

    /// Draws a bar per item on a terminal (standard error), or logs a line per item every
    /// `interval` otherwise, until cancelled.
    public func report(terminal: Bool, interval: Duration, log: @Sendable (String) -> Void) async {
        var drawn = 0
        while !Task.isCancelled {
            try? await Task.sleep(for: terminal ? .milliseconds(250) : interval)
            let items = self.items
            if terminal {
                drawn = Self.draw(items, previousLines: drawn)
            } else if !items.isEmpty {
                log(summary)
            }
        }
        if terminal { _ = Self.draw(items, previousLines: drawn) }
    }

    /// Redraws the bars in place; returns the number of lines drawn.
    static func draw(_ items: [Item], previousLines: Int) -> Int {
        var text = previousLines > 0 ? "\u{1B}[\(previousLines)A" : ""
        for item in items {
            let done = item.rows + item.resumedRows
            let fraction = item.done ? 1 : item.estimate.map { $0 > 0 ? min(1, Double(done) / Double($0)) : 0 } ?? 0
            let width = 30
            let filled = Int(fraction * Double(width))
            let bar = String(repeating: "#", count: filled) + String(repeating: "-", count: width - filled)
            text += "\u{1B}[2K\(item.name.padding(toLength: 16, withPad: " ", startingAt: 0)) [\(bar)] \(line(item))\n"
        }
        FileHandle.standardError.write(Data(text.utf8))
        return items.count
    }
}
