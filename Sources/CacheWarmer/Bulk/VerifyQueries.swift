import CacheContract
import PGOutput
import RedisCache

/// Reads a cached query's result for one parameter set from the database, the way the read
/// library would fill it (JSON array text and the LSN it is known to include; nil LSN when no
/// version could be had). The executable passes one backed by `CacheReads`, which this module
/// cannot depend on.
public typealias QueryRead = @Sendable (_ query: String, _ parameters: [String: JSONValue]) async throws -> (value: String?, lsn: LSN?)

extension Verify {
    /// A cached query's parameter set whose entry differed from the database's result.
    private struct QuerySuspect: Sendable {
        var parameters: CanonicalParameters
        var entry: String
        var lsn: LSN
        /// The entry was newer than the result it was compared with: no evidence yet.
        var unsettled = false
    }

    /// Checks a cached query's entries for the parameter sets verify knows (its `warm.sql` rows
    /// and the hot set): entry first (the `read` script, with the query's fences), then the
    /// result from the database; a difference is read again once the worker's checkpoint passed
    /// the database read, and counts as stale only if it stays. Entries of other parameter
    /// sets are counted as `unverified`.
    func verify(_ query: QueryConfiguration, epoch: Int64, read: QueryRead, redis: RedisClient) async throws -> VerifyCounts {
        var counts = VerifyCounts(name: query.name)
        let name = try CacheName(query.name)
        let commands = context.commands(for: query)
        var sets = try await QueryParameterSets.load(query, hot: Self.hotSetsChecked, context: context, redis: redis)
        if let sample = options.sample, sets.count > sample { sets = Array(sets.shuffled().prefix(sample)) }
        var suspects: [QuerySuspect] = []
        for parameters in sets {
            try Task.checkCancellation()
            counts.checked += 1
            let entry = commands.keys.derived(name, parameters)
            switch try await compare(query, parameters, entry: entry, name: name, commands: commands, read: read, redis: redis) {
            case .equal: counts.equal += 1
            case .missing: counts.missing += 1
            case .different(let lsn, let newer): suspects.append(QuerySuspect(parameters: parameters, entry: entry, lsn: lsn, unsettled: newer))
            }
        }
        var round = 0
        while !suspects.isEmpty && round < options.rounds {
            round += 1
            // Result versions are lower bounds: wait until the worker applied up to the writer's WAL.
            let upper = await (try? Setup.currentWAL(context.configuration)) ?? .zero
            guard try await context.waitForCheckpoint(redis, to: max(upper, suspects.map(\.lsn).max() ?? .zero), limit: options.settleWait) else {
                // No worker applying: the differences cannot settle.
                context.logger.warning("verify: the worker's checkpoint did not reach the writer's WAL in time (is the worker running?); differences left unsettled", metadata: [
                    "query": "\(query.name)", "wait": "\(options.settleWait)",
                ])
                for index in suspects.indices { suspects[index].unsettled = true }
                break
            }
            var remaining: [QuerySuspect] = []
            for suspect in suspects {
                switch try await compare(query, suspect.parameters, entry: suspect.entry, name: name, commands: commands, read: read, redis: redis) {
                case .equal: counts.equal += 1
                case .missing: counts.missing += 1
                case .different(let lsn, let newer): remaining.append(QuerySuspect(parameters: suspect.parameters, entry: suspect.entry, lsn: lsn, unsettled: newer))
                }
            }
            suspects = remaining
        }
        counts.unsettled = suspects.filter(\.unsettled).count
        suspects.removeAll { $0.unsettled }
        for suspect in suspects {
            counts.stale += 1
            if counts.staleKeys.count < 20 { counts.staleKeys.append("\(suspect.entry) \(suspect.parameters.json)") }
            if options.repair, try await repair(entry: suspect.entry, marker: suspect.lsn, commands: commands, redis: redis, epoch: epoch) { counts.repaired += 1 }
        }
        counts.unverified = try await unknownEntries(name, known: Set(sets.map { commands.keys.derived(name, $0) }), redis: redis)
        context.logger.info("verified", metadata: [
            "query": "\(query.name)", "checked": "\(counts.checked)", "equal": "\(counts.equal)", "missing": "\(counts.missing)",
            "stale": "\(counts.stale)", "unverified": "\(counts.unverified)", "unsettled": "\(counts.unsettled)",
        ])
        return counts
    }

    /// Hot-set members checked per query at most.
    static var hotSetsChecked: Int { 10_000 }

    private enum QueryComparison {
        case equal, missing
        /// At the result's version; `newer`: the entry's version is above it (and not above the
        /// writer's WAL), so the difference is no evidence yet.
        case different(LSN, newer: Bool)
    }

    private func compare(
        _ query: QueryConfiguration, _ parameters: CanonicalParameters, entry: String, name: CacheName, commands: CacheCommands,
        read: QueryRead, redis: RedisClient
    ) async throws -> QueryComparison {
        let cached = try CacheRead(reply: try await redis.evaluate([commands.read(entry, fences: fences(query, name, parameters, commands))], inline: false)[0])
        guard cached.isValid, case .value(let payload) = cached.state else { return .missing }
        let fresh = try await read(query.name, QueryParameterSets.values(parameters))
        guard let lsn = fresh.lsn else {
            throw WorkerError(code: .replicaLag, message: "\(query.name) \(parameters.json): no version for the result read from the database")
        }
        if payload == fresh.value { return .equal }
        // The same result printed apart (e.g. whitespace) is not a difference.
        if let value = fresh.value, let left = try? CanonicalJSON.parse(payload), let right = try? CanonicalJSON.parse(value), left == right {
            return .equal
        }
        let entryVersion = cached.lsn ?? .zero
        let writerWAL = await (try? Setup.currentWAL(context.configuration)) ?? LSN(UInt64.max)
        return .different(lsn, newer: entryVersion > lsn && entryVersion <= writerWAL)
    }

    /// The fences a read of this entry passes, as the read library names them: the query fence
    /// and one parameter fence per `depends_on.match` parameter.
    private func fences(_ query: QueryConfiguration, _ name: CacheName, _ parameters: CanonicalParameters, _ commands: CacheCommands) -> [FenceKey] {
        var fences = [commands.keys.queryFence(name)]
        var matched: Set<String> = []
        for rule in query.dependsOn {
            guard let match = rule.match, matched.insert(match.parameter).inserted, let parameter = try? CacheName(match.parameter),
                let value = parameters.object.members.first(where: { $0.key == match.parameter })?.value
            else { continue }
            fences.append(commands.keys.parameterFence(name, parameter, KeyPart(value)))
        }
        return fences
    }

    /// Entries of query `name` in Redis whose key is not among `known`.
    private func unknownEntries(_ name: CacheName, known: Set<String>, redis: RedisClient) async throws -> Int {
        let prefix = context.keys.derivedPrefix(name)
        var cursor = "0"
        var unknown = 0
        repeat {
            let reply = try await redis.command(["SCAN", cursor, "MATCH", prefix + "*", "COUNT", "4000"])
            guard case .array(let parts) = reply, parts.count == 2, let next = parts[0].text, case .array(let items) = parts[1] else {
                throw WorkerError(code: .contractViolation, message: "SCAN answered \(reply)")
            }
            cursor = next
            unknown += items.compactMap(\.text).filter { !known.contains($0) }.count
        } while cursor != "0"
        return unknown
    }
}
