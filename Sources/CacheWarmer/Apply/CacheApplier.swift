import CacheContract
import PGOutput
import RedisCache

/// Sends a ``WriteBatch`` to Redis in one pipeline of contract scripts, with the checkpoint in the
/// same pipeline, and checks every reply: the batch counts as applied only if all succeeded.
struct CacheApplier: Sendable {
    let keys: CacheKeys
    let ttl: CacheTTL
    let redis: RedisClient

    /// What one batch did.
    struct Outcome: Sendable {
        var written = 0
        var unchanged = 0
        var fencedEntriesDeleted = 0
    }

    /// Entries per `write-many-if-newer` call: few script runs, none long enough to stall Redis.
    static let entriesPerCall = 200

    /// Applies `batch` with `epoch`, and moves the checkpoint to its last commit when it has one
    /// (a part of a large transaction has none); throws on a Redis error or an epoch change
    /// (nothing is then to be acknowledged).
    func apply(_ batch: WriteBatch, epoch: Int64) async throws -> Outcome {
        guard batch.writeCount > 0 || batch.lastCommit != nil else { return Outcome() }
        let commands = CacheCommands(keys: keys, ttl: ttl)
        var entries: [CacheCommands.EntryWrite] = []
        entries.reserveCapacity(batch.rows.count)
        for (key, planned) in batch.rows {
            switch planned.write {
            case .set(let row):
                let entryTTL = planned.ttl.map { Duration.milliseconds(Int64($0 * 1000)) } ?? ttl.entry
                entries.append(.init(key: key, kind: .row, lsn: planned.lsn, ttl: entryTTL, row: row))
            case .tombstone: entries.append(.init(key: key, kind: .deleted, lsn: planned.lsn, ttl: ttl.tombstone))
            case .invalidate: entries.append(.init(key: key, kind: .invalidated, lsn: planned.lsn, ttl: ttl.tombstone))
            }
        }
        var calls: [RedisScriptCall] = []
        var counts: [Int] = []
        var offset = 0
        while offset < entries.count {
            let chunk = entries[offset..<min(offset + Self.entriesPerCall, entries.count)]
            calls.append(commands.writeMany(Array(chunk), epoch: epoch))
            counts.append(chunk.count)
            offset += chunk.count
        }
        let writeCalls = calls.count
        for (fence, lsn) in batch.fences {
            calls.append(commands.bumpFence(fence, lsn: lsn, epoch: epoch))
        }
        if let lastCommit = batch.lastCommit {
            calls.append(commands.setCheckpoint(lastCommit, epoch: epoch))
        }
        let replies = try await redis.evaluate(calls)
        var outcome = Outcome()
        for (index, reply) in replies.enumerated() {
            if case .error(let message) = reply {
                throw RedisError(serverReply: message, server: redis.url.description)
            }
            if index < writeCalls {
                for result in try WriteOutcome.many(reply: reply, count: counts[index]) {
                    switch result {
                    case .written: outcome.written += 1
                    case .notNewer: outcome.unchanged += 1
                    case .epochMismatch: throw Self.epochChanged(epoch)
                    }
                }
            } else if index < writeCalls + batch.fences.count {
                switch try FenceBump(reply: reply) {
                case .bumped(_, let deleted): outcome.fencedEntriesDeleted += deleted
                case .epochMismatch: throw Self.epochChanged(epoch)
                }
            } else if try CheckpointOutcome(reply: reply).result == .epochMismatch {
                throw Self.epochChanged(epoch)
            }
        }
        return outcome
    }

    /// Records `lsn` as applied (an idle position: nothing to write).
    func checkpoint(_ lsn: LSN, epoch: Int64) async throws {
        let reply = try await redis.evaluate([CacheCommands(keys: keys, ttl: ttl).setCheckpoint(lsn, epoch: epoch)])
        if case .error(let message)? = reply.first { throw RedisError(serverReply: message, server: redis.url.description) }
        if let reply = reply.first, try CheckpointOutcome(reply: reply).result == .epochMismatch { throw Self.epochChanged(epoch) }
    }

    static func epochChanged(_ epoch: Int64) -> WorkerError {
        WorkerError(code: .epochChanged, message: "the cache epoch is no longer \(epoch) (another worker began a newer one, or Redis lost its data): restarting from the slot")
    }
}
