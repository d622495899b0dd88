import Foundation
import PGOutput
import PostgresReplication
import TestSupport
import Testing

/// The replication stream against the local stack's primary.
@Suite struct ReplicationStreamTests {
    @Test func streamsChangesInOrderWithTheirCommitPositions() async throws {
        let harness = try StreamHarness()
        let connection = try StackEnvironment.writerConnection()
        let a = try harness.insertOrder(100, on: connection)
        try connection.execute("UPDATE \"Order\" SET \"totalCents\" = 150 WHERE id = \(a)")
        let b = try harness.insertOrder(200, on: connection)
        try connection.execute("DELETE FROM \"Order\" WHERE id = \(a)")
        let walAfter = try harness.currentWAL()

        let stream = try harness.stream()
        let dog = watchdog(stream)
        var log = ChangeLog(userID: harness.userID)
        for try await event in stream {
            if let end = try log.apply(event) { stream.confirm(end) }
            if log.changes.count == 4 { break }
        }
        await stream.stop()
        dog.cancel()

        #expect(log.changes.map { "\($0.kind)\($0.id)" } == ["I\(a)", "U\(a)", "I\(b)", "D\(a)"])
        #expect(log.changes.map(\.cents) == [100, 150, 200, nil])
        let ends = log.changes.compactMap(\.commitEnd)
        #expect(ends == ends.sorted() && Set(ends).count == 4)
        #expect(ends.last.map { $0 <= walAfter } == true)
        // Every Commit names the commit record its Begin announced; the slot confirms only what we confirmed.
        let state = try #require(try harness.slotState())
        #expect(state.confirmedFlushLSN.map { $0 >= ends[3] && $0 <= stream.confirmed } == true)
        await harness.drop()
    }

    @Test func resumesAfterTheWalsenderIsKilledWithoutLosingOrAckingEarly() async throws {
        let harness = try StreamHarness()
        let stream = try harness.stream()
        let dog = watchdog(stream, seconds: 90)
        let total = 300
        let writer = Task {
            try await onOwnThread { () throws -> [Int] in
                let connection = try StackEnvironment.writerConnection()
                var ids: [Int] = []
                var kills = 0
                for index in 0..<total {
                    ids.append(try harness.insertOrder(index, on: connection))
                    if index == 100 || index == 200 {
                        // Kill the walsender that serves the slot, once it is streaming.
                        while kills < (index == 100 ? 1 : 2) {
                            let killed = try connection.execute(
                                "SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots WHERE slot_name = '\(harness.slot)' AND active_pid IS NOT NULL")
                            if killed.rows.count == 1 { kills += 1 } else { usleep(20_000) }
                        }
                    }
                }
                return ids
            }
        }
        var log = ChangeLog(userID: harness.userID)
        var earlyAcks = 0
        for try await event in stream {
            if let end = try log.apply(event) {
                if log.commits.count % 25 == 0, let slotConfirmed = try harness.slotState()?.confirmedFlushLSN, slotConfirmed > stream.confirmed {
                    earlyAcks += 1
                }
                stream.confirm(end)
            }
            if Set(log.changes.map(\.id)).count == total { break }
        }
        await stream.stop()
        dog.cancel()
        let inserted = try await writer.value
        #expect(Set(log.changes.map(\.id)) == Set(inserted))
        #expect(log.restarts >= 2, "the stream reconnected after each kill")
        #expect(earlyAcks == 0)
        await harness.drop()
    }

    @Test func aSecondConsumerWaitsAndTakesOverWhenTheFirstStops() async throws {
        let harness = try StreamHarness()
        let first = try harness.stream()
        let firstDog = watchdog(first)
        let one = try harness.insertOrder(1)
        var firstLog = ChangeLog(userID: harness.userID)
        var iterator = first.makeAsyncIterator()
        while let event = try await iterator.next() {
            if let end = try firstLog.apply(event) { first.confirm(end) }
            if firstLog.changes.contains(where: { $0.id == one }) { break }
        }

        let second = try harness.stream()
        let secondDog = watchdog(second)
        let secondIDs = Task { () throws -> [Int] in
            var log = ChangeLog(userID: harness.userID)
            for try await event in second {
                if let end = try log.apply(event) { second.confirm(end) }
                if log.changes.count >= 1 { break }
            }
            return log.changes.map(\.id)
        }
        try await Task.sleep(for: .seconds(1))
        let two = try harness.insertOrder(2)
        while let event = try await iterator.next() {
            if let end = try firstLog.apply(event) { first.confirm(end) }
            if firstLog.changes.contains(where: { $0.id == two }) { break }
        }
        await first.stop()
        firstDog.cancel()
        let three = try harness.insertOrder(3)
        let received = try await secondIDs.value
        await second.stop()
        secondDog.cancel()
        #expect(received == [three], "the standby got nothing while the first held the slot, then resumed after its confirmed position")
        await harness.drop()
    }

    @Test func idleSlotAdvancesPastWritesToUnpublishedTables() async throws {
        let harness = try StreamHarness()
        let stream = try harness.stream()
        let dog = watchdog(stream)
        let consumer = Task {
            for try await event in stream {
                switch event {
                case .message(.commit(let commit), _, _): stream.confirm(commit.endLSN)
                case .idle(let walEnd): stream.confirm(walEnd)
                default: break
                }
            }
        }
        let before = try #require(try harness.slotState()?.confirmedFlushLSN)
        let connection = try StackEnvironment.writerConnection()
        try connection.execute("INSERT INTO \"AuditLog\" (message) SELECT 'idle-' || g FROM generate_series(1, 2000) g")
        let written = try harness.currentWAL()
        #expect(written > before)
        let advanced = try await eventually(within: 20) {
            (try harness.slotState()?.confirmedFlushLSN).map { $0 >= written } == true
        }
        #expect(advanced, "confirmed_flush_lsn reached the WAL written to an unpublished table")
        await stream.stop()
        dog.cancel()
        _ = try? await consumer.value
        await harness.drop()
    }

    @Test func replayBetweenTwoPositionsDeliversExactlyThatRangeWithoutConsuming() async throws {
        let harness = try StreamHarness()
        let created = try #require(try harness.slotState()?.confirmedFlushLSN)
        let a = try harness.insertOrder(1)
        let b = try harness.insertOrder(2)
        let c = try harness.insertOrder(3)
        let end = try harness.currentWAL()

        var all = ChangeLog(userID: harness.userID)
        for try await event in try harness.stream({ $0.acknowledge = false; $0.endLSN = end }) {
            _ = try all.apply(event)
        }
        #expect(all.changes.map(\.id) == [a, b, c])
        let ends = all.changes.compactMap(\.commitEnd)

        var range = ChangeLog(userID: harness.userID)
        for try await event in try harness.stream({ $0.acknowledge = false; $0.startLSN = ends[0]; $0.endLSN = ends[1] }) {
            _ = try range.apply(event)
        }
        #expect(range.changes.map(\.id) == [b])
        #expect(range.commits.allSatisfy { $0.endLSN > ends[0] && $0.endLSN <= ends[1] })
        #expect(range.commits.last?.endLSN == ends[1], "the replay stops right after the commit that reaches the end")
        #expect(try harness.slotState()?.confirmedFlushLSN == created, "replay without consuming leaves the slot where it was")
        await harness.drop()
    }

    @Test func aStartBeforeTheSlotPositionIsReportedNotSkipped() async throws {
        let harness = try StreamHarness()
        _ = try harness.insertOrder(1)
        _ = try harness.insertOrder(2)
        let end = try harness.currentWAL()
        var log = ChangeLog(userID: harness.userID)
        let stream = try harness.stream { $0.endLSN = end }
        for try await event in stream {
            if let commitEnd = try log.apply(event) { stream.confirm(commitEnd) }
        }
        await stream.stop()
        let confirmed = try #require(try harness.slotState()?.confirmedFlushLSN)
        let firstEnd = try #require(log.changes.first?.commitEnd)
        #expect(firstEnd < confirmed)
        do {
            for try await _ in try harness.stream({ $0.acknowledge = false; $0.startLSN = firstEnd }) {}
            Issue.record("a replay from before the slot's position was accepted")
        } catch let error as ReplicationError {
            #expect(error.code == .startBeforeSlotPosition)
            #expect(error.earliestAvailable == confirmed)
            #expect(error.message.contains(harness.slot) && error.message.contains("\(firstEnd)"))
        }
        await harness.drop()
    }

    @Test func aSlowConsumerStopsReadingButKeepsTheConnectionAlive() async throws {
        let harness = try StreamHarness()
        let stream = try harness.stream {
            $0.queueCapacity = 16
            $0.sessionSettings["wal_sender_timeout"] = "2s"
        }
        let dog = watchdog(stream, seconds: 90)
        let connection = try StackEnvironment.writerConnection()
        try connection.execute(
            "INSERT INTO \"Order\" (\"userId\", \"totalCents\") SELECT \(harness.userID), g FROM generate_series(1, 3000) g")
        var log = ChangeLog(userID: harness.userID)
        var iterator = stream.makeAsyncIterator()
        _ = try await iterator.next()
        // Stall for longer than wal_sender_timeout: status updates must keep flowing meanwhile.
        try await Task.sleep(for: .seconds(4))
        while let event = try await iterator.next() {
            if let end = try log.apply(event) { stream.confirm(end) }
            if log.changes.count == 3000 { break }
        }
        await stream.stop()
        dog.cancel()
        #expect(log.changes.count == 3000)
        #expect(log.restarts == 0, "the server never dropped the stalled connection")
        await harness.drop()
    }

    @Test func aMissingSlotIsADistinctError() async throws {
        var options = ReplicationOptions(slot: StackEnvironment.uniqueName("no_such_slot"), publications: ["cache_warmer_pub"])
        options.backoff = Backoff(initial: 0.05, maximum: 0.1)
        let stream = try LogicalReplicationStream(target: try StackEnvironment.writer(), options: options, logger: .init(label: "test"))
        do {
            for try await _ in stream {}
            Issue.record("streamed a slot that does not exist")
        } catch let error as ReplicationError {
            #expect(error.code == .slotMissing)
            #expect(error.message.contains(options.slot))
        }
    }

    @Test func wrongCredentialsFailAtOnceWithARedactedMessage() async throws {
        let url = try StackEnvironment.require("DB_WRITER_URL").replacingOccurrences(of: ":cachewarmer@", with: ":wrong-secret@")
        let stream = try LogicalReplicationStream(
            target: ConnectionString(url), options: ReplicationOptions(slot: "any", publications: ["cache_warmer_pub"]), logger: .init(label: "test"))
        do {
            for try await _ in stream {}
            Issue.record("connected with a wrong password")
        } catch let error as ReplicationError {
            #expect(error.code == .connection)
            #expect(error.message.contains("password authentication failed"))
            #expect(!error.description.contains("wrong-secret"))
        }
    }
}
