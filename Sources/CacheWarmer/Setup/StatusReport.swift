import CacheContract
import Foundation
import PGOutput
import PostgresReplication
import RedisCache

/// Where the worker stands: the slot on the writer and the checkpoint and epoch in Redis.
public struct StatusReport: Sendable, Codable, Hashable {
    /// The slot's name.
    public var slot: String
    /// False when the slot does not exist.
    public var slotExists: Bool
    /// The slot's confirmed position (X/Y).
    public var confirmedFlushLSN: String?
    /// The oldest WAL the slot retains (X/Y).
    public var restartLSN: String?
    /// The writer's current WAL position (X/Y).
    public var currentWAL: String
    /// Bytes of WAL written since the confirmed position.
    public var confirmedLagBytes: Int64?
    /// Seconds the walsender reports for flush lag (nil when no worker streams or it is idle).
    public var flushLagSeconds: Double?
    /// Bytes of WAL the slot makes the server keep.
    public var retainedWALBytes: Int64?
    /// `reserved`, `extended`, `unreserved` or `lost`.
    public var walStatus: String?
    /// True when a worker holds the slot.
    public var workerActive: Bool
    /// The walsender's PID, when active.
    public var activePID: Int?
    /// The Redis checkpoint (X/Y), nil when missing.
    public var redisCheckpoint: String?
    /// The cache epoch, nil when missing.
    public var epoch: Int64?
    /// What the publication cannot deliver for the configuration (nil when nothing): the worker
    /// is not ready and `run` refuses to start, or stops.
    public var publicationProblem: String?
    /// The history window (`history:` configured), nil otherwise.
    public var history: HistoryStatus?
    /// Resyncs and the warm-up of the current epoch, per entity (rows, done, why it failed);
    /// empty when none ran in it.
    public var resync: [ResyncStatus] = []

    /// Reads the state from the writer and Redis.
    public static func read(_ configuration: WorkerConfiguration) async throws -> StatusReport {
        let writer = try Setup.writerURL(configuration)
        guard let redisText = configuration.redisURL else {
            throw WorkerError(code: .invalidConfiguration, message: "redis_url is required (or set REDIS_URL)")
        }
        let slotName = configuration.slot
        var report = try await offPool {
            let connection = try Setup.adminConnection(writer)
            let current = LSN(try connection.execute("SELECT pg_current_wal_lsn()").scalar ?? "") ?? .zero
            let state = try connection.slotState(slotName)
            var lag: Double?
            if let pid = state?.activePID {
                lag = try connection.execute("SELECT extract(epoch FROM flush_lag) FROM pg_stat_replication WHERE pid = \(pid)").scalar.flatMap { Double($0) }
            }
            var problem: String?
            do {
                try PublicationSetup.ensure(connection, TableRequirements(configuration), create: false)
            } catch let error as WorkerError where error.code == .notSetUp {
                problem = error.message
            }
            return StatusReport(
                slot: slotName, slotExists: state != nil, confirmedFlushLSN: state?.confirmedFlushLSN.map { "\($0)" },
                restartLSN: state?.restartLSN.map { "\($0)" }, currentWAL: "\(current)",
                confirmedLagBytes: state?.confirmedFlushLSN.map { current.distance(from: $0) }, flushLagSeconds: lag,
                retainedWALBytes: state?.restartLSN.map { current.distance(from: $0) }, walStatus: state?.walStatus,
                workerActive: state?.activePID != nil, activePID: state?.activePID, publicationProblem: problem)
        }
        let keys = CacheKeys(namespace: try CacheNamespace(configuration.namespace))
        let commands = CacheCommands(keys: keys)
        let redis = try RedisClient(url: try RedisURL(redisText))
        let replies = try await redis.pipeline([commands.getCheckpoint, commands.getEpoch])
        report.redisCheckpoint = replies[0].text.flatMap { LSN(parsing: $0) }.map { "\($0)" }
        report.epoch = try CacheEpoch.parse(replies[1])
        if let epoch = report.epoch {
            report.resync = try await ResyncStatus.read(configuration, redis: redis, epoch: epoch)
        }
        await redis.close()
        report.history = try await HistoryStatus.read(configuration)
        return report
    }
}
