import CacheContract
import PGOutput
import RedisCache
import TestSupport
import Testing

/// `write-many-if-newer` follows exactly the rules of the single-entry scripts.
@Suite struct WriteManyTests {
    private func state(_ fixture: RedisFixture, _ key: String) throws -> RedisReply {
        try fixture.redis.command(["HGETALL", key])
    }

    @Test func matchesTheSingleEntryScriptsOnRandomSequences() throws {
        let single = try RedisFixture()
        let many = try RedisFixture()
        defer {
            try? single.removeKeys()
            try? many.removeKeys()
        }
        let singleEpoch = try single.beginEpoch()
        let manyEpoch = try many.beginEpoch()
        let entity = try EntityName("order")
        var generator = SplitMix64(seed: 0xC0FFEE)
        let kinds: [CacheCommands.EntryWrite.Kind] = [.row, .deleted, .invalidated]
        for round in 0..<40 {
            var entries: [(index: Int, kind: CacheCommands.EntryWrite.Kind, lsn: LSN, row: String)] = []
            for _ in 0..<25 {
                let index = Int(generator.next() % 6)
                let kind = kinds[Int(generator.next() % 3)]
                entries.append((index, kind, LSN(generator.next() % 50 + 1), "{\"id\": \(index), \"round\": \(round)}"))
            }
            var singleCalls: [RedisScriptCall] = []
            for entry in entries {
                let key = single.keys.row(entity, KeyPart(entry.index))
                switch entry.kind {
                case .row: singleCalls.append(single.commands.setRow(key, row: entry.row, lsn: entry.lsn, epoch: singleEpoch))
                case .deleted: singleCalls.append(single.commands.tombstone(key, lsn: entry.lsn, epoch: singleEpoch))
                case .invalidated: singleCalls.append(single.commands.invalidate(key, lsn: entry.lsn, epoch: singleEpoch))
                }
            }
            let singleOutcomes = try single.redis.evaluate(singleCalls).map { try WriteOutcome(reply: $0) }
            let call = many.commands.writeMany(
                entries.map { .init(key: many.keys.row(entity, KeyPart($0.index)), kind: $0.kind, lsn: $0.lsn, ttl: .seconds(60), row: $0.row) },
                epoch: manyEpoch)
            let manyOutcomes = try WriteOutcome.many(reply: try many.redis.evaluate(call), count: entries.count)
            #expect(manyOutcomes == singleOutcomes, "round \(round)")
            for index in 0..<6 {
                var left = try state(single, single.keys.row(entity, KeyPart(index)))
                var right = try state(many, many.keys.row(entity, KeyPart(index)))
                // The epochs differ between the two namespaces; compare everything else.
                left = Self.withoutEpoch(left)
                right = Self.withoutEpoch(right)
                #expect(left == right, "key \(index) after round \(round)")
            }
        }
    }

    @Test func aStaleEpochWritesNothing() throws {
        let fixture = try RedisFixture()
        defer { try? fixture.removeKeys() }
        let epoch = try fixture.beginEpoch()
        let key = fixture.keys.row(try EntityName("order"), KeyPart(1))
        let call = fixture.commands.writeMany([.init(key: key, kind: .row, lsn: LSN(5), ttl: .seconds(60), row: "{}")], epoch: epoch + 1)
        #expect(try WriteOutcome.many(reply: try fixture.redis.evaluate(call), count: 1) == [.epochMismatch])
        #expect(try fixture.redis.command(["EXISTS", key]) == .integer(0))
    }

    @Test func aBadArgumentAnywhereWritesNothing() throws {
        let fixture = try RedisFixture()
        defer { try? fixture.removeKeys() }
        let epoch = try fixture.beginEpoch()
        let first = fixture.keys.row(try EntityName("order"), KeyPart(1))
        let call = RedisScriptCall(
            script: CacheScripts.writeManyIfNewer, keys: [fixture.keys.epoch, first, first + "x"],
            arguments: [String(epoch), "row", LSN(5).sortableString, "60000", "{}", "bogus", LSN(6).sortableString, "60000", ""])
        guard case .error(let message) = try fixture.redis.evaluate(call) else {
            Issue.record("a bad kind was accepted"); return
        }
        #expect(message.contains("cache-contract"))
        #expect(try fixture.redis.command(["EXISTS", first]) == .integer(0))
    }

    static func withoutEpoch(_ reply: RedisReply) -> RedisReply {
        guard case .array(let items) = reply else { return reply }
        var kept: [RedisReply] = []
        var index = 0
        while index + 1 < items.count {
            if items[index].text != "epoch" { kept += [items[index], items[index + 1]] }
            index += 2
        }
        return .array(kept)
    }
}
