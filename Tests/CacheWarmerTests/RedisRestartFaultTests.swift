import CacheWarmer
import Foundation
import PGOutput
import TestSupport
import Testing

/// Restarts the stack's Redis (no persistence: it comes back empty). Runs alone: `make test` runs
/// suites named `*FaultTests` after the others.
@Suite(.serialized) struct RedisRestartFaultTests {
    @Test func redisComingBackEmptyStartsANewEpoch() async throws {
        let harness = try WorkerHarness()
        let run = harness.start()
        try harness.sql("INSERT INTO \"Order\" (\"userId\", \"totalCents\") VALUES (1, 1)")
        #expect(try await harness.waitApplied(through: try harness.currentWAL()))
        let before = try #require(try harness.epoch())

        #expect(try StackEnvironment.stack("restart", "redis") == 0)
        let id = try harness.sql("INSERT INTO \"Order\" (\"userId\", \"totalCents\") VALUES (2, 2) RETURNING id").scalar!
        #expect(try await harness.waitApplied(through: try harness.currentWAL(), within: 60))
        let after = try #require(try harness.epoch())
        #expect(after != before, "the worker noticed the lost data and began a new epoch")
        #expect(try harness.hash("\(harness.namespace):order:\(id)")["epoch"] == after)
        harness.worker.shutDown()
        _ = try await run.value
        await harness.cleanUp()
    }
}
