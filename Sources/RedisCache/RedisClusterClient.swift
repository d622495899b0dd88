import Logging
import Synchronization

/// An async client for a Redis Cluster (and ElastiCache in cluster mode): it keeps the map of
/// hash slots to masters, sends each command to the master of its keys' slot through one
/// ``RedisClient`` per node (each with the URL's TLS and ACL settings), and follows the
/// cluster's redirects (Redis Cluster specification, "Redirection and resharding").
///
/// A pipeline is split by node, the parts are sent to all nodes at once (one round trip each),
/// and the replies come back in the caller's order. Commands on one node run in the caller's
/// order; commands on different nodes, and commands resent after a redirect, have no order
/// between them (the cache contract's scripts do not depend on one).
/// - `MOVED`: the slot map is read again and the command resent to the named node.
/// - `ASK`: `ASKING` and the command are sent to the named node, once, without changing the map.
/// - `NOSCRIPT` (script calls): the script is loaded on that node and the call resent once.
/// - `TRYAGAIN`, `CLUSTERDOWN`, or a slot without a master: up to
///   ``RedisClusterOptions/busyRetries`` retries with a growing wait, then
///   ``RedisError/Code-swift.enum/clusterDown``.
/// - A transport failure on any node throws (as ``RedisClient`` does, nothing is resent: the
///   caller decides whether a retry is safe) and refreshes the map in the background.
/// The map is also read again in the background when it is older than
/// ``RedisClusterOptions/refreshInterval``.
public final class RedisClusterClient: RedisCommandRunner {
    /// A node's address.
    public typealias Address = RedisClusterTopology.Address

    /// The seed hosts, credentials and TLS options.
    public let url: RedisClusterURL
    /// Timeouts, TLS and client name of every node's connection.
    public let options: RedisConnectionOptions
    /// How each node's client reconnects.
    public let reconnect: RedisReconnectPolicy
    /// Redirect, retry and refresh limits.
    public let cluster: RedisClusterOptions
    /// ``RedisClient/inlineWait`` of each node's client.
    public let inlineWait: Double

    private let logger: Logger
    private let state = Mutex(State())

    private struct State {
        var topology: RedisClusterTopology?
        var loadedAt: ContinuousClock.Instant?
        var refreshing: Task<Result<RedisClusterTopology, RedisError>, Never>?
        var nodes: [Address: RedisClient] = [:]
        var closed = false
        var statistics = RedisClusterStatistics()
    }

    /// A command of a call, as the caller gave it.
    private enum Arguments: Sendable {
        case text([String])
        case bytes([[UInt8]])

        func append(to batch: inout RedisBatch) throws(RedisError) {
            switch self {
            case .text(let arguments): try batch.append(arguments)
            case .bytes(let arguments): try batch.append(arguments)
            }
        }
    }

    /// Where a command goes next: a node named by a redirect (with `ASKING` first for `ASK`),
    /// or nil to route it by its slot in the current map.
    private struct Target: Hashable {
        var node: Address
        var asking: Bool
    }

    /// A client for the cluster at `url`; no I/O happens until the first call.
    public init(
        url: RedisClusterURL, options: RedisConnectionOptions = RedisConnectionOptions(),
        reconnect: RedisReconnectPolicy = RedisReconnectPolicy(), cluster: RedisClusterOptions = RedisClusterOptions(),
        inlineWait: Double = 0, logger: Logger = Logger(label: "cache-warmer.redis.cluster")
    ) throws(RedisError) {
        do throws(RedisError) {
            try options.validate()
            try reconnect.validate()
            try cluster.validate()
            guard inlineWait >= 0, inlineWait < 1 else {
                throw RedisError(code: .invalidCommand, message: "inlineWait (\(inlineWait)) must be at least 0 and under a second")
            }
        } catch {
            throw RedisError(code: error.code, message: "\(url): \(error.message)")
        }
        self.url = url
        self.options = options
        self.reconnect = reconnect
        self.cluster = cluster
        self.inlineWait = inlineWait
        self.logger = logger
    }

    // MARK: Calls

    /// Runs one command on the master of its keys' slot (a keyless one on the first master).
    public func command(_ arguments: [String]) async throws(RedisError) -> RedisReply {
        try await pipeline([arguments])[0]
    }

    /// Runs one command with raw byte arguments.
    public func command(_ arguments: [[UInt8]]) async throws(RedisError) -> RedisReply {
        try await pipeline([arguments])[0]
    }

    /// Runs the commands, split by node and sent to all nodes at once; replies in order.
    /// Throws ``RedisError/Code-swift.enum/crossSlot`` before sending anything when one
    /// command's keys hash to different slots.
    public func pipeline(_ commands: [[String]]) async throws(RedisError) -> [RedisReply] {
        var slots: [Int?] = []
        for (index, command) in commands.enumerated() {
            slots.append(try slot(index, commands.count) { () throws(RedisError) in try RedisClusterKeys.slot(command) })
        }
        return try await run(commands.map { .text($0) }, slots: slots, scripts: nil, inline: true)
    }

    /// Runs commands with raw byte arguments, as ``pipeline(_:)-([[String]])``.
    public func pipeline(_ commands: [[[UInt8]]]) async throws(RedisError) -> [RedisReply] {
        var slots: [Int?] = []
        for (index, command) in commands.enumerated() {
            slots.append(try slot(index, commands.count) { () throws(RedisError) in try RedisClusterKeys.slot(command) })
        }
        return try await run(commands.map { .bytes($0) }, slots: slots, scripts: nil, inline: true)
    }

    /// Runs script calls (`EVALSHA`), split by node as ``pipeline(_:)-([[String]])``; a node that
    /// answers `NOSCRIPT` gets the script loaded (`SCRIPT LOAD`) and the call once more. Calls
    /// without keys go to the first master.
    public func evaluate(_ calls: [RedisScriptCall], inline: Bool = true) async throws(RedisError) -> [RedisReply] {
        var slots: [Int?] = []
        for (index, call) in calls.enumerated() {
            slots.append(try slot(index, calls.count) { () throws(RedisError) in try RedisClusterKeys.slot(call.command) })
        }
        return try await run(calls.map { .text($0.command) }, slots: slots, scripts: calls.map(\.script), inline: inline)
    }

    /// The slot map, read from the cluster when there is none yet.
    public func topology() async throws(RedisError) -> RedisClusterTopology {
        try await currentTopology()
    }

    /// Reads the slot map again now (one read at a time: callers arriving meanwhile share it).
    @discardableResult
    public func refreshTopology() async throws(RedisError) -> RedisClusterTopology {
        let task = try state.withLock { state throws(RedisError) in
            guard !state.closed else { throw closedError }
            if let running = state.refreshing { return running }
            let task = Task { await self.loadAndStore() }
            state.refreshing = task
            return task
        }
        return try await task.value.get()
    }

    /// The client of one node (made on first use), for per-node commands such as `INFO` or
    /// `SCRIPT EXISTS`.
    public func client(for node: Address) throws(RedisError) -> RedisClient {
        try state.withLock { state throws(RedisError) in
            guard !state.closed else { throw closedError }
            if let client = state.nodes[node] { return client }
            let client = try RedisClient(
                url: url.node(host: node.host, port: node.port), options: options, reconnect: reconnect, inlineWait: inlineWait, logger: logger)
            state.nodes[node] = client
            return client
        }
    }

    /// How the client followed the cluster so far.
    public var statistics: RedisClusterStatistics {
        state.withLock { $0.statistics }
    }

    /// Closes every node's connection; later calls throw ``RedisError/Code-swift.enum/closed``.
    public func close() async {
        let clients = state.withLock { state in
            state.closed = true
            state.refreshing?.cancel()
            return Array(state.nodes.values)
        }
        for client in clients {
            await client.close()
        }
    }

    // MARK: Routing

    /// The slot of command `index` of `count`, naming its position when it is refused.
    private func slot(_ index: Int, _ count: Int, _ body: () throws(RedisError) -> Int?) throws(RedisError) -> Int? {
        do {
            return try body()
        } catch {
            throw RedisError(code: error.code, message: "\(url): command \(index + 1) of \(count): \(error.message)")
        }
    }

    /// Sends `commands` until each has a final reply: rounds of per-node pipelines sent at once,
    /// each round resending what was redirected, retried or loaded.
    private func run(_ commands: [Arguments], slots: [Int?], scripts: [RedisScript]?, inline: Bool) async throws(RedisError) -> [RedisReply] {
        guard !commands.isEmpty else { return [] }
        guard !Task.isCancelled else {
            throw RedisError(code: .cancelled, message: "\(url): the task was cancelled before the command was sent")
        }
        var topology = try await currentTopology()
        var replies = [RedisReply?](repeating: nil, count: commands.count)
        var redirects = [Int](repeating: 0, count: commands.count)
        var reloaded: Set<Int> = []
        var pending: [(index: Int, target: Target?)] = commands.indices.map { ($0, nil) }
        var busyRounds = 0
        while !pending.isEmpty {
            var groups: [Address: [(index: Int, asking: Bool)]] = [:]
            var order: [Address] = []
            var busy: [(index: Int, reason: String)] = []
            for (index, target) in pending {
                let node = target?.node ?? route(slots[index], topology)
                guard let node else {
                    busy.append((index, "slot \(slots[index] ?? 0) has no master in the slot map"))
                    continue
                }
                if groups[node] == nil { order.append(node) }
                groups[node, default: []].append((index, target?.asking ?? false))
            }
            let outcomes = await send(order.map { ($0, groups[$0]!) }, commands, inline: inline)
            var next: [(index: Int, target: Target?)] = []
            var refresh = false
            var loads: [Address: [RedisScript]] = [:]
            var failure: RedisError?
            var movedNow: [(slot: Int, from: Address, to: Address)] = []
            for (node, entries, result) in outcomes {
                let got: [RedisReply]
                switch result {
                case .failure(let error):
                    failure = failure ?? error
                    continue
                case .success(let value):
                    got = value
                }
                for (entry, reply) in zip(entries, got) {
                    switch RedisClusterRedirect(reply, from: node) {
                    case .moved(let slot, let to)?:
                        try countRedirect(&redirects, entry.index, reply)
                        movedNow.append((slot, node, to))
                        next.append((entry.index, Target(node: to, asking: false)))
                        refresh = true
                    case .ask(let slot, let to)?:
                        try countRedirect(&redirects, entry.index, reply)
                        logger.debug("redis cluster: ASK redirect", metadata: ["slot": "\(slot)", "from": "\(node)", "to": "\(to)"])
                        state.withLock { $0.statistics.asked += 1 }
                        next.append((entry.index, Target(node: to, asking: true)))
                    case .busy?:
                        busy.append((entry.index, "\(node): \(reply.errorText)"))
                    case nil:
                        if let script = scripts?[entry.index], RedisConnection.isNoScript(reply), reloaded.insert(entry.index).inserted {
                            if !(loads[node]?.contains(script) ?? false) { loads[node, default: []].append(script) }
                            next.append((entry.index, Target(node: node, asking: entry.asking)))
                        } else {
                            replies[entry.index] = reply
                        }
                    }
                }
            }
            if let failure {
                // Other nodes' parts may have run: nothing is resent, the caller decides.
                startRefresh()
                throw failure
            }
            if let first = movedNow.first {
                state.withLock { $0.statistics.moved += movedNow.count }
                logger.info(
                    "redis cluster: MOVED followed; refreshing the slot map",
                    metadata: ["commands": "\(movedNow.count)", "slot": "\(first.slot)", "from": "\(first.from)", "to": "\(first.to)"])
            }
            if refresh {
                topology = (try? await refreshTopology()) ?? topology
            }
            for (node, scripts) in loads {
                let client = try client(for: node)
                try await client.withConnection { connection throws(RedisError) in
                    for script in scripts { try connection.load(script) }
                }
                state.withLock { $0.statistics.scriptLoads += scripts.count }
                logger.info("redis cluster: scripts loaded after NOSCRIPT", metadata: ["node": "\(node)", "scripts": "\(scripts.map(\.name))"])
            }
            if !busy.isEmpty {
                busyRounds += 1
                guard busyRounds <= cluster.busyRetries else {
                    throw RedisError(
                        code: .clusterDown,
                        message: "\(url): \(busy.count) command(s) still not served after \(cluster.busyRetries) retries: \(busy[0].reason)")
                }
                state.withLock { $0.statistics.busyRetries += busy.count }
                logger.warning("redis cluster busy; retrying", metadata: ["reason": "\(busy[0].reason)", "commands": "\(busy.count)", "round": "\(busyRounds)"])
                try? await Task.sleep(for: .seconds(cluster.delay(beforeRound: busyRounds)))
                topology = (try? await refreshTopology()) ?? topology
                next += busy.map { ($0.index, nil) }
            }
            pending = next
        }
        return replies.map { $0! }
    }

    /// The master of `slot`, or of the first shard for a keyless command.
    private func route(_ slot: Int?, _ topology: RedisClusterTopology) -> Address? {
        guard let slot else { return topology.masters.first }
        return topology.master(forSlot: slot)
    }

    /// Counts a redirect of command `index`; throws past ``RedisClusterOptions/maximumRedirects``.
    private func countRedirect(_ redirects: inout [Int], _ index: Int, _ reply: RedisReply) throws(RedisError) {
        redirects[index] += 1
        guard redirects[index] <= cluster.maximumRedirects else {
            throw RedisError(
                code: .tooManyRedirects,
                message: "\(url): a command was redirected more than \(cluster.maximumRedirects) times (last: \(reply.errorText))")
        }
    }

    /// Sends each node its part (with `ASKING` before asked commands) at once; each part's
    /// replies without the `ASKING` ones, or its failure.
    private func send(
        _ parts: [(Address, [(index: Int, asking: Bool)])], _ commands: [Arguments], inline: Bool
    ) async -> [(Address, [(index: Int, asking: Bool)], Result<[RedisReply], RedisError>)] {
        if parts.count == 1 {
            let (node, entries) = parts[0]
            return [(node, entries, await send(entries, to: node, commands, inline: inline))]
        }
        return await withTaskGroup(of: (Int, Result<[RedisReply], RedisError>).self) { group in
            for (position, (node, entries)) in parts.enumerated() {
                group.addTask { (position, await self.send(entries, to: node, commands, inline: false)) }
            }
            var results = [Result<[RedisReply], RedisError>?](repeating: nil, count: parts.count)
            for await (position, result) in group {
                results[position] = result
            }
            return parts.enumerated().map { position, part in (part.0, part.1, results[position]!) }
        }
    }

    private func send(_ entries: [(index: Int, asking: Bool)], to node: Address, _ commands: [Arguments], inline: Bool) async -> Result<[RedisReply], RedisError> {
        do throws(RedisError) {
            let client = try client(for: node)
            var batch = RedisBatch()
            for entry in entries {
                if entry.asking { try batch.append(["ASKING"]) }
                try commands[entry.index].append(to: &batch)
            }
            let raw = try await client.pipeline(batch, inline: inline)
            var replies: [RedisReply] = []
            replies.reserveCapacity(entries.count)
            var position = 0
            for entry in entries {
                if entry.asking { position += 1 }
                replies.append(raw[position])
                position += 1
            }
            return .success(replies)
        } catch {
            return .failure(error)
        }
    }

    // MARK: Slot map

    /// The current map (starting a background refresh when it is old), or a new one.
    private func currentTopology() async throws(RedisError) -> RedisClusterTopology {
        let (topology, stale, closed) = state.withLock { state in
            (state.topology, state.loadedAt.map { ContinuousClock.now - $0 > .seconds(cluster.refreshInterval) } ?? true, state.closed)
        }
        guard !closed else { throw closedError }
        guard let topology else { return try await refreshTopology() }
        if stale { startRefresh() }
        return topology
    }

    /// Starts a refresh unless one is running (its outcome is only logged).
    private func startRefresh() {
        state.withLock { state in
            guard !state.closed, state.refreshing == nil else { return }
            state.refreshing = Task { await self.loadAndStore() }
        }
    }

    /// Reads the map and stores it.
    private func loadAndStore() async -> Result<RedisClusterTopology, RedisError> {
        let result = await load()
        let previous = state.withLock { state in
            let previous = state.topology
            state.refreshing = nil
            switch result {
            case .success(let topology):
                state.topology = topology
                state.loadedAt = .now
                state.statistics.refreshes += 1
            case .failure:
                state.statistics.refreshFailures += 1
            }
            return previous
        }
        switch result {
        case .success(let topology) where previous != nil && previous?.shards != topology.shards:
            logger.info("redis cluster slot map changed", metadata: ["masters": "\(topology.masters.map(\.description).joined(separator: ","))"])
        case .failure(let error):
            logger.warning("redis cluster slot map refresh failed", metadata: ["error": "\(error)"])
        default:
            break
        }
        return result
    }

    /// Asks for the map the known masters, then the other known nodes, then the seeds: the first
    /// five at once, then (without a complete map) the rest at once. The first complete map wins,
    /// else the one with the fewest uncovered slots.
    private func load() async -> Result<RedisClusterTopology, RedisError> {
        let known = state.withLock { $0.topology }
        var seen: Set<Address> = []
        let candidates = ((known?.masters ?? []) + (known?.nodes ?? []) + url.seeds.map { Address(host: $0.host, port: $0.port) })
            .filter { seen.insert($0).inserted }
        var best: RedisClusterTopology?
        var problems: [String] = []
        var code = RedisError.Code.connectionFailed
        for wave in [Array(candidates.prefix(5)), Array(candidates.dropFirst(5))] where !wave.isEmpty {
            switch await race(wave) {
            case .complete(let topology):
                return .success(topology)
            case .partial(let partial, let reasons, let reason):
                if let partial, partial.uncoveredSlots < best?.uncoveredSlots ?? Int.max { best = partial }
                problems += reasons
                if problems.count == reasons.count { code = reason }
            }
        }
        if let best { return .success(best) }
        return .failure(RedisError(code: code, message: "\(url): no node gave the slot map (\(problems.joined(separator: "; ")))"))
    }

    /// Asks `nodes` for the map at once (see ``RedisClusterMapRace``).
    private func race(_ nodes: [Address]) async -> RedisClusterMapRace.Outcome {
        await withCheckedContinuation { continuation in
            let race = RedisClusterMapRace(count: nodes.count, continuation: continuation)
            for node in nodes {
                Task {
                    do throws(RedisError) {
                        race.report(node, .success(try await self.map(from: node)))
                    } catch {
                        race.report(node, .failure(error))
                    }
                }
            }
        }
    }

    /// `CLUSTER SHARDS` from `node`, or `CLUSTER SLOTS` where the server does not know it.
    private func map(from node: Address) async throws(RedisError) -> RedisClusterTopology {
        let client = try client(for: node)
        let shards = try await client.command(["CLUSTER", "SHARDS"])
        guard case .error(let message) = shards else {
            return try RedisClusterTopology.fromShards(shards, asked: node, tls: url.seeds[0].tls)
        }
        let slots = try await client.command(["CLUSTER", "SLOTS"])
        if case .error(let second) = slots {
            throw RedisError(serverReply: "\(second) (CLUSTER SHARDS: \(message))", server: node.description, command: "CLUSTER SLOTS")
        }
        return try RedisClusterTopology.fromSlots(slots, asked: node)
    }

    private var closedError: RedisError {
        RedisError(code: .closed, message: "\(url): the client is closed")
    }
}

extension RedisReply {
    /// The text of an error reply (or the reply's description).
    var errorText: String {
        if case .error(let message) = self { return message }
        return "\(self)"
    }
}
