import CacheContract
import CacheWarmer
import Foundation
import TestSupport
import Testing

/// `resync` of a cached query: its `warm.sql` parameter sets and the readers' hot set are
/// filled through the read library's query path.
@Suite struct WarmQueryTests {
    /// 50 rows and the query `by-label` (ids with a label), warmed for the labels of ids 1-5;
    /// `warm` adds to its `warm:` mapping (e.g. `hot: 10`).
    static func byLabel(warm: String? = nil, warmSQL: String = "SELECT label FROM public.$table WHERE id <= 5", itemWarm: String? = nil) async throws -> WarmHarness {
        try await WarmHarness(rows: 50, itemWarm: itemWarm) { table in
            """

            queries:
              by-label:
                sql: SELECT id FROM public.\(table) WHERE label = $label ORDER BY id
                params: [label]
                depends_on: [{ table: public.\(table), match: { param: label, column: label } }]
                warm: { sql: "\(warmSQL.replacingOccurrences(of: "$table", with: table))"\(warm.map { ", \($0)" } ?? "") }
            """
        }
    }

    @Test func warmSQLAndTheHotSetAreFilled() async throws {
        let harness = try await Self.byLabel(warm: "hot: 10")
        // A parameter set the readers read often (as `record-read` would have counted it).
        let hot = "\(harness.namespace):hot:by-label"
        _ = try harness.worker.redis().command(["ZADD", hot, "3", #"{"label": "c4ca4238a0b923820dcc509a6f75849b"}"#, "2", #"{"label": "hot-only"}"#])

        let (status, output) = try await harness.cli(["resync", "by-label", "--json"])
        #expect(status == 0, "\(output)")
        let json = try #require(output.split(separator: "\n").first { $0.hasPrefix("{") })
        let item = try #require(try JSONDecoder().decode(CLIReport.self, from: Data(json.utf8)).items.first)
        #expect(item.name == "by-label" && item.rows == 6 && item.filled == 6, "5 from warm.sql (one of them also hot) and 1 only hot: \(item)")
        let keys = try harness.worker.keys("q:by-label:*")
        #expect(keys.count == 6)
        // The derived entry holds the query's result as the read path renders it.
        let entry = keys.map { try? harness.worker.hash($0) }.compactMap { $0 }.first { $0["value"] == #"[{"id": 1}]"# }
        #expect(entry != nil, "the result of label = md5('1') is [{\"id\": 1}]")

        // Already cached: the next resync fills nothing.
        let again = try await harness.cli(["resync", "by-label", "--json"])
        let second = try #require(again.output.split(separator: "\n").first { $0.hasPrefix("{") })
        #expect(try JSONDecoder().decode(CLIReport.self, from: Data(second.utf8)).items.first?.filled == 0)
        await harness.cleanUp()
    }

    /// `verify` of a cached query: the warmed parameter sets equal the database's results; an
    /// entry corrupted with a high version is stale (exit 1) until `--repair` replaces it by a
    /// marker; an entry of parameters verify cannot know is counted as unverified.
    @Test func verifyComparesCachedQueryResultsWithTheDatabase() async throws {
        let harness = try await Self.byLabel()
        let filled = try await harness.cli(["resync", "by-label", "--json"])
        #expect(filled.status == 0, "\(filled.output)")
        let clean = try await harness.cli(["verify", "by-label", "--json"])
        #expect(clean.status == 0, "\(clean.output)")
        let counts = try #require(CLIVerify.parse(clean.output)?.queries.first, "\(clean.output)")
        #expect(counts.checked == 5 && counts.equal == 5 && counts.stale == 0 && counts.missing == 0 && counts.unverified == 0, "\(clean.output)")

        // One entry rewritten with a wrong result at a version above anything the worker wrote,
        // and one entry whose parameters are nowhere verify looks.
        let redis = try harness.worker.redis()
        let entry = try #require(try harness.worker.keys("q:by-label:*").first)
        _ = try redis.command(["HSET", entry, "value", #"[{"id": 999}]"#, "lsn", "0000FFFF00000000"])
        _ = try redis.command(["HSET", "\(harness.namespace):q:by-label:00000000000000000000000000000000", "value", "[]", "lsn", "0000000000000001", "epoch", "1"])
        let stale = try await harness.cli(["verify", "by-label", "--json"])
        #expect(stale.status == 1, "\(stale.output)")
        let found = try #require(CLIVerify.parse(stale.output)?.queries.first, "\(stale.output)")
        #expect(found.stale == 1 && found.equal == 4 && found.unverified == 1, "\(stale.output)")
        #expect(found.staleKeys.first?.hasPrefix(entry) == true, "\(found.staleKeys)")

        let repaired = try await harness.cli(["verify", "by-label", "--repair", "--json"])
        #expect(CLIVerify.parse(repaired.output)?.queries.first?.repaired == 1, "\(repaired.output)")
        #expect(try harness.worker.hash(entry)["invalidated"] == "1", "the stale entry became a marker")
        let after = try await harness.cli(["verify", "by-label", "--json"])
        #expect(after.status == 0, "\(after.output)")
        #expect(CLIVerify.parse(after.output)?.queries.first.map { $0.stale == 0 && $0.missing == 1 && $0.equal == 4 } == true, "\(after.output)")
        await harness.cleanUp()
    }

    /// A `warm.sql` whose columns are not the query's params is a configuration error, said
    /// once, with a non-zero exit (not one "query read failed" per row and exit 0).
    @Test func aWarmSQLWhoseColumnsAreNotTheParamsIsAnError() async throws {
        let harness = try await Self.byLabel(warmSQL: "SELECT label, 1 AS junk FROM public.$table WHERE id <= 5")
        let run = try await harness.cli(["resync", "by-label"])
        #expect(run.status != 0, "\(run.output)")
        #expect(run.output.contains("queries.by-label.warm.sql: yields columns (junk, label); params are label: not a param: junk"), "\(run.output)")
        await harness.cleanUp()
    }

    /// One entity's bad `warm.where` stops that entity only: the query is still warmed, the
    /// resync exits non-zero, and `status` says why the entity stopped.
    @Test func oneFailingEntityDoesNotStopTheOthersAndStatusSaysWhy() async throws {
        let harness = try await Self.byLabel(itemWarm: #"{ where: "nosuch_column > 1" }"#)
        let run = try await harness.cli(["resync", "--json"])
        #expect(run.status != 0, "\(run.output)")
        #expect(try harness.worker.keys("q:by-label:*").count == 5, "the query was warmed: \(run.output)")
        let status = try await harness.cli(["status"])
        #expect(status.output.contains("failed after 0 rows") && status.output.contains("nosuch_column"), "\(status.output)")
        let json = try await harness.cli(["status", "--json"])
        #expect(json.output.contains(#""resync""#) && json.output.contains(#""entity" : "item""#) && json.output.contains("nosuch_column"), "\(json.output)")
        await harness.cleanUp()
    }
}
