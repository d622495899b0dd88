/// Renders every Redis key of the contract, in one place, for one namespace. The grammar is in
/// docs/cache-protocol.md; names are validated ``CacheName``s, values are escaped ``KeyPart``s.
public struct CacheKeys: Hashable, Sendable {
    /// The prefix of every key.
    public let namespace: CacheNamespace
    private let prefix: String

    /// Keys under `namespace` (default `cw`).
    public init(namespace: CacheNamespace = .standard) {
        self.namespace = namespace
        self.prefix = namespace.rawValue + ":"
    }

    /// A row entry, `<ns>:<entity>:<part>[:<part>...]` (the primary-key columns in key order,
    /// each escaped). Throws when `key` is empty.
    public func row(_ entity: EntityName, key: [KeyPart]) throws(CacheContractError) -> String {
        guard !key.isEmpty else {
            throw CacheContractError(code: .invalidName, context: entity.description, message: "a row key needs at least one part")
        }
        return prefix + entity.description + ":" + key.map(\.escaped).joined(separator: ":")
    }

    /// A row entry with a single-column primary key, `<ns>:<entity>:<part>`.
    public func row(_ entity: EntityName, _ key: KeyPart) -> String {
        prefix + entity.description + ":" + key.escaped
    }

    /// The prefix every row entry of `entity` starts with, `<ns>:<entity>:`.
    public func rowPrefix(_ entity: EntityName) -> String {
        prefix + entity.description + ":"
    }

    /// A derived entry (cached query result), `<ns>:q:<query>:<parameters hash>`.
    public func derived(_ query: CacheName, _ parameters: CanonicalParameters) -> String {
        derivedPrefix(query) + parameters.hash
    }

    /// The prefix every derived entry of `query` starts with, `<ns>:q:<query>:`.
    public func derivedPrefix(_ query: CacheName) -> String {
        prefix + "q:" + query.rawValue + ":"
    }

    /// The fence covering every result of `query`, `<ns>:fence:<query>`.
    public func queryFence(_ query: CacheName) -> FenceKey {
        fence(query.rawValue)
    }

    /// The fence covering every row entry of `entity`, `<ns>:fence:<entity>` (TRUNCATE moves it;
    /// row reads pass it). It shares the fence grammar, so entity and query names must differ.
    public func entityFence(_ entity: EntityName) -> FenceKey {
        fence(entity.name.rawValue)
    }

    /// The fence covering the results of `query` whose `parameter` equals `value`,
    /// `<ns>:fence:<query>:<parameter>=<escaped value>`.
    public func parameterFence(_ query: CacheName, _ parameter: CacheName, _ value: KeyPart) -> FenceKey {
        fence(query.rawValue + ":" + parameter.rawValue + "=" + value.escaped)
    }

    /// The sampled read counts of `query` (a sorted set of canonical parameter JSON),
    /// `<ns>:hot:<query>`.
    public func hot(_ query: CacheName) -> String {
        prefix + "hot:" + query.rawValue
    }

    /// `<ns>:meta:checkpoint`: the commit LSN up to which the worker has applied changes.
    public var checkpoint: String { prefix + "meta:checkpoint" }

    /// `<ns>:meta:epoch`: the current epoch (a decimal integer); entries of other epochs are void.
    public var epoch: String { prefix + "meta:epoch" }

    /// `<ns>:meta:shape`: a hash of each configured table's shape (columns, types, replica
    /// identity, generated columns) as its entries were last written; the worker's own record.
    public var shapes: String { prefix + "meta:shape" }

    /// `<ns>:meta:floor`: fills with an LSN below it are refused (set when an epoch begins).
    public var floor: String { prefix + "meta:floor" }

    /// `<ns>:meta:resync:<entity>`: a resync's position in `entity` (a hash: `epoch`, `scope`,
    /// `after` = the last key filled as a JSON array of key texts, `rows`, `done`), so a killed
    /// resync continues in the same epoch and starts over in a new one.
    public func resyncPosition(_ entity: EntityName) -> String {
        prefix + "meta:resync:" + entity.description
    }

    /// `<ns>:meta:warmup`: the worker's automatic warm-up (a hash: `epoch`, `done` `0`/`1`), so
    /// a worker restarted in the same epoch resumes a warm-up that did not finish.
    public var warmUp: String {
        prefix + "meta:warmup"
    }

    /// `<ns>:meta:history`: positions the worker confirmed, with when (a sorted set: member =
    /// LSN as 16 hex digits, score = Unix milliseconds), so the history window's slot can be
    /// advanced to "confirmed at least `keep` ago" and times mapped to LSNs across restarts.
    public var history: String { prefix + "meta:history" }

    private func fence(_ tail: String) -> FenceKey {
        FenceKey(key: prefix + "fence:" + tail, members: prefix + "fmem:" + tail)
    }
}
