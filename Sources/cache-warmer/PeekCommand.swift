import ArgumentParser
import CacheWarmer
import Foundation
import PGOutput

/// `cache-warmer peek`: decoded changes as JSON lines, consuming nothing.
struct PeekCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "peek",
        abstract: "Print decoded changes as JSON lines without consuming anything (a copy of the history slot, dropped afterwards).",
        discussion: """
            One line per insert, update, delete, TRUNCATE and logical message: commit_lsn, xid, commit_time, table, op, \\
            key, old_kind/old (when sent), new. Values are the text Postgres sent, null for NULL, {"unchanged_toast":true} \\
            for an unchanged TOAST value the server did not send. Without history: a copy of the main slot is read (only \\
            what the worker has not confirmed yet). Always bounded: by --to/--until (default: the writer's WAL position now) \\
            and --limit.
            """
    )

    @OptionGroup var common: CommonOptions

    @Option(help: "Start LSN (X/Y): transactions committing after it. Default: the earliest the slot holds.")
    var from: String?

    @Option(help: "Start time: a duration ago (15m, 1h) or ISO 8601; transactions committed at or after it.")
    var since: String?

    @Option(help: "End LSN (X/Y). Default: the writer's current WAL position.")
    var to: String?

    @Option(help: "End time (same forms as --since): transactions committed by then.")
    var until: String?

    @Option(help: "Only this table (schema.table or table; repeatable).")
    var table: [String] = []

    @Option(help: "At most this many lines.")
    var limit: Int?

    func validate() throws {
        if from != nil && since != nil { throw ValidationError("give at most one of --from and --since") }
        if to != nil && until != nil { throw ValidationError("give at most one of --to and --until") }
        if let from, LSN(from) == nil { throw ValidationError("--from '\(from)' is not an LSN like 0/16B3748") }
        if let to, LSN(to) == nil { throw ValidationError("--to '\(to)' is not an LSN like 0/16B3748") }
        if let since, TimeArgument.parse(since) == nil { throw ValidationError("--since '\(since)' is neither a duration (15m, 1h) nor an ISO 8601 time") }
        if let until, TimeArgument.parse(until) == nil { throw ValidationError("--until '\(until)' is neither a duration (15m, 1h) nor an ISO 8601 time") }
        if let limit, limit < 1 { throw ValidationError("--limit must be at least 1") }
    }

    func run() async throws {
        let logger = common.bootstrapLogging()
        let now = Date()
        var request = ChangePeek.Request(tables: table, limit: limit)
        request.start = from.flatMap { LSN($0) }.map { .lsn($0) } ?? since.flatMap { TimeArgument.parse($0, now: now) }.map { .time($0) }
        request.end = to.flatMap { LSN($0) }.map { .lsn($0) } ?? until.flatMap { TimeArgument.parse($0, now: now) }.map { .time($0) }
        do {
            let peek = ChangePeek(configuration: try common.load(), logger: logger)
            // SIGINT/SIGTERM end the reading; the slot copy is dropped before exiting.
            let signals = [SIGINT, SIGTERM].map { number -> any DispatchSourceSignal in
                signal(number, SIG_IGN)
                let source = DispatchSource.makeSignalSource(signal: number)
                source.setEventHandler { peek.interrupt() }
                source.resume()
                return source
            }
            defer { signals.forEach { $0.cancel() } }
            _ = try await peek.run(request) { line in
                print(line)
            }
            fflush(nil)
        } catch {
            throw ExitCodes.fail(error)
        }
    }
}
