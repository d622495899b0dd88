import CacheContract
import CacheReads
import Foundation
import PGOutput
import PostgresNIO
import TestSupport
import Testing

/// A standby cut off from its primary has replayed everything it received, so its own view
/// ("receive LSN = replay LSN: no lag") stays at 0 while it falls behind. The library measures
/// readers against the writer's WAL position and stops using one that does not advance; and no
/// read fills the cache below the worker's checkpoint meanwhile.
@Suite struct ReaderFreshnessTests {
    @Test func aStandbyCutOffFromItsPrimaryIsMarkedUnhealthyAndNeverFillsOldRows() async throws {
        let script = URL(fileURLWithPath: try StackEnvironment.require("STACK_SCRIPT")).deletingLastPathComponent().appendingPathComponent("private-replica.sh").path
        let directory = try StackEnvironment.require("STACK_DIR") + "/" + StackEnvironment.uniqueName("cutoff-replica")
        let port = Int.random(in: 25500..<25900)
        #expect(try StackEnvironment.run([script, "start", directory, String(port)]) == 0, "private replica started on \(port)")
        defer { _ = try? StackEnvironment.run([script, "stop", directory]) }

        var configuration = try ReadsHarness.configuration(readers: ["postgres://cachewarmer:cachewarmer@127.0.0.1:\(port)/cachewarmer"])
        configuration.maximumReaderLag = 2
        configuration.probeInterval = .milliseconds(200)
        try await ReadsHarness.with(configuration) { harness in
            let reads = harness.reads
            let order = try await harness.insertOrder(status: "before")
            #expect(try await eventuallyAsync {
                let read = try await reads.row(entity: "order", key: KeyPart(order.id), consistency: .boundedStaleness(60))
                return read.source == .reader && read.value == order.json
            }, "the private standby serves reads: \(reads.readerStatus)")
            let entry = try harness.commands.keys.row(try EntityName("order"), key: [KeyPart(order.id)])
            _ = try harness.redis.command(["DEL", entry])
            #expect(reads.readerStatus.first?.isHealthy == true)

            #expect(try StackEnvironment.run([script, "cutoff", directory]) == 0)
            let cut = ContinuousClock.now
            var latest = order.json
            var unhealthyAfter: Duration?
            var readerReads = 0
            while ContinuousClock.now - cut < .seconds(6) {
                // The worker applies each update (row, then checkpoint); Redis then drops the entry.
                let update = try await harness.updateOrder(order.id, status: "after-\(ContinuousClock.now - cut)")
                latest = update.json
                _ = try harness.redis.evaluate(harness.commands.setRow(entry, row: update.json, lsn: update.token, epoch: harness.epoch))
                _ = try harness.redis.evaluate(harness.commands.setCheckpoint(update.token, epoch: harness.epoch))
                _ = try harness.redis.command(["DEL", entry])

                let eventual = try await reads.row(entity: "order", key: KeyPart(order.id), consistency: .eventual)
                if eventual.source == .reader { readerReads += 1 }
                if case .value(let cached) = try harness.cached(entry).state {
                    #expect(cached == latest, "an old row was filled from the cut-off standby")
                }
                let bounded = try await reads.row(entity: "order", key: KeyPart(order.id), consistency: .boundedStaleness(1))
                if ContinuousClock.now - cut > .milliseconds(1800) {
                    #expect(bounded.value == latest && bounded.source == .writer, "a 1 s bound is not met by a standby cut off for 1.8 s")
                }
                if unhealthyAfter == nil, reads.readerStatus.first?.isHealthy == false { unhealthyAfter = ContinuousClock.now - cut }
                try await Task.sleep(for: .milliseconds(100))
            }
            // Control: the standby's own view says it is not behind at all (everything it
            // received is replayed), the measure the library used before.
            let standby = try await PostgresConnection.connect(
                configuration: .init(host: "127.0.0.1", port: port, username: "cachewarmer", password: "cachewarmer", database: "cachewarmer", tls: .disable),
                id: 1, logger: harness.logger)
            var ownView: Bool?
            // Under load the standby may still be replaying what it received before the cut.
            let deadline = ContinuousClock.now + .seconds(10)
            while ownView != true, ContinuousClock.now < deadline {
                for try await same in try await standby.query("SELECT pg_last_wal_receive_lsn() IS NOT DISTINCT FROM pg_last_wal_replay_lsn()", logger: harness.logger).decode(Bool.self) {
                    ownView = same
                }
                if ownView != true { try await Task.sleep(for: .milliseconds(200)) }
            }
            try await standby.close()
            #expect(ownView == true, "control: the cut-off standby reports receive = replay (lag 0 by its own measure)")
            let status = try #require(reads.readerStatus.first)
            #expect(!status.isHealthy, "the cut-off standby is out of rotation: \(status)")
            #expect((status.writerLag ?? 0) > 2, "its lag is measured against the writer: \(status)")
            #expect(status.problem?.contains("behind the writer") == true)
            let after = try #require(unhealthyAfter, "marked unhealthy")
            #expect(after < .milliseconds(3500), "marked unhealthy within the 2 s bound plus a few probes (\(after))")
            let final = try await reads.row(entity: "order", key: KeyPart(order.id), consistency: .eventual)
            #expect(final.value == latest && final.source != .reader)
            #expect(readerReads > 0, "the standby served reads before it was found behind")
        }
    }
}
