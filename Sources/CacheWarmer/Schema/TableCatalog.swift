import Foundation
import PostgresReplication

/// Reads what ``TableRequirements`` checks from the writer's catalog, in one query per call
/// (`pg_class`, `pg_index`, `pg_attribute`, `pg_publication`, `pg_publication_tables`).
enum TableCatalog {
    /// The publication's settings and the configured tables that exist, by name.
    static func read(
        _ connection: PostgresConnection, _ requirements: TableRequirements
    ) throws -> (publication: TableRequirements.PublicationState, tables: [TableName: TableRequirements.TableState]) {
        let pub = PostgresConnection.literal(requirements.publication)
        var publication = TableRequirements.PublicationState(exists: false)
        let settings = try connection.execute(
            "SELECT pubinsert, pubupdate, pubdelete, pubtruncate, pubviaroot, pg_has_role(current_user, pubowner, 'MEMBER') FROM pg_publication WHERE pubname = \(pub)")
        if let row = settings.rows.first {
            let flags = row.map { $0 == "t" }
            publication = .init(exists: true, insert: flags[0], update: flags[1], delete: flags[2], truncate: flags[3], viaRoot: flags[4], owned: flags[5])
        }
        guard !requirements.wanted.isEmpty else { return (publication, [:]) }
        let wanted = requirements.wanted.enumerated().map { "(\($0.offset), \(PostgresConnection.literal($0.element.table.sql)))" }
        let result = try connection.execute(
            """
            WITH wanted(ord, name) AS (VALUES \(wanted.joined(separator: ", "))),
            found AS (SELECT w.ord, c.* FROM wanted w JOIN pg_class c ON c.oid = to_regclass(w.name))
            SELECT f.ord, json_build_object(
              'oid', f.oid::bigint, 'schema', n.nspname, 'name', f.relname, 'kind', f.relkind, 'identity', f.relreplident,
              'columns', (SELECT coalesce(json_agg(a.attname ORDER BY a.attnum), '[]') FROM pg_attribute a
                          WHERE a.attrelid = f.oid AND a.attnum > 0 AND NOT a.attisdropped AND a.attgenerated = ''),
              'generated', (SELECT coalesce(json_agg(a.attname ORDER BY a.attnum), '[]') FROM pg_attribute a
                            WHERE a.attrelid = f.oid AND a.attnum > 0 AND NOT a.attisdropped AND a.attgenerated <> ''),
              'identity_columns', (SELECT coalesce(json_agg(a.attname ORDER BY a.attnum), '[]') FROM pg_attribute a
                   WHERE a.attrelid = f.oid AND a.attnum > 0 AND NOT a.attisdropped AND (
                     (f.relreplident = 'f' AND a.attgenerated = '')
                     OR (f.relreplident IN ('d', 'i') AND a.attnum = ANY (coalesce((SELECT i.indkey::int2[] FROM pg_index i WHERE i.indrelid = f.oid
                         AND CASE f.relreplident WHEN 'd' THEN i.indisprimary AND i.indimmediate ELSE i.indisreplident END LIMIT 1), '{}'::int2[]))))),
              'candidates', (SELECT coalesce(json_agg(json_build_object('name', ic.relname, 'columns',
                               (SELECT json_agg(a.attname) FROM pg_attribute a WHERE a.attrelid = f.oid AND a.attnum = ANY (i.indkey::int2[])))), '[]')
                             FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid
                             WHERE i.indrelid = f.oid AND i.indisunique AND i.indimmediate AND i.indpred IS NULL AND i.indexprs IS NULL
                               AND NOT EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = f.oid AND a.attnum = ANY (i.indkey::int2[]) AND NOT a.attnotnull)),
              'published', EXISTS (SELECT 1 FROM pg_publication p WHERE p.pubname = \(pub) AND (p.puballtables
                               OR EXISTS (SELECT 1 FROM pg_publication_rel r WHERE r.prpubid = p.oid AND r.prrelid = f.oid)
                               OR EXISTS (SELECT 1 FROM pg_publication_namespace s WHERE s.pnpubid = p.oid AND s.pnnspid = f.relnamespace))),
              'published_columns', (SELECT to_json(pt.attnames) FROM pg_publication_tables pt
                                    WHERE pt.pubname = \(pub) AND pt.schemaname = n.nspname AND pt.tablename = f.relname LIMIT 1),
              'row_filter', (SELECT pt.rowfilter FROM pg_publication_tables pt
                             WHERE pt.pubname = \(pub) AND pt.schemaname = n.nspname AND pt.tablename = f.relname LIMIT 1)
            )::text
            FROM found f JOIN pg_namespace n ON n.oid = f.relnamespace
            """)
        var tables: [TableName: TableRequirements.TableState] = [:]
        for row in result.rows {
            guard let ordinal = row[0].flatMap({ Int($0) }), requirements.wanted.indices.contains(ordinal), let json = row[1],
                let object = try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any]
            else {
                throw WorkerError(code: .contractViolation, message: "\(connection.target): the catalog query answered \(row)")
            }
            let candidates = (object["candidates"] as? [[String: Any]] ?? []).map {
                (name: $0["name"] as? String ?? "", columns: $0["columns"] as? [String] ?? [])
            }
            tables[requirements.wanted[ordinal].table] = TableRequirements.TableState(
                oid: (object["oid"] as? NSNumber)?.uint32Value ?? 0, schema: object["schema"] as? String ?? "",
                name: object["name"] as? String ?? "", kind: object["kind"] as? String ?? "",
                replicaIdentity: object["identity"] as? String ?? "", identityColumns: object["identity_columns"] as? [String] ?? [],
                columns: object["columns"] as? [String] ?? [], generatedColumns: object["generated"] as? [String] ?? [],
                candidateIndexes: candidates, published: object["published"] as? Bool ?? false,
                publishedColumns: object["published_columns"] as? [String], rowFilter: object["row_filter"] as? String)
        }
        return (publication, tables)
    }
}
