import CacheContract
import Foundation
import Yams

/// Everything the worker needs, from a YAML file (`--config`), environment variables
/// (`DB_WRITER_URL`, `DB_READER_URL`, `REDIS_URL`) and flags. Every setting has a default
/// except the entities and connection URLs.
public struct WorkerConfiguration: Hashable, Sendable {
    /// Key namespace (default `cw`).
    public var namespace = "cw"
    /// Logical replication slot (default `cache_warmer`).
    public var slot = "cache_warmer"
    /// Publication (default `cache_warmer_pub`).
    public var publication = "cache_warmer_pub"
    /// The writer (primary) URL: replication and setup.
    public var writerURL: String?
    /// The reader (replica) URL: re-warming queries.
    public var readerURL: String?
    /// Redis URL.
    public var redisURL: String?
    /// Transactions applied in one Redis pipeline at most (default 1000).
    public var batchMaxTransactions = 1000
    /// Cache writes in one pipeline at most (default 10000).
    public var batchMaxWrites = 10_000
    /// Planned writes one transaction may hold in memory; a larger transaction is applied in
    /// parts as invalidation markers before its commit, so memory stays bounded (default 5000:
    /// two parts in Redis and one being planned keep a 1M-row transaction near 64 MB of RSS).
    public var largeTransactionWrites = 5_000
    /// Seconds between standby status updates (default 10).
    public var statusInterval = 10.0
    /// Entry TTL in seconds (default 3600).
    public var entryTTL = 3600.0
    /// Tombstone and fence TTL in seconds; must exceed the worst replica lag (default 3600).
    public var tombstoneTTL = 3600.0
    /// Port for `/metrics`, `/healthz`, `/readyz` (default 9187; 0 disables).
    public var metricsPort = 9187
    /// Rows whose WAL text is larger than this many bytes are never rendered or sent: their
    /// entries become invalidation markers and readers refill them (default 16 MiB).
    public var maxEntryBytes = 16 << 20
    /// Rendered row bytes one open transaction may hold; a larger one is applied in parts as
    /// invalidation markers before its commit (default 64 MiB).
    public var maxTransactionBytes = 64 << 20
    /// Bytes of decoded WAL the stream buffers ahead of the apply loop (default 64 MiB). With
    /// the two limits above, the worker's memory stays within about 256 MiB whatever the rows.
    public var maxQueueBytes = 64 << 20
    /// Seconds between checks that the publication still covers every configured table, with
    /// the replica identity and shape the worker needs (default 10).
    public var publicationCheckInterval = 10.0
    /// Cached tables by entity name.
    public var entities: [EntityConfiguration] = []
    /// Cached queries by name.
    public var queries: [QueryConfiguration] = []
    /// `resync: on_new_epoch` (default) or `off`: whether `run` warms the cache from the
    /// database when it begins a new epoch.
    public var resyncOnNewEpoch = true
    /// Rows per resync chunk (one reader transaction, one Redis pipeline; default 2000).
    public var resyncChunkRows = 2000
    /// Entities and queries a resync works on at once (default 4).
    public var resyncParallel = 4

    /// `history:`: the window of past changes kept on the writer for `replay --since` and
    /// `peek` (nil: none; `replay` then works only from the main slot's position).
    public var history: HistoryWindow?

    /// An empty configuration (defaults only).
    public init() {}

    /// Reads `path`, then applies environment overrides; throws every problem found at once.
    public static func load(path: String, environment: [String: String] = ProcessInfo.processInfo.environment) throws -> WorkerConfiguration {
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw ConfigurationError(file: path, problems: [.init(path: "", message: "cannot read the file: \(error.localizedDescription)")])
        }
        return try parse(yaml: text, file: path, environment: environment)
    }

    /// Parses YAML `text` (named `file` in errors), then applies environment overrides.
    public static func parse(yaml text: String, file: String, environment: [String: String] = [:]) throws -> WorkerConfiguration {
        let document: Any?
        do {
            document = try Yams.load(yaml: text)
        } catch {
            throw ConfigurationError(file: file, problems: [.init(path: "", message: "not valid YAML: \(String(describing: error).split(separator: "\n").joined(separator: " "))")])
        }
        let log = ProblemLog()
        let root = ConfigNode(value: document ?? [String: Any](), path: "", report: log)
        var configuration = WorkerConfiguration(root)
        configuration.writerURL = environment["DB_WRITER_URL"].flatMap { $0.isEmpty ? nil : $0 } ?? configuration.writerURL
        configuration.readerURL = environment["DB_READER_URL"].flatMap { $0.isEmpty ? nil : $0 } ?? configuration.readerURL
        configuration.redisURL = environment["REDIS_URL"].flatMap { $0.isEmpty ? nil : $0 } ?? configuration.redisURL
        configuration.validate(log)
        guard log.problems.isEmpty else { throw ConfigurationError(file: file, problems: log.problems) }
        return configuration
    }

    private init(_ root: ConfigNode) {
        root.allowKeys([
            "namespace", "slot", "publication", "writer_url", "reader_url", "redis_url", "batch", "status_interval_s",
            "entry_ttl_s", "tombstone_ttl_s", "metrics_port", "entities", "queries", "memory", "publication_check_interval_s", "resync", "resync_chunk_rows", "resync_parallel", "history",
        ])
        namespace = root.child("namespace").string(default: namespace) ?? namespace
        slot = root.child("slot").string(default: slot) ?? slot
        publication = root.child("publication").string(default: publication) ?? publication
        writerURL = root.child("writer_url").string()
        readerURL = root.child("reader_url").string()
        redisURL = root.child("redis_url").string()
        let batch = root.child("batch")
        batch.allowKeys(["max_transactions", "max_writes", "large_transaction_writes"])
        batchMaxTransactions = batch.child("max_transactions").int(default: batchMaxTransactions, range: 1...1_000_000)
        batchMaxWrites = batch.child("max_writes").int(default: batchMaxWrites, range: 1...1_000_000)
        largeTransactionWrites = batch.child("large_transaction_writes").int(default: largeTransactionWrites, range: 100...10_000_000)
        statusInterval = root.child("status_interval_s").seconds(default: statusInterval, minimum: 0.01)
        let memory = root.child("memory")
        memory.allowKeys(["max_entry_bytes", "max_transaction_bytes", "max_queue_bytes"])
        maxEntryBytes = memory.child("max_entry_bytes").bytes(default: maxEntryBytes, range: 1024...(256 << 20))
        maxTransactionBytes = memory.child("max_transaction_bytes").bytes(default: maxTransactionBytes, range: (1 << 20)...(16 << 30))
        maxQueueBytes = memory.child("max_queue_bytes").bytes(default: maxQueueBytes, range: (1 << 20)...(16 << 30))
        publicationCheckInterval = root.child("publication_check_interval_s").seconds(default: publicationCheckInterval, minimum: 0.1)
        entryTTL = root.child("entry_ttl_s").seconds(default: entryTTL, minimum: 1)
        tombstoneTTL = root.child("tombstone_ttl_s").seconds(default: tombstoneTTL, minimum: 1)
        metricsPort = root.child("metrics_port").int(default: metricsPort, range: 0...65535)
        // `resync: off` unquoted is a YAML boolean: false means off, true the default.
        let resyncNode = root.child("resync")
        let resync = (resyncNode.value as? Bool).map { $0 ? "on_new_epoch" : "off" } ?? resyncNode.string(default: "on_new_epoch") ?? "on_new_epoch"
        switch resync {
        case "on_new_epoch": resyncOnNewEpoch = true
        case "off": resyncOnNewEpoch = false
        default: root.report.add("resync", "'\(resync)' is not one of on_new_epoch, off")
        }
        resyncChunkRows = root.child("resync_chunk_rows").int(default: resyncChunkRows, range: 1...100_000)
        resyncParallel = root.child("resync_parallel").int(default: resyncParallel, range: 1...64)
        history = HistoryWindow.parse(root.child("history"))
        entities = root.child("entities").mapping().compactMap { name, node in Self.entity(name, node) }
        queries = root.child("queries").mapping().compactMap { name, node in Self.query(name, node) }
    }

    private static func entity(_ name: String, _ node: ConfigNode) -> EntityConfiguration? {
        node.allowKeys(["table", "key", "mode", "ttl_s", "warm"])
        guard let tableText = node.child("table").requiredString() else { return nil }
        guard let table = TableName(parsing: tableText) else {
            node.report.add(node.child("table").path, "'\(tableText)' is not a table name (schema.table, identifiers may be double-quoted)")
            return nil
        }
        let key = node.child("key").stringList() ?? ["id"]
        if key.isEmpty { node.report.add(node.child("key").path, "needs at least one column") }
        let modeText = node.child("mode").string(default: EntityConfiguration.Mode.writeThrough.rawValue) ?? ""
        guard let mode = EntityConfiguration.Mode(rawValue: modeText) else {
            node.report.add(node.child("mode").path, "'\(modeText)' is not one of \(EntityConfiguration.Mode.allCases.map(\.rawValue).joined(separator: ", "))")
            return nil
        }
        let ttl = node.child("ttl_s").isPresent ? node.child("ttl_s").seconds(default: 3600, minimum: 1) : nil
        let warmNode = node.child("warm")
        warmNode.allowKeys(["where", "order_by", "limit"])
        var warm = EntityWarm(filter: Self.sqlText(warmNode.child("where")), orderBy: Self.sqlText(warmNode.child("order_by")))
        if warmNode.child("limit").isPresent { warm.limit = warmNode.child("limit").int(default: 0, range: 1...1_000_000_000) }
        if warm.orderBy != nil && warm.limit == nil { node.report.add(warmNode.child("order_by").path, "needs a limit (which rows count first)") }
        return EntityConfiguration(name: name, table: table, key: key, mode: mode, ttl: ttl, warm: warm)
    }

    /// A piece of SQL from the file: trimmed, one trailing `;` dropped (it is embedded in a
    /// larger statement); empty is a problem at its path.
    static func sqlText(_ node: ConfigNode) -> String? {
        guard let text = node.string() else { return nil }
        guard let cleaned = sqlFragment(text) else {
            node.report.add(node.path, "must not be empty")
            return nil
        }
        return cleaned
    }

    /// `text` trimmed, without one trailing `;`; nil when nothing is left.
    public static func sqlFragment(_ text: String) -> String? {
        var trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
        if trimmed.hasSuffix(";") { trimmed = String(trimmed.dropLast()).trimmingCharacters(in: .whitespacesAndNewlines) }
        return trimmed.isEmpty ? nil : trimmed
    }

    private static func query(_ name: String, _ node: ConfigNode) -> QueryConfiguration? {
        node.allowKeys(["sql", "params", "ttl_s", "depends_on", "rewarm", "warm"])
        guard let sql = node.child("sql").requiredString() else { return nil }
        let parameters = node.child("params").stringList() ?? []
        for parameter in parameters where !sql.contains("$\(parameter)") {
            node.report.add(node.child("params").path, "parameter '\(parameter)' does not appear as $\(parameter) in sql")
        }
        var dependencies: [QueryConfiguration.Dependency] = []
        let dependsOn = node.child("depends_on")
        if !dependsOn.isPresent { node.report.add(dependsOn.path, "is required: which tables' changes invalidate this query") }
        for rule in dependsOn.list() {
            rule.allowKeys(["table", "match"])
            guard let tableText = rule.child("table").requiredString() else { continue }
            guard let table = TableName(parsing: tableText) else {
                rule.report.add(rule.child("table").path, "'\(tableText)' is not a table name")
                continue
            }
            var match: (String, String)?
            let matchNode = rule.child("match")
            if matchNode.isPresent {
                matchNode.allowKeys(["param", "column"])
                if let parameter = matchNode.child("param").requiredString(), let column = matchNode.child("column").requiredString() {
                    if !parameters.contains(parameter) {
                        rule.report.add(matchNode.child("param").path, "'\(parameter)' is not one of this query's params (\(parameters.joined(separator: ", ")))")
                    }
                    match = (parameter, column)
                }
            }
            dependencies.append(QueryConfiguration.Dependency(table: table, match: match))
        }
        let ttl = node.child("ttl_s").isPresent ? node.child("ttl_s").seconds(default: 300, minimum: 1) : nil
        let rewarm = node.child("rewarm").int(default: 0, range: 0...10_000)
        let warmNode = node.child("warm")
        warmNode.allowKeys(["sql", "hot"])
        let warmSQL = Self.sqlText(warmNode.child("sql"))
        let warmHot = warmNode.child("hot").int(default: 100, range: 0...100_000)
        return QueryConfiguration(
            name: name, sql: sql, parameters: parameters, ttl: ttl, dependsOn: dependencies, rewarm: rewarm, warmSQL: warmSQL, warmHot: warmHot)
    }

    private func validate(_ log: ProblemLog) {
        if entities.isEmpty && queries.isEmpty { log.add("entities", "configure at least one entity or query") }
        do {
            _ = try CacheNamespace(namespace)
        } catch {
            log.add("namespace", "'\(namespace)' is not a key namespace: \(error.message)")
        }
        for (key, value) in [("slot", slot), ("publication", publication)] where value.isEmpty || value.utf8.count > 63 {
            log.add(key, "'\(value)' must be 1 to 63 bytes (a Postgres name)")
        }
        for entity in entities where (try? EntityName(entity.name)) == nil {
            log.add("entities.\(entity.name)", "'\(entity.name)' is not an entity name (letters, digits, _ . -; not q, fence, fmem, hot or meta)")
        }
        for query in queries where (try? CacheName(query.name)) == nil {
            log.add("queries.\(query.name)", "'\(query.name)' is not a query name (letters, digits, _ . -)")
        }
        if writerURL == nil { log.add("writer_url", "is required (or set DB_WRITER_URL)") }
        if redisURL == nil { log.add("redis_url", "is required (or set REDIS_URL)") }
        let names = Set(entities.map(\.name))
        for query in queries where names.contains(query.name) {
            log.add("queries.\(query.name)", "has the name of an entity: entity and query names share the fence namespace")
        }
        var tables: [TableName: String] = [:]
        for entity in entities {
            if let other = tables[entity.table] { log.add("entities.\(entity.name).table", "\(entity.table) is already cached as entity '\(other)'") }
            tables[entity.table] = entity.name
        }
    }

    /// Every table the publication must cover.
    public var tables: [TableName] {
        var seen: [TableName] = []
        for table in entities.map(\.table) + queries.flatMap({ $0.dependsOn.map(\.table) }) where !seen.contains(table) {
            seen.append(table)
        }
        return seen
    }
}
