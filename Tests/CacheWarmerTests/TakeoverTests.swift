import CacheWarmer
import Foundation
import PGOutput
import PostgresReplication
import TestSupport
import Testing

/// Two `cache-warmer run` processes on one slot: the second stands by, polling the held slot at a
/// steady interval, and takes over within 2 s when the active one is killed (SIGKILL) or stopped
/// (SIGTERM). Takeover time = from the signal to the moment a row written right after it is in
/// Redis.
@Suite struct TakeoverTests {
    @Test func aStandbyTakesOverWithinTwoSecondsOfAKillAndOfAStop() async throws {
        let harness = try WorkerHarness()
        let (directory, config) = try harness.processConfiguration()
        let command = [WorkerProcessTests.binary, "run", "--config", config]
        let logs = (0..<3).map { directory.appendingPathComponent("worker\($0).log").path }
        let user = Int.random(in: 10_000_000...99_999_999)
        let log = { (index: Int) in (try? String(contentsOfFile: logs[index], encoding: .utf8)) ?? "" }
        let insert = { () throws -> String in
            try harness.sql("INSERT INTO \"Order\" (\"userId\", \"totalCents\") VALUES (\(user), 1) RETURNING id").scalar!
        }
        let cached = { (id: String) in (try? harness.hash("\(harness.namespace):order:\(id)"))?["row"] != nil }

        let first = try StackEnvironment.spawn(command, output: logs[0])
        #expect(try await eventually(within: 90) { try PostgresConnection(harness.writer).slotState(harness.slot)?.activePID != nil })
        let second = try StackEnvironment.spawn(command, output: logs[1])
        #expect(try await eventually(within: 90) { log(1).contains("standing by") }, "the second worker stands by: \(log(1))")
        let warmUp = try insert()
        #expect(try await eventually(within: 90) { cached(warmUp) }, "the active worker applies: \(log(0))")
        // Standing by, the second polls quietly: one notice, not one line per poll.
        try await Task.sleep(for: .seconds(1.5))
        #expect(log(1).components(separatedBy: "standing by").count == 2, "\(log(1))")

        kill(first, SIGKILL)
        let killedAt = Date()
        let afterKill = try insert()
        #expect(try await eventually(within: 20) { cached(afterKill) }, "the standby took over: \(log(1))")
        let takeoverAfterKill = Date().timeIntervalSince(killedAt)
        #expect(StackEnvironment.waitForExit(first) == 128 + SIGKILL)

        // The killed worker comes back as the standby; then the active one is stopped.
        let third = try StackEnvironment.spawn(command, output: logs[2])
        #expect(try await eventually(within: 90) { log(2).contains("standing by") }, "\(log(2))")
        kill(second, SIGTERM)
        let stoppedAt = Date()
        let afterStop = try insert()
        #expect(try await eventually(within: 20) { cached(afterStop) }, "the standby took over: \(log(2))")
        let takeoverAfterStop = Date().timeIntervalSince(stoppedAt)
        #expect(StackEnvironment.waitForExit(second, within: 30) == 0)

        print("takeover: \(String(format: "%.2f", takeoverAfterKill)) s after kill -9, \(String(format: "%.2f", takeoverAfterStop)) s after SIGTERM")
        #expect(takeoverAfterKill < 2, "takeover after kill -9 took \(takeoverAfterKill) s")
        #expect(takeoverAfterStop < 2, "takeover after SIGTERM took \(takeoverAfterStop) s")

        kill(third, SIGTERM)
        #expect(StackEnvironment.waitForExit(third, within: 30) == 0)
        await harness.cleanUp()
    }
}
