import CacheContract
import PGOutput
import RedisCache
import PostgresNIO

/// One read target resolved from the configuration: the Redis entry and the fences covering it,
/// the data query, and how to fill (row or derived value, TTL, hot set).
struct Lookup: Sendable {
    /// Entity or query name with the key or parameters, for messages.
    var context: String
    /// The entry key.
    var entry: String
    /// The fences the `read` and `fill-if-not-stale` calls pass.
    var fences: [FenceKey]
    /// Script calls with the entry's TTL.
    var commands: CacheCommands
    /// The data query: one row with one text column (or no row when the entity row does not exist).
    var query: PostgresQuery
    /// True for a derived entry (`value` field), false for a row (`row` field).
    var isDerived: Bool
    /// The query name and parameters for `record-read` (derived entries only).
    var hot: (query: CacheName, parameters: CanonicalParameters)?

    /// The `read` call.
    var readCall: RedisScriptCall { commands.read(entry, fences: fences) }

    /// The fill call for `payload` read at `lsn` in `epoch`.
    func fillCall(_ payload: String, lsn: LSN, epoch: Int64) -> RedisScriptCall {
        isDerived
            ? commands.fillDerived(entry, value: payload, lsn: lsn, epoch: epoch, fences: fences)
            : commands.fillRow(entry, row: payload, lsn: lsn, epoch: epoch)
    }
}
