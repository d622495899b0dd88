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
    /// Row bytes per `write-many-if-newer` call: well under Redis' `proto-max-bulk-len` and
    /// `client-query-buffer-limit` whatever the rows (one row is at most `max_entry_bytes`).
    static let bytesPerCall = 4 << 20

    /// Applies `batch` with `epoch`, and moves the checkpoint to its last commit when it has one
    /// (a part of a large transaction has none); throws on a Redis error or an epoch change
    /// (nothing is then to be acknowledged).
    ///
    /// - Parameter lastWritten: the checkpoint this worker last wrote in `epoch`; Redis holding
    ///   less throws ``WorkerError/Code-swift.enum/cacheWentBack``.
    func apply(_ batch: WriteBatch, epoch: Int64, lastWritten: LSN?) async throws -> Outcome {
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
            // A call ends at entriesPerCall entries or bytesPerCall of rows, whichever comes first.
            var end = offset
            var bytes = 0
            while end < entries.count, end - offset < Self.entriesPerCall, end == offset || bytes + entries[end].row.utf8.count <= Self.bytesPerCall {
                bytes += entries[end].row.utf8.count
                end += 1
            }
            calls.append(commands.writeMany(Array(entries[offset..<end]), epoch: epoch))
            counts.append(end - offset)
            offset = end
        }
        let writeCalls = calls.count
        for (fence, lsn) in batch.fences {
            calls.append(commands.bumpFence(fence, lsn: lsn, epoch: epoch))
        }
        if let lastCommit = batch.lastCommit {
            calls.append(commands.setCheckpoint(lastCommit, epoch: epoch, lastWritten: lastWritten))
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
            } else {
                try Self.check(CheckpointOutcome(reply: reply), epoch: epoch, lastWritten: lastWritten)
            }
        }
        // The shapes the entries are now written under (after the fences they moved).
        if !batch.shapes.isEmpty {
            let fields = batch.shapes.sorted { $0.key < $1.key }.flatMap { [$0.key, $0.value] }
            if case .error(let message)? = try await redis.pipeline([["HSET", keys.shapes] + fields]).first {
                throw RedisError(serverReply: message, server: redis.url.description)
            }
        }
        return outcome
    }

    /// Records `lsn` as applied (an idle position: nothing to write), checking that Redis still
    /// holds `lastWritten`.
    func checkpoint(_ lsn: LSN, epoch: Int64, lastWritten: LSN?) async throws {
        let reply = try await redis.evaluate([CacheCommands(keys: keys, ttl: ttl).setCheckpoint(lsn, epoch: epoch, lastWritten: lastWritten)])
        if case .error(let message)? = reply.first { throw RedisError(serverReply: message, server: redis.url.description) }
        if let reply = reply.first { try Self.check(CheckpointOutcome(reply: reply), epoch: epoch, lastWritten: lastWritten) }
    }

    private static func check(_ outcome: CheckpointOutcome, epoch: Int64, lastWritten: LSN?) throws {
        switch outcome.result {
        case .moved, .notMoved: break
        case .epochMismatch: throw epochChanged(epoch)
        case .wentBack:
            throw WorkerError(
                code: .cacheWentBack,
                message: "the Redis checkpoint is \(outcome.checkpoint.map { "\($0)" } ?? "missing") but this worker had written \(lastWritten.map { "\($0)" } ?? "one") in epoch \(epoch): Redis went back in time (restored from an older snapshot, or failed over to a replica that was behind)")
        }
    }

    static func epochChanged(_ epoch: Int64) -> WorkerError {
        WorkerError(code: .epochChanged, message: "the cache epoch is no longer \(epoch) (another worker began a newer one, or Redis lost its data): restarting from the slot")
    }
}
