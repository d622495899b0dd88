import Foundation
import PostgresReplication
import RedisCache

/// What `cache-warmer check` asks each server: the writer, the reader and Redis report the
/// values `DeploymentRules` judges, and every rule's finding comes back, one line each. A server
/// that cannot be reached is one `fail` finding; nothing here throws.
public enum DeploymentCheck {
    /// The writer: reachable, `wal_level` (and `rds.logical_replication`),
    /// `max_slot_wal_keep_size`, the role's replication privilege and `SELECT` on `tables`, TLS.
    public static func writer(_ url: String, tables: [TableName], environment: [String: String] = ProcessInfo.processInfo.environment) -> [DeploymentFinding] {
        let target = ConnectionString(url)
        do {
            let connection = try PostgresConnection(target, settings: Setup.adminSettings)
            var findings = [DeploymentFinding(.ok, "writer", "\(target) server_version=\(connection.serverVersion)")]
            let settings = try connection.execute(
                "SELECT current_setting('wal_level'), current_setting('max_slot_wal_keep_size', true), current_setting('rds.logical_replication', true)")
            let row = settings.rows.first ?? []
            findings.append(DeploymentRules.walLevel(row.first.flatMap { $0 } ?? "?", rdsLogicalReplication: row.count > 2 ? row[2] : nil))
            findings.append(DeploymentRules.slotWALLimit(row.count > 1 ? row[1] : nil))
            let role = try connection.execute(
                """
                SELECT rolname, rolsuper, rolreplication,
                       (SELECT pg_has_role(current_user, oid, 'MEMBER') FROM pg_roles WHERE rolname = 'rds_replication')
                FROM pg_roles WHERE rolname = current_user
                """)
            let roleName = role.value("rolname") ?? "?"
            findings.append(
                DeploymentRules.replicationPrivilege(
                    role: roleName, superuser: role.value("rolsuper") == "t", replication: role.value("rolreplication") == "t",
                    rdsReplicationMember: role.rows.first?.last.flatMap { $0 }.map { $0 == "t" }))
            var access: [DeploymentRules.TableAccess] = []
            for table in tables {
                let schema = "'" + table.schema.replacingOccurrences(of: "'", with: "''") + "'"
                let usage = try connection.execute("SELECT coalesce(bool_or(has_schema_privilege(oid, 'USAGE')), true) FROM pg_namespace WHERE nspname = \(schema)")
                guard usage.scalar == "t" else {
                    access.append(.init(table: table, exists: false, select: false, schemaUsage: false))
                    continue
                }
                let literal = "'" + table.sql.replacingOccurrences(of: "'", with: "''") + "'"
                let result = try connection.execute(
                    "SELECT to_regclass(\(literal)) IS NOT NULL, coalesce(has_table_privilege(to_regclass(\(literal)), 'SELECT'), false)")
                access.append(.init(table: table, exists: result.rows.first?[0] == "t", select: result.rows.first?[1] == "t"))
            }
            findings += DeploymentRules.tableAccess(role: roleName, access)
            findings.append(try transport("writer", connection, environment: environment))
            return findings
        } catch {
            return [DeploymentFinding(.fail, "writer", "\(error)")]
        }
    }

    /// The reader: reachable, a standby (a primary as reader is only a warning), TLS.
    public static func reader(_ url: String, environment: [String: String] = ProcessInfo.processInfo.environment) -> [DeploymentFinding] {
        let target = ConnectionString(url)
        do {
            let connection = try PostgresConnection(target, settings: Setup.adminSettings)
            let standby = try connection.execute("SELECT pg_is_in_recovery()").scalar == "t"
            return [
                standby
                    ? DeploymentFinding(.ok, "reader", "\(target) standby (read-only)")
                    : DeploymentFinding(.warn, "reader", "\(target) is NOT a standby: reads go to a primary (give a replica's or the reader endpoint's URL)"),
                try transport("reader", connection, environment: environment),
            ]
        } catch {
            return [DeploymentFinding(.fail, "reader", "\(error)")]
        }
    }

    /// Redis: reachable (`PING`), `maxmemory-policy` (from `INFO memory`, which ElastiCache
    /// allows where it refuses `CONFIG`), cluster mode against `namespace`, TLS.
    public static func redis(_ text: String, namespace: String = "cw") -> [DeploymentFinding] {
        do {
            let url = try RedisURL(text)
            let connection = try RedisConnection(url: url)
            let reply = try connection.command(["PING"])
            guard reply.text == "PONG" else { return [DeploymentFinding(.fail, "redis", "\(url): PING answered \(reply)")] }
            var findings = [DeploymentFinding(.ok, "redis", "\(url) PONG")]
            let info = try connection.command(["INFO", "memory"])
            if let policy = info.text.flatMap(infoField("maxmemory_policy")) {
                findings.append(DeploymentRules.evictionPolicy(policy))
            } else {
                findings.append(DeploymentFinding(.warn, "redis", "INFO memory did not report maxmemory_policy (\(info)): check that it is volatile-lru"))
            }
            let cluster = try connection.command(["INFO", "cluster"]).text.flatMap(infoField("cluster_enabled"))
            if let finding = DeploymentRules.clusterMode(enabled: cluster == "1", namespace: namespace) { findings.append(finding) }
            findings.append(DeploymentRules.redisTransport(host: url.host, tls: url.tls, insecure: url.insecure))
            return findings
        } catch {
            return [DeploymentFinding(.fail, "redis", "\(error)")]
        }
    }

    /// The value of `name` in an `INFO` reply (`name:value` lines).
    static func infoField(_ name: String) -> (String) -> String? {
        { text in
            text.split(whereSeparator: \.isNewline).lazy
                .compactMap { line -> String? in line.hasPrefix(name + ":") ? String(line.dropFirst(name.count + 1)) : nil }
                .first.map { $0.trimmingCharacters(in: .whitespaces) }
        }
    }

    /// TLS as the server sees this session (`pg_stat_ssl`), judged by the server's address.
    static func transport(_ subject: String, _ connection: PostgresConnection, environment: [String: String]) throws -> DeploymentFinding {
        let result = try connection.execute("SELECT host(inet_server_addr()), coalesce((SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()), false)")
        let row = result.rows.first ?? [nil, nil]
        let sslMode = connection.target.rawValue.range(of: #"sslmode=([a-z-]+)"#, options: .regularExpression)
            .map { String(connection.target.rawValue[$0].dropFirst("sslmode=".count)) } ?? environment["PGSSLMODE"] ?? "prefer"
        return DeploymentRules.postgresTransport(subject, serverAddress: row[0], ssl: row[1] == "t", verified: sslMode == "verify-full" || sslMode == "verify-ca")
    }
}
