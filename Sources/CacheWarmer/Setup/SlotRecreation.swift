import CacheContract
import Foundation
import PGOutput
import PostgresReplication
import RedisCache

extension Setup {
    /// What `setup --recreate-slot` did.
    public struct Recreation: Sendable, Hashable {
        /// The slot's `wal_status` before it was dropped (nil when it did not exist).
        public var previousWALStatus: String?
        /// The new slot's confirmed position: streaming starts here.
        public var slotConfirmed: LSN
        /// The epoch before (nil when Redis had none).
        public var previousEpoch: Int64?
        /// The cache epoch begun: entries written under older epochs are no longer served.
        public var epoch: Int64
        /// The fill floor of the new epoch: fills must be at least this recent.
        public var floor: LSN
    }

    /// Drops the slot (refused while a worker holds it), creates it anew, and begins a new cache
    /// epoch whose fill floor is the writer's WAL position after the creation.
    ///
    /// Changes between the old slot's last confirmed position and the new slot's start are never
    /// streamed, so every entry of the old epoch may be stale: the new epoch stops them being
    /// served (docs/cache-protocol.md section 8), and a floor at or after the new slot's start
    /// keeps a fill of data older than a change the worker will not see out of the cache. The
    /// checkpoint is set to the new slot's position under the new epoch, so the worker's start
    /// procedure keeps this epoch instead of beginning another; with `resync: on_new_epoch` the
    /// epoch's warm-up is recorded as begun, so `run` warms it.
    public static func recreateSlot(_ configuration: WorkerConfiguration) async throws -> Recreation {
        let writer = try writerURL(configuration)
        guard let redisText = configuration.redisURL else {
            throw WorkerError(code: .invalidConfiguration, message: "redis_url is required (or set REDIS_URL): recreating the slot begins a new cache epoch")
        }
        let redisURL = try RedisURL(redisText)
        let keys = CacheKeys(namespace: try CacheNamespace(configuration.namespace))
        let commands = CacheCommands(keys: keys)
        let redis = try RedisClient(url: redisURL)
        // Redis must answer before the slot is dropped: a recreated slot without a new epoch
        // would leave entries older than the lost changes served.
        let previousEpoch = try CacheEpoch.parse(try await redis.pipeline([commands.getEpoch])[0])
        let slotName = configuration.slot
        let (previousStatus, slot, floor) = try await offPool {
            let connection = try adminConnection(writer)
            try connection.requireLogicalWAL()
            try PublicationSetup.ensure(connection, TableRequirements(configuration), create: true)
            let previous = try connection.slotState(slotName)
            if let pid = previous?.activePID {
                throw ReplicationError(code: .slotInUse, message: "\(writer): slot \(slotName) is in use by PID \(pid): stop the worker first")
            }
            if previous != nil { try connection.dropSlotIfExists(slotName) }
            let (slot, _) = try connection.createSlotIfMissing(slotName)
            let floor = LSN(try connection.execute("SELECT pg_current_wal_lsn()").scalar ?? "") ?? .zero
            return (previous?.walStatus, slot, floor)
        }
        let slotConfirmed = slot.confirmedFlushLSN ?? floor
        let proposed = Int64(Date().timeIntervalSince1970 * 1000)
        let began = try await redis.evaluate([commands.beginEpoch(proposed: proposed, floor: max(floor, slotConfirmed))])
        guard let first = began.first, let epoch = try CacheEpoch.parse(first) else {
            throw WorkerError(code: .contractViolation, message: "\(redisURL): begin-epoch answered \(began)")
        }
        _ = try await redis.evaluate([commands.setCheckpoint(slotConfirmed, epoch: epoch)])
        if configuration.resyncOnNewEpoch {
            // The worker goes on in this epoch (it does not begin one): recorded as a warm-up
            // begun and not finished, which `run` resumes.
            _ = try await redis.command(["HSET", keys.warmUp, "epoch", String(epoch), "done", "0"])
        }
        return Recreation(
            previousWALStatus: previousStatus, slotConfirmed: slotConfirmed, previousEpoch: previousEpoch, epoch: epoch,
            floor: max(floor, slotConfirmed))
    }

    /// Fails with the recovery steps when the configured slot exists but is lost: plain `setup`
    /// would otherwise report it as existing and `run` would fail on it.
    static func refuseLostSlot(_ connection: PostgresConnection, slot: String) throws {
        if let state = try connection.slotState(slot), state.isLost {
            throw ReplicationError.slotLost(target: connection.target, slot: slot, restartLSN: state.restartLSN)
        }
    }
}
