import CacheContract
import Foundation
import Logging
import PGOutput
import PostgresReplication
import RedisCache

/// What resync, verify and inspect share: the configuration's keys, TTLs, connections and the
/// database's types, and the epoch/checkpoint reads every bulk step needs.
struct BulkContext: Sendable {
    let configuration: WorkerConfiguration
    let keys: CacheKeys
    let ttl: CacheTTL
    let redisURL: RedisURL
    let source: ResyncSource
    let target: ConnectionString
    let logger: Logger

    init(configuration: WorkerConfiguration, source: ResyncSource, logger: Logger) throws {
        guard let redisText = configuration.redisURL else {
            throw WorkerError(code: .invalidConfiguration, message: "redis_url is required (or set REDIS_URL)")
        }
        let url: String?
        switch source {
        case .reader: url = configuration.readerURL
        case .writer: url = configuration.writerURL
        }
        guard let url else {
            throw WorkerError(
                code: .invalidConfiguration,
                message: source == .reader ? "reader_url is required to read from a replica (or set DB_READER_URL, or use --source writer)" : "writer_url is required")
        }
        self.configuration = configuration
        keys = CacheKeys(namespace: try CacheNamespace(configuration.namespace))
        ttl = CacheTTL(
            entry: .milliseconds(Int64(configuration.entryTTL * 1000)), tombstone: .milliseconds(Int64(configuration.tombstoneTTL * 1000)),
            fence: .milliseconds(Int64(configuration.tombstoneTTL * 1000)))
        redisURL = try RedisURL(redisText)
        self.source = source
        target = ConnectionString(url)
        self.logger = logger
    }

    /// Script calls with `entity`'s entry TTL.
    func commands(for entity: EntityConfiguration) -> CacheCommands {
        var ttl = ttl
        if let seconds = entity.ttl { ttl.entry = .milliseconds(Int64(seconds * 1000)) }
        return CacheCommands(keys: keys, ttl: ttl)
    }

    /// Script calls with `query`'s entry TTL.
    func commands(for query: QueryConfiguration) -> CacheCommands {
        var ttl = ttl
        if let seconds = query.ttl { ttl.entry = .milliseconds(Int64(seconds * 1000)) }
        return CacheCommands(keys: keys, ttl: ttl)
    }

    func redis() throws -> RedisClient {
        try RedisClient(url: redisURL, logger: logger)
    }

    /// A reader (or writer) connection for one lane.
    func reader() -> VersionedReader {
        VersionedReader(source: source, target: target)
    }

    /// The database's types (built-in plus enums, domains), as the worker loads them.
    func types() async throws -> PostgresTypes {
        let reader = reader()
        return try await offPool {
            var types = PostgresTypes.builtin
            _ = try PostgresTypeCatalog.register(rows: try reader.open().execute(PostgresTypeCatalog.query).rows, into: &types)
            return types
        }
    }

    /// The current epoch, floor and checkpoint.
    func meta(_ redis: RedisClient) async throws -> (epoch: Int64?, floor: LSN?, checkpoint: LSN?) {
        let replies = try await redis.pipeline([["GET", keys.epoch], ["GET", keys.floor], ["GET", keys.checkpoint]])
        return (try CacheEpoch.parse(replies[0]), replies[1].text.flatMap { LSN(parsing: $0) }, replies[2].text.flatMap { LSN(parsing: $0) })
    }

    /// The worker's checkpoint now.
    func checkpoint(_ redis: RedisClient) async throws -> LSN? {
        try await redis.command(["GET", keys.checkpoint]).text.flatMap { LSN(parsing: $0) }
    }

    /// Waits (at most `limit`) until the reader has replayed `target`; true when it has. The
    /// writer is always there.
    func waitForReplay(_ reader: VersionedReader, to target: LSN, limit: Duration) async throws -> Bool {
        guard source == .reader else { return true }
        let deadline = ContinuousClock.now.advanced(by: limit)
        while true {
            if let replay = try await offPool({ try reader.replayLSN() }), replay >= target { return true }
            guard ContinuousClock.now < deadline else { return false }
            try await Task.sleep(for: .milliseconds(20))
        }
    }

    /// Waits (at most `limit`) until the worker's checkpoint reaches `target`.
    func waitForCheckpoint(_ redis: RedisClient, to target: LSN, limit: Duration) async throws -> Bool {
        let deadline = ContinuousClock.now.advanced(by: limit)
        while true {
            guard let checkpoint = try await checkpoint(redis) else { return false }  // no worker in this epoch yet
            if checkpoint >= target { return true }
            guard ContinuousClock.now < deadline else { return false }
            try await Task.sleep(for: .milliseconds(50))
        }
    }
}
