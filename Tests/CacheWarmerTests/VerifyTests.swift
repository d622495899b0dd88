import CacheContract
import CacheWarmer
import Foundation
import PGOutput
import TestSupport
import Testing

/// `verify` against the real stack: a corrupted entry is found and repaired; changes in flight
/// are never reported as stale.
@Suite(.serialized) struct VerifyTests {
    @Test func aCorruptedEntryIsStaleAndRepairMakesTheNextReadRefill() async throws {
        let harness = try await WarmHarness(rows: 2000)
        let report = try await harness.resync()
        #expect(report.items.first.map { $0.filled + $0.alreadyNewer } == 2000)
        #expect(try await harness.cli(["verify"]).status == 0)

        // Written with a high LSN and wrong content: no worker or fill would ever replace it.
        let entry = "\(harness.namespace):item:9"
        _ = try harness.worker.redis().command(["HSET", entry, "lsn", "0000000FFFFFFFFF", "row", #"{"id": 9, "label": "wrong"}"#])
        // A live entry of a row that does not exist (at a version above the entity fence).
        let epoch = try #require(try harness.worker.epoch())
        let version = try #require(try harness.worker.checkpoint()).sortableString
        _ = try harness.worker.redis().command(["HSET", "\(harness.namespace):item:777777", "lsn", version, "row", #"{"id": 777777}"#, "epoch", epoch])

        let found = try await harness.cli(["verify", "--json"])
        #expect(found.status == 1, "\(found.output)")
        let counts = try #require(Self.counts(found.output))
        #expect(counts.stale == 1 && counts.deletedLive == 1 && counts.equal == 1999, "\(counts)")
        #expect(counts.staleKeys.contains(entry))

        let repaired = try await harness.cli(["verify", "--repair", "--json"])
        #expect(repaired.status == 1, "stale entries were found (and repaired)")
        #expect(Self.counts(repaired.output)?.repaired == 2)

        let inspected = try await harness.cli(["inspect", "item", "9", "--json"])
        #expect(inspected.status == 0)
        #expect(inspected.output.contains(#""state": "marker""#) && inspected.output.contains(#""read_accepts": false"#), "\(inspected.output)")

        // The next read refills it, also on a quiet database where the reader is still at the
        // marker's version (a fill at a marker's version replaces it).
        let read = try await harness.cli(["get", "item", "9"])
        #expect(read.status == 0 && read.output.contains(#""label": "45c48cce2e2d7fbdea1afc51c7c6ad26""#), "\(read.output)")
        // Its fill is refused while the reader is behind the worker's checkpoint (other tests'
        // WAL moves it): read again until one fill lands.
        for _ in 0..<20 {
            if try await harness.cli(["inspect", "item", "9"]).output.contains("read_accepts   true") { break }
            _ = try await harness.cli(["get", "item", "9"])
            try await Task.sleep(for: .milliseconds(100))
        }
        let clean = try await harness.cli(["verify", "--json"])
        #expect(clean.status == 0, "\(clean.output)")
        #expect(Self.counts(clean.output).map { $0.stale == 0 && $0.deletedLive == 0 && $0.equal == 2000 } == true, "\(clean.output)")
        await harness.cleanUp()
    }

    @Test func changesInFlightAreNeverReportedStale() async throws {
        let rows = 20_000
        let harness = try await WarmHarness(rows: rows)
        _ = try await harness.resync()
        let load = ChangeLoad(table: harness.table, rows: rows, pause: 500)
        for round in 0..<5 {
            let counts = try await harness.verify()
            #expect(counts.stale == 0 && counts.deletedLive == 0, "round \(round): \(counts)")
            #expect(counts.checked > rows / 2)
            #expect(counts.checked == counts.equal + counts.missing, "rows read again after a difference in flight are counted: \(counts)")
        }
        let changes = try await load.stop()
        #expect(changes.updates + changes.deletes + changes.inserts > 200, "changes were in flight")
        await harness.cleanUp()
    }

    @Test func inspectShowsStateVersionEpochTTLAndFences() async throws {
        let harness = try await WarmHarness(rows: 10)
        _ = try harness.sql("UPDATE \(harness.table) SET label = 'x' WHERE id = 3")
        try await harness.settle()
        let shown = try await harness.cli(["inspect", "item", "3"])
        #expect(shown.status == 0)
        let lines = Dictionary(shown.output.split(separator: "\n").compactMap { line -> (String, String)? in
            let parts = line.split(separator: " ", maxSplits: 1)
            return parts.count == 2 ? (String(parts[0]), parts[1].trimmingCharacters(in: .whitespaces)) : nil
        }, uniquingKeysWith: { first, _ in first })
        #expect(lines["state"] == "value")
        #expect(lines["value"]?.contains(#""label": "x""#) == true)
        #expect(lines["epoch_current"] == "true" && lines["read_accepts"] == "true")
        #expect(lines["epoch"] == (try harness.worker.epoch()))
        #expect(lines["ttl_ms"].flatMap { Int($0) }.map { $0 > 0 } == true)
        #expect(lines["fence"]?.hasPrefix("\(harness.namespace):fence:item") == true)
        let byKey = try await harness.cli(["inspect", "--key", "\(harness.namespace):item:4"])
        #expect(byKey.output.contains("state          missing") && byKey.output.contains("read_accepts   false"), "\(byKey.output)")
        // Key values as a person types them name the entry the worker wrote.
        let spelled = try await harness.cli(["inspect", "item", "0003"])
        #expect(spelled.output.contains("key            \(harness.namespace):item:3") && spelled.output.contains("state          value"), "\(spelled.output)")
        let wrong = try await harness.cli(["inspect", "item", "abc"])
        #expect(wrong.status != 0 && wrong.output.contains("key column id") && wrong.output.contains("abc"), "\(wrong.output)")
        await harness.cleanUp()
    }

    /// An entry whose key no row of the table can have (`abc` for an integer key) is counted as
    /// unverified with a warning; the verify of everything else goes on.
    @Test func anEntryKeyTheKeyTypeRefusesDoesNotStopVerify() async throws {
        let harness = try await WarmHarness(rows: 10)
        _ = try await harness.resync()
        let epoch = try #require(try harness.worker.epoch())
        let version = try #require(try harness.worker.checkpoint()).sortableString
        _ = try harness.worker.redis().command(["HSET", "\(harness.namespace):item:abc", "lsn", version, "row", "{}", "epoch", epoch])
        let counts = try await harness.verify()
        #expect(counts.equal == 10 && counts.unverified == 1 && counts.stale == 0 && counts.deletedLive == 0, "\(counts)")
        await harness.cleanUp()
    }

    static func counts(_ output: String) -> CLIVerify.Counts? {
        guard let line = output.split(separator: "\n").first(where: { $0.hasPrefix("{") }) else { return nil }
        return (try? JSONDecoder().decode(CLIVerify.self, from: Data(line.utf8)))?.entities.first
    }
}

/// The `--json` report of `cache-warmer verify`.
struct CLIVerify: Decodable {
    struct Counts: Decodable {
        var checked: Int
        var equal: Int
        var missing: Int
        var stale: Int
        var deletedLive: Int
        var repaired: Int
        var staleKeys: [String]
        var unverified: Int

        enum CodingKeys: String, CodingKey {
            case checked, equal, missing, stale, repaired, unverified
            case deletedLive = "deleted_live"
            case staleKeys = "stale_keys"
        }
    }

    var entities: [Counts]
    var queries: [Counts]

    /// The report in `output` (the first line that is a JSON object).
    static func parse(_ output: String) -> CLIVerify? {
        guard let line = output.split(separator: "\n").first(where: { $0.hasPrefix("{") }) else { return nil }
        return try? JSONDecoder().decode(CLIVerify.self, from: Data(line.utf8))
    }
}
