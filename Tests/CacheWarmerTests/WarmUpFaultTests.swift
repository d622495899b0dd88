import CacheContract
import CacheWarmer
import Foundation
import PGOutput
import TestSupport
import Testing

/// The automatic warm-up of `run`: on its first start and after Redis restarted empty while it
/// streams, a new epoch begins and a background resync fills every row again. Restarts Redis:
/// runs alone (in CI after the other suites; while developing, on a private stack).
@Suite(.serialized) struct WarmUpFaultTests {
    @Test func redisRestartedEmptyWhileRunStreamsIsWarmedAgain() async throws {
        let rows = 20_000
        let harness = try await WarmHarness(rows: rows, inProcessWorker: false)
        let log = harness.directory + "/run.log"
        let worker = try StackEnvironment.spawn([WorkerProcessTests.binary, "run", "--config", harness.config], output: log)
        defer { kill(worker, SIGKILL) }
        let position = "\(harness.namespace):meta:resync:item"

        let firstEpoch = try await warmedEpoch(harness, position: position, after: nil)
        let first = try #require(firstEpoch, "the first start warmed the cache: \(Self.tail(log))")
        // The first change of the table in this epoch records its shape; it must not void the warm-up.
        _ = try harness.sql("UPDATE \(harness.table) SET label = 'changed' WHERE id = 1")
        try await harness.settle()
        let before = try await harness.cli(["verify", "--all", "--json"])
        #expect(before.status == 0 && VerifyTests.counts(before.output).map { $0.equal == rows && $0.missing == 0 } == true, "\(before.output)")

        #expect(try StackEnvironment.stack("restart", "redis") == 0)
        let secondEpoch = try await warmedEpoch(harness, position: position, after: first)
        #expect(secondEpoch != nil, "a new epoch began and was warmed: \(Self.tail(log))")
        let after = try await harness.cli(["verify", "--all", "--json"])
        let counts = VerifyTests.counts(after.output)
        #expect(after.status == 0, "\(after.output)")
        #expect(counts.map { $0.checked == rows && $0.equal == rows && $0.missing == 0 } == true, "every row is warm again: \(after.output)")

        kill(worker, SIGTERM)
        #expect(try await onOwnThread { StackEnvironment.waitForExit(worker, within: 30) } == 0)
        await harness.cleanUp()
    }

    /// A warm-up slowed by its `where` (2 ms a row, two chunks of 1000): the worker is killed
    /// after the first chunk, once it wrote a checkpoint; started again in the same epoch, it
    /// resumes the warm-up from the stored position and finishes it.
    @Test func aWorkerRestartedInTheSameEpochResumesAnUnfinishedWarmUp() async throws {
        let rows = 2000
        let harness = try await WarmHarness(rows: rows, inProcessWorker: false, itemWarm: #"{ where: "pg_sleep(0.002) IS NOT NULL" }"#)
        let position = "\(harness.namespace):meta:resync:item"
        let firstLog = harness.directory + "/run-1.log"
        let first = try StackEnvironment.spawn([WorkerProcessTests.binary, "run", "--config", harness.config], output: firstLog)
        defer { kill(first, SIGKILL) }
        let redis = try harness.worker.redis()
        let halfWay = try await eventually(within: 60) {
            guard try redis.command(["EXISTS", "\(harness.namespace):meta:checkpoint"]).integer == 1,
                case .array(let fields) = try redis.command(["HMGET", position, "rows", "done"]), fields.count == 2,
                let done = fields[0].text.flatMap({ Int($0) }), done >= 1000
            else { return false }
            return fields[1].text != "1"
        }
        try #require(halfWay, "the warm-up stored a position after its first chunk: \(Self.tail(firstLog))")
        kill(first, SIGKILL)
        _ = try await onOwnThread { StackEnvironment.waitForExit(first, within: 10) }
        let epoch = try redis.command(["GET", "\(harness.namespace):meta:epoch"]).text
        #expect(warmUpRecord(harness) == [epoch, "0"], "the record says the warm-up began and did not finish")

        let secondLog = harness.directory + "/run-2.log"
        let second = try StackEnvironment.spawn([WorkerProcessTests.binary, "run", "--config", harness.config], output: secondLog)
        defer { kill(second, SIGKILL) }
        let finished = try await eventually(within: 60) { warmUpRecord(harness) == [epoch, "1"] }
        #expect(finished, "the warm-up finished in the same epoch: \(Self.tail(secondLog))")
        #expect(try redis.command(["GET", "\(harness.namespace):meta:epoch"]).text == epoch, "no new epoch")
        let log = (try? String(contentsOfFile: secondLog, encoding: .utf8)) ?? ""
        #expect(log.contains("did not finish; resuming it"), "\(Self.tail(secondLog))")
        #expect(log.contains("resync resumes where it stopped"), "it went on from the stored position: \(Self.tail(secondLog))")
        try await verifiedAndStopped(harness, rows: rows, worker: second)
    }

    /// Redis drops every client connection twice while the warm-up runs (no data lost, same
    /// epoch): the warm-up pauses, resumes from its position and finishes.
    @Test func aWarmUpInterruptedByLostRedisConnectionsResumesAndFinishes() async throws {
        let rows = 2000
        let harness = try await WarmHarness(rows: rows, inProcessWorker: false, itemWarm: #"{ where: "pg_sleep(0.002) IS NOT NULL" }"#)
        let log = harness.directory + "/run.log"
        let worker = try StackEnvironment.spawn([WorkerProcessTests.binary, "run", "--config", harness.config], output: log)
        defer { kill(worker, SIGKILL) }
        let began = try await eventually(within: 90) { warmUpRecord(harness)?.last == "0" }
        try #require(began, "the warm-up began: \(Self.tail(log))")
        let epoch = try harness.worker.redis().command(["GET", "\(harness.namespace):meta:epoch"]).text
        for _ in 0..<2 {
            try await Task.sleep(for: .milliseconds(700))
            _ = try harness.worker.redis().command(["CLIENT", "KILL", "TYPE", "normal", "SKIPME", "yes"])
        }
        let finished = try await eventually(within: 90) { warmUpRecord(harness) == [epoch, "1"] }
        #expect(finished, "the warm-up finished in the same epoch: \(Self.tail(log))")
        let text = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
        #expect(text.contains("warm-up interrupted; resuming from its position"), "\(Self.tail(log))")
        try await verifiedAndStopped(harness, rows: rows, worker: worker)
    }

    /// A deployment without replicas names the primary as its reader: the warm-up finds it is
    /// no standby and reads the writer with its versioning procedure instead of failing.
    @Test func aReaderURLNamingThePrimaryWarmsFromTheWriter() async throws {
        let rows = 500
        let harness = try await WarmHarness(rows: rows, inProcessWorker: false)
        let log = harness.directory + "/run.log"
        let worker = try StackEnvironment.spawn(
            [WorkerProcessTests.binary, "run", "--config", harness.config, "--reader-url", try StackEnvironment.require("DB_WRITER_URL")], output: log)
        defer { kill(worker, SIGKILL) }
        let finished = try await eventually(within: 90) { warmUpRecord(harness)?.last == "1" }
        #expect(finished, "the warm-up finished: \(Self.tail(log))")
        let text = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
        #expect(text.contains("reader_url is not a standby; reading the writer instead"), "\(Self.tail(log))")
        try await verifiedAndStopped(harness, rows: rows, worker: worker)
    }

    /// Every row is warm (`verify --all`), then the worker stops on SIGTERM with status 0.
    private func verifiedAndStopped(_ harness: WarmHarness, rows: Int, worker: pid_t) async throws {
        let verified = try await harness.cli(["verify", "--all", "--json"])
        #expect(VerifyTests.counts(verified.output).map { $0.equal == rows && $0.missing == 0 } == true, "\(verified.output)")
        kill(worker, SIGTERM)
        #expect(try await onOwnThread { StackEnvironment.waitForExit(worker, within: 30) } == 0)
        await harness.cleanUp()
    }

    /// `<ns>:meta:warmup`'s epoch and done fields.
    private func warmUpRecord(_ harness: WarmHarness) -> [String?]? {
        guard let redis = try? harness.worker.redis(), case .array(let fields)? = try? redis.command(["HMGET", "\(harness.namespace):meta:warmup", "epoch", "done"]) else {
            return nil
        }
        return fields.map(\.text)
    }

    /// Waits until an epoch other than `previous` exists and its warm-up position says done.
    private func warmedEpoch(_ harness: WarmHarness, position: String, after previous: String?) async throws -> String? {
        var found: String?
        _ = try await eventually(within: 90) {
            guard let redis = try? harness.worker.redis(), let epoch = try? redis.command(["GET", "\(harness.namespace):meta:epoch"]).text,
                epoch != previous,
                case .array(let fields)? = try? redis.command(["HMGET", position, "epoch", "done"]),
                fields.count == 2, fields[0].text == epoch, fields[1].text == "1"
            else { return false }
            found = epoch
            return true
        }
        return found
    }

    static func tail(_ path: String) -> String {
        ((try? String(contentsOfFile: path, encoding: .utf8)) ?? "").split(separator: "\n").suffix(15).joined(separator: "\n")
    }
}
