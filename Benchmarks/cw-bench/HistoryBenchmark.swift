import ArgumentParser
import CacheWarmer
import Foundation
import Logging
import PGOutput
import PostgresReplication
import RedisCache

/// Replay from the history window: a copy of `<slot>_history` advanced past a prefix of WAL, then
/// streamed over the range by the worker into Redis, against `pg_recvlogical` reading the same
/// range from a copy advanced the same way, in the same run (goal >= 0.8x). The advance (server
/// decoding, no output) is reported separately.
struct HistoryBenchmark: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "history",
        abstract: "replay --from through a history slot copy vs pg_recvlogical over the same range (goal >= 0.8x); advance time reported separately."
    )

    @Option(help: "Writer URL (default: DB_WRITER_URL).")
    var writerURL = ProcessInfo.processInfo.environment["DB_WRITER_URL"] ?? ""

    @Option(help: "Redis URL (default: REDIS_URL).")
    var redisURL = ProcessInfo.processInfo.environment["REDIS_URL"] ?? ""

    @Option(help: "Transactions of 4 changes in the replayed range.")
    var transactions = 50_000

    @Option(help: "Transactions of 4 changes before the range (the copy is advanced past them).")
    var prefixTransactions = 12_500

    @Option(help: "Where to write the JSON result.")
    var output = "bench-results/history.json"

    static let slot = "cw_bench_main"

    func run() async throws {
        guard !writerURL.isEmpty, !redisURL.isEmpty else { throw ValidationError("set DB_WRITER_URL and REDIS_URL (eval \"$(deploy/local/stack.sh env)\")") }
        let writer = ConnectionString(writerURL)
        var configuration = try WorkerConfiguration.parse(
            yaml: """
                namespace: bench-history
                slot: \(Self.slot)
                publication: \(ReplicationWorkload.publication)
                metrics_port: 0
                resync: "off"
                history: { keep: 1h }
                entities:
                  order: { table: public.\(ReplicationWorkload.table), key: [id] }
                """, file: "history-benchmark", environment: ["DB_WRITER_URL": writerURL, "REDIS_URL": redisURL])
        configuration.slot = Self.slot
        let connection = try PostgresConnection(writer)
        print("history: writing \(prefixTransactions * 4) changes before the range and \(transactions * 4) in it ...")
        try connection.execute(
            """
            DROP TABLE IF EXISTS \(ReplicationWorkload.table);
            CREATE TABLE \(ReplicationWorkload.table) (id bigserial PRIMARY KEY, "userId" int NOT NULL, status text NOT NULL,
                "totalCents" int NOT NULL, "createdAt" timestamptz NOT NULL DEFAULT now());
            DROP PUBLICATION IF EXISTS \(ReplicationWorkload.publication);
            CREATE PUBLICATION \(ReplicationWorkload.publication) FOR TABLE \(ReplicationWorkload.table);
            """)
        try connection.execute("SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name LIKE 'cw_bench_%' AND active_pid IS NULL")
        try connection.execute("SELECT pg_create_logical_replication_slot('\(configuration.historySlot)', 'pgoutput')")
        let workload = ReplicationWorkload(writer: writer, changes: transactions * 4, end: .zero)
        defer { try? workload.cleanUp() }
        try write(connection, transactions: prefixTransactions)
        let start = LSN(try connection.execute("SELECT pg_current_wal_lsn()").scalar ?? "") ?? .zero
        try write(connection, transactions: transactions)
        let end = LSN(try connection.execute("SELECT pg_current_wal_lsn()").scalar ?? "") ?? .zero

        var logger = Logger(label: "bench")
        logger.logLevel = .error
        try RedisNamespace.remove("bench-history", url: try RedisURL(redisURL))
        let range = try await HistoryRange.resolve(configuration, source: configuration.historySlot, start: .lsn(start), end: .lsn(end), logger: logger)
        let outcome = try await HistoryReplayService(configuration: configuration, range: range, logger: logger).replay()
        guard outcome.summary.changes == transactions * 4 else {
            throw BenchmarkError("the replay applied \(outcome.summary.changes) changes, expected \(transactions * 4)")
        }
        let replayRate = Double(outcome.summary.changes) / outcome.streamSeconds
        print("  replay: \(outcome.summary.changes) changes in \(String(format: "%.2f", outcome.streamSeconds)) s after an advance of \(String(format: "%.2f", outcome.advanceSeconds)) s")

        // pg_recvlogical over the same range: a copy of the history slot advanced to the start.
        try connection.execute("SELECT pg_copy_logical_replication_slot('\(configuration.historySlot)', 'cw_bench_raw')")
        let advanced = ContinuousClock.now
        try connection.execute("SELECT pg_replication_slot_advance('cw_bench_raw', '\(start)')")
        let rawAdvance = (ContinuousClock.now - advanced).seconds
        let rawRate = try PgRecvlogical().rate(ReplicationWorkload(writer: writer, changes: transactions * 4, end: end), slot: "cw_bench_raw")
        let history = try connection.slotState(configuration.historySlot).orFail("the history slot vanished")
        guard let position = history.confirmedFlushLSN, position < start else { throw BenchmarkError("the history slot moved") }
        try RedisNamespace.remove("bench-history", url: try RedisURL(redisURL))
        try BenchmarkResult(
            name: "history",
            parameters: ["transactions": "\(transactions)", "prefix_transactions": "\(prefixTransactions)", "range_wal_bytes": "\(range.bytes)"],
            rows: [
                .init(label: "replay from the history window (decode, plan, Redis, ack)", value: replayRate, unit: "changes/s"),
                .init(label: "pg_recvlogical --plugin=pgoutput, same range", value: rawRate, unit: "changes/s"),
                .init(label: "replay ratio (goal >= 0.8)", value: replayRate / rawRate, unit: "ratio"),
                .init(label: "advance of the copy past \(prefixTransactions * 4) changes (replay)", value: outcome.advanceSeconds, unit: "s"),
                .init(label: "advance of the copy, pg_recvlogical's", value: rawAdvance, unit: "s"),
                .init(label: "replay including its advance", value: Double(outcome.summary.changes) / (outcome.streamSeconds + outcome.advanceSeconds), unit: "changes/s"),
            ]
        ).report(to: output)
    }

    private func write(_ connection: PostgresConnection, transactions: Int) throws {
        try ReplicationWorkload.write(connection, transactions: transactions)
    }
}

extension Optional {
    /// The value, or a benchmark error.
    fileprivate func orFail(_ what: String) throws -> Wrapped {
        guard let self else { throw BenchmarkError(what) }
        return self
    }
}
