/// The SQL that `cache-warmer setup --print-grants` prints: a worker role and a reader role with
/// only the privileges they need, and the publication created by the tables' owner.
///
/// What each needs (PostgreSQL 15 documentation, sections 31.9 "Security" and 9.27 "System
/// Administration Functions"):
/// - the worker streams the slot and creates or drops it: the `REPLICATION` attribute (on Amazon
///   RDS/Aurora the `rds_replication` role). `pg_replication_slots`, `pg_current_wal_lsn()`,
///   `pg_locks` and the catalogs it checks are readable by every role. It reads the cached
///   tables for re-warming, so it gets `SELECT` on them.
/// - `CREATE PUBLICATION ... FOR TABLE` and `ALTER PUBLICATION ... ADD TABLE` need ownership of
///   the tables, so the tables' owner creates the publication once; `setup` run as the worker
///   then finds it complete and only creates the slot.
/// - the readers fill the cache from replicas or the writer: `SELECT` on the tables, nothing more
///   (roles and grants reach the replicas through physical replication).
public struct Grants: Sendable, Hashable {
    /// The worker's role name.
    public var workerRole: String
    /// The readers' role name.
    public var readerRole: String
    /// Amazon RDS/Aurora: `GRANT rds_replication` instead of the `REPLICATION` attribute.
    public var rds: Bool

    /// Grants for `workerRole` and `readerRole`.
    public init(workerRole: String = "cw_worker", readerRole: String = "cw_reader", rds: Bool = false) {
        self.workerRole = workerRole
        self.readerRole = readerRole
        self.rds = rds
    }

    /// The SQL script for `configuration`'s tables and publication, run as a superuser (on RDS,
    /// the master user) and the tables' owner on the writer.
    public func sql(for configuration: WorkerConfiguration) -> String {
        let worker = Self.identifier(workerRole)
        let reader = Self.identifier(readerRole)
        let tables = configuration.tables.map(\.sql).joined(separator: ", ")
        let schemas = Array(Set(configuration.tables.map(\.schema))).sorted().map(Self.identifier).joined(separator: ", ")
        let publication = Self.identifier(configuration.publication)
        var lines = [
            "-- cache-warmer: least-privilege roles for publication \(configuration.publication) and slot \(configuration.slot).",
            "-- Run on the writer as a superuser (Amazon RDS/Aurora: the master user); replicas receive roles",
            "-- and grants through replication. Set passwords afterwards with psql's \\password, not in a file.",
            "",
            "-- The worker: streams the slot and creates or drops it; reads the cached tables to re-warm.",
        ]
        if rds {
            lines += ["CREATE ROLE \(worker) LOGIN;", "GRANT rds_replication TO \(worker);"]
        } else {
            lines += ["CREATE ROLE \(worker) LOGIN REPLICATION;"]
        }
        lines += [
            "GRANT USAGE ON SCHEMA \(schemas) TO \(worker);",
            "GRANT SELECT ON TABLE \(tables) TO \(worker);",
            "",
            "-- The publication: creating or extending it needs ownership of the tables, so their owner",
            "-- runs this once (if it exists: ALTER PUBLICATION \(publication) ADD TABLE ...);",
            "-- `cache-warmer setup` as \(workerRole) then only checks it and creates the slot.",
            "CREATE PUBLICATION \(publication) FOR TABLE \(tables);",
            "",
            "-- The readers (CacheReads fills and reads): read-only.",
            "CREATE ROLE \(reader) LOGIN;",
            "ALTER ROLE \(reader) SET default_transaction_read_only = on;",
            "GRANT USAGE ON SCHEMA \(schemas) TO \(reader);",
            "GRANT SELECT ON TABLE \(tables) TO \(reader);",
        ]
        return lines.joined(separator: "\n") + "\n"
    }

    /// A quoted SQL identifier.
    static func identifier(_ text: String) -> String {
        "\"" + text.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }
}
