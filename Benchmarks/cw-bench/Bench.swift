import ArgumentParser

/// `cw-bench`: measured performance, as a table on stdout and a JSON file.
@main
struct Bench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cw-bench",
        abstract: "cache-warmer benchmarks: each prints a table and writes JSON.",
        subcommands: [DecodeBenchmark.self, StreamBenchmark.self, RedisBenchmark.self, WorkerBenchmark.self, ReadsBenchmark.self, ResyncBenchmark.self, HistoryBenchmark.self]
    )
}
