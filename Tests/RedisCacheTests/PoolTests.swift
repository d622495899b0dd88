import Foundation
import RedisCache
import Synchronization
import Testing

/// The read-path pool: bounded concurrency, bounded waits, replaced connections.
@Suite struct PoolTests {
    @Test func manyTasksShareAFewConnections() async throws {
        let pool = try RedisConnectionPool(url: try stackURL(), size: 4, leaseTimeout: 60)
        let key = uniquePrefix()
        let counter = ConcurrencyCounter()
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<200 {
                group.addTask {
                    try await pool.withClient { client throws(RedisError) in
                        counter.enter()
                        defer { counter.leave() }
                        _ = try await client.command(["INCR", key])
                        try? await Task.sleep(for: .milliseconds(2))
                    }
                }
            }
            try await group.waitForAll()
        }
        #expect(try await pool.command(["GET", key]) == .string(Array("200".utf8)))
        #expect(counter.most == 4)
        let statistics = pool.statistics
        #expect(statistics.created == 4 && statistics.leased == 0 && statistics.idle == 4 && statistics.waiting == 0)
        _ = try await pool.command(["DEL", key])
    }

    @Test(.timeLimit(.minutes(1))) func leaseWaitIsBounded() async throws {
        let pool = try RedisConnectionPool(url: try stackURL(), size: 2)
        let first = try await pool.lease()
        let second = try await pool.lease()
        // Only the lease timer produces .poolExhausted. No upper bound on the time: when other
        // suites block the cooperative pool, resuming this task can take seconds (the time limit
        // catches a lease that never gives up).
        let (error, seconds) = await elapsed {
            await redisError { () async throws(RedisError) in try await pool.lease(timeout: 0.2) }
        }
        #expect(try #require(error, "leased a third client from a pool of 2").code == .poolExhausted)
        #expect(seconds >= 0.15, "gave up after \(seconds) s")
        #expect(pool.statistics.waiting == 0)
        // A waiter gets the next client that comes back.
        async let third = pool.lease(timeout: 30)
        try await Task.sleep(for: .milliseconds(50))
        first.release()
        let lease = try await third
        #expect(try await lease.client.command(["PING"]) == .status("PONG"))
        #expect(pool.statistics.leased == 2)
        second.release()
        lease.release()
        #expect(pool.statistics.leased == 0 && pool.statistics.idle == 2)
    }

    @Test func brokenConnectionsAreReplaced() async throws {
        let url = try stackURL()
        let name = uniquePrefix("pool")
        var options = RedisConnectionOptions()
        options.clientName = name
        let pool = try RedisConnectionPool(url: url, size: 2, options: options)
        let leases = [try await pool.lease(), try await pool.lease()]
        for lease in leases {
            #expect(try await lease.client.command(["PING"]) == .status("PONG"))
            lease.release()
        }
        let admin = try RedisConnection(url: url)
        let killed = try clientIDs(named: name, admin: admin)
        #expect(killed.count == 2)
        for id in killed {
            _ = try admin.command(["CLIENT", "KILL", "ID", id])
        }
        var failures = 0
        var successes = 0
        for _ in 0..<10 {
            if let error = await redisError({ () async throws(RedisError) in try await pool.command(["PING"]) }) {
                #expect(error.code == .connectionLost)
                failures += 1
            } else {
                successes += 1
            }
        }
        #expect(failures <= 2 && successes >= 8)
        let fresh = try clientIDs(named: name, admin: admin)
        #expect(!fresh.isEmpty && fresh.count <= 2 && Set(fresh).isDisjoint(with: killed))
    }

    @Test func closedPoolFailsWaitersAndLeases() async throws {
        let pool = try RedisConnectionPool(url: try stackURL(), size: 1)
        let held = try await pool.lease()
        async let waiter = redisError { () async throws(RedisError) in try await pool.lease(timeout: 10) }
        try await Task.sleep(for: .milliseconds(50))
        pool.close()
        #expect(await waiter?.code == .closed)
        held.release()
        let error = await redisError { () async throws(RedisError) in try await pool.lease() }
        #expect(try #require(error, "leased from a closed pool").code == .closed)
    }

    @Test func cancelledWaiterLeavesTheLine() async throws {
        let pool = try RedisConnectionPool(url: try stackURL(), size: 1)
        let held = try await pool.lease()
        let waiter = Task {
            await redisError { () async throws(RedisError) in try await pool.lease(timeout: 10) }
        }
        try await Task.sleep(for: .milliseconds(50))
        waiter.cancel()
        // .cancelled, not .poolExhausted after the 10 s lease timeout.
        #expect(await waiter.value?.code == .cancelled)
        #expect(pool.statistics.waiting == 0)
        held.release()
        #expect(pool.statistics.idle == 1)
    }

    private func clientIDs(named name: String, admin: RedisConnection) throws -> [String] {
        let list = try admin.command(["CLIENT", "LIST"]).text ?? ""
        return list.split(separator: "\n").compactMap { line -> String? in
            let fields = line.split(separator: " ")
            guard fields.contains(Substring("name=\(name)")), let id = fields.first(where: { $0.hasPrefix("id=") }) else { return nil }
            return String(id.dropFirst(3))
        }
    }
}

/// Counts concurrent holders and remembers the most at once.
final class ConcurrencyCounter: Sendable {
    private let state = Mutex((current: 0, most: 0))

    func enter() {
        state.withLock { state in
            state.current += 1
            state.most = max(state.most, state.current)
        }
    }

    func leave() {
        state.withLock { $0.current -= 1 }
    }

    var most: Int {
        state.withLock { $0.most }
    }
}
