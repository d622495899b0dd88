import CacheContract
import CacheWarmer
import Foundation
import Logging
import RedisCache
import ServiceLifecycle

/// Re-warms cached queries after the worker moved their fences: for each query with `rewarm: N`
/// in the configuration, the N most-read parameter sets (the sampled hot set readers record)
/// are read again through ``CacheReads`` from the readers, and filled with `fill-if-not-stale`.
/// Notifications are debounced per query; a fill refused because a reader has not replayed the
/// change yet is tried again a few times.
public final class HotQueryRewarmer: Service, Sendable {
    private let reads: CacheReads
    private let redis: RedisClient
    private let commands: CacheCommands
    private let limits: [String: Int]
    private let logger: Logger
    private let notifications: AsyncStream<Set<String>>
    private let continuation: AsyncStream<Set<String>>.Continuation
    /// How long notifications for one query are gathered before it is re-warmed.
    let debounce: Duration
    /// Attempts per parameter set when a fill is refused by a fence or the checkpoint (the
    /// reader is behind).
    let attempts: Int

    /// Makes a re-warmer for the queries of `reads`' configuration that ask for it.
    public init(reads: CacheReads, logger: Logger, debounce: Duration = .milliseconds(200), attempts: Int = 5) throws(CacheReadsError) {
        let worker = reads.configuration.worker
        guard let redisText = worker.redisURL else {
            throw CacheReadsError(code: .configuration, context: "redis_url", message: "is required (or set REDIS_URL)")
        }
        do {
            redis = try RedisClient(url: try RedisURL(redisText), logger: logger)
            commands = CacheCommands(keys: CacheKeys(namespace: try CacheNamespace(worker.namespace)))
        } catch {
            throw CacheReadsError(code: .configuration, context: "redis_url", message: "\(error)")
        }
        self.reads = reads
        self.logger = logger
        self.debounce = debounce
        self.attempts = attempts
        limits = Dictionary(uniqueKeysWithValues: worker.queries.filter { $0.rewarm > 0 }.map { ($0.name, $0.rewarm) })
        (notifications, continuation) = AsyncStream.makeStream(bufferingPolicy: .bufferingNewest(1024))
    }

    /// True when some query asks to be re-warmed.
    public var isNeeded: Bool { !limits.isEmpty }

    /// Tells the re-warmer which queries' fences moved (the worker's `fencesMoved`).
    public func fencesMoved(_ queries: Set<String>) {
        let wanted = queries.filter { limits[$0] != nil }
        if !wanted.isEmpty { continuation.yield(wanted) }
    }

    /// Re-warms as notifications arrive, until graceful shutdown (or cancellation) ends them.
    public func run() async throws {
        let continuation = continuation
        await withGracefulShutdownHandler {
            var pending: Set<String> = []
            var iterator = notifications.makeAsyncIterator()
            while let first = await iterator.next() {
                pending.formUnion(first)
                try? await Task.sleep(for: debounce)
                for query in pending.sorted() where !Task.isShuttingDownGracefully {
                    await rewarm(query)
                }
                pending.removeAll()
            }
        } onGracefulShutdown: {
            continuation.finish()
        }
    }

    /// Reads the hot parameter sets of `query` again; returns how many were filled.
    @discardableResult
    public func rewarm(_ query: String) async -> Int {
        guard let limit = limits[query], let name = try? CacheName(query) else { return 0 }
        let members: [String]
        do {
            let replies = try await redis.pipeline([commands.hottest(name, limit: limit)])
            guard case .array(let items)? = replies.first else { return 0 }
            members = items.compactMap(\.text)
        } catch {
            logger.warning("re-warm: cannot read the hot set", metadata: ["query": "\(query)", "error": "\(error)"])
            return 0
        }
        var filled = 0
        for member in members {
            guard let parameters = try? CanonicalParameters(json: member) else { continue }
            for attempt in 0..<attempts {
                do {
                    let values = Dictionary(parameters.object.members.map { ($0.key, $0.value) }, uniquingKeysWith: { $1 })
                    let result = try await reads.query(query, parameters: values, consistency: .eventual)
                    let behind: Bool
                    switch result.fill {
                    case .outcome(.refusedByFence)?, .outcome(.refusedByFloor)?: behind = true
                    case .skipped(FillResult.behindCheckpoint)?: behind = true
                    default: behind = false
                    }
                    if behind, attempt + 1 < attempts {
                        try await Task.sleep(for: .milliseconds(200 << attempt))
                        continue
                    }
                    if case .outcome(.filled)? = result.fill { filled += 1 }
                } catch {
                    logger.warning("re-warm: read failed", metadata: ["query": "\(query)", "parameters": "\(member)", "error": "\(error)"])
                }
                break
            }
        }
        logger.debug("re-warmed", metadata: ["query": "\(query)", "hot": "\(members.count)", "filled": "\(filled)"])
        return filled
    }
}
