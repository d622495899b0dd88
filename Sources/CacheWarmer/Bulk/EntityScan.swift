import CacheContract
import PGOutput
import PostgresReplication

/// How a resync or verify reads one entity's rows: the SQL of a chunk in primary-key order with
/// keyset pagination (`WHERE (key) > (last key) ORDER BY key LIMIT n`, never OFFSET), and the
/// key rendering the worker uses for the same columns (their text form, through ``KeyPart``).
public struct EntityScan: Sendable {
    /// The entity.
    public let entity: EntityConfiguration
    /// Its validated name.
    public let name: EntityName
    /// The key columns' type OIDs and SQL type names (for literals), in key order.
    let keyTypes: [(oid: UInt32, sql: String)]
    /// The data types the worker renders with (built-in plus the database's enums and domains).
    let types: PostgresTypes
    /// The rows to read (the entity's `warm:` settings, with CLI overrides applied).
    public let warm: EntityWarm

    /// Reads the key columns' types from the catalog on `connection`.
    static func load(_ entity: EntityConfiguration, warm: EntityWarm, types: PostgresTypes, connection: PostgresConnection) throws -> EntityScan {
        let name = try EntityName(entity.name)
        var keyTypes: [(UInt32, String)] = []
        for column in entity.key {
            let result = try connection.execute("""
                SELECT atttypid::text, format_type(atttypid, atttypmod) FROM pg_attribute
                WHERE attrelid = \(literal(entity.table.sql))::regclass AND attname = \(literal(column)) AND NOT attisdropped
                """)
            guard let row = result.rows.first, let oid = row[0].flatMap({ UInt32($0) }), let sql = row[1] else {
                throw WorkerError(code: .invalidConfiguration, message: "entities.\(entity.name).key: \(entity.table) has no column \(column)")
            }
            keyTypes.append((oid, sql))
        }
        return EntityScan(entity: entity, name: name, keyTypes: keyTypes, types: types, warm: warm)
    }

    /// The rows considered: the table, or its first `limit` rows by `order_by` under `where`,
    /// the key breaking ties (and giving the order when there is no `order_by`): every chunk's
    /// statement evaluates this again, so it must select the same rows each time.
    var source: String {
        if let limit = warm.limit {
            let filter = warm.filter.map { " WHERE (\($0))" } ?? ""
            let order = (warm.orderBy.map { [$0] } ?? []) + [keyList]
            return "(SELECT t.* FROM \(entity.table.sql) t\(filter) ORDER BY \(order.joined(separator: ", ")) LIMIT \(limit))"
        }
        return entity.table.sql
    }

    /// `t."k1", t."k2"` (the key in key order).
    var keyList: String {
        entity.key.map { "t.\(Self.quote($0))" }.joined(separator: ", ")
    }

    /// The condition selecting rows after `last` (raw key texts), plus the `where` filter.
    func condition(after last: [String]?) -> String {
        var parts: [String] = []
        if warm.limit == nil, let filter = warm.filter { parts.append("(\(filter))") }
        if let last {
            let values = zip(last, keyTypes).map { text, type in "\(Self.literal(text))::\(type.sql)" }.joined(separator: ", ")
            parts.append(entity.key.count == 1 ? "\(keyList) > \(values)" : "(\(keyList)) > (\(values))")
        }
        return parts.isEmpty ? "" : " WHERE " + parts.joined(separator: " AND ")
    }

    /// The data statement of a chunk: row JSON then each key column as text.
    func chunkSelect(after last: [String]?, rows: Int) -> String {
        let keyTexts = entity.key.map { "t.\(Self.quote($0))::text" }.joined(separator: ", ")
        return "SELECT to_jsonb(t)::text, \(keyTexts) FROM \(source) t\(condition(after: last)) ORDER BY \(keyList) LIMIT \(rows)"
    }

    /// The keys of the chunk ``chunkSelect(after:rows:)`` reads, without rendering its rows
    /// (an empty first column, then the key columns as text).
    func chunkKeysSelect(after last: [String]?, rows: Int) -> String {
        let keyTexts = entity.key.map { "t.\(Self.quote($0))::text" }.joined(separator: ", ")
        return "SELECT '', \(keyTexts) FROM \(source) t\(condition(after: last)) ORDER BY \(keyList) LIMIT \(rows)"
    }

    /// The rows whose keys are among `keys` (raw key texts), as in ``chunkSelect``.
    func select(keys: [[String]]) -> String {
        let keyTexts = entity.key.map { "t.\(Self.quote($0))::text" }.joined(separator: ", ")
        return "SELECT to_jsonb(t)::text, \(keyTexts) FROM \(entity.table.sql) t WHERE \(keyMatch(keys))"
    }

    /// Which of `keys` exist: like ``select(keys:)`` with an empty first column instead of the row JSON.
    func existing(keys: [[String]]) -> String {
        let keyTexts = entity.key.map { "t.\(Self.quote($0))::text" }.joined(separator: ", ")
        return "SELECT '', \(keyTexts) FROM \(entity.table.sql) t WHERE \(keyMatch(keys))"
    }

    /// The condition "the row's key is one of `keys`": for a one-column key `= ANY` of one array
    /// literal (Postgres parses it far faster than thousands of casts), else `(k1, k2) IN (...)`.
    /// Array literal syntax: Postgres documentation, 8.15.2 Array Value Input.
    func keyMatch(_ keys: [[String]]) -> String {
        guard keys.count > 0 else { return "false" }
        if keyTypes.count == 1 {
            var array = "{"
            for (index, key) in keys.enumerated() {
                if index > 0 { array += "," }
                array += "\""
                for character in key[0].unicodeScalars {
                    if character == "\"" || character == "\\" { array += "\\" }
                    array.unicodeScalars.append(character)
                }
                array += "\""
            }
            array += "}"
            return "\(keyList) = ANY(\(Self.literal(array))::\(keyTypes[0].sql)[])"
        }
        let tuples = keys.map { key in
            "(" + zip(key, keyTypes).map { text, type in "\(Self.literal(text))::\(type.sql)" }.joined(separator: ", ") + ")"
        }.joined(separator: ", ")
        return "(\(keyList)) IN (\(tuples))"
    }

    /// A random sample of at most `rows` rows of the considered set.
    func sampleSelect(rows: Int) -> String {
        let keyTexts = entity.key.map { "t.\(Self.quote($0))::text" }.joined(separator: ", ")
        return "SELECT to_jsonb(t)::text, \(keyTexts) FROM \(source) t\(condition(after: nil)) ORDER BY random() LIMIT \(rows)"
    }

    /// The row entry key of a row whose key columns have the texts `keyTexts` (Postgres' text
    /// output under the worker's session settings), rendered exactly as the worker renders it
    /// from the WAL: ``KeyPart/init(column:types:)`` takes a text column's JSON value with
    /// `CanonicalJSON.value(text:kind:)` for its type OID's kind (unknown OIDs as strings), and
    /// so does this.
    public func entryKey(_ keyTexts: [String], keys: CacheKeys) throws(CacheContractError) -> String {
        if keyTexts.count == 1, keyTypes.count == 1 {
            return keys.row(name, try KeyPart(keyText: keyTexts[0], kind: types.kind(of: keyTypes[0].oid) ?? .string))
        }
        var parts: [KeyPart] = []
        parts.reserveCapacity(keyTexts.count)
        for (index, text) in keyTexts.enumerated() {
            parts.append(try KeyPart(keyText: text, kind: types.kind(of: keyTypes[index].oid) ?? .string))
        }
        return try keys.row(name, key: parts)
    }

    /// The estimated number of rows considered (`pg_class.reltuples`, capped by `limit`).
    func estimate(_ connection: PostgresConnection) -> Int? {
        guard let text = try? connection.execute("SELECT reltuples::bigint FROM pg_class WHERE oid = \(Self.literal(entity.table.sql))::regclass").scalar,
            let tuples = Int(text), tuples >= 0
        else { return nil }
        return warm.limit.map { min($0, tuples) } ?? tuples
    }

    static func literal(_ text: String) -> String {
        PostgresConnection.literal(text)
    }

    static func quote(_ identifier: String) -> String {
        PostgresConnection.identifier(identifier)
    }
}
