import CacheContract
import CacheWarmer
import Foundation
import TestSupport
import Testing

/// `resync` of a cached query: its `warm.sql` parameter sets and the readers' hot set are
/// filled through the read library's query path.
@Suite struct WarmQueryTests {
    @Test func warmSQLAndTheHotSetAreFilled() async throws {
        let harness = try await WarmHarness(rows: 50) { table in
            """

            queries:
              by-label:
                sql: SELECT id FROM public.\(table) WHERE label = $label ORDER BY id
                params: [label]
                depends_on: [{ table: public.\(table), match: { param: label, column: label } }]
                warm: { sql: "SELECT label FROM public.\(table) WHERE id <= 5", hot: 10 }
            """
        }
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
}
