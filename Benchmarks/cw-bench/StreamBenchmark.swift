import ArgumentParser
import Foundation
import Logging
import PGOutput
import PostgresReplication

/// The replication stream (decode only) against `pg_recvlogical --plugin=pgoutput` on the same WAL.
struct StreamBenchmark: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stream",
        abstract: "LogicalReplicationStream vs pg_recvlogical on one pre-written workload (goal: >= 0.9x)."
    )

    @Option(help: "Writer URL (default: DB_WRITER_URL).")
    var writerURL = ProcessInfo.processInfo.environment["DB_WRITER_URL"] ?? ""

    @Option(help: "Transactions of 4 row changes to pre-write.")
    var transactions = 50_000

    @Option(help: "Rounds; each times both consumers on fresh copies of the slot.")
    var rounds = 3

    @Option(help: "pg_recvlogical binary.")
    var pgRecvlogical = "/usr/lib/postgresql/15/bin/pg_recvlogical"

    @Option(help: "Where to write the JSON result.")
    var output = "bench-results/stream.json"

    func run() async throws {
        guard !writerURL.isEmpty else { throw ValidationError("set DB_WRITER_URL or --writer-url (eval \"$(deploy/local/stack.sh env)\")") }
        let writer = ConnectionString(writerURL)
        print("writing \(transactions * 4) row changes in \(transactions) transactions ...")
        let workload = try ReplicationWorkload.prepare(writer: writer, transactions: transactions)
        defer { try? workload.cleanUp() }
        var ours: [Double] = []
        var raw: [Double] = []
        for round in 0..<rounds {
            // Alternate who goes first so caches favour neither.
            for consumer in round % 2 == 0 ? ["ours", "raw"] : ["raw", "ours"] {
                let slot = "cw_bench_\(consumer)_\(round)"
                try workload.copySlot(slot)
                if consumer == "ours" {
                    ours.append(try await streamRate(workload, slot: slot))
                } else {
                    raw.append(try PgRecvlogical(binary: pgRecvlogical).rate(workload, slot: slot))
                }
            }
        }
        let oursMedian = ours.sorted()[ours.count / 2]
        let rawMedian = raw.sorted()[raw.count / 2]
        try BenchmarkResult(
            name: "replication-stream",
            parameters: ["changes": "\(workload.changes)", "transactions": "\(transactions)", "rounds": "\(rounds)", "end_lsn": "\(workload.end)"],
            rows: [
                .init(label: "LogicalReplicationStream (decode, confirm)", value: oursMedian, unit: "changes/s"),
                .init(label: "pg_recvlogical --plugin=pgoutput", value: rawMedian, unit: "changes/s"),
                .init(label: "ratio (goal >= 0.9)", value: oursMedian / rawMedian, unit: "ratio"),
            ]
        ).report(to: output)
    }

    private func streamRate(_ workload: ReplicationWorkload, slot: String) async throws -> Double {
        var options = ReplicationOptions(slot: slot, publications: [ReplicationWorkload.publication])
        options.endLSN = workload.end
        var logger = Logger(label: "bench")
        logger.logLevel = .warning
        let start = ContinuousClock.now
        let stream = try LogicalReplicationStream(target: workload.writer, options: options, logger: logger)
        var changes = 0
        for try await event in stream {
            guard case .message(let message, _, _) = event else { continue }
            switch message {
            case .insert, .update, .delete: changes += 1
            case .commit(let commit): stream.confirm(commit.endLSN)
            default: break
            }
        }
        await stream.stop()
        let elapsed = (ContinuousClock.now - start).seconds
        guard changes == workload.changes else {
            throw ValidationError("the stream delivered \(changes) changes, expected \(workload.changes)")
        }
        print("  stream        \(slot): \(changes) changes in \(String(format: "%.2f", elapsed)) s")
        return Double(changes) / elapsed
    }
}
