import CacheContract
import Foundation
import Logging
import PGOutput
import PostgresReplication
import RedisCache

/// Settings of `cache-warmer verify`.
public struct VerifyOptions: Sendable {
    /// Entities to check (empty: all configured).
    public var names: [String] = []
    /// Check a random sample of this many rows (and scanned entries) per entity; nil: all.
    public var sample: Int?
    /// Write an invalidation marker for each stale entry.
    public var repair = false
    /// Where rows are read.
    public var source: ResyncSource = .reader
    /// Rows per chunk.
    public var chunkRows = 2000
    /// How long a difference may wait for the worker's checkpoint to pass the read.
    public var settleWait: Duration = .seconds(30)
    /// How many times a difference is read again before it counts.
    public var rounds = 4

    /// Default options.
    public init() {}
}

/// What verify found for one entity.
public struct VerifyCounts: Sendable, Codable, Hashable {
    /// The entity.
    public var name: String
    /// Rows (and scanned entries) compared.
    public var checked = 0
    /// Entries equal to their row.
    public var equal = 0
    /// Rows without a valid entry (not an error: a cache need not hold every row).
    public var missing = 0
    /// Valid entries whose content differs from the row once the worker caught up.
    public var stale = 0
    /// Valid row entries of rows that no longer exist, once the worker caught up.
    public var deletedLive = 0
    /// Stale entries replaced by an invalidation marker (`--repair`).
    public var repaired = 0
    /// Some stale keys, for the report.
    public var staleKeys: [String] = []
    /// Cached query entries whose parameters verify does not know (neither a row of `warm.sql`
    /// nor in the hot set), and entity rows Postgres cannot render as JSON (`to_jsonb` refuses
    /// e.g. a `json` value holding `\u0000`): they could not be checked.
    public var unverified = 0
    /// Differences whose entry stayed newer than any row read the reader could give within the
    /// waits (a reader lagging behind the worker): not evidence of staleness, not counted as stale.
    public var unsettled = 0
}

/// The outcome of a verify.
public struct VerifyReport: Sendable, Codable, Hashable {
    /// The epoch checked.
    public var epoch: Int64
    /// Per entity.
    public var entities: [VerifyCounts]
    /// Per cached query (`checked` counts parameter sets).
    public var queries: [VerifyCounts] = []
    /// True when nothing was stale and no deleted row was live.
    public var isClean: Bool { (entities + queries).allSatisfy { $0.stale == 0 && $0.deletedLive == 0 } }
}

/// Compares cache entries with the database. A difference found while changes are in flight is
/// not a finding: it is read again (row and entry) once the worker's checkpoint has passed the
/// LSN at which the row was read, and counts only if it is still there after ``VerifyOptions/rounds``.
public final class Verify: Sendable {
    let context: BulkContext
    let options: VerifyOptions

    let queryRead: QueryRead?

    /// Validates the selection; `queryRead` reads cached queries' results from the database
    /// (nil: queries are not checked, and naming one is an error).
    public init(configuration: WorkerConfiguration, options: VerifyOptions, logger: Logger, queryRead: QueryRead? = nil) throws {
        let entities = Set(configuration.entities.map(\.name))
        let queries = queryRead == nil ? [] : Set(configuration.queries.map(\.name))
        let known = entities.union(queries)
        for name in options.names where !known.contains(name) {
            throw WorkerError(code: .invalidConfiguration, message: "'\(name)' is no configured entity or query (\(known.sorted().joined(separator: ", ")))")
        }
        context = try BulkContext(configuration: configuration, source: options.source, logger: logger)
        self.options = options
        self.queryRead = queryRead
    }

    /// Checks every selected entity, then every selected cached query.
    public func run() async throws -> VerifyReport {
        let redis = try context.redis()
        guard let epoch = try await context.meta(redis).epoch else {
            throw WorkerError(code: .notSetUp, message: "Redis has no cache epoch: nothing is cached (start `cache-warmer run`)")
        }
        let types = try await context.types()
        var results: [VerifyCounts] = []
        for entity in context.configuration.entities where options.names.isEmpty || options.names.contains(entity.name) {
            results.append(try await verify(entity, epoch: epoch, types: types, redis: redis))
        }
        var queries: [VerifyCounts] = []
        if let queryRead {
            for query in context.configuration.queries where options.names.isEmpty || options.names.contains(query.name) {
                queries.append(try await verify(query, epoch: epoch, read: queryRead, redis: redis))
            }
        }
        return VerifyReport(epoch: epoch, entities: results, queries: queries)
    }

    /// A difference to look at again: the row's key texts, its entry, and the LSN of the read;
    /// `counted`: a row of the rows pass (in `checked`), which ends as equal or missing when the
    /// difference settles.
    private struct Suspect: Sendable {
        var key: [String]
        var entry: String
        var lsn: LSN
        var deleted: Bool
        var counted = false
        /// The entry was newer than the row read it was compared with (and not above the
        /// writer's WAL, which no real version exceeds): no evidence yet.
        var unsettled = false
    }

    private func verify(_ entity: EntityConfiguration, epoch: Int64, types: PostgresTypes, redis: RedisClient) async throws -> VerifyCounts {
        let reader = context.reader()
        let scan = try await offPool { try EntityScan.load(entity, warm: entity.warm, types: types, connection: try reader.open()) }
        let commands = context.commands(for: entity)
        let fence = commands.keys.entityFence(scan.name)
        // The two passes run at once, each on its own connections.
        async let rowsPass = rowsToEntries(scan, commands: commands, fence: fence, reader: reader, redis: redis)
        async let entriesPass = entriesToRows(scan, commands: commands, fence: fence)
        var (counts, suspects) = try await rowsPass
        let entries = try await entriesPass
        suspects += entries.suspects
        counts.unverified += entries.unverified

        // Differences seen while changes were in flight are read again once the reader and the
        // worker caught up with each other.
        var round = 0
        var stalled = false
        while !suspects.isEmpty && round < options.rounds && !stalled {
            round += 1
            suspects = try await recheck(
                suspects, scan: scan, fence: fence, commands: commands, redis: redis, reader: reader, counts: &counts, stalled: &stalled)
        }
        for suspect in suspects where suspect.unsettled {
            counts.unsettled += 1
        }
        suspects.removeAll { $0.unsettled }
        for suspect in suspects {
            if suspect.deleted { counts.deletedLive += 1 } else { counts.stale += 1 }
            if counts.staleKeys.count < 20 { counts.staleKeys.append(suspect.entry) }
            if options.repair, try await repair(entry: suspect.entry, marker: suspect.lsn, commands: commands, redis: redis, epoch: epoch) { counts.repaired += 1 }
        }
        context.logger.info("verified", metadata: [
            "entity": "\(entity.name)", "checked": "\(counts.checked)", "equal": "\(counts.equal)", "missing": "\(counts.missing)",
            "stale": "\(counts.stale)", "deleted_live": "\(counts.deletedLive)",
        ])
        return counts
    }

    /// Rows → entries: every row (or a sample) against its entry.
    private func rowsToEntries(
        _ scan: EntityScan, commands: CacheCommands, fence: FenceKey, reader: VersionedReader, redis: RedisClient
    ) async throws -> (VerifyCounts, [Suspect]) {
        var counts = VerifyCounts(name: scan.entity.name)
        var suspects: [Suspect] = []
        let chunkRows = options.sample.map { min($0, 100_000) } ?? options.chunkRows
        let sample = options.sample != nil
        func read(after: [String]?) -> Task<VersionedRows, any Error> {
            if sample {
                let select = scan.sampleSelect(rows: chunkRows)
                return Task { try await offPool { try reader.read(select) } }
            }
            return Task { try await offPool { try reader.readChunk(scan, after: after, rows: chunkRows) } }
        }
        // The next chunk is read from the database while two chunks' entries are read from Redis.
        var reading: Task<VersionedRows, any Error>? = read(after: nil)
        var checking: [Task<ChunkCheck, any Error>] = []
        do {
            while reading != nil || !checking.isEmpty {
                if let current = reading {
                    let chunk = try await current.value
                    let isLast = sample || chunk.scanned < chunkRows
                    reading = isLast ? nil : read(after: chunk.lastKey)
                    if !chunk.unreadable.isEmpty {
                        counts.unverified += chunk.unreadable.count
                        context.logger.warning("verify: Postgres cannot render rows as JSON (to_jsonb); not compared", metadata: [
                            "entity": "\(scan.name)", "keys": "\(chunk.unreadable.prefix(5))", "rows": "\(chunk.unreadable.count)",
                        ])
                    }
                    guard let lsn = chunk.lsn else {
                        throw WorkerError(code: .invalidConfiguration, message: "\(context.target): no version for the rows read (writer wait timed out)")
                    }
                    checking.append(Task { [self] in try await check(chunk, lsn: lsn, scan: scan, commands: commands, fence: fence, redis: redis) })
                }
                guard checking.count >= 2 || (reading == nil && !checking.isEmpty) else { continue }
                let done = try await checking.removeFirst().value
                counts.checked += done.checked
                counts.equal += done.equal
                counts.missing += done.missing
                suspects += done.suspects
            }
        } catch {
            reading?.cancel()
            _ = try? await reading?.value
            for task in checking {
                task.cancel()
                _ = try? await task.value
            }
            throw error
        }
        return (counts, suspects)
    }

    /// What the rows of one chunk showed against their entries.
    private struct ChunkCheck: Sendable {
        var checked = 0
        var equal = 0
        var missing = 0
        var suspects: [Suspect] = []
    }

    /// Compares a chunk's rows with their entries: plain HMGETs first; what they cannot show
    /// equal is read with the `read` script.
    private func check(_ chunk: VersionedRows, lsn: LSN, scan: EntityScan, commands: CacheCommands, fence: FenceKey, redis: RedisClient) async throws -> ChunkCheck {
        var result = ChunkCheck()
        var entries: [String] = []
        entries.reserveCapacity(chunk.rows.count)
        for row in chunk.rows { entries.append((try? scan.entryKey(row.key, keys: commands.keys)) ?? "") }
        var unsure: [Int] = []
        let peeks = try await peekEntries(entries, fence: fence, commands: commands, redis: redis)
        for (index, row) in chunk.rows.enumerated() where !entries[index].isEmpty {
            result.checked += 1
            if let peek = peeks[index], case .equal = compare(peek, row: row.json) {
                result.equal += 1
            } else {
                unsure.append(index)
            }
        }
        let reads = try await readEntries(unsure.map { entries[$0] }, fence: fence, commands: commands, redis: redis)
        for (index, read) in zip(unsure, reads) {
            switch compare(read, row: chunk.rows[index].json) {
            case .equal: result.equal += 1
            case .missing: result.missing += 1
            case .different: result.suspects.append(Suspect(key: chunk.rows[index].key, entry: entries[index], lsn: lsn, deleted: false, counted: true))
            }
        }
        return result
    }

    /// Entries → rows: live entries of rows that no longer exist (a SCAN of the entity's keys).
    private func entriesToRows(_ scan: EntityScan, commands: CacheCommands, fence: FenceKey) async throws -> (suspects: [Suspect], unverified: Int) {
        let reader = context.reader()
        let redis = try context.redis()
        defer { Task { await redis.close() } }
        let prefix = "\(context.keys.namespace.rawValue):\(scan.name.description):"
        var suspects: [Suspect] = []
        var cursor = "0"
        var scanned = 0
        var checking: Task<([Suspect], Int), any Error>?
        var unverified = 0
        defer { checking?.cancel() }
        repeat {
            let reply = try await redis.command(["SCAN", cursor, "MATCH", prefix + "*", "COUNT", "4000"])
            guard case .array(let parts) = reply, parts.count == 2, let next = parts[0].text, case .array(let items) = parts[1] else {
                throw WorkerError(code: .contractViolation, message: "SCAN answered \(reply)")
            }
            cursor = next
            var keys: [(entry: String, key: [String])] = []
            for item in items {
                guard let entry = item.text, let key = RowKeyText.parts(entry, prefix: prefix), key.count == scan.entity.key.count else { continue }
                keys.append((entry, key))
            }
            scanned += keys.count
            // The database looks up one batch (and Redis the entries of its absent rows) while
            // Redis is scanned for the next.
            if let checking {
                let (found, unparsed) = try await checking.value
                suspects += found
                unverified += unparsed
            }
            checking = keys.isEmpty ? nil : Task { [self] in
                let absent = try await withoutRow(keys, scan: scan, commands: commands, reader: reader)
                let live = Set(try await liveEntries(absent.suspects.map(\.entry), fence: fence, commands: commands, redis: redis))
                return (absent.suspects.filter { live.contains($0.entry) }, absent.unparsed)
            }
            if let sample = options.sample, scanned >= sample { break }
        } while cursor != "0"
        if let checking {
            let (found, unparsed) = try await checking.value
            suspects += found
            unverified += unparsed
        }
        return (suspects, unverified)
    }

    private enum Comparison { case equal, missing, different }

    private func compare(_ read: CacheRead, row: String?) -> Comparison {
        guard read.isValid else { return row == nil ? .equal : .missing }
        switch read.state {
        case .value(let payload): return payload == row ? .equal : .different
        case .tombstone: return row == nil ? .equal : .different
        case .missing, .invalidated: return row == nil ? .equal : .missing
        }
    }

    /// The entries as plain `HMGET`s, then the current epoch and the entity fence in the same
    /// pipeline, after them: the fence only rises and the epoch only moves forward, so an entry
    /// of that epoch at or above that fence was valid when it was read (what the `read` script
    /// would have said then). Returns that read for such entries, nil for every other (absent,
    /// markers, other epochs, below the fence), which the caller reads with the script.
    private func peekEntries(_ entries: [String], fence: FenceKey, commands: CacheCommands, redis: RedisClient) async throws -> [CacheRead?] {
        guard !entries.isEmpty else { return [] }
        var batch = entries.map { ["HMGET", $0.isEmpty ? "\(commands.keys.namespace.rawValue):meta:none" : $0, "lsn", "epoch", "deleted", "row"] }
        batch.append(["GET", commands.keys.epoch])
        batch.append(["HMGET", fence.key, "lsn", "epoch"])
        let replies = try await redis.pipeline(batch)
        guard replies.count == batch.count, let epochText = replies[entries.count].text, let epoch = Int64(epochText) else {
            return Array(repeating: nil, count: entries.count)
        }
        var fenceLSN: LSN = .zero
        if case .array(let parts) = replies[entries.count + 1], parts.count == 2, parts[1].text == epochText {
            fenceLSN = parts[0].text.flatMap { LSN(sortableString: $0) } ?? .zero
        }
        return replies.prefix(entries.count).map { reply in
            guard case .array(let fields) = reply, fields.count == 4, fields[1].text == epochText,
                let lsn = fields[0].text.flatMap({ LSN(sortableString: $0) }), lsn >= fenceLSN
            else { return nil }
            let state: CacheRead.State
            if fields[2].text == "1" {
                state = .tombstone
            } else if let row = fields[3].text {
                state = .value(row)
            } else {
                return nil
            }
            return CacheRead(isValid: true, state: state, lsn: lsn, epoch: epoch, maxFence: fenceLSN, currentEpoch: epoch)
        }
    }

    private func readEntries(_ entries: [String], fence: FenceKey, commands: CacheCommands, redis: RedisClient) async throws -> [CacheRead] {
        let calls = entries.map { commands.read($0.isEmpty ? "\(commands.keys.namespace.rawValue):meta:none" : $0, fences: [fence]) }
        guard !calls.isEmpty else { return [] }
        return try await redis.evaluate(calls, inline: false).map { try CacheRead(reply: $0) }
    }

    /// The entries among `keys` that are values of the current epoch
    /// at or above the entity fence: a cheap first look (plain HMGETs, the epoch and the fence
    /// once per batch) that can only let too many through: the fence only rises within an
    /// epoch, and every suspect's verdict comes from the contract's `read` script in ``recheck``.
    private func liveEntries(_ keys: [String], fence: FenceKey, commands: CacheCommands, redis: RedisClient) async throws -> [String] {
        guard !keys.isEmpty else { return [] }
        let meta = try await redis.pipeline([["GET", commands.keys.epoch], ["HMGET", fence.key, "lsn", "epoch"]])
        let epoch = meta[0].text
        var fenceLSN: LSN = .zero
        if case .array(let parts) = meta[1], parts.count == 2, parts[1].text == epoch, let lsn = parts[0].text.flatMap({ LSN(sortableString: $0) }) {
            fenceLSN = lsn
        }
        let replies = try await redis.pipeline(keys.map { ["HMGET", $0, "lsn", "epoch", "deleted", "invalidated"] })
        return zip(keys, replies).filter { _, reply in
            guard case .array(let fields) = reply, fields.count == 4, let lsn = fields[0].text.flatMap({ LSN(sortableString: $0) }) else { return false }
            return fields[1].text == epoch && fields[2].text != "1" && fields[3].text != "1" && lsn >= fenceLSN
        }.map(\.0)
    }

    /// The entries among `keys` whose row does not exist, as suspects at the version of that
    /// read (their entries are looked at afterwards: a row deleted meanwhile shows as live and is
    /// settled by ``recheck``). Rows come back with their key texts, which name the same entry as
    /// the text asked for when they are equal; only other texts (a type whose output differs from
    /// the key's text) are rendered as the worker renders keys.
    ///
    /// An entry key whose text the key column's type refuses (`:item:abc` for an integer key)
    /// names no row this table can have: it is found by halving the batch, logged, and counted
    /// in `unparsed` instead of failing the verify.
    private func withoutRow(
        _ keys: [(entry: String, key: [String])], scan: EntityScan, commands: CacheCommands, reader: VersionedReader
    ) async throws -> (suspects: [Suspect], unparsed: Int) {
        let rows: VersionedRows
        do {
            rows = try await offPool { try reader.read(scan.existing(keys: keys.map(\.key))) }
        } catch let error as PostgresError where error.sqlState?.hasPrefix("22") == true {
            guard keys.count > 1 else {
                context.logger.warning("verify: an entry's key is not a value of the key column's type; not compared", metadata: [
                    "entry": "\(keys.first?.entry ?? "")", "error": "\(error.message)",
                ])
                return ([], keys.count)
            }
            let half = keys.count / 2
            let first = try await withoutRow(Array(keys[..<half]), scan: scan, commands: commands, reader: reader)
            let second = try await withoutRow(Array(keys[half...]), scan: scan, commands: commands, reader: reader)
            return (first.suspects + second.suspects, first.unparsed + second.unparsed)
        }
        var asked = Set(keys.map(\.key))
        var rendered: Set<String> = []
        for row in rows.rows {
            if asked.remove(row.key) != nil { continue }
            if let entry = try? scan.entryKey(row.key, keys: commands.keys) { rendered.insert(entry) }
        }
        let suspects = keys.filter { asked.contains($0.key) && !rendered.contains($0.entry) }.map { entry, key in
            Suspect(key: key, entry: entry, lsn: rows.lsn ?? .zero, deleted: true)
        }
        return (suspects, 0)
    }

    /// Reads the suspects' rows and entries again; returns those still different. A difference
    /// is evidence only when the row was read at or above the entry's version (else the entry may
    /// simply be newer than a lagging reader) and the worker's checkpoint passed that read: so the
    /// entries are looked at first, the reader is given time to replay their versions (capped at
    /// the writer's WAL: a version above it is no real version), the rows are read, the
    /// checkpoint is waited for up to the writer's WAL after that read (the rows' version is only
    /// a lower bound of their snapshot), and the entries are read again. Settled differences of counted
    /// rows are added to `counts` as equal or missing.
    private func recheck(
        _ suspects: [Suspect], scan: EntityScan, fence: FenceKey, commands: CacheCommands, redis: RedisClient, reader: VersionedReader,
        counts: inout VerifyCounts, stalled: inout Bool
    ) async throws -> [Suspect] {
        var remaining: [Suspect] = []
        let writerWAL = await (try? Setup.currentWAL(context.configuration)) ?? LSN(UInt64.max)
        for start in stride(from: 0, to: suspects.count, by: 500) {
            let batch = Array(suspects[start..<min(start + 500, suspects.count)])
            let before = try await readEntries(batch.map(\.entry), fence: fence, commands: commands, redis: redis)
            let target = zip(batch, before).map { suspect, read in max(suspect.lsn, min(read.lsn ?? .zero, writerWAL)) }.max() ?? .zero
            _ = try await context.waitForReplay(reader, to: target, limit: options.settleWait)
            let rows = try await offPool { try reader.read(scan.select(keys: batch.map(\.key))) }
            let version = rows.lsn ?? .zero
            // The rows' version is a lower bound (the data statement's snapshot may be later):
            // the worker must have applied up to the writer's WAL as it is now, above any of it.
            let upper = await (try? Setup.currentWAL(context.configuration)) ?? version
            if !stalled, try await !context.waitForCheckpoint(redis, to: max(upper, version), limit: options.settleWait) {
                // No worker applying (stopped, or far behind): the differences cannot settle.
                stalled = true
                context.logger.warning("verify: the worker's checkpoint did not reach the writer's WAL in time (is the worker running?); differences left unsettled", metadata: [
                    "entity": "\(scan.name)", "wal": "\(max(upper, version))", "wait": "\(options.settleWait)",
                ])
            }
            var byEntry: [String: String] = [:]
            for row in rows.rows {
                if let entry = try? scan.entryKey(row.key, keys: commands.keys) { byEntry[entry] = row.json }
            }
            let reads = try await readEntries(batch.map(\.entry), fence: fence, commands: commands, redis: redis)
            // Entries written meanwhile are above the WAL position read before: read it again.
            let walNow = await (try? Setup.currentWAL(context.configuration)) ?? LSN(UInt64.max)
            for (suspect, read) in zip(batch, reads) {
                let row = byEntry[suspect.entry]
                switch compare(read, row: row) {
                case .different:
                    let entryVersion = read.lsn ?? .zero
                    let newer = entryVersion <= walNow && (stalled || entryVersion > version)
                    remaining.append(Suspect(key: suspect.key, entry: suspect.entry, lsn: rows.lsn ?? suspect.lsn, deleted: row == nil, counted: suspect.counted, unsettled: newer))
                case .equal where suspect.counted: counts.equal += 1
                case .missing where suspect.counted: counts.missing += 1
                case .equal, .missing: break
                }
            }
        }
        return remaining
    }

    /// Replaces a stale entry by an invalidation marker at the LSN its row was last read at:
    /// an entry at or above that version (a corrupt high one) is deleted first, only if it is
    /// still the same version (WATCH), so a worker write that came meanwhile is kept.
    func repair(entry: String, marker: LSN, commands: CacheCommands, redis: RedisClient, epoch: Int64) async throws -> Bool {
        _ = try await redis.withConnection { connection throws(RedisError) in
            _ = try connection.command(["WATCH", entry])
            guard let stored = try connection.command(["HGET", entry, "lsn"]).text.flatMap({ LSN(sortableString: $0) }), stored >= marker else {
                _ = try connection.command(["UNWATCH"])
                return false
            }
            _ = try connection.pipeline([["MULTI"], ["DEL", entry], ["EXEC"]])
            return true
        }
        let reply = try await redis.evaluate([commands.invalidate(entry, lsn: marker, epoch: epoch)], inline: false)
        let written = try WriteOutcome(reply: reply[0])
        context.logger.notice("verify: stale entry replaced by an invalidation marker", metadata: ["entry": "\(entry)", "lsn": "\(marker)", "outcome": "\(written)"])
        return written == .written
    }
}
