import CacheWarmer
import Foundation

/// Everything ``CacheReads`` needs: the worker's configuration (namespace, entities, queries,
/// TTLs and URLs, from the same YAML file and the same `DB_WRITER_URL` / `DB_READER_URL` /
/// `REDIS_URL` variables) plus the read path's own settings, each documented and defaulted.
public struct CacheReadsConfiguration: Sendable {
    /// Namespace, entities, queries, TTLs and connection URLs, shared with the worker.
    public var worker: WorkerConfiguration
    /// The readers (physical replicas). Default: the worker's `readerURL` split at commas, so
    /// `DB_READER_URL` may name several; empty means every read goes to the writer.
    public var readerURLs: [String]
    /// `statement_timeout` of every read session (default 2 s).
    public var statementTimeout: Duration = .seconds(2)
    /// `statement_timeout` of the sessions ``CacheReads/write(_:)`` uses (default 10 s).
    public var writeStatementTimeout: Duration = .seconds(10)
    /// Upper bound of one ``CacheReads/write(_:)`` transaction attempt (default 30 s).
    public var writeTimeout: Duration = .seconds(30)
    /// How long to wait for a TCP connection to a database (default 2 s).
    public var connectTimeout: Duration = .seconds(2)
    /// Upper bound of one database attempt, including waiting for a pooled connection (default 5 s).
    public var operationTimeout: Duration = .seconds(5)
    /// Connections per pool at most (default 10).
    public var maximumConnections = 10
    /// Attempts of a read (or of a `write` transaction on serialization failure) on transient
    /// errors (default 3).
    public var attempts = 3
    /// Base delay between attempts; each retry waits a random time up to base * 2^attempt (default 50 ms).
    public var retryBaseDelay: Duration = .milliseconds(50)
    /// Seconds between health probes of each reader (default 1).
    public var probeInterval: Duration = .seconds(1)
    /// A reader lagging more than this many seconds is not used for `.eventual` reads (default 30).
    public var maximumReaderLag = 30.0
    /// How long a writer fill waits for older transactions to finish before giving up on
    /// caching (it still returns the data; default 500 ms).
    public var writerSnapshotWait: Duration = .milliseconds(500)
    /// How long a reader fill waits for the reader to replay up to the worker's checkpoint (read
    /// with the miss) before returning its data without caching it (default 200 ms;
    /// docs/consistency.md, eviction).
    public var checkpointWait: Duration = .milliseconds(200)
    /// Fraction of cached-query reads counted in the query's hot set (default 0.01).
    public var hotSampleRate = 0.01
    /// Redis connections (each a serial queue) used round robin (default 4).
    public var redisConnections = 4
    /// Seconds to wait for a Redis connection or reply (default 1).
    public var redisTimeout = 1.0
    /// How long a cache read may wait for Redis on the calling thread before the wait moves to
    /// a Redis connection's own thread (default 200 µs; zero: always move). A Redis on the same
    /// host or a fast network answers within it, sparing two thread wake-ups per read; see
    /// `RedisClient.inlineWait`.
    public var redisInlineWait: Duration = .microseconds(200)

    /// Read settings with defaults around `worker`.
    public init(worker: WorkerConfiguration) {
        self.worker = worker
        self.readerURLs = (worker.readerURL ?? "").split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
    }

    /// Loads the worker's YAML file at `path` with the environment's URL overrides.
    public static func load(path: String, environment: [String: String] = ProcessInfo.processInfo.environment) throws -> CacheReadsConfiguration {
        CacheReadsConfiguration(worker: try WorkerConfiguration.load(path: path, environment: environment))
    }
}
