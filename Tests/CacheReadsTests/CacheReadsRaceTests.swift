import CacheContract
import CacheReads
import Foundation
import PGOutput
import PostgresNIO
import TestSupport
import Testing

/// More of the race cases of docs/consistency.md and the lag rules, in the same serialized suite (they
/// pause replay on the shared replica).
extension CacheReadsTests {
    /// Writer fills racing commits: a writer read's version L must be a lower bound, so no
    /// update whose post-commit WAL position is <= L may be missing from the value.
    @Test func writerFillVersionsAreLowerBoundsUnderConcurrentCommits() async throws {
        try await ReadsHarness.with(try ReadsHarness.configuration()) { harness in
            let reads = harness.reads
            let order = try await harness.insertOrder(status: "w0")
            async let writes: [(Int, LSN)] = {
                var tokens: [(Int, LSN)] = []
                for index in 1...40 {
                    tokens.append((index, try await reads.updateOrder(order.id, status: "w\(index)").token))
                }
                return tokens
            }()
            var observed: [(Int, LSN)] = []
            for _ in 0..<60 {
                let result = try await reads.row(entity: "order", key: KeyPart(order.id), consistency: .strong)
                if let lsn = result.lsn, let value = result.value, let status = Self.status(value) {
                    observed.append((status, lsn))
                }
            }
            let tokens = try await writes
            #expect(observed.count > 0)
            for (status, lsn) in observed {
                let missed = tokens.filter { $0.0 > status && $0.1 <= lsn }
                #expect(missed.isEmpty, "a read at \(lsn) returned w\(status) but missed \(missed.map { "w\($0.0)@\($0.1)" })")
            }
            // Whatever the interleaving, the cache never ends older than the last write's read.
            let final = try await reads.row(entity: "order", key: KeyPart(order.id), consistency: .readYourWrites(try #require(tokens.last?.1)))
            #expect(final.value.flatMap(Self.status) == 40)
        }
    }

    /// A delete's tombstone refuses a late fill from a replica that still has the row.
    @Test func aTombstoneRefusesALateFillOfTheDeletedRow() async throws {
        try await ReadsHarness.with(try ReadsHarness.configuration()) { harness in
            let reads = harness.reads
            let order = try await harness.insertOrder(status: "doomed")
            _ = try await reads.row(entity: "order", key: KeyPart(order.id), consistency: .readYourWrites(order.token))
            try ReplicaReplay.pause()
            defer { try? ReplicaReplay.resume() }
            let logger = harness.logger
            let deleted = try await reads.write { connection in
                try await connection.query(#"DELETE FROM "Order" WHERE id = \#(order.id)"#, logger: logger)
                return true
            }
            let entry = try harness.commands.keys.row(try EntityName("order"), key: [KeyPart(order.id)])
            _ = try harness.redis.evaluate(harness.commands.tombstone(entry, lsn: deleted.token, epoch: harness.epoch))
            // Bounded staleness skips the cache: the paused replica still returns the row.
            let late = try await reads.row(entity: "order", key: KeyPart(order.id), consistency: .boundedStaleness(3600))
            #expect(late.source == .reader)
            #expect(late.value == order.json)
            #expect(late.fill == .outcome(.refusedByEntry))
            let eventual = try await reads.row(entity: "order", key: KeyPart(order.id))
            #expect(eventual.source == .cache)
            #expect(eventual.value == nil)
        }
    }

    /// Bounded staleness leaves a reader whose lag exceeds the bound; eventual still uses it.
    @Test func boundedStalenessAvoidsALaggingReader() async throws {
        try await ReadsHarness.with(try ReadsHarness.configuration()) { harness in
            let reads = harness.reads
            let order = try await harness.insertOrder(status: "lag")
            _ = try await reads.row(entity: "order", key: KeyPart(order.id), consistency: .readYourWrites(order.token))
            try ReplicaReplay.pause()
            defer { try? ReplicaReplay.resume() }
            _ = try await harness.updateOrder(order.id, status: "lag2")
            try await Task.sleep(for: .milliseconds(1500))
            await reads.probeReaders()
            let lag = try #require(reads.readerStatus.first?.lag)
            #expect(lag >= 1)
            let bounded = try await reads.row(entity: "order", key: KeyPart(order.id), consistency: .boundedStaleness(0.5))
            #expect(bounded.source == .writer)
            let relaxed = try await reads.row(entity: "order", key: KeyPart(order.id), consistency: .boundedStaleness(3600))
            #expect(relaxed.source == .reader)
            #expect(relaxed.readerLag.map { $0 >= 1 } == true)
        }
    }

    /// A catalog page filled from the lagging replica while a product change of its category is
    /// applied (the worker bumps the category fence): whichever lands first, no valid entry older
    /// than the change survives.
    @Test func aLaggingPageFillRacingAFenceBumpNeverSurvives() async throws {
        try await ReadsHarness.with(try ReadsHarness.configuration()) { harness in
            let reads = harness.reads
            let category = "race-" + UUID().uuidString.prefix(8).lowercased()
            let inserted = try await reads.write { connection in
                let rows = try await connection.query(
                    #"INSERT INTO "Product" (name, category, "priceCents") VALUES ('p', \#(category), 1) RETURNING id"#, logger: .init(label: "test"))
                for try await id in rows.decode(Int.self) { return id }
                throw CacheReadsError(code: .database, message: "INSERT returned nothing")
            }
            let parameters: [String: JSONValue] = ["category": .string(category), "offset": .integer(0)]
            _ = try await reads.query("catalog-page", parameters: parameters, consistency: .readYourWrites(inserted.token))
            try ReplicaReplay.pause()
            defer { try? ReplicaReplay.resume() }
            let name = try CacheName("catalog-page")
            let entry = harness.commands.keys.derived(name, CanonicalParameters(parameters))
            let fences = [harness.commands.keys.queryFence(name), harness.commands.keys.parameterFence(name, try CacheName("category"), KeyPart(category))]
            var outcomes: [String: Int] = [:]
            for round in 1...30 {
                // Each round starts without fences, as if no change had happened since the replica's
                // position (the paused replica stays behind every earlier round's change).
                _ = try harness.redis.command(["DEL", entry] + fences.flatMap { [$0.key, $0.members] })
                let id = inserted.value
                let changed = try await reads.write { connection in
                    try await connection.query(#"UPDATE "Product" SET "priceCents" = \#(round + 1) WHERE id = \#(id)"#, logger: .init(label: "test"))
                    return true
                }
                let bump = harness.commands.bumpFence(fences[1], lsn: changed.token, epoch: harness.epoch)
                let result: ReadResult
                switch round % 3 {
                case 0:  // the fill lands first; the bump must delete it
                    result = try await reads.query("catalog-page", parameters: parameters, consistency: .eventual)
                    _ = try FenceBump(reply: try harness.redis.evaluate(bump))
                case 1:  // the bump lands first; the fill must be refused
                    _ = try FenceBump(reply: try harness.redis.evaluate(bump))
                    result = try await reads.query("catalog-page", parameters: parameters, consistency: .eventual)
                default:  // concurrently
                    let delay = Duration.microseconds(Int64.random(in: 0...3000))
                    async let read = reads.query("catalog-page", parameters: parameters, consistency: .eventual)
                    try await Task.sleep(for: delay)
                    _ = try FenceBump(reply: try harness.redis.evaluate(bump))
                    result = try await read
                }
                #expect(result.source == .reader)
                outcomes["\(result.source) \(Self.describe(result.fill))", default: 0] += 1
                let cached = try harness.cached(entry, fences: fences)
                #expect(!cached.isValid || (cached.lsn.map { $0 >= changed.token } ?? false), "round \(round): a page older than the change is valid")
            }
            #expect(outcomes.values.reduce(0, +) == 30)
            #expect(outcomes["reader outcome(filled)", default: 0] >= 10, "\(outcomes)")
            #expect(outcomes["reader outcome(refusedByFence)", default: 0] >= 10, "\(outcomes)")
        }
    }

    /// With a sample rate of 1 every cached-query read is counted in the query's hot set, under
    /// its canonical parameter JSON, in the same round trip as the read.
    @Test func cachedQueryReadsAreRecordedInTheHotSet() async throws {
        var configuration = try ReadsHarness.configuration()
        configuration.hotSampleRate = 1
        try await ReadsHarness.with(configuration) { harness in
            let parameters: [String: JSONValue] = ["category": .string("hot-" + UUID().uuidString.prefix(8).lowercased()), "offset": .integer(20)]
            for _ in 0..<3 { _ = try await harness.reads.query("catalog-page", parameters: parameters) }
            let hot = harness.commands.keys.hot(try CacheName("catalog-page"))
            let score = try harness.redis.command(["ZSCORE", hot, CanonicalParameters(parameters).json])
            #expect(score.text == "3")
            #expect(harness.reads.statistics.recordedReads == 3)
        }
    }

    static func describe(_ fill: FillResult?) -> String {
        switch fill {
        case .outcome(.filled)?: "outcome(filled)"
        case .outcome(.refusedByFence)?: "outcome(refusedByFence)"
        case .outcome(let outcome)?: "outcome(\(outcome))"
        case .skipped(let reason)?: "skipped(\(reason))"
        case nil: "-"
        }
    }

    static func status(_ json: String) -> Int? {
        guard let range = json.range(of: #""status": "w"#) else { return nil }
        return Int(json[range.upperBound...].prefix(while: \.isNumber))
    }
}
