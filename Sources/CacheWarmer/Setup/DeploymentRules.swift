import Foundation

/// The rules `cache-warmer check` applies to what the servers report, as pure functions of the
/// reported values (so each verdict and its advice is testable without a server). The runbook
/// (docs/operations.md) explains each requirement.
public enum DeploymentRules {
    /// Logical decoding needs `wal_level = logical`; on Amazon RDS that is what
    /// `rds.logical_replication = 1` sets, after a reboot (`rdsLogicalReplication` is nil off RDS).
    public static func walLevel(_ level: String, rdsLogicalReplication: String?) -> DeploymentFinding {
        if level == "logical" {
            return DeploymentFinding(.ok, "writer", "wal_level=logical" + (rdsLogicalReplication.map { " rds.logical_replication=\($0)" } ?? ""))
        }
        guard let rds = rdsLogicalReplication else {
            return DeploymentFinding(.fail, "writer", "wal_level is '\(level)', logical decoding needs 'logical': ALTER SYSTEM SET wal_level = logical and restart the server")
        }
        if ["on", "1", "true"].contains(rds.lowercased()) {
            return DeploymentFinding(.fail, "writer", "rds.logical_replication is on but wal_level is still '\(level)': reboot the DB instance (cluster) to apply the parameter group")
        }
        return DeploymentFinding(.fail, "writer", "wal_level is '\(level)': set rds.logical_replication = 1 in the DB (cluster) parameter group, then reboot")
    }

    /// `max_slot_wal_keep_size` (PostgreSQL 13+) caps the WAL a stalled slot retains; -1 (the
    /// default) lets it fill the disk. nil: the server has no such setting.
    public static func slotWALLimit(_ setting: String?) -> DeploymentFinding {
        guard let setting else {
            return DeploymentFinding(.fail, "writer", "the server has no max_slot_wal_keep_size (PostgreSQL 13 or later needed): a stalled slot retains WAL without bound")
        }
        if setting == "-1" {
            return DeploymentFinding(.fail, "writer", "max_slot_wal_keep_size is -1 (unlimited): a stalled slot retains WAL until the disk is full; set it (e.g. 10% of the storage, in the parameter group on RDS) and alarm on OldestReplicationSlotLag")
        }
        return DeploymentFinding(.ok, "writer", "max_slot_wal_keep_size=\(setting)")
    }

    /// The role streams the slot: it needs `REPLICATION` (or superuser), or on RDS membership in
    /// `rds_replication` (`rdsReplicationMember` is nil where that role does not exist).
    public static func replicationPrivilege(role: String, superuser: Bool, replication: Bool, rdsReplicationMember: Bool?) -> DeploymentFinding {
        if superuser || replication || rdsReplicationMember == true {
            let how = superuser ? "superuser" : replication ? "REPLICATION" : "member of rds_replication"
            return DeploymentFinding(.ok, "writer", "role \(role) may stream: \(how)")
        }
        if rdsReplicationMember != nil {
            return DeploymentFinding(.fail, "writer", "role \(role) cannot stream a slot: GRANT rds_replication TO \(role)")
        }
        return DeploymentFinding(.fail, "writer", "role \(role) cannot stream a slot: ALTER ROLE \(role) REPLICATION")
    }

    /// What the catalog says about one configured table for the checking role.
    public struct TableAccess: Sendable, Hashable {
        /// The table.
        public var table: TableName
        /// False when no such table exists.
        public var exists: Bool
        /// True when the role has `SELECT` on it.
        public var select: Bool
        /// False when the role lacks `USAGE` on the table's schema (then `exists` and `select`
        /// are unknown and false).
        public var schemaUsage: Bool

        /// Makes a table's access record.
        public init(table: TableName, exists: Bool, select: Bool, schemaUsage: Bool = true) {
            self.table = table
            self.exists = exists
            self.select = select
            self.schemaUsage = schemaUsage
        }
    }

    /// Every configured table must exist and be readable by the role (pgoutput sends only tables
    /// the publication covers; the re-warmer and the readers query them).
    public static func tableAccess(role: String, _ tables: [TableAccess]) -> [DeploymentFinding] {
        var findings: [DeploymentFinding] = []
        let schemas = Array(Set(tables.filter { !$0.schemaUsage }.map { "\"" + $0.table.schema.replacingOccurrences(of: "\"", with: "\"\"") + "\"" })).sorted()
        if !schemas.isEmpty {
            findings.append(DeploymentFinding(.fail, "writer", "role \(role) lacks USAGE on schema \(schemas.joined(separator: ", ")): GRANT USAGE ON SCHEMA \(schemas.joined(separator: ", ")) TO \(role)"))
        }
        let tables = tables.filter(\.schemaUsage)
        let missing = tables.filter { !$0.exists }.map(\.table.description)
        let unreadable = tables.filter { $0.exists && !$0.select }.map(\.table.sql)
        if !missing.isEmpty {
            findings.append(DeploymentFinding(.fail, "writer", "configured tables do not exist: \(missing.joined(separator: ", "))"))
        }
        if !unreadable.isEmpty {
            findings.append(DeploymentFinding(.fail, "writer", "role \(role) lacks SELECT: GRANT SELECT ON \(unreadable.joined(separator: ", ")) TO \(role)"))
        }
        if findings.isEmpty && !tables.isEmpty {
            findings.append(DeploymentFinding(.ok, "writer", "role \(role) has SELECT on the \(tables.count) configured tables"))
        }
        return findings
    }

    /// True for `localhost`, 127.0.0.0/8, `::1` and a Unix socket (nil or a path).
    public static func isLoopback(_ host: String?) -> Bool {
        guard var host, !host.isEmpty, !host.hasPrefix("/") else { return true }
        if let slash = host.firstIndex(of: "/") { host = String(host[..<slash]) }
        host = host.trimmingCharacters(in: CharacterSet(charactersIn: "[]"))
        return host == "localhost" || host == "::1" || host.hasPrefix("127.")
    }

    /// A Postgres session to a server off this host must use TLS; without certificate
    /// verification (`sslmode=verify-full`) it is only a warning. `serverAddress` is
    /// `inet_server_addr()` (nil over a Unix socket).
    public static func postgresTransport(_ subject: String, serverAddress: String?, ssl: Bool, verified: Bool) -> DeploymentFinding {
        if isLoopback(serverAddress) {
            return DeploymentFinding(.ok, subject, "loopback connection\(ssl ? " over TLS" : ""): TLS not required")
        }
        if !ssl {
            return DeploymentFinding(.fail, subject, "connection to \(serverAddress ?? "?") is not encrypted: add sslmode=verify-full&sslrootcert=<CA bundle> to the URL")
        }
        if !verified {
            return DeploymentFinding(.warn, subject, "TLS in use but the server certificate is not verified: add sslmode=verify-full&sslrootcert=<CA bundle> to the URL")
        }
        return DeploymentFinding(.ok, subject, "TLS in use, server certificate verified")
    }

    /// A Redis connection to a server off this host must use TLS (`rediss://`).
    public static func redisTransport(host: String, tls: Bool, insecure: Bool) -> DeploymentFinding {
        if isLoopback(host) {
            return DeploymentFinding(.ok, "redis", "loopback connection\(tls ? " over TLS" : ""): TLS not required")
        }
        if !tls {
            return DeploymentFinding(.fail, "redis", "connection to \(host) is not encrypted: use rediss:// (ElastiCache: in-transit encryption on)")
        }
        if insecure {
            return DeploymentFinding(.warn, "redis", "TLS in use but insecure=true skips certificate verification: drop it (or give ca=<file>)")
        }
        return DeploymentFinding(.ok, "redis", "TLS in use, server certificate verified")
    }

    /// Redis Cluster (`cluster_enabled:1`): the scripts touch several keys of one namespace, so
    /// the namespace needs a hash tag (`{cw}`) to keep them in one slot; and the worker's client
    /// does not follow `MOVED`/`ASK` redirections, so every key must live on the node the URL names.
    public static func clusterMode(enabled: Bool, namespace: String) -> DeploymentFinding? {
        guard enabled else { return nil }
        let tagged = namespace.range(of: #"\{[^}]+\}"#, options: .regularExpression) != nil
        if !tagged {
            return DeploymentFinding(.fail, "redis", "cluster mode is on but namespace '\(namespace)' has no hash tag: the scripts' keys would span slots (CROSSSLOT); use a namespace like {\(namespace)}")
        }
        return DeploymentFinding(.warn, "redis", "cluster mode is on: the client does not follow MOVED/ASK, so REDIS_URL must name the node that owns the namespace's slot (one shard)")
    }

    /// The epoch and checkpoint keys carry no TTL and must never be evicted: `allkeys-*` may
    /// evict them and is refused; `noeviction` makes the worker's writes fail when memory is full
    /// (it retries while WAL accumulates); the `volatile-*` policies evict only entries with TTLs.
    public static func evictionPolicy(_ policy: String) -> DeploymentFinding {
        if policy.hasPrefix("allkeys-") {
            return DeploymentFinding(.fail, "redis", "maxmemory-policy is \(policy), which can evict the epoch and checkpoint (no TTL): set volatile-lru (ElastiCache: in the parameter group)")
        }
        if policy == "noeviction" {
            return DeploymentFinding(.warn, "redis", "maxmemory-policy is noeviction: when Redis is full the worker's writes fail and WAL accumulates until memory frees; volatile-lru evicts only entries with TTLs")
        }
        if policy.hasPrefix("volatile-") {
            return DeploymentFinding(.ok, "redis", "maxmemory-policy=\(policy)")
        }
        return DeploymentFinding(.warn, "redis", "maxmemory-policy '\(policy)' is not one this check knows: volatile-lru is the one to use")
    }
}
