import CacheContract
import Foundation
import Logging
import PGOutput
import RedisCache

/// The start procedure of docs/cache-protocol.md section 8: when Redis has no epoch, or its
/// checkpoint is missing or behind the slot's confirmed position (Redis lost writes, or the slot
/// was recreated), a new epoch begins so that stale entries are never served.
struct EpochProcedure {
    let keys: CacheKeys
    let redis: RedisClient
    let logger: Logger

    /// The epoch to write with, and the checkpoint Redis holds in it (nil after a new epoch).
    struct Start: Sendable {
        var epoch: Int64
        var checkpoint: LSN?
    }

    /// Returns the epoch to write with, beginning a new one when needed, or always when
    /// `forceNew` gives a reason (Redis went back in time while the worker ran).
    func establish(slotConfirmed: LSN, writerWAL: LSN, forceNew: String? = nil) async throws -> Start {
        let commands = CacheCommands(keys: keys)
        let replies = try await redis.pipeline([commands.getEpoch, commands.getCheckpoint])
        let epoch = try CacheEpoch.parse(replies[0])
        let checkpoint = replies[1].text.flatMap { LSN(parsing: $0) }
        let reason: String
        switch (epoch, checkpoint) {
        case _ where forceNew != nil:
            reason = forceNew ?? ""
        case (nil, _):
            reason = "Redis has no cache epoch (first start, or Redis lost its data)"
        case (_, nil):
            reason = "Redis has no checkpoint"
        case (_, let checkpoint?) where checkpoint < slotConfirmed:
            reason = "the Redis checkpoint \(checkpoint) is behind the slot's confirmed position \(slotConfirmed) (Redis lost writes, or the slot was recreated)"
        case (let epoch?, let checkpoint?):
            logger.info("cache epoch is current", metadata: ["epoch": "\(epoch)", "checkpoint": "\(checkpoint)", "slot_confirmed": "\(slotConfirmed)"])
            return Start(epoch: epoch, checkpoint: checkpoint)
        }
        let proposed = Int64(Date().timeIntervalSince1970 * 1000)
        let reply = try await redis.evaluate([commands.beginEpoch(proposed: proposed, floor: writerWAL)])
        guard let first = reply.first, let started = try CacheEpoch.parse(first) else {
            throw WorkerError(code: .contractViolation, message: "begin-epoch answered \(reply)")
        }
        logger.notice("began a new cache epoch: older entries are ignored by readers", metadata: [
            "epoch": "\(started)", "previous": "\(epoch.map { "\($0)" } ?? "none")", "reason": "\(reason)", "fill_floor": "\(writerWAL)",
        ])
        return Start(epoch: started, checkpoint: nil)
    }
}
