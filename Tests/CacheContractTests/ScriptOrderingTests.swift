import CacheContract
import PGOutput
import RedisCache
import Testing

/// Each script's ordering rules on the real Redis, ties included.
@Suite struct ScriptOrderingTests {
    @Test func setIfNewerKeepsTheHighestLSN() throws {
        let cache = try RedisFixture()
        let epoch = try cache.beginEpoch()
        let key = cache.keys.row(try EntityName("order"), KeyPart(1))
        #expect(try cache.set(key, #"{"v": 5}"#, 5, epoch: epoch) == .written)
        #expect(try cache.set(key, #"{"v": "equal"}"#, 5, epoch: epoch) == .notNewer)
        #expect(try cache.set(key, #"{"v": 4}"#, 4, epoch: epoch) == .notNewer)
        #expect(try cache.read(key) == CacheRead(isValid: true, state: .value(#"{"v": 5}"#), lsn: LSN(5), epoch: epoch, maxFence: nil, currentEpoch: epoch))
        #expect(try cache.set(key, #"{"v": 6}"#, 6, epoch: epoch) == .written)
        #expect(try cache.read(key).state == .value(#"{"v": 6}"#))
        // The halves of the LSN compare numerically, not as decimal text.
        #expect(try cache.set(key, #"{"v": "high"}"#, 0x1_0000_0000, epoch: epoch) == .written)
        #expect(try cache.set(key, #"{"v": "low"}"#, 0xFFFF_FFFF, epoch: epoch) == .notNewer)
        let ttl = try cache.redis.command(["PTTL", key]).integer ?? -1
        #expect(ttl > 0 && ttl <= 120_000)
    }

    @Test func tombstoneCountsAsTheStoredVersion() throws {
        let cache = try RedisFixture()
        let epoch = try cache.beginEpoch()
        let key = cache.keys.row(try EntityName("order"), KeyPart(2))
        #expect(try cache.tombstone(key, 10, epoch: epoch) == .written)
        #expect(try cache.set(key, "{}", 8, epoch: epoch) == .notNewer)
        #expect(try cache.set(key, "{}", 10, epoch: epoch) == .notNewer)
        #expect(try cache.tombstone(key, 10, epoch: epoch) == .notNewer)
        #expect(try cache.read(key) == CacheRead(isValid: true, state: .tombstone, lsn: LSN(10), epoch: epoch, maxFence: nil, currentEpoch: epoch))
        #expect(try cache.set(key, #"{"back": true}"#, 11, epoch: epoch) == .written)
        #expect(try cache.read(key).state == .value(#"{"back": true}"#))
        #expect(try cache.tombstone(key, 9, epoch: epoch) == .notNewer)
        #expect(try cache.tombstone(key, 12, epoch: epoch) == .written)
        let fields = try cache.redis.command(["HGETALL", key])
        #expect(fields == .array([.string(Array("lsn".utf8)), .string(Array("000000000000000C".utf8)),
                                  .string(Array("deleted".utf8)), .string(Array("1".utf8)),
                                  .string(Array("epoch".utf8)), .string(Array(String(epoch).utf8))]))
    }

    @Test func fillsLoseTiesAndOlderVersions() throws {
        let cache = try RedisFixture()
        let epoch = try cache.beginEpoch()
        let key = cache.keys.row(try EntityName("order"), KeyPart(3))
        #expect(try cache.fillRow(key, #"{"v": "fill5"}"#, 5, epoch: epoch) == .filled)
        #expect(try cache.fillRow(key, #"{"v": "fill5b"}"#, 5, epoch: epoch) == .refusedByEntry)
        #expect(try cache.set(key, #"{"v": 7}"#, 7, epoch: epoch) == .written)
        #expect(try cache.fillRow(key, #"{"v": "fill6"}"#, 6, epoch: epoch) == .refusedByEntry)
        #expect(try cache.fillRow(key, #"{"v": "fill7"}"#, 7, epoch: epoch) == .refusedByEntry)
        #expect(try cache.fillRow(key, #"{"v": 7}"#, 9, epoch: epoch) == .filled)
        // A replayed worker write older than the fill is a no-op.
        #expect(try cache.set(key, #"{"v": 8}"#, 8, epoch: epoch) == .notNewer)
        #expect(try cache.read(key).lsn == LSN(9))
    }

    @Test func tombstoneRefusesALateFill() throws {
        let cache = try RedisFixture()
        let epoch = try cache.beginEpoch()
        let key = cache.keys.row(try EntityName("order"), KeyPart(4))
        #expect(try cache.set(key, #"{"v": 1}"#, 3, epoch: epoch) == .written)
        #expect(try cache.tombstone(key, 10, epoch: epoch) == .written)
        #expect(try cache.fillRow(key, #"{"v": 1}"#, 9, epoch: epoch) == .refusedByEntry)
        #expect(try cache.fillRow(key, #"{"v": 1}"#, 10, epoch: epoch) == .refusedByEntry)
        let read = try cache.read(key)
        #expect(read.isValid && read.state == .tombstone)
    }

    @Test func invalidationMarkerMakesReadersMissAndRefusesOlderFills() throws {
        let cache = try RedisFixture()
        let epoch = try cache.beginEpoch()
        let key = cache.keys.row(try EntityName("order"), KeyPart(9))
        let invalidate = { (lsn: UInt64) throws -> WriteOutcome in
            try WriteOutcome(reply: cache.run(cache.commands.invalidate(key, lsn: LSN(lsn), epoch: epoch)))
        }
        #expect(try cache.set(key, #"{"v": 1}"#, 5, epoch: epoch) == .written)
        #expect(try invalidate(8) == .written)
        #expect(try invalidate(8) == .notNewer)
        #expect(try invalidate(7) == .notNewer)
        #expect(try cache.read(key) == CacheRead(isValid: false, state: .invalidated, lsn: LSN(8), epoch: epoch, maxFence: nil, currentEpoch: epoch))
        #expect(try cache.fillRow(key, #"{"v": 1}"#, 7, epoch: epoch) == .refusedByEntry)
        #expect(try cache.set(key, #"{"v": 2}"#, 8, epoch: epoch) == .notNewer, "the worker's own writes still lose ties")
        // A fill read at the marker's version holds the row as of that commit: it replaces the
        // marker (on a quiet database every reader reads at that version), and then wins the tie.
        #expect(try cache.fillRow(key, #"{"v": 2}"#, 8, epoch: epoch) == .filled)
        #expect(try cache.read(key).state == .value(#"{"v": 2}"#))
        #expect(try invalidate(8) == .notNewer)
        #expect(try cache.fillRow(key, #"{"v": 2}"#, 8, epoch: epoch) == .refusedByEntry, "a value is not replaced at its own version")
        #expect(try cache.fillRow(key, #"{"v": 2}"#, 9, epoch: epoch) == .filled)
        #expect(try cache.read(key).isValid)
        #expect(try invalidate(12) == .written)
        #expect(try cache.tombstone(key, 13, epoch: epoch) == .written)
        #expect(try invalidate(13) == .notNewer)
        #expect(try cache.read(key).state == .tombstone)
        let ttl = try cache.redis.command(["PTTL", key]).integer ?? -1
        #expect(ttl > 0 && ttl <= 120_000)
    }

    @Test func fencesRefuseStaleFillsAndBumpsDeleteCoveredEntries() throws {
        let cache = try RedisFixture()
        let epoch = try cache.beginEpoch()
        let query = try CacheName("catalog-page"), category = try CacheName("category")
        let queryFence = cache.keys.queryFence(query)
        let books = cache.keys.parameterFence(query, category, KeyPart("books"))
        let games = cache.keys.parameterFence(query, category, KeyPart("games"))
        let booksPage = cache.keys.derived(query, CanonicalParameters(["category": .string("books"), "page": .integer(1)]))
        let gamesPage = cache.keys.derived(query, CanonicalParameters(["category": .string("games"), "page": .integer(1)]))

        #expect(try cache.fillDerived(booksPage, "[1, 2]", 10, epoch: epoch, fences: [queryFence, books]) == .filled)
        #expect(try cache.fillDerived(gamesPage, "[3]", 10, epoch: epoch, fences: [queryFence, games]) == .filled)
        #expect(try cache.read(booksPage, fences: [queryFence, books]).isValid)
        #expect(try cache.redis.command(["SMEMBERS", books.members]) == .array([.string(Array(booksPage.utf8))]))

        // A change to a book at 15: only the books page goes.
        #expect(try cache.bump(books, 15, epoch: epoch) == .bumped(fence: LSN(15), deleted: 1))
        #expect(try cache.read(booksPage, fences: [queryFence, books]).state == .missing)
        #expect(try cache.read(gamesPage, fences: [queryFence, games]).isValid)
        #expect(try cache.redis.command(["SCARD", books.members]) == .integer(0))

        // A fill read before the change is refused; one that includes it (tie) is accepted.
        #expect(try cache.fillDerived(booksPage, "[1]", 14, epoch: epoch, fences: [queryFence, books]) == .refusedByFence)
        #expect(try cache.fillDerived(booksPage, "[1, 2, 9]", 15, epoch: epoch, fences: [queryFence, books]) == .filled)
        #expect(try cache.read(booksPage, fences: [queryFence, books]) == CacheRead(
            isValid: true, state: .value("[1, 2, 9]"), lsn: LSN(15), epoch: epoch, maxFence: LSN(15), currentEpoch: epoch))

        // Fences only move up; entries at or above the fence survive a bump.
        #expect(try cache.bump(books, 13, epoch: epoch) == .bumped(fence: LSN(15), deleted: 0))
        #expect(try cache.bump(queryFence, 12, epoch: epoch) == .bumped(fence: LSN(12), deleted: 1))
        #expect(try cache.read(gamesPage, fences: [queryFence, games]).state == .missing)
        #expect(try cache.read(booksPage, fences: [queryFence, books]).isValid)

        // A fence the entry was not registered under still makes the read invalid.
        let rogue = cache.keys.parameterFence(query, try CacheName("brand"), KeyPart("acme"))
        #expect(try cache.bump(rogue, 20, epoch: epoch) == .bumped(fence: LSN(20), deleted: 0))
        let read = try cache.read(booksPage, fences: [queryFence, books, rogue])
        #expect(!read.isValid && read.maxFence == LSN(20) && read.state == .value("[1, 2, 9]"))
        let fenceTTL = try cache.redis.command(["PTTL", books.key]).integer ?? -1
        #expect(fenceTTL > 0 && fenceTTL <= 120_000)
    }

    @Test func epochMismatchRefusesWritesAndFillsAndInvalidatesReads() throws {
        let cache = try RedisFixture()
        let first = try cache.beginEpoch(proposed: 100)
        #expect(first == 100)
        let key = cache.keys.row(try EntityName("order"), KeyPart(5))
        let query = try CacheName("list")
        let fence = cache.keys.queryFence(query)
        #expect(try cache.set(key, #"{"v": "old"}"#, 50, epoch: first) == .written)
        #expect(try cache.bump(fence, 1000, epoch: first) == .bumped(fence: LSN(1000), deleted: 0))

        let second = try cache.beginEpoch(proposed: 7, floor: LSN(20))
        #expect(second == 101)
        let stale = try cache.read(key)
        #expect(!stale.isValid && stale.epoch == first && stale.currentEpoch == second)
        #expect(try cache.set(key, "{}", 60, epoch: first) == .epochMismatch)
        #expect(try cache.tombstone(key, 60, epoch: first) == .epochMismatch)
        #expect(try cache.fillRow(key, "{}", 60, epoch: first) == .refusedByEpoch)
        #expect(try cache.bump(fence, 60, epoch: first) == .epochMismatch)

        // The new epoch overwrites old-epoch entries whatever their LSN; old fences do not count.
        #expect(try cache.set(key, #"{"v": "new"}"#, 30, epoch: second) == .written)
        #expect(try cache.read(key).isValid)
        let page = cache.keys.derived(query, CanonicalParameters([:]))
        #expect(try cache.fillDerived(page, "[]", 25, epoch: second, fences: [fence]) == .filled)
        #expect(try cache.read(page, fences: [fence]) == CacheRead(isValid: true, state: .value("[]"), lsn: LSN(25), epoch: second, maxFence: nil, currentEpoch: second))

        // The floor refuses fills from before the epoch began, not worker writes.
        let other = cache.keys.row(try EntityName("order"), KeyPart(6))
        #expect(try cache.fillRow(other, "{}", 19, epoch: second) == .refusedByFloor)
        #expect(try cache.fillRow(other, "{}", 20, epoch: second) == .filled)
        let third = cache.keys.row(try EntityName("order"), KeyPart(7))
        #expect(try cache.set(third, "{}", 5, epoch: second) == .written)

        // Redis lost its data: no epoch, nothing is valid, nothing is accepted.
        _ = try cache.redis.command(["DEL", cache.keys.epoch])
        let lost = try cache.read(key)
        #expect(!lost.isValid && lost.currentEpoch == nil)
        #expect(try cache.fillRow(key, "{}", 99, epoch: second) == .refusedByEpoch)
        #expect(try cache.set(key, "{}", 99, epoch: second) == .epochMismatch)
    }

    @Test func epochAndCheckpointOnlyMoveForward() throws {
        let cache = try RedisFixture()
        let epoch = try cache.beginEpoch(proposed: 5)
        let set = { (lsn: UInt64, epoch: Int64) throws -> CheckpointOutcome in
            try CheckpointOutcome(reply: cache.run(cache.commands.setCheckpoint(LSN(lsn), epoch: epoch)))
        }
        #expect(try set(10, epoch) == CheckpointOutcome(result: .moved, checkpoint: LSN(10)))
        #expect(try set(5, epoch) == CheckpointOutcome(result: .notMoved, checkpoint: LSN(10)))
        #expect(try set(10, epoch) == CheckpointOutcome(result: .notMoved, checkpoint: LSN(10)))
        #expect(try set(11, epoch) == CheckpointOutcome(result: .moved, checkpoint: LSN(11)))
        #expect(try set(12, epoch + 1) == CheckpointOutcome(result: .epochMismatch, checkpoint: LSN(11)))
        #expect(try cache.redis.command(cache.commands.getCheckpoint).text == LSN(11).sortableString)
        #expect(try CacheEpoch.parse(cache.redis.command(cache.commands.getEpoch)) == epoch)

        #expect(try cache.beginEpoch(proposed: 3, floor: LSN(12)) == epoch + 1)
        #expect(try cache.redis.command(cache.commands.getCheckpoint) == .null)
        #expect(try cache.redis.command(["GET", cache.keys.floor]).text == LSN(12).sortableString)
        #expect(try cache.beginEpoch(proposed: 1_764_000_000_000) == 1_764_000_000_000)
    }

    @Test func aFillBelowTheCheckpointSeenWithItsMissIsRefused() throws {
        let cache = try RedisFixture()
        defer { try? cache.removeKeys() }
        let epoch = try cache.beginEpoch(proposed: 5)
        let key = cache.keys.row(try EntityName("order"), KeyPart(1))
        // The worker had applied up to 40 when the reader missed: its entry may have been evicted.
        #expect(try cache.fillRow(key, #"{"v": 30}"#, 30, epoch: epoch, minimum: 40) == .refusedByFloor)
        #expect(try cache.redis.command(["EXISTS", key]).integer == 0)
        #expect(try cache.fillRow(key, #"{"v": 40}"#, 40, epoch: epoch, minimum: 40) == .filled, "data at the checkpoint includes it")
        // The checkpoint as it is when the fill lands does not matter, only the one seen at the miss.
        _ = try cache.run(cache.commands.setCheckpoint(LSN(90), epoch: epoch))
        #expect(try cache.fillRow(cache.keys.row(try EntityName("order"), KeyPart(2)), "{}", 50, epoch: epoch, minimum: 45) == .filled)
    }

    @Test func aCheckpointBelowTheLastOneWrittenIsRefused() throws {
        let cache = try RedisFixture()
        let epoch = try cache.beginEpoch(proposed: 5)
        let set = { (lsn: UInt64, last: UInt64?) throws -> CheckpointOutcome in
            try CheckpointOutcome(reply: cache.run(cache.commands.setCheckpoint(LSN(lsn), epoch: epoch, lastWritten: last.map { LSN($0) })))
        }
        // Missing while the worker had written one: Redis restarted from a snapshot taken before it.
        #expect(try set(20, 10) == CheckpointOutcome(result: .wentBack, checkpoint: nil))
        #expect(try cache.redis.command(cache.commands.getCheckpoint) == .null, "nothing written")
        #expect(try set(10, nil) == CheckpointOutcome(result: .moved, checkpoint: LSN(10)))
        #expect(try set(20, 10) == CheckpointOutcome(result: .moved, checkpoint: LSN(20)))
        #expect(try set(20, 20) == CheckpointOutcome(result: .notMoved, checkpoint: LSN(20)))
        // Below the one last written: an older snapshot, or a replica that was behind.
        _ = try cache.redis.command(["SET", cache.keys.checkpoint, LSN(15).sortableString])
        #expect(try set(30, 20) == CheckpointOutcome(result: .wentBack, checkpoint: LSN(15)))
        #expect(try cache.redis.command(cache.commands.getCheckpoint).text == LSN(15).sortableString)
        #expect(try set(30, 15) == CheckpointOutcome(result: .moved, checkpoint: LSN(30)))
    }

    @Test func hotSetCountsReadsAndStaysBounded() throws {
        let cache = try RedisFixture(ttl: CacheTTL(hot: .seconds(60), hotMembers: 2))
        let query = try CacheName("search")
        let popular = CanonicalParameters(["q": .string("shoes")])
        let rare = CanonicalParameters(["q": .string("socks")])
        for _ in 0..<3 { _ = try cache.run(cache.commands.recordRead(query, popular)) }
        #expect(try cache.run(cache.commands.recordRead(query, rare)) == .integer(1))
        let hot = try HotEntries(reply: cache.redis.command(cache.commands.hottest(query, limit: 10)))
        #expect(hot.entries.map(\.parameters) == [popular, rare])
        #expect(hot.entries.map(\.score) == [3, 1])
        for index in 0..<3 {
            _ = try cache.run(cache.commands.recordRead(query, CanonicalParameters(["q": .integer(index)])))
        }
        #expect(try cache.redis.command(["ZCARD", cache.keys.hot(query)]) == .integer(2))
        let top = try HotEntries(reply: cache.redis.command(cache.commands.hottest(query, limit: 1)))
        #expect(top.entries.map(\.parameters) == [popular])
        let ttl = try cache.redis.command(["PTTL", cache.keys.hot(query)]).integer ?? -1
        #expect(ttl > 0 && ttl <= 60_000)
    }

    @Test func scriptsRefuseMalformedArguments() throws {
        let cache = try RedisFixture()
        let epoch = try cache.beginEpoch()
        let key = cache.keys.row(try EntityName("order"), KeyPart(8))
        let badLSN = CacheScripts.setIfNewer.call(keys: [key, cache.keys.epoch], arguments: ["0/16B3748", String(epoch), "1000", "{}"])
        let badEpoch = CacheScripts.setIfNewer.call(keys: [key, cache.keys.epoch], arguments: [LSN(1).sortableString, "01", "1000", "{}"])
        let badTTL = CacheScripts.tombstoneIfNewer.call(keys: [key, cache.keys.epoch], arguments: [LSN(1).sortableString, String(epoch), "0"])
        let badField = CacheScripts.fillIfNotStale.call(
            keys: [key, cache.keys.epoch, cache.keys.floor], arguments: [LSN(1).sortableString, String(epoch), "1000", "other", "{}"])
        for call in [badLSN, badEpoch, badTTL, badField] {
            let reply = try cache.run(call)
            guard case .error(let message) = reply else {
                Issue.record("\(call.script.name) accepted \(call.arguments): \(reply)")
                continue
            }
            #expect(message.contains("cache-contract"))
            #expect { try WriteOutcome(reply: reply) } throws: { ($0 as? CacheContractError)?.code == .unexpectedReply }
        }
        #expect(try cache.redis.command(["EXISTS", key]) == .integer(0))
    }
}
