import CacheContract
import CacheReads
import Foundation
import PGOutput
import PostgresNIO
import TestSupport
import Testing

/// Fills through a transaction-pooling proxy and after evictions (docs/consistency.md), in the
/// serialized suite: they pause replay on the shared replica, or read through the proxy whose
/// hosts include it.
extension CacheReadsTests {
    /// PgBouncer (transaction pooling, `STACK_PROXY=1`) in front of the shared replica and a
    /// second one 2 s behind, statements of one client alternating between them. A fill whose
    /// version and data were read by two statements on two replicas (the version from the one
    /// ahead, the data from the one behind) would carry a version above its data; the fill reads
    /// both in one transaction, on one backend, so every version is a lower bound of its data.
    @Test func fillsThroughATransactionPoolingProxyReadVersionAndDataOnOneReplica() async throws {
        var configuration = try ReadsHarness.configuration(readers: [try StackEnvironment.require("DB_PROXY_URL")])
        configuration.probeInterval = .seconds(30)  // probes (one per reader) would shift the rotation
        try await ReadsHarness.with(configuration) { harness in
            let reads = harness.reads
            // The proxy's janitor opens its minimum of server connections (to both replicas)
            // once a client is connected.
            try await Task.sleep(for: .milliseconds(1500))
            let hosts = try await Set((0..<6).asyncMap { _ in
                try await reads.reads.query("SELECT inet_server_addr()::text").first?.decode(String.self)
            })
            #expect(hosts.count == 2, "the proxy alternates between both replicas (saw \(hosts), readers \(reads.readerStatus))")
            var orders: [(id: Int, json: String)] = []
            for index in 0..<12 {
                let order = try await harness.insertOrder(status: "old\(index)")
                orders.append((order.id, order.json))
            }
            try await Task.sleep(for: .milliseconds(3000))  // both replicas have the inserts
            // The second replica stops replaying: it stays behind the updates, however busy the
            // machine (its 2 s apply delay alone could pass while they are written).
            try ReplicaReplay.pause(second: true)
            defer { try? ReplicaReplay.resume(second: true) }
            var updates: [(id: Int, json: String, token: LSN)] = []
            for order in orders {
                let updated = try await harness.updateOrder(order.id, status: "new")
                updates.append((order.id, updated.json, updated.token))
            }
            try await Task.sleep(for: .milliseconds(300))  // the first replica has them, the second not yet
            // Control: the version and the data as two autocommit statements (what the library did
            // before) do land on different replicas here, a version above its data.
            let proxy = try URLComponents(string: try StackEnvironment.require("DB_PROXY_URL"))
            let control = try await PostgresConnection.connect(
                configuration: .init(host: proxy?.host ?? "127.0.0.1", port: proxy?.port ?? 25434, username: "cachewarmer",
                                     password: "cachewarmer", database: "cachewarmer", tls: .disable),
                id: 1, logger: harness.logger)
            var torn = 0
            // The proxy hands statements to its server connections in turn: which replica answers
            // the version and which the data depends on where the turn stands, so a second round
            // is shifted by one statement.
            for round in 0..<2 where torn == 0 {
                if round == 1 { _ = try await control.query("SELECT 1", logger: harness.logger).collect() }
                for (order, update) in zip(orders, updates) {
                    var version: String?
                    for try await text in try await control.query("SELECT pg_last_wal_replay_lsn()::text", logger: harness.logger).decode(String.self) { version = text }
                    var row: String?
                    for try await text in try await control.query(#"SELECT to_jsonb(t)::text FROM "Order" t WHERE id = \#(order.id)"#, logger: harness.logger).decode(String.self) { row = text }
                    if let version = version.flatMap({ LSN($0) }), version >= update.token, row == order.json { torn += 1 }
                }
            }
            try await control.close()
            #expect(torn > 0, "the proxy splits autocommit statements over the replicas")
            var fills = 0
            var newSeen = 0
            for (order, update) in zip(orders, updates) {
                let result = try await reads.row(entity: "order", key: KeyPart(order.id), consistency: .eventual)
                #expect(result.source == .reader)
                let lsn = try #require(result.lsn)
                if result.value == update.json { newSeen += 1 }
                if lsn >= update.token {
                    #expect(result.value == update.json, "order \(order.id): version \(lsn) >= the update's \(update.token), but the data is older")
                } else {
                    #expect(result.value == order.json)
                }
                if result.fill == .outcome(.filled) { fills += 1 }
                let entry = try harness.commands.keys.row(try EntityName("order"), key: [KeyPart(order.id)])
                let cached = try harness.cached(entry)
                if let cachedLSN = cached.lsn, cachedLSN >= update.token {
                    #expect(cached.state == .value(update.json), "order \(order.id): cached at \(cachedLSN) with data older than the update")
                }
            }
            #expect(fills == orders.count)
            #expect(newSeen > 0 && newSeen < orders.count, "reads landed on both replicas (\(newSeen) of \(orders.count) new)")
        }
    }

    /// The worker wrote commit C and moved its checkpoint to C; Redis then dropped the entry
    /// (eviction, expiry; here DEL). A reader that has not replayed C must not cache what it
    /// reads: nothing newer would come to replace it. It returns the data uncached; once the
    /// reader has caught up, the next read fills the new row.
    @Test func aFillAfterAnEvictionIsNotCachedBelowTheWorkersCheckpoint() async throws {
        try await ReadsHarness.with(try ReadsHarness.configuration()) { harness in
            let reads = harness.reads
            let order = try await harness.insertOrder(status: "before")
            _ = try await reads.row(entity: "order", key: KeyPart(order.id), consistency: .readYourWrites(order.token))
            let entry = try harness.commands.keys.row(try EntityName("order"), key: [KeyPart(order.id)])
            try ReplicaReplay.pause()
            defer { try? ReplicaReplay.resume() }
            let updated = try await harness.updateOrder(order.id, status: "after")
            // What the worker does for the update: the row at C, then the checkpoint C.
            _ = try harness.redis.evaluate(harness.commands.setRow(entry, row: updated.json, lsn: updated.token, epoch: harness.epoch))
            _ = try harness.redis.evaluate(harness.commands.setCheckpoint(updated.token, epoch: harness.epoch))
            _ = try harness.redis.command(["DEL", entry])  // evicted

            let started = ContinuousClock.now
            let miss = try await reads.row(entity: "order", key: KeyPart(order.id), consistency: .eventual)
            let waited = ContinuousClock.now - started
            #expect(miss.source == .reader)
            #expect(miss.value == order.json, "the paused replica still has the old row")
            #expect(miss.fill == .skipped(FillResult.behindCheckpoint), "not cached: \(String(describing: miss.fill))")
            #expect(waited >= .milliseconds(150) && waited < .seconds(2), "waited for the replica boundedly (\(waited))")
            #expect(try harness.cached(entry).state == .missing)
            #expect(reads.statistics.fillsBelowCheckpoint == 1)

            // A fill below the checkpoint seen with its miss is refused by the script too (a
            // reader in another language that passes the checkpoint but does not wait).
            let late = try FillOutcome(reply: try harness.redis.evaluate(
                harness.commands.fillRow(entry, row: order.json, lsn: try #require(miss.lsn), epoch: harness.epoch, minimum: updated.token)))
            #expect(late == .refusedByFloor)

            try ReplicaReplay.resume()
            #expect(try await eventuallyAsync { try await reads.row(entity: "order", key: KeyPart(order.id), consistency: .eventual).value == updated.json })
            let hit = try await reads.row(entity: "order", key: KeyPart(order.id), consistency: .eventual)
            #expect(hit.source == .cache && hit.value == updated.json)
        }
    }

    /// Many entries written by the "worker", evicted, then read while the replica is paused:
    /// not one old row may stay cached after the replica has caught up. Control: the same with
    /// the checkpoint gone from Redis (a reader that ignores it, as the library did before)
    /// leaves old rows cached for good.
    @Test func evictedEntriesNeverComeBackOlder() async throws {
        try await ReadsHarness.with(try ReadsHarness.configuration()) { harness in
            let control = try await Self.evictAndRefill(harness, count: 12, ignoringCheckpoint: true)
            #expect(control > 0, "control: without the checkpoint rule, evicted entries come back older")
            let stale = try await Self.evictAndRefill(harness, count: 24, ignoringCheckpoint: false)
            #expect(stale == 0, "\(stale) of 24 entries came back older than the worker's write")
        }
    }

    /// Inserts `count` orders, pauses replay, updates them as the worker would apply it (row,
    /// checkpoint), evicts the entries, reads them all concurrently, resumes replay and returns
    /// how many eventual reads still serve a row older than the update.
    private static func evictAndRefill(_ harness: ReadsHarness, count: Int, ignoringCheckpoint: Bool) async throws -> Int {
        let reads = harness.reads
        var orders: [(id: Int, json: String, token: LSN)] = []
        for index in 0..<count { orders.append(try await harness.insertOrder(status: "v0-\(index)")) }
        _ = try await reads.row(entity: "order", key: KeyPart(orders[0].id), consistency: .readYourWrites(try #require(orders.last?.token)))
        try ReplicaReplay.pause()
        defer { try? ReplicaReplay.resume() }
        var updated: [String] = []
        for order in orders {
            let update = try await harness.updateOrder(order.id, status: "v1")
            let entry = try harness.commands.keys.row(try EntityName("order"), key: [KeyPart(order.id)])
            _ = try harness.redis.evaluate(harness.commands.setRow(entry, row: update.json, lsn: update.token, epoch: harness.epoch))
            _ = try harness.redis.evaluate(harness.commands.setCheckpoint(update.token, epoch: harness.epoch))
            updated.append(update.json)
        }
        for order in orders {
            _ = try harness.redis.command(["DEL", try harness.commands.keys.row(try EntityName("order"), key: [KeyPart(order.id)])])
        }
        if ignoringCheckpoint { _ = try harness.redis.command(["DEL", harness.commands.keys.checkpoint]) }
        try await withThrowingTaskGroup(of: Void.self) { group in
            for order in orders {
                group.addTask { _ = try await reads.row(entity: "order", key: KeyPart(order.id), consistency: .eventual) }
            }
            try await group.waitForAll()
        }
        try ReplicaReplay.resume()
        try await Task.sleep(for: .milliseconds(500))
        var stale = 0
        for (order, json) in zip(orders, updated) {
            let result = try await reads.row(entity: "order", key: KeyPart(order.id), consistency: .eventual)
            if result.value != json { stale += 1 }
        }
        return stale
    }
}

extension Sequence {
    /// `map` with an async transform, in order.
    func asyncMap<T>(_ transform: (Element) async throws -> T) async rethrows -> [T] {
        var results: [T] = []
        for element in self { results.append(try await transform(element)) }
        return results
    }
}

/// Polls `condition` every 100 ms until it holds or `seconds` pass.
func eventuallyAsync(within seconds: Double = 20, _ condition: () async throws -> Bool) async throws -> Bool {
    let deadline = ContinuousClock.now + .milliseconds(Int64(seconds * 1000))
    while ContinuousClock.now < deadline {
        if try await condition() { return true }
        try await Task.sleep(for: .milliseconds(100))
    }
    return try await condition()
}
