import ArgumentParser
import CacheWarmer
import Foundation

/// `cache-warmer verify`: compares cache entries with the database.
struct VerifyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Compare cache entries with the database; exit 0 when nothing is stale, 1 otherwise.",
        discussion: """
            Counts per entity: checked, equal, missing (no valid entry: not an error), stale (a valid
            entry whose content differs from the row) and deleted_live (a valid entry of a row that no
            longer exists). A difference seen while changes are in flight counts only if it is still
            there once the worker's checkpoint has passed the LSN the row was read at and the row
            was read at or above the entry's version (read again then; a difference whose entry
            stays newer than what the reader can give is reported as unsettled, not stale). --repair replaces each stale entry by an invalidation marker at that LSN, so the
            next read refills it from the database.
            Cached queries are checked for the parameter sets of their warm.sql and their hot set
            (entry, then the result read from a reader or the writer); their other entries are
            counted as unverified.
            """
    )

    @OptionGroup var common: CommonOptions

    @Argument(help: "Entities and cached queries to check (default: all).")
    var names: [String] = []

    @Option(help: "Check a random sample of N rows (and N scanned entries) per entity.")
    var sample: Int?

    @Flag(help: "Check every row and every entry (the default).")
    var all = false

    @Flag(help: "Replace stale entries by invalidation markers.")
    var repair = false

    @Option(help: "reader (default) or writer.")
    var source: String = "reader"

    @Flag(help: "Print the report as one JSON object.")
    var json = false

    func run() async throws {
        let logger = common.bootstrapLogging()
        if all && sample != nil { throw ValidationError("--sample and --all exclude each other") }
        if let sample, sample < 1 { throw ValidationError("--sample must be at least 1") }
        guard let source = ResyncSource(rawValue: source) else { throw ValidationError("--source must be reader or writer, not '\(source)'") }
        let report: VerifyReport
        do {
            let configuration = try common.load()
            var options = VerifyOptions()
            options.names = names
            options.sample = sample
            options.repair = repair
            options.source = source
            options.chunkRows = configuration.resyncChunkRows
            let settings = options
            let checksQueries = configuration.queries.contains { names.isEmpty || names.contains($0.name) }
            report = try await withCacheReads(configuration, logger: logger, needed: checksQueries) { reads in
                try await Verify(configuration: configuration, options: settings, logger: logger, queryRead: reads.map(queryRead)).run()
            }
        } catch {
            throw ExitCodes.fail(error)
        }
        if json {
            try JSONOutput.print(report)
        } else {
            print("epoch \(report.epoch)")
            for counts in report.entities {
                print("\(counts.name): checked \(counts.checked), equal \(counts.equal), missing \(counts.missing), stale \(counts.stale), deleted_live \(counts.deletedLive)"
                    + (counts.unsettled > 0 ? ", unsettled \(counts.unsettled)" : "") + (repair ? ", repaired \(counts.repaired)" : ""))
                for key in counts.staleKeys { print("  stale: \(key)") }
            }
            for counts in report.queries {
                print("\(counts.name) (query): checked \(counts.checked) parameter sets, equal \(counts.equal), missing \(counts.missing), stale \(counts.stale), unverified entries \(counts.unverified)"
                    + (counts.unsettled > 0 ? ", unsettled \(counts.unsettled)" : "") + (repair ? ", repaired \(counts.repaired)" : ""))
                for key in counts.staleKeys { print("  stale: \(key)") }
            }
        }
        if !report.isClean { throw ExitCode(1) }
    }
}
