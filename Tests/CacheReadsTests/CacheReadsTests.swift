import CacheContract
import CacheReads
import Foundation
import PGOutput
import PostgresNIO
import TestSupport
import Testing

/// The read path against the local stack. Serialized: some tests pause replay on the shared
/// replica, which the others must not see.
@Suite(.serialized) struct CacheReadsTests {
    @Test func readYourWritesSeesTheWriteWhileTheReplicaLags() async throws {
        try await ReadsHarness.with(try ReadsHarness.configuration()) { harness in
            let reads = harness.reads
            let order = try await harness.insertOrder(status: "old")
            // The replica has the row before replay is paused.
            let first = try await reads.row(entity: "order", key: KeyPart(order.id), consistency: .readYourWrites(order.token))
            #expect(first.value == order.json)
            try ReplicaReplay.pause()
            defer { try? ReplicaReplay.resume() }
            try await harness.commands.keys.row(try EntityName("order"), key: [KeyPart(order.id)]).withDeleted(harness)
            let updated = try await harness.updateOrder(order.id, status: "new")

            let eventual = try await reads.row(entity: "order", key: KeyPart(order.id), consistency: .eventual)
            #expect(eventual.source == .reader)
            #expect(eventual.value == order.json, "the paused replica still has the old row")
            #expect(eventual.lsn.map { $0 < updated.token } == true)

            let ryw = try await reads.row(entity: "order", key: KeyPart(order.id), consistency: .readYourWrites(updated.token))
            #expect(ryw.value == updated.json)
            #expect(ryw.source == .writer)
            #expect(ryw.lsn.map { $0 >= updated.token } == true)
            #expect(ryw.fill == .outcome(.filled), "the writer's fill is newer than the reader's")

            let again = try await reads.row(entity: "order", key: KeyPart(order.id), consistency: .readYourWrites(updated.token))
            #expect(again.source == .cache)
            #expect(again.value == updated.json)

            let strong = try await reads.row(entity: "order", key: KeyPart(order.id), consistency: .strong)
            #expect(strong.source == .writer)
            #expect(strong.value == updated.json)
        }
    }

    @Test func aLaggingFillRacingAWorkerWriteNeverLeavesTheOlderValue() async throws {
        try await ReadsHarness.with(try ReadsHarness.configuration()) { harness in
            let reads = harness.reads
            let order = try await harness.insertOrder(status: "r0")
            _ = try await reads.row(entity: "order", key: KeyPart(order.id), consistency: .readYourWrites(order.token))
            try ReplicaReplay.pause()
            defer { try? ReplicaReplay.resume() }
            let entry = try harness.commands.keys.row(try EntityName("order"), key: [KeyPart(order.id)])
            var fillsFirst = 0
            var writesFirst = 0
            var hits = 0
            for round in 1...40 {
                _ = try harness.redis.command(["DEL", entry])
                let updated = try await harness.updateOrder(order.id, status: "r\(round)")
                let write = harness.commands.setRow(entry, row: updated.json, lsn: updated.token, epoch: harness.epoch)
                let delay = Duration.microseconds(Int64.random(in: 0...3000))
                async let read = reads.row(entity: "order", key: KeyPart(order.id), consistency: .eventual)
                try await Task.sleep(for: delay)
                _ = try WriteOutcome(reply: try harness.redis.evaluate(write))
                let result = try await read
                switch (result.source, result.fill) {
                case (.cache, _):
                    // The read started after the worker's write: it must see that write.
                    #expect(result.value == updated.json)
                    hits += 1
                case (.reader, .outcome(.filled)?):
                    #expect(result.value != updated.json, "the paused replica cannot have round \(round)'s update")
                    fillsFirst += 1
                case (.reader, .outcome(.refusedByEntry)?):
                    #expect(result.value != updated.json)
                    writesFirst += 1
                default:
                    Issue.record("round \(round): unexpected \(result.source) with fill \(String(describing: result.fill))")
                }
                let cached = try harness.cached(entry)
                #expect(cached.state == .value(updated.json), "round \(round): the cache holds the worker's newer row")
                #expect(cached.lsn == updated.token)
            }
            #expect(fillsFirst + writesFirst + hits == 40)
            #expect(fillsFirst + writesFirst > 0, "some rounds raced a lagging fill against the write")
        }
    }

    @Test func concurrentMissesOnOneKeyShareOneQuery() async throws {
        try await ReadsHarness.with(try ReadsHarness.configuration()) { harness in
            let reads = harness.reads
            let order = try await harness.insertOrder(status: "flight")
            _ = try await reads.row(entity: "order", key: KeyPart(order.id), consistency: .readYourWrites(order.token))
            let entry = try harness.commands.keys.row(try EntityName("order"), key: [KeyPart(order.id)])
            _ = try harness.redis.command(["DEL", entry])
            let before = reads.statistics
            let values = try await withThrowingTaskGroup(of: String?.self) { group in
                for _ in 0..<64 {
                    group.addTask { try await reads.row(entity: "order", key: KeyPart(order.id)).value }
                }
                var values: [String?] = []
                for try await value in group { values.append(value) }
                return values
            }
            let after = reads.statistics
            #expect(values.count == 64)
            #expect(values.allSatisfy { $0 == order.json })
            #expect(after.databaseQueries - before.databaseQueries == 1)
            #expect((after.sharedQueries - before.sharedQueries) + (after.cacheHits - before.cacheHits) == 63)
        }
    }

    @Test func aHitAloneWaitsInlineAndHitsBesideAnotherReadUseTheRedisThread() async throws {
        var configuration = try ReadsHarness.configuration()
        configuration.redisInlineWait = .milliseconds(500)  // generous: a busy CI machine still answers within it
        configuration.redisConnections = 1
        configuration.writerSnapshotWait = .seconds(5)
        try await ReadsHarness.with(configuration) { harness in
            let reads = harness.reads
            let order = try await harness.insertOrder(status: "inline")
            _ = try await reads.row(entity: "order", key: KeyPart(order.id), consistency: .readYourWrites(order.token))
            let before = reads.statistics
            for _ in 0..<10 {
                let hit = try await reads.row(entity: "order", key: KeyPart(order.id))
                #expect(hit.source == .cache)
                #expect(hit.value == order.json)
            }
            let alone = reads.statistics
            #expect(alone.redis.inline - before.redis.inline == 10, "\(alone.redis)")

            // Another read in flight: a strong read waiting for a transaction that holds an xid.
            let (held, holding) = AsyncStream<Void>.makeStream()
            let (release, releasing) = AsyncStream<Void>.makeStream()
            let transaction = Task {
                try await reads.write { connection in
                    _ = try await connection.query("SELECT txid_current()", logger: Logger(label: "test"))
                    holding.yield()
                    for await _ in release { break }
                }
            }
            for await _ in held { break }
            let started = reads.statistics.redis
            let strong = Task { try await reads.row(entity: "order", key: KeyPart(order.id), consistency: .strong) }
            // Its cache read done, the strong read waits on the writer until the transaction ends.
            while reads.statistics.redis.inline + reads.statistics.redis.onThread == started.inline + started.onThread {
                try await Task.sleep(for: .milliseconds(1))
            }
            let beside = reads.statistics
            for _ in 0..<5 {
                #expect(try await reads.row(entity: "order", key: KeyPart(order.id)).value == order.json)
            }
            let after = reads.statistics
            releasing.yield()
            _ = try await transaction.value
            #expect(try await strong.value.source == .writer)
            #expect(after.redis.onThread - beside.redis.onThread == 5, "hits beside a read in flight: \(after.redis)")
            #expect(after.redis.inline == beside.redis.inline)
        }
    }

    @Test func anUnreachableReaderFallsBackToTheWriter() async throws {
        var configuration = try ReadsHarness.configuration(readers: ["postgres://cachewarmer:cachewarmer@127.0.0.1:1/cachewarmer"])
        configuration.connectTimeout = .milliseconds(500)
        try await ReadsHarness.with(configuration) { harness in
            let reads = harness.reads
            #expect(reads.readerStatus.first?.isHealthy == false)
            let order = try await harness.insertOrder(status: "fallback")
            let result = try await reads.row(entity: "order", key: KeyPart(order.id))
            #expect(result.source == .writer)
            #expect(result.value == order.json)
            #expect(reads.statistics.writerFallbacks >= 1)
            let bounded = try await reads.row(entity: "order", key: KeyPart(order.id), consistency: .boundedStaleness(5))
            #expect(bounded.source == .writer)
        }
    }

    @Test func theReadHandleRefusesWrites() async throws {
        for readers in [[], nil] as [[String]?] {
            try await ReadsHarness.with(try ReadsHarness.configuration(readers: readers)) { harness in
                let rows = try await harness.reads.reads.query("""
                    SELECT current_setting('transaction_read_only'), current_setting('TimeZone'), current_setting('DateStyle'),
                           current_setting('extra_float_digits'), current_setting('IntervalStyle'), current_setting('bytea_output'),
                           current_setting('statement_timeout'), current_setting('lc_monetary')
                    """)
                let settings = try #require(rows.first).decode((String, String, String, String, String, String, String, String).self)
                #expect(settings.0 == "on")
                #expect(settings.1 == "UTC" && settings.2 == "ISO, MDY" && settings.3 == "1" && settings.4 == "postgres" && settings.5 == "hex")
                #expect(settings.6 == "2s" && settings.7 == "C")
                await #expect(throws: PSQLError.self) {
                    _ = try await harness.reads.reads.query(#"INSERT INTO "AuditLog" (message) VALUES ('must fail')"#)
                }
                do {
                    _ = try await harness.reads.reads.query(#"INSERT INTO "AuditLog" (message) VALUES ('must fail')"#)
                } catch let error as PSQLError {
                    #expect(error.serverInfo?[.sqlState] == "25006")
                }
            }
        }
    }

    @Test func catalogPagesAreCachedAndVoidedByTheirCategoryFence() async throws {
        try await ReadsHarness.with(try ReadsHarness.configuration()) { harness in
            let reads = harness.reads
            let category = "reads-" + UUID().uuidString.prefix(8).lowercased()
            let inserted = try await reads.write { connection in
                try await connection.query(
                    #"INSERT INTO "Product" (name, category, "priceCents", "popularityScore") VALUES ('a', \#(category), 100, 2.5), ('b', \#(category), 200, 1)"#,
                    logger: Logger(label: "test"))
                return true
            }
            let parameters: [String: JSONValue] = ["category": .string(category), "offset": .integer(0)]
            let first = try await reads.query("catalog-page", parameters: parameters, consistency: .readYourWrites(inserted.token))
            let page = try #require(first.value)
            #expect(page.hasPrefix("[{"))
            #expect(page.contains(#""name": "a""#) && page.contains(#""name": "b""#))
            #expect(try #require(page.range(of: #""name": "a""#)).lowerBound < #require(page.range(of: #""name": "b""#)).lowerBound)
            #expect(first.fill == .outcome(.filled))
            let second = try await reads.query("catalog-page", parameters: parameters)
            #expect(second.source == .cache)
            #expect(second.value == page)

            // A worker-style fence bump for this category (as a product change would) voids it.
            let fence = harness.commands.keys.parameterFence(try CacheName("catalog-page"), try CacheName("category"), KeyPart(category))
            let bumpAt = try #require(first.lsn).advanced(by: 1)
            _ = try harness.redis.evaluate(harness.commands.bumpFence(fence, lsn: bumpAt, epoch: harness.epoch))
            let third = try await reads.query("catalog-page", parameters: parameters)
            #expect(third.source != .cache)
            #expect(third.value == page)

            await #expect(throws: CacheReadsError.self) {
                _ = try await reads.query("catalog-page", parameters: ["category": .string(category)])
            }
        }
    }
}

extension String {
    /// Deletes this Redis key.
    fileprivate func withDeleted(_ harness: ReadsHarness) async throws {
        _ = try harness.redis.command(["DEL", self])
    }
}
