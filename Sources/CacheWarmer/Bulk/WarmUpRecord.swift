import CacheContract
import Logging
import RedisCache

/// The warm-up's record in Redis (``CacheKeys/warmUp``: `epoch`, `done`): written when a new
/// epoch's warm-up begins and when it finishes, read by a worker that goes on in that epoch to
/// know whether a warm-up is left to resume.
struct WarmUpRecord: Sendable {
    private let key: String
    private let redis: RedisClient

    init(configuration: WorkerConfiguration, source: ResyncSource, logger: Logger) throws {
        let context = try BulkContext(configuration: configuration, source: source, logger: logger)
        key = context.keys.warmUp
        redis = try context.redis()
    }

    /// Records that `epoch`'s warm-up began (and has not finished).
    func began(_ epoch: Int64) async throws {
        _ = try await redis.command(["HSET", key, "epoch", String(epoch), "done", "0"])
    }

    /// Records that `epoch`'s warm-up finished.
    func finished(_ epoch: Int64) async throws {
        _ = try await redis.command(["HSET", key, "epoch", String(epoch), "done", "1"])
    }

    /// True when `epoch`'s warm-up began and did not finish.
    func unfinished(_ epoch: Int64) async throws -> Bool {
        let reply = try await redis.command(["HMGET", key, "epoch", "done"])
        guard case .array(let fields) = reply, fields.count == 2 else { return false }
        return fields[0].text == String(epoch) && fields[1].text != "1"
    }

    func close() async {
        await redis.close()
    }
}
