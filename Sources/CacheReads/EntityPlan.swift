import CacheContract
import CacheWarmer
import PostgresNIO

/// A configured entity ready for reads: its key name, row fence (`CacheKeys.entityFence`, moved
/// by TRUNCATE), key columns and the fill query
/// `SELECT to_jsonb(t)::text FROM <table> t WHERE <key> = $1 ...`.
struct EntityPlan: Sendable {
    var name: EntityName
    var keyColumns: [String]
    /// The table as SQL (`"schema"."name"`).
    var table: String
    var sql: String
    var commands: CacheCommands

    init(_ entity: EntityConfiguration, keys: CacheKeys, ttl: CacheTTL) throws(CacheReadsError) {
        do {
            name = try EntityName(entity.name)
        } catch {
            throw CacheReadsError(code: .configuration, context: entity.name, message: error.description)
        }
        keyColumns = entity.key
        table = entity.table.sql
        let conditions = entity.key.enumerated().map { index, column in "t.\(Self.quote(column)) = $\(index + 1)" }
        sql = "SELECT to_jsonb(t)::text FROM \(entity.table.sql) t WHERE \(conditions.joined(separator: " AND "))"
        var ttl = ttl
        if let seconds = entity.ttl { ttl.entry = .milliseconds(Int64(seconds * 1000)) }
        commands = CacheCommands(keys: keys, ttl: ttl)
    }

    /// The lookup of the row whose key columns have `key`'s values (in key order).
    func lookup(_ key: [KeyPart]) throws(CacheReadsError) -> Lookup {
        let context = "\(name):\(key.map(\.text).joined(separator: ":"))"
        guard key.count == keyColumns.count else {
            throw CacheReadsError(
                code: .invalidArguments, context: context,
                message: "entity '\(name)' has \(keyColumns.count) key column(s) (\(keyColumns.joined(separator: ", "))), got \(key.count) value(s)")
        }
        let entry: String
        do {
            entry = try commands.keys.row(name, key: key)
        } catch {
            throw CacheReadsError(code: .invalidArguments, context: context, message: error.description)
        }
        var binds = PostgresBindings(capacity: key.count)
        for part in key {
            do {
                try binds.append(UntypedText(text: part.text))
            } catch {
                throw CacheReadsError(code: .invalidArguments, context: context, message: "cannot bind \(part.text): \(error)")
            }
        }
        return Lookup(
            context: context, entry: entry, fences: [commands.keys.entityFence(name)], commands: commands,
            query: PostgresQuery(unsafeSQL: sql, binds: binds), isDerived: false, hot: nil, rowKey: (name, keyColumns))
    }

    static func quote(_ identifier: String) -> String {
        "\"" + identifier.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }
}
