import ArgumentParser
import CacheWarmer
import Foundation
import PGOutput
import PostgresReplication

/// `cache-warmer setup`: publication and slot on the writer.
struct SetupCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "setup",
        abstract: "Check wal_level, create/extend the publication for the configured tables, create the slot if missing."
    )

    @OptionGroup var common: CommonOptions

    @Flag(help: "Drop and recreate the slot (e.g. after it was lost) and begin a new cache epoch: entries written before are no longer served. Stop the worker first.")
    var recreateSlot = false

    @Flag(help: "Print the SQL for least-privilege worker and reader roles (and the publication) instead of setting up.")
    var printGrants = false

    @Flag(help: "With --print-grants: Amazon RDS/Aurora (GRANT rds_replication instead of the REPLICATION attribute).")
    var rds = false

    @Option(help: "With --print-grants: the worker's role name.")
    var workerRole = "cw_worker"

    @Option(help: "With --print-grants: the readers' role name.")
    var readerRole = "cw_reader"

    func validate() throws {
        if printGrants && recreateSlot { throw ValidationError("--print-grants and --recreate-slot do not go together") }
        if !printGrants && (rds || workerRole != "cw_worker" || readerRole != "cw_reader") {
            throw ValidationError("--rds, --worker-role and --reader-role go with --print-grants")
        }
    }

    func run() async throws {
        _ = common.bootstrapLogging()
        do {
            let configuration = try common.load()
            if printGrants {
                print(Grants(workerRole: workerRole, readerRole: readerRole, rds: rds).sql(for: configuration), terminator: "")
                return
            }
            if recreateSlot {
                let done = try await Setup.recreateSlot(configuration)
                let before = done.previousWALStatus.map { "dropped (wal_status was \($0)) and recreated" } ?? "did not exist: created"
                print("slot \(configuration.slot) \(before) at \(done.slotConfirmed)")
                print("began cache epoch \(done.epoch) (previous \(done.previousEpoch.map { "\($0)" } ?? "none")) with fill floor \(done.floor): entries written before are no longer served; the worker and readers fill the cache anew")
                return
            }
            let report = try await Setup.run(configuration)
            print("publication \(report.publication) covers \(report.tables.joined(separator: ", "))")
            print("slot \(report.slot) \(report.slotCreated ? "created" : "exists") at \(report.slotConfirmedLSN ?? "?")")
            if let history = report.history { print(history) }
        } catch {
            throw ExitCodes.fail(error)
        }
    }
}

/// `cache-warmer teardown`: drops the slot (and the publication on request).
struct TeardownCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "teardown",
        abstract: "Drop the slot so the writer stops retaining WAL for it (--drop-publication drops the publication too)."
    )

    @OptionGroup var common: CommonOptions

    @Flag(help: "Also drop the publication.")
    var dropPublication = false

    func run() async throws {
        _ = common.bootstrapLogging()
        do {
            let configuration = try common.load()
            let result = try await Setup.teardown(configuration, dropPublication: dropPublication)
            print("slot \(configuration.slot): \(result.slotDropped ? "dropped" : "did not exist")")
            if dropPublication {
                print("publication \(configuration.publication): \(result.publicationDropped ? "dropped" : "did not exist")")
            }
        } catch {
            throw ExitCodes.fail(error)
        }
    }
}

/// `cache-warmer status`: slot position and lag, Redis checkpoint and epoch.
struct StatusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Slot position, confirmed lag (bytes, seconds), retained WAL, wal_status, Redis checkpoint, epoch, whether a worker holds the slot.",
        discussion: "Exit status 0 when the slot exists and is not lost and the publication delivers what the configuration needs, 3 otherwise."
    )

    @OptionGroup var common: CommonOptions

    @Flag(help: "Print JSON.")
    var json = false

    func run() async throws {
        _ = common.bootstrapLogging()
        let report: StatusReport
        do {
            report = try await StatusReport.read(try common.load())
        } catch {
            throw ExitCodes.fail(error)
        }
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            print(String(decoding: try encoder.encode(report), as: UTF8.self))
        } else {
            let rows: [(String, String)] = [
                ("slot", "\(report.slot)\(report.slotExists ? "" : " (missing: run cache-warmer setup)")"),
                ("confirmed_flush_lsn", report.confirmedFlushLSN ?? "-"),
                ("current_wal", report.currentWAL),
                ("confirmed lag", report.confirmedLagBytes.map { "\($0) bytes" } ?? "-"),
                ("flush lag", report.flushLagSeconds.map { String(format: "%.3f s", $0) } ?? "-"),
                ("retained WAL", report.retainedWALBytes.map { "\($0) bytes" } ?? "-"),
                ("wal_status", report.walStatus ?? "-"),
                ("worker", report.workerActive ? "streaming (walsender pid \(report.activePID ?? 0))" : "none holds the slot"),
                ("publication", report.publicationProblem == nil ? "delivers what the configuration needs" : "NOT READY: see below"),
                ("redis checkpoint", report.redisCheckpoint ?? "none"),
                ("cache epoch", report.epoch.map { "\($0)" } ?? "none"),
            ]
            for (label, value) in rows + historyRows(report.history) + resyncStatusRows(report.resync) {
                print("\(label.padding(toLength: 20, withPad: " ", startingAt: 0)) \(value)")
            }
        }
        for warning in report.history?.warnings ?? [] {
            var standardError = StandardError()
            print("cache-warmer: warning: \(warning)", to: &standardError)
        }
        if report.walStatus == "lost" {
            var standardError = StandardError()
            let target = ConnectionString((try? common.load().writerURL) ?? "writer")
            print("cache-warmer: \(ReplicationError.slotLost(target: target, slot: report.slot, restartLSN: report.restartLSN.flatMap { LSN($0) }))", to: &standardError)
        }
        if let problem = report.publicationProblem {
            var standardError = StandardError()
            print("cache-warmer: not ready: \(problem)", to: &standardError)
        }
        if !report.slotExists || report.walStatus == "lost" || report.publicationProblem != nil { throw ExitCode(3) }
    }

    /// The history window's lines (none without `history:`).
    private func historyRows(_ history: HistoryStatus?) -> [(String, String)] {
        guard let history else { return [] }
        guard history.exists else { return [("history slot", "\(history.slot) (missing: run cache-warmer setup)")] }
        return [
            ("history slot", "\(history.slot) (keeps \(history.keep))"),
            ("history earliest", "\(history.earliestLSN ?? "-") at \(history.earliestTime ?? "unknown time")"),
            ("history WAL", history.retainedWALBytes.map { "\($0) bytes" } ?? "-"),
            ("history wal_status", history.walStatus ?? "-"),
            ("max_slot_wal_keep", history.maxSlotWALKeepSizeBytes.map { "\($0) bytes" } ?? "unlimited"),
        ]
    }
}
