import Logging
import PGOutput
import PostgresNIO
import Synchronization

/// One reader: its read-only pool and its last probe's status.
final class ReaderEndpoint: Sendable {
    let url: DatabaseURL
    let client: PostgresClient
    private let state: Mutex<ReaderStatus>

    init(url: DatabaseURL, settings: CacheReadsConfiguration, logger: Logger) {
        self.url = url
        self.client = PostgresClient(configuration: url.clientConfiguration(settings: settings), backgroundLogger: logger)
        self.state = Mutex(ReaderStatus(server: url.description))
    }

    var status: ReaderStatus { state.withLock { $0 } }

    /// Asks the reader whether it answers, is a standby, and how far behind it is: the larger
    /// of its own view (0 when it replayed all it received, else the age of the last replayed
    /// commit) and its lag against the writer's sampled positions (`writer`), which keeps
    /// growing when the standby stopped receiving.
    func probe(timeout: Duration, maximumLag: Double, writer: WriterPositions) async {
        let sql: PostgresQuery = """
            SELECT pg_is_in_recovery(),
                   CASE WHEN NOT pg_is_in_recovery() THEN NULL
                        WHEN pg_last_wal_receive_lsn() IS NOT DISTINCT FROM pg_last_wal_replay_lsn() THEN 0
                        ELSE coalesce(extract(epoch FROM now() - pg_last_xact_replay_timestamp()), 0) END::float8,
                   pg_last_wal_replay_lsn()::text
            """
        do {
            let client = self.client
            let (recovery, lag, replay) = try await Retrying.withTimeout(timeout, "probe \(url)") {
                let rows = try await client.query(sql)
                for try await row in rows.decode((Bool, Double?, String?).self) {
                    return row
                }
                throw CacheReadsError(code: .database, context: "probe", message: "no row")
            }
            var status = ReaderStatus(server: url.description)
            status.inRecovery = recovery
            status.lag = lag
            status.replayLSN = replay.flatMap { LSN($0) }
            if recovery, let replayLSN = status.replayLSN, let behind = writer.lag(of: replayLSN, now: .now) {
                status.writerLag = behind
                status.lag = max(lag ?? 0, behind)
            }
            if !recovery {
                status.problem = "not a standby (pg_is_in_recovery() is false)"
            } else if let lag = status.lag, lag > maximumLag {
                status.problem = status.writerLag == lag
                    ? "replay position \(status.replayLSN.map(\.description) ?? "?") is \(lag) s behind the writer (standby not receiving?), more than \(maximumLag) s"
                    : "lag \(lag) s exceeds \(maximumLag) s"
            } else {
                status.isHealthy = true
                status.problem = nil
            }
            state.withLock { $0 = status }
        } catch {
            markUnhealthy(TransientError.describe(error))
        }
    }

    /// Takes the reader out of rotation until the next successful probe.
    func markUnhealthy(_ problem: String) {
        state.withLock {
            $0.isHealthy = false
            $0.problem = problem
        }
    }
}
