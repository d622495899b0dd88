import Dispatch
import RedisCache
import Synchronization
import Testing

/// `RedisClient.inlineWait`: fast answers are read on the caller's thread, slow ones move to
/// the client's thread without losing or mixing up replies, and a slow server stops the inline
/// attempts for a while.
@Suite struct InlineWaitTests {
    @Test func idleConnectedClientAnswersInline() async throws {
        // Generous, so a busy CI machine still answers within it.
        let client = try RedisClient(url: try stackURL(), inlineWait: 0.5)
        #expect(try await client.command(["PING"]) == .status("PONG"))
        #expect(client.statistics == RedisClientStatistics(inline: 0, handedOff: 0, onThread: 1), "the first call connects on the client's thread")
        #expect(client.isIdle)
        for index in 0..<20 {
            #expect(try await client.command(["ECHO", "m\(index)"]) == .string(Array("m\(index)".utf8)))
        }
        #expect(client.statistics == RedisClientStatistics(inline: 20, handedOff: 0, onThread: 1))
        #expect(try await client.pipeline(try RedisBatch([["ECHO", "a"], ["ECHO", "b"]]), inline: false) == [.string(Array("a".utf8)), .string(Array("b".utf8))])
        #expect(client.statistics.onThread == 2, "inline: false goes to the client's thread")
    }

    @Test func slowReplyIsHandedToTheClientThread() async throws {
        let client = try RedisClient(url: try stackURL(), inlineWait: 0.05)
        let key = uniquePrefix()
        _ = try await client.command(["PING"])
        let (reply, seconds) = try await elapsed { try await client.command(["BLPOP", key, "0.3"]) }
        #expect(reply == .null, "BLPOP timed out with \(reply)")
        #expect(seconds >= 0.25, "took \(seconds) s")
        #expect(client.statistics.handedOff == 1)
        // The connection is in step: the next reply is the next command's.
        #expect(try await client.command(["ECHO", "after"]) == .string(Array("after".utf8)))
        #expect(client.statistics.inline == 1)
    }

    @Test func slowServerStopsInlineAttemptsForAWhile() async throws {
        let client = try RedisClient(url: try stackURL(), inlineWait: 0.001)
        let key = uniquePrefix()
        _ = try await client.command(["PING"])
        for _ in 0..<RedisClient.inlineMissesBeforeCooldown {
            _ = try await client.command(["BLPOP", key, "0.02"])
        }
        let before = client.statistics
        #expect(before.handedOff == RedisClient.inlineMissesBeforeCooldown)
        for _ in 0..<10 {
            #expect(try await client.command(["PING"]) == .status("PONG"))
        }
        let after = client.statistics
        #expect(after.onThread == before.onThread + 10, "calls during the cooldown went to the thread: \(after)")
        #expect(after.inline == before.inline)
    }

    @Test func concurrentInlineThreadAndHandedOffCallsKeepTheirReplies() async throws {
        let client = try RedisClient(url: try stackURL(), inlineWait: 0.0005)
        let key = uniquePrefix()
        _ = try await client.command(["PING"])
        try await withThrowingTaskGroup(of: Void.self) { group in
            for task in 0..<8 {
                group.addTask {
                    for index in 0..<150 {
                        let text = "t\(task)-\(index)"
                        // Pauses leave the client idle now and then, so calls also go inline.
                        try await Task.sleep(for: .microseconds(Int.random(in: 0...300)))
                        switch index % 25 {
                        case 0:
                            let reply = try await client.withConnection { connection throws(RedisError) in try connection.command(["ECHO", text]) }
                            #expect(reply == .string(Array(text.utf8)))
                        case 1 where task % 4 == 0:
                            // Slow enough to be handed off now and then.
                            #expect(try await client.pipeline([["BLPOP", key, "0.002"], ["ECHO", text]]).last == .string(Array(text.utf8)))
                        default:
                            #expect(try await client.command(["ECHO", text]) == .string(Array(text.utf8)))
                        }
                    }
                }
            }
            try await group.waitForAll()
        }
        let statistics = client.statistics
        #expect(statistics.inline + statistics.handedOff + statistics.onThread == 8 * 150 + 1, "each call counted once: \(statistics)")
        #expect(statistics.inline > 0 && statistics.onThread > 0, "\(statistics)")
    }

    @Test func pipelinesQueuedBehindABusyConnectionShareOneRoundTrip() async throws {
        let client = try RedisClient(url: try stackURL())
        let key = uniquePrefix()
        _ = try await client.command(["PING"])
        // Holds the client's thread until all 20 calls are queued behind it.
        let gate = DispatchSemaphore(value: 0)
        let holder = Task { try await client.withConnection { _ throws(RedisError) in gate.wait() } }
        while client.isIdle { try await Task.sleep(for: .milliseconds(1)) }
        let before = client.statistics
        let calls = (0..<20).map { index in
            Task { try await client.pipeline([["ECHO", "q\(index)"], ["INCR", key]]) }
        }
        while client.queuedCalls < 20 { try await Task.sleep(for: .milliseconds(1)) }
        gate.signal()
        try await holder.value
        var counts: Set<Int64> = []
        for (index, call) in calls.enumerated() {
            let replies = try await call.value
            #expect(replies.first == .string(Array("q\(index)".utf8)), "call \(index) got \(replies)")
            counts.insert(try #require(replies.last?.integer))
        }
        // Every INCR ran exactly once, each caller seeing its own count.
        #expect(counts == Set(1...20))
        let after = client.statistics
        #expect(after.onThread - before.onThread == 20)
        #expect(after.coalesced - before.coalesced == 19, "the 20 queued calls went out together: \(after)")
        _ = try await client.command(["DEL", key])
    }

    @Test func aCoalescedCallWhoseRepliesAreInSucceedsWhenTheRoundTripFails() async throws {
        let client = try RedisClient(url: try stackURL(), options: RedisConnectionOptions(commandTimeout: 0.5))
        let key = uniquePrefix()
        _ = try await client.command(["PING"])
        // Holds the client's thread until both calls below are queued behind it.
        let gate = DispatchSemaphore(value: 0)
        let holder = Task { try await client.withConnection { _ throws(RedisError) in gate.wait() } }
        while client.isIdle { try await Task.sleep(for: .milliseconds(1)) }
        let first = Task { try await client.command(["ECHO", "first"]) }
        while client.queuedCalls < 1 { try await Task.sleep(for: .milliseconds(1)) }
        let second = Task { try await client.command(["BLPOP", key, "0"]) }
        while client.queuedCalls < 2 { try await Task.sleep(for: .milliseconds(1)) }
        gate.signal()
        try await holder.value
        // One round trip for both: the ECHO's reply is in, the BLPOP's never comes.
        #expect(try await first.value == .string(Array("first".utf8)))
        let failure = try #require(await second.result.failure() as? RedisError, "BLPOP 0 returned")
        #expect(failure.code == .timeout)
        #expect(failure.message.contains("0 of 1 replies received"), "the count is the caller's own: \(failure.message)")
        #expect(client.statistics.coalesced == 1)
    }

    @Test func aHandOffGoesBeforeCallsQueuedDuringTheInlineWait() async throws {
        let client = try RedisClient(url: try stackURL(), inlineWait: 0.5)
        let key = uniquePrefix()
        _ = try await client.command(["PING"])
        let order = Mutex<[String]>([])
        let slow = Task {
            let reply = try await client.command(["BLPOP", key, "0.8"])
            order.withLock { $0.append("blpop") }
            return reply
        }
        while client.isIdle { try await Task.sleep(for: .milliseconds(1)) }
        // Queued while the caller above holds the connection inline.
        let queued = try await client.withConnection { connection throws(RedisError) in try connection.command(["ECHO", "queued"]) }
        order.withLock { $0.append("echo") }
        #expect(queued == .string(Array("queued".utf8)))
        #expect(try await slow.value == .null)
        #expect(order.withLock { $0 } == ["blpop", "echo"])
        #expect(client.statistics.handedOff == 1)
    }

    @Test func connectionLostDuringAnInlineCallReconnectsOnTheNext() async throws {
        let url = try stackURL()
        let client = try RedisClient(url: url, inlineWait: 0.5)
        let killer = try RedisConnection(url: url)
        let firstID = try #require(try await client.command(["CLIENT", "ID"]).integer)
        #expect(try killer.command(["CLIENT", "KILL", "ID", String(firstID)]) == .integer(1))
        let error = await redisError { () async throws(RedisError) in try await client.command(["PING"]) }
        #expect(try #require(error, "a command succeeded on a killed connection").code == .connectionLost)
        #expect(client.statistics.onThread == 1, "the lost call was sent inline: \(client.statistics)")
        #expect(!client.isIdle, "a lost connection is not claimed again")
        let secondID = try #require(try await client.command(["CLIENT", "ID"]).integer)
        #expect(secondID != firstID)
        #expect(client.statistics.onThread == 2, "the next call reconnected on the client's thread")
    }

    @Test func inlineWaitMustBeShort() throws {
        let error = redisError { () throws(RedisError) in try RedisClient(url: try! stackURL(), inlineWait: 2) }
        #expect(try #require(error).message.contains("inlineWait"))
    }
}

extension Result {
    /// The error, or nil on success.
    fileprivate func failure() -> Failure? {
        if case .failure(let error) = self { return error }
        return nil
    }
}
