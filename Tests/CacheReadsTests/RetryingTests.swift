import Foundation
import TestSupport
import Testing

@testable import CacheReads

/// A database call's time limit holds even when the call ignores cancellation (a connection
/// lease from a pool that keeps failing to connect did, and a read hung for minutes).
@Suite struct RetryingTests {
    @Test func theLimitHoldsWhenTheBodyIgnoresCancellation() async throws {
        let started = ContinuousClock.now
        await #expect(throws: CacheReadsError.self) {
            _ = try await Retrying.withTimeout(.milliseconds(200), "test") { () async throws -> Int in
                // Waits 120 s on a thread of its own: cancellation cannot reach it (and it holds
                // none of the cooperative threads other tests need).
                try await onOwnThread {
                    usleep(120_000_000)
                    return 1
                }
            }
        }
        #expect(ContinuousClock.now - started < .seconds(60), "returned at the limit, not when the body ended (120 s)")
    }

    @Test func aQuickBodyGivesItsResultOrItsError() async throws {
        #expect(try await Retrying.withTimeout(.seconds(5), "test") { 42 } == 42)
        struct Failure: Error {}
        await #expect(throws: Failure.self) {
            _ = try await Retrying.withTimeout(.seconds(5), "test") { () async throws -> Int in throw Failure() }
        }
    }
}
