import CacheContract
import PGOutput
import PostgresNIO
import RedisCache

/// One read target resolved from the configuration: the Redis entry and the fences covering it,
/// the data query, and how to fill (row or derived value, TTL, hot set).
struct Lookup: Sendable {
    /// Entity or query name with the key or parameters, for messages.
    var context: String
    /// The entry key, as the caller spelled the key or parameters.
    var entry: String
    /// The fences the `read` call passes (and the fill, unless ``canonicalFences`` replaces them).
    var fences: [FenceKey]
    /// Script calls with the entry's TTL.
    var commands: CacheCommands
    /// The data query: one row with one text column (or no row when the entity row does not exist).
    var query: PostgresQuery
    /// True for a derived entry (`value` field), false for a row (`row` field).
    var isDerived: Bool
    /// The query name and parameters for `record-read` (derived entries only).
    var hot: (query: CacheName, parameters: CanonicalParameters)?
    /// Rows: the entity and its key columns, to name the entry from the row read (never from the
    /// caller's spelling: docs/cache-protocol.md section 2, readers).
    var rowKey: (entity: EntityName, columns: [String])?
    /// Derived entries with parameter fences: a statement run after the data in the fill's
    /// transaction that returns the matched parameters as the columns' types print them (a JSON
    /// array, one element per ``canonicalFences`` parameter, null when a column's collation is
    /// nondeterministic: no fence can then be named).
    var parameterQuery: PostgresQuery?
    /// The query fence and, for each matched parameter, (query, parameter) for its fence.
    var canonicalFences: (query: CacheName, parameters: [CacheName])?

    /// The `read` call.
    var readCall: RedisScriptCall { commands.read(entry, fences: fences) }

    /// The entry a row `payload` (its canonical JSON) belongs to, named from its own key column
    /// values exactly as the worker names it; nil when a key column is missing or null.
    func rowEntry(_ payload: String) -> String? {
        guard let rowKey, case .object(let object)? = try? CanonicalJSON.parse(payload) else { return nil }
        var parts: [KeyPart] = []
        for column in rowKey.columns {
            guard let value = object[column], value != .null else { return nil }
            parts.append(KeyPart(value))
        }
        return try? commands.keys.row(rowKey.entity, key: parts)
    }

    /// The fences of the parameters as the database read them (``parameterQuery``'s answer):
    /// nil when a parameter has no fence the worker would move (nondeterministic collation).
    func fences(canonical answer: String) -> [FenceKey]? {
        guard let canonicalFences, case .array(let values)? = try? CanonicalJSON.parse(answer),
            values.count == canonicalFences.parameters.count
        else { return nil }
        var fences = [commands.keys.queryFence(canonicalFences.query)]
        for (parameter, value) in zip(canonicalFences.parameters, values) {
            guard case .object(let wrapped) = value, wrapped["deterministic"] == .bool(true), let part = wrapped["value"] else { return nil }
            fences.append(commands.keys.parameterFence(canonicalFences.query, parameter, KeyPart(part)))
        }
        return fences
    }

    /// The fill call for `payload` read at `lsn` in `epoch`, under `entry` with `fences`, refused
    /// below `minimum` (the worker's checkpoint read with the miss).
    func fillCall(_ payload: String, lsn: LSN, epoch: Int64, entry: String, fences: [FenceKey], minimum: LSN?) -> RedisScriptCall {
        isDerived
            ? commands.fillDerived(entry, value: payload, lsn: lsn, epoch: epoch, fences: fences, minimum: minimum)
            : commands.fillRow(entry, row: payload, lsn: lsn, epoch: epoch, minimum: minimum)
    }
}
