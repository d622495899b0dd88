import PGOutput
import RedisCache

/// Builds the script calls of the contract for one namespace and TTL setting. Each call is a
/// ``RedisScriptCall``: send many in one round trip with `RedisConnection.evaluate(_:)` (which
/// reloads scripts on NOSCRIPT) or `pipeline(calls.map(\.command))`, and parse each reply with
/// the matching outcome type.
public struct CacheCommands: Hashable, Sendable {
    /// The key renderer.
    public let keys: CacheKeys
    /// The TTLs the writes set.
    public let ttl: CacheTTL

    /// Commands for `keys` with `ttl`.
    public init(keys: CacheKeys = CacheKeys(), ttl: CacheTTL = CacheTTL()) {
        self.keys = keys
        self.ttl = ttl
    }

    /// One entry of a ``writeMany(_:epoch:)`` call.
    public struct EntryWrite: Hashable, Sendable {
        /// What the entry becomes.
        public enum Kind: String, Hashable, Sendable {
            /// The row's canonical JSON.
            case row
            /// A tombstone: the row was deleted.
            case deleted
            /// A marker: the row changed in a way that was not rendered.
            case invalidated
        }

        /// The entry's key.
        public var key: String
        /// What it becomes.
        public var kind: Kind
        /// Its version.
        public var lsn: LSN
        /// Its TTL.
        public var ttl: Duration
        /// The row JSON for ``Kind-swift.enum/row``.
        public var row: String

        /// Makes an entry write.
        public init(key: String, kind: Kind, lsn: LSN, ttl: Duration, row: String = "") {
            self.key = key
            self.kind = kind
            self.lsn = lsn
            self.ttl = ttl
            self.row = row
        }
    }

    /// `write-many-if-newer`: many rows, tombstones and markers in one script run (keep a call to
    /// a few hundred entries so Redis is not blocked long; parse with ``WriteOutcome/many(reply:count:)``).
    public func writeMany(_ entries: [EntryWrite], epoch: Int64) -> RedisScriptCall {
        var arguments = [String(epoch)]
        arguments.reserveCapacity(1 + 4 * entries.count)
        var entryKeys = [keys.epoch]
        entryKeys.reserveCapacity(1 + entries.count)
        // Entries of a batch mostly share a few versions and TTLs: their texts are made once.
        var lsnText: (LSN, String)?
        var ttlText: (Duration, String)?
        for entry in entries {
            if lsnText?.0 != entry.lsn { lsnText = (entry.lsn, entry.lsn.sortableString) }
            if ttlText?.0 != entry.ttl { ttlText = (entry.ttl, CacheTTL.milliseconds(entry.ttl)) }
            arguments.append(entry.kind.rawValue)
            arguments.append(lsnText!.1)
            arguments.append(ttlText!.1)
            arguments.append(entry.kind == .row ? entry.row : "")
            entryKeys.append(entry.key)
        }
        return CacheScripts.writeManyIfNewer.call(keys: entryKeys, arguments: arguments)
    }

    /// Worker: write a row entry if its version (epoch, lsn) is newer than the stored entry or
    /// tombstone. Reply: ``WriteOutcome``.
    public func setRow(_ entry: String, row: String, lsn: LSN, epoch: Int64) -> RedisScriptCall {
        CacheScripts.setIfNewer.call(
            keys: [entry, keys.epoch],
            arguments: [lsn.sortableString, String(epoch), CacheTTL.milliseconds(ttl.entry), row])
    }

    /// Worker: replace a row entry by a tombstone if newer. Reply: ``WriteOutcome``.
    public func tombstone(_ entry: String, lsn: LSN, epoch: Int64) -> RedisScriptCall {
        CacheScripts.tombstoneIfNewer.call(
            keys: [entry, keys.epoch], arguments: [lsn.sortableString, String(epoch), CacheTTL.milliseconds(ttl.tombstone)])
    }

    /// Worker: for a change it cannot render (an unchanged TOAST or binary column, an
    /// unverified type), replace the entry by a version marker without a value, if newer:
    /// readers miss and refill, and fills older than the change are refused. Reply: ``WriteOutcome``.
    public func invalidate(_ entry: String, lsn: LSN, epoch: Int64) -> RedisScriptCall {
        CacheScripts.invalidateIfNewer.call(
            keys: [entry, keys.epoch], arguments: [lsn.sortableString, String(epoch), CacheTTL.milliseconds(ttl.tombstone)])
    }

    /// Reader: fill a row entry with data read at `lsn` (a lower bound of what it contains);
    /// `minimum`: the worker's checkpoint read with the miss (or before a resync chunk; nil when
    /// Redis had none): a fill below it is refused, since an entry the worker wrote above `lsn`
    /// may have been evicted.
    /// Reply: ``FillOutcome``.
    public func fillRow(_ entry: String, row: String, lsn: LSN, epoch: Int64, minimum: LSN?) -> RedisScriptCall {
        fill(entry, field: "row", payload: row, lsn: lsn, epoch: epoch, fences: [], minimum: minimum)
    }

    /// Resync: fill many row entries (`(entry key, row JSON)`) read at one `lsn` in one call,
    /// with ``fillRow(_:row:lsn:epoch:minimum:)``'s rule per entry. Reply: one ``FillOutcome``
    /// per entry (``FillOutcome/many(reply:count:)``).
    public func fillRows(_ rows: [(entry: String, row: String)], lsn: LSN, epoch: Int64, minimum: LSN?) -> RedisScriptCall {
        var arguments = [lsn.sortableString, String(epoch), CacheTTL.milliseconds(ttl.entry), (minimum ?? .zero).sortableString]
        arguments.reserveCapacity(4 + rows.count)
        var entryKeys = [keys.epoch, keys.floor]
        entryKeys.reserveCapacity(2 + rows.count)
        for row in rows {
            entryKeys.append(row.entry)
            arguments.append(row.row)
        }
        return CacheScripts.fillRowsIfNotStale.call(keys: entryKeys, arguments: arguments)
    }

    /// Reader (or the worker re-warming): fill a derived entry read at `lsn`, covered by
    /// `fences` (the query fence and any parameter fences), refused below `minimum` (as for
    /// ``fillRow(_:row:lsn:epoch:minimum:)``). Reply: ``FillOutcome``.
    public func fillDerived(_ entry: String, value: String, lsn: LSN, epoch: Int64, fences: [FenceKey], minimum: LSN?) -> RedisScriptCall {
        fill(entry, field: "value", payload: value, lsn: lsn, epoch: epoch, fences: fences, minimum: minimum)
    }

    /// Worker: raise a fence to `lsn` and delete the covered entries now stale.
    /// Reply: ``FenceBump``.
    public func bumpFence(_ fence: FenceKey, lsn: LSN, epoch: Int64) -> RedisScriptCall {
        CacheScripts.bumpFence.call(
            keys: [fence.key, fence.members, keys.epoch], arguments: [lsn.sortableString, String(epoch), CacheTTL.milliseconds(ttl.fence)])
    }

    /// Reader: an entry with the highest current fence covering it, the current epoch and the
    /// worker's checkpoint, in one call. Reply: ``CacheRead``.
    public func read(_ entry: String, fences: [FenceKey] = []) -> RedisScriptCall {
        CacheScripts.read.call(keys: [entry, keys.epoch, keys.checkpoint] + fences.map(\.key), arguments: [])
    }

    /// Worker: start a new epoch (at least `proposed`, e.g. the current Unix time in ms) with
    /// fill floor `floor` (the writer's WAL position now), and clear the checkpoint.
    /// Reply: ``CacheEpochReply``.
    public func beginEpoch(proposed: Int64, floor: LSN) -> RedisScriptCall {
        CacheScripts.beginEpoch.call(keys: [keys.epoch, keys.floor, keys.checkpoint], arguments: [String(proposed), floor.sortableString])
    }

    /// Worker: move the checkpoint forward to `lsn`; with `lastWritten` (the checkpoint this
    /// worker last wrote in `epoch`), refuse when Redis holds less, i.e. went back in time.
    /// Reply: ``CheckpointOutcome``.
    public func setCheckpoint(_ lsn: LSN, epoch: Int64, lastWritten: LSN? = nil) -> RedisScriptCall {
        CacheScripts.setCheckpoint.call(
            keys: [keys.checkpoint, keys.epoch], arguments: [lsn.sortableString, String(epoch)] + (lastWritten.map { [$0.sortableString] } ?? []))
    }

    /// Reader: count one (sampled) read of `query` with `parameters` in its hot set.
    /// Reply: the new score (integer).
    public func recordRead(_ query: CacheName, _ parameters: CanonicalParameters) -> RedisScriptCall {
        CacheScripts.recordRead.call(
            keys: [keys.hot(query)], arguments: [parameters.json, String(ttl.hotMembers), CacheTTL.milliseconds(ttl.hot)])
    }

    /// Worker: `ZREVRANGE` of the `limit` most-read parameter sets of `query`, with scores.
    /// Reply: ``HotEntries``.
    public func hottest(_ query: CacheName, limit: Int) -> [String] {
        ["ZREVRANGE", keys.hot(query), "0", String(max(0, limit - 1)), "WITHSCORES"]
    }

    /// `GET` of the checkpoint (a 16-digit LSN, or nil).
    public var getCheckpoint: [String] { ["GET", keys.checkpoint] }

    /// `GET` of the current epoch (a decimal integer, or nil when Redis lost it).
    public var getEpoch: [String] { ["GET", keys.epoch] }

    private func fill(_ entry: String, field: String, payload: String, lsn: LSN, epoch: Int64, fences: [FenceKey], minimum: LSN?) -> RedisScriptCall {
        CacheScripts.fillIfNotStale.call(
            keys: [entry, keys.epoch, keys.floor] + fences.map(\.key) + fences.map(\.members),
            arguments: [lsn.sortableString, String(epoch), CacheTTL.milliseconds(ttl.entry), field, payload, (minimum ?? .zero).sortableString])
    }
}
