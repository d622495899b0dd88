import Foundation
import Logging
import PGOutput
import PostgresReplication

/// `cache-warmer peek`: the decoded changes of a range as JSON lines (``ChangeLines``), read from
/// a copy of the history slot (or of the main slot without `history:`) that is dropped
/// afterwards: nothing is consumed. Always bounded: by the end position (default: the writer's
/// WAL position at the start) and optionally a line limit.
public final class ChangePeek: Sendable {
    /// What to show.
    public struct Request: Sendable {
        /// Where to start (nil: the earliest the slot holds).
        public var start: HistoryRange.Start?
        /// Where to stop (nil: the writer's current WAL position).
        public var end: HistoryRange.End?
        /// Only changes of these tables (`schema.table` or `table`; empty: all). TRUNCATE lines
        /// are kept when they name one of them; logical messages are always kept.
        public var tables: [String] = []
        /// At most this many lines.
        public var limit: Int?

        /// A request for everything in the window.
        public init(start: HistoryRange.Start? = nil, end: HistoryRange.End? = nil, tables: [String] = [], limit: Int? = nil) {
            self.start = start
            self.end = end
            self.tables = tables
            self.limit = limit
        }
    }

    private let configuration: WorkerConfiguration
    private let logger: Logger
    private let reader = CopyReader()

    /// A peek with `configuration`'s writer, slot, publication and history window.
    public init(configuration: WorkerConfiguration, logger: Logger) {
        self.configuration = configuration
        self.logger = logger
    }

    /// Stops reading (SIGINT); ``run(_:output:)`` returns and the copy is dropped.
    public func interrupt() {
        reader.interrupt()
    }

    /// Writes the lines to `output`; returns how many.
    public func run(_ request: Request, output: @escaping (String) -> Void) async throws -> Int {
        let source = configuration.history != nil ? configuration.historySlot : configuration.slot
        var lower = request.start
        // A time is found by commit timestamp: the range starts at the recorded position before it.
        let since: PostgresTimestamp? = if case .time(let time)? = request.start { PostgresTimestamp(time) } else { nil }
        let until: PostgresTimestamp? = if case .time(let time)? = request.end { PostgresTimestamp(time) } else { nil }
        if since != nil, configuration.history == nil { lower = nil }
        let endLSN: HistoryRange.End? = if case .lsn(let lsn)? = request.end { .lsn(lsn) } else { nil }
        let range = try await HistoryRange.resolve(configuration, source: source, start: lower, end: endLSN, logger: logger)
        let writer = try Setup.writerURL(configuration)
        let tables = Set(request.tables.map { $0.contains(".") ? $0 : "public." + $0 })
        var renderer = ChangeLines()
        var count = 0
        guard range.end > range.start else { return 0 }
        try await SlotCopy.with(writer, source: source, start: range.start, logger: logger) { copy in
            try await reader.read(writer, slot: copy.name, publication: configuration.publication, end: range.end, logger: logger) { message, _ in
                if let limit = request.limit, count >= limit { return false }
                if case .begin(let begin) = message, let until, begin.commitTimestamp > until { return false }
                let lines = try renderer.lines(for: message)
                if let since, let time = renderer.commitTime, time < since { return true }
                if !tables.isEmpty, case .message = message {
                } else if !tables.isEmpty, !renderer.tables(of: message).contains(where: { tables.contains($0) }) {
                    return true
                }
                for line in lines {
                    output(line)
                    count += 1
                    if let limit = request.limit, count >= limit { return false }
                }
                return true
            }
        }
        return count
    }
}
