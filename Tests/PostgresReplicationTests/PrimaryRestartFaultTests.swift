import Foundation
import PGOutput
import PostgresReplication
import TestSupport
import Testing

/// Restarts the local primary: run on its own (`make test` runs suites named `*FaultTests` after the others), since
/// every other test using the primary would see the restart too.
@Suite(.serialized) struct PrimaryRestartFaultTests {
    @Test func theStreamResumesAfterThePrimaryRestarts() async throws {
        let harness = try StreamHarness()
        let stream = try harness.stream()
        let dog = watchdog(stream, seconds: 120)
        let before = try harness.insertOrder(1)
        var log = ChangeLog(userID: harness.userID)
        var iterator = stream.makeAsyncIterator()
        while let event = try await iterator.next() {
            if let end = try log.apply(event) { stream.confirm(end) }
            if log.changes.contains(where: { $0.id == before }) { break }
        }

        let status = try StackEnvironment.stack("restart", "primary")
        #expect(status == 0)
        var after = -1
        let inserted = try await eventually(within: 60) {
            after = (try? harness.insertOrder(2)) ?? -1
            return after > 0
        }
        #expect(inserted)
        while let event = try await iterator.next() {
            if let end = try log.apply(event) { stream.confirm(end) }
            if log.changes.contains(where: { $0.id == after }) { break }
        }
        await stream.stop()
        dog.cancel()
        #expect(log.restarts >= 1)
        #expect(Set(log.changes.map(\.id)) == [before, after])
        await harness.drop()
    }
}
