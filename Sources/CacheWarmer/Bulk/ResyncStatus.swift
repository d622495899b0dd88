import CacheContract
import RedisCache

/// What `status` shows of resyncs (and the warm-up): each entity's stored position in the
/// current epoch, from ``CacheKeys/resyncPosition(_:)``.
public struct ResyncStatus: Sendable, Codable, Hashable {
    /// The entity.
    public var entity: String
    /// Rows filled so far in this epoch.
    public var rows: Int
    /// True when the resync of this entity finished in this epoch.
    public var done: Bool
    /// Why it stopped, when it failed (bad `warm:` SQL, say); nil while it runs or once done.
    public var error: String? = nil

    /// The positions of `configuration`'s entities that belong to `epoch` (entities without one
    /// are left out: never resynced in this epoch).
    public static func read(_ configuration: WorkerConfiguration, redis: RedisClient, epoch: Int64) async throws -> [ResyncStatus] {
        let keys = CacheKeys(namespace: try CacheNamespace(configuration.namespace))
        let names = try configuration.entities.map { try EntityName($0.name) }
        guard !names.isEmpty else { return [] }
        let replies = try await redis.pipeline(names.map { ["HMGET", keys.resyncPosition($0), "epoch", "rows", "done", "error"] })
        return zip(names, replies).compactMap { name, reply in
            guard case .array(let fields) = reply, fields.count == 4, fields[0].text == String(epoch) else { return nil }
            return ResyncStatus(entity: name.description, rows: fields[1].text.flatMap { Int($0) } ?? 0, done: fields[2].text == "1", error: fields[3].text)
        }
    }

    /// `warming: order 120000 rows`, `warm: order 1000000 rows (done)` or
    /// `failed: order after 4000 rows: <error>`.
    public var line: String {
        if let error, !done { return "failed: \(entity) after \(rows) rows: \(error)" }
        return "\(done ? "warm" : "warming"): \(entity) \(rows) rows" + (done ? " (done)" : "")
    }
}
