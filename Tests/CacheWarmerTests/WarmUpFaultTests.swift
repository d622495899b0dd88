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
