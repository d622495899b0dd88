import ArgumentParser
import Foundation
import NIOCore
import PGOutput
import PGOutputFixtures

/// Decodes a captured stream of Insert/Update messages in memory and reports messages/s.
struct DecodeBenchmark: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "decode",
        abstract: "pgoutput decode rate on one core (goal: >= 2M messages/s for small rows)."
    )

    @Option(help: "Fixture with the captured stream.")
    var fixture = "Tests/PGOutputTests/Fixtures/small_rows_bench.txt"

    @Option(help: "Messages decoded per run (the captured changes, repeated).")
    var messages = 1_000_000

    @Option(help: "Timed runs (the best and the median are reported).")
    var runs = 5

    @Option(help: "Where to write the JSON result.")
    var output = "bench-results/decode.json"

    func run() throws {
        let file = try FixtureFile(contentsOf: URL(fileURLWithPath: fixture))
        let changes = file.lines.map(\.bytes).filter {
            let type = $0.getInteger(at: $0.readerIndex, as: UInt8.self)
            return type == PGOutputMessage.ID.insert.rawValue || type == PGOutputMessage.ID.update.rawValue
        }
        guard !changes.isEmpty else { throw ValidationError("\(fixture) has no Insert/Update messages") }
        let stream = (0..<messages).map { changes[$0 % changes.count] }
        let bytes = stream.reduce(0) { $0 + $1.readableBytes }

        var rates: [Double] = []
        var columns = 0
        for _ in 0..<runs {
            var decoder = try PGOutputDecoder(protocolVersion: file.protocolVersion)
            columns = 0
            let clock = ContinuousClock()
            let elapsed = try clock.measure {
                for message in stream {
                    switch try decoder.decode(message) {
                    case .insert(let insert): columns &+= insert.newTuple.values.count
                    case .update(let update): columns &+= update.newTuple.values.count
                    default: break
                    }
                }
            }
            rates.append(Double(messages) / elapsed.seconds)
        }
        rates.sort()
        let result = BenchmarkResult(
            name: "pgoutput-decode",
            parameters: ["fixture": fixture, "messages": "\(messages)", "runs": "\(runs)", "avg_message_bytes": "\(bytes / messages)"],
            rows: [
                .init(label: "decode best", value: rates.last!, unit: "messages/s"),
                .init(label: "decode median", value: rates[rates.count / 2], unit: "messages/s"),
                .init(label: "goal", value: 2_000_000, unit: "messages/s"),
                .init(label: "median / goal", value: rates[rates.count / 2] / 2_000_000, unit: "ratio"),
            ])
        precondition(columns > 0)
        try result.report(to: output)
    }
}

extension Duration {
    /// The duration in seconds as a Double.
    var seconds: Double {
        let parts = components
        return Double(parts.seconds) + Double(parts.attoseconds) / 1e18
    }
}
