import CacheContract
import PGOutput
import RedisCache
import Testing

/// `fill-rows-if-not-stale` against `fill-if-not-stale`, entry by entry: from the same stored
/// states (absent, older or newer rows, tombstones, markers, other epochs), the batched fill
/// must give the same outcome and leave the same hash as one fill per entry.
@Suite struct FillRowsTests {
    /// A stored state to start from, written with the worker's scripts.
    enum Stored: CaseIterable {
        case absent, olderRow, equalRow, newerRow, olderTombstone, newerTombstone, olderMarker, equalMarker, oldEpochRow

        func write(_ cache: RedisFixture, _ key: String, epoch: Int64) throws {
            switch self {
            case .absent: break
            case .olderRow: _ = try cache.set(key, #"{"v": "old"}"#, 0x40, epoch: epoch)
            case .equalRow: _ = try cache.set(key, #"{"v": "same"}"#, 0x50, epoch: epoch)
            case .newerRow: _ = try cache.set(key, #"{"v": "new"}"#, 0x60, epoch: epoch)
            case .olderTombstone: _ = try cache.tombstone(key, 0x40, epoch: epoch)
            case .newerTombstone: _ = try cache.tombstone(key, 0x60, epoch: epoch)
            case .olderMarker: _ = try cache.run(cache.commands.invalidate(key, lsn: LSN(0x40), epoch: epoch))
            case .equalMarker: _ = try cache.run(cache.commands.invalidate(key, lsn: LSN(0x50), epoch: epoch))
            case .oldEpochRow:
                // Written under an epoch that is no longer current.
                _ = try cache.redis.command(["HSET", key, "lsn", LSN(0x90).sortableString, "row", "{}", "epoch", String(epoch - 1)])
            }
        }
    }

    private func hash(_ cache: RedisFixture, _ key: String) throws -> [String: String] {
        guard case .array(let items) = try cache.redis.command(["HGETALL", key]) else { return [:] }
        var fields: [String: String] = [:]
        for index in stride(from: 0, to: items.count - 1, by: 2) { fields[items[index].text ?? ""] = items[index + 1].text ?? "" }
        return fields
    }

    @Test(arguments: [UInt64(0), 0x48, 0x58])
    func batchedFillMatchesOneFillPerEntry(minimum: UInt64) throws {
        let single = try RedisFixture()
        let batched = try RedisFixture()
        let epochs = (try single.beginEpoch(proposed: 7, floor: LSN(0x10)), try batched.beginEpoch(proposed: 7, floor: LSN(0x10)))
        #expect(epochs.0 == epochs.1)
        let epoch = epochs.0
        let entity = try EntityName("order")
        var rows: [(entry: String, row: String)] = []
        var expected: [FillOutcome] = []
        for (index, state) in Stored.allCases.enumerated() {
            let key = (single.keys.row(entity, KeyPart(index)), batched.keys.row(entity, KeyPart(index)))
            try state.write(single, key.0, epoch: epoch)
            try state.write(batched, key.1, epoch: epoch)
            let row = #"{"v": "fill \#(index)"}"#
            expected.append(try single.fillRow(key.0, row, 0x50, epoch: epoch, minimum: minimum == 0 ? nil : minimum))
            rows.append((key.1, row))
        }
        let reply = try batched.run(batched.commands.fillRows(rows, lsn: LSN(0x50), epoch: epoch, minimum: minimum == 0 ? nil : LSN(minimum)))
        let outcomes = try FillOutcome.many(reply: reply, count: rows.count)
        #expect(outcomes == expected)
        for (index, state) in Stored.allCases.enumerated() {
            let key = (single.keys.row(entity, KeyPart(index)), batched.keys.row(entity, KeyPart(index)))
            #expect(try hash(single, key.0) == hash(batched, key.1), "\(state)")
            let ttl = (try single.redis.command(["PTTL", key.0]).integer ?? -3, try batched.redis.command(["PTTL", key.1]).integer ?? -3)
            #expect((ttl.0 > 0) == (ttl.1 > 0), "\(state): TTL set alike")
        }
        #expect(expected.contains(.refusedByEntry))
        #expect(expected.contains(.filled) == (minimum <= 0x50), "a minimum above the fill's LSN refuses every fill")
    }

    @Test func aStaleEpochOrAVersionBelowTheFloorRefusesTheWholeCall() throws {
        let cache = try RedisFixture()
        let epoch = try cache.beginEpoch(proposed: 3, floor: LSN(0x30))
        let entity = try EntityName("order")
        let rows = [(cache.keys.row(entity, KeyPart(1)), "{}"), (cache.keys.row(entity, KeyPart(2)), "{}")]
        let belowFloor = try FillOutcome.many(reply: cache.run(cache.commands.fillRows(rows, lsn: LSN(0x20), epoch: epoch, minimum: nil)), count: 2)
        #expect(belowFloor == [.refusedByFloor, .refusedByFloor])
        let oldEpoch = try FillOutcome.many(reply: cache.run(cache.commands.fillRows(rows, lsn: LSN(0x40), epoch: epoch - 1, minimum: nil)), count: 2)
        #expect(oldEpoch == [.refusedByEpoch, .refusedByEpoch])
        #expect(try cache.redis.command(["EXISTS", rows[0].0, rows[1].0]).integer == 0, "nothing written")
        let filled = try FillOutcome.many(reply: cache.run(cache.commands.fillRows(rows, lsn: LSN(0x40), epoch: epoch, minimum: nil)), count: 2)
        #expect(filled == [.filled, .filled])
    }

    @Test func malformedCallsAreRefusedBeforeAnyWrite() throws {
        let cache = try RedisFixture()
        let epoch = try cache.beginEpoch()
        let key = cache.keys.row(try EntityName("order"), KeyPart(1))
        let call = CacheScripts.fillRowsIfNotStale.call(
            keys: [cache.keys.epoch, cache.keys.floor, key], arguments: [LSN(5).sortableString, String(epoch), "1000", LSN.zero.sortableString])
        let reply = try cache.run(call)
        guard case .error(let message) = reply else {
            Issue.record("a row count that does not match the entries was accepted: \(reply)")
            return
        }
        #expect(message.contains("cache-contract"))
        #expect(try cache.redis.command(["EXISTS", key]).integer == 0)
    }
}
