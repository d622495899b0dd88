import CacheContract
import CacheReads
import CacheWarmer
import Foundation
import Logging
import PGOutput
import PostgresReplication
import RedisCache
import TestSupport
import Testing

/// The worker and the re-warmer together: a product change moves its category's fence, the page
/// cached for that category is voided, and the re-warmer fills it again from the reader, with
/// no read in between.
@Suite struct RewarmTests {
    @Test func aHotPageIsRecomputedAfterItsFenceMoves() async throws {
        var configuration = try ReadsHarness.configuration()
        configuration.worker.slot = StackEnvironment.uniqueName("t_rewarm")
        configuration.worker.metricsPort = 0
        configuration.worker.statusInterval = 0.2
        configuration.hotSampleRate = 1
        configuration.worker.queries = configuration.worker.queries.map { query in
            var query = query
            query.rewarm = 5
            return query
        }
        let writer = try StackEnvironment.writerConnection()
        try writer.createSlotIfMissing(configuration.worker.slot)
        let category = "rewarm-" + UUID().uuidString.prefix(8).lowercased()
        let id = try writer.execute(
            "INSERT INTO \"Product\" (name, category, \"priceCents\") VALUES ('Kettle', '\(category)', 1111) RETURNING id").scalar!
        let workerConfiguration = configuration.worker

        try await ReadsHarness.with(configuration) { harness in
            var logger = Logger(label: "test.rewarm")
            logger.logLevel = .error
            let rewarmer = try HotQueryRewarmer(reads: harness.reads, logger: logger, debounce: .milliseconds(50))
            let worker = Worker(configuration: workerConfiguration, logger: logger) { rewarmer.fencesMoved($0) }
            let rewarming = Task { try await rewarmer.run() }
            let working = Task { try await worker.run() }
            defer {
                worker.shutDown()
                rewarming.cancel()
            }
            let parameters: [String: JSONValue] = ["category": .string(category), "offset": .integer(0)]
            // Read the page until it is cached (the first read fills it and records it as hot).
            var cached = false
            for _ in 0..<100 where !cached {
                cached = try await harness.reads.query("catalog-page", parameters: parameters).source == .cache
                if !cached { try await Task.sleep(for: .milliseconds(50)) }
            }
            #expect(cached)
            let key = harness.commands.keys.derived(try CacheName("catalog-page"), CanonicalParameters(parameters))
            #expect(try harness.redis.command(["HGET", key, "value"]).text?.contains("1111") == true)

            try writer.execute("UPDATE \"Product\" SET \"priceCents\" = 2222 WHERE id = \(id)")
            let refilled = try await eventually(within: 90) {
                try harness.redis.command(["HGET", key, "value"]).text?.contains("2222") == true
            }
            #expect(refilled, "the re-warmer filled the page again with the new price, without a read")
            worker.shutDown()
            _ = try await working.value
        }
        _ = try? StackEnvironment.writerConnection().dropSlotIfExists(configuration.worker.slot)
    }
}
