import CacheContract
import PGOutput
import RedisCache

/// The parameter sets of a cached query that resync warms and verify checks: the rows of its
/// `warm.sql` (read on the bulk source; columns named like the parameters) and the `hot` sets
/// the readers sampled (`<ns>:hot:<query>`, most read first), without repeats.
enum QueryParameterSets {
    /// Reads the sets; `hot` caps the sampled ones (0: none). Throws ``WorkerError`` for a
    /// `warm.sql` row that is not a parameter object.
    static func load(_ query: QueryConfiguration, hot: Int, context: BulkContext, redis: RedisClient) async throws -> [CanonicalParameters] {
        var sets: [CanonicalParameters] = []
        var seen: Set<String> = []
        if let sql = query.warmSQL {
            let reader = context.reader()
            let rows = try await offPool {
                try reader.open().execute("SELECT to_jsonb(w)::text FROM (\(sql)) w").rows
            }
            for row in rows {
                guard let text = row.first ?? nil else { continue }
                let parameters: CanonicalParameters
                do {
                    parameters = try CanonicalParameters(json: text)
                } catch {
                    throw WorkerError(code: .invalidConfiguration, message: "queries.\(query.name).warm.sql: a row is not a parameter object: \(error)")
                }
                let columns = parameters.object.members.map(\.key)
                if Set(columns) != Set(query.parameters) {
                    let missing = query.parameters.filter { !columns.contains($0) }
                    let extra = columns.filter { !query.parameters.contains($0) }
                    throw WorkerError(
                        code: .invalidConfiguration,
                        message: "queries.\(query.name).warm.sql: yields columns (\(columns.joined(separator: ", "))); params are \(query.parameters.joined(separator: ", "))"
                            + (missing.isEmpty ? "" : ": missing \(missing.joined(separator: ", "))") + (extra.isEmpty ? "" : ": not a param: \(extra.joined(separator: ", "))"))
                }
                if seen.insert(parameters.json).inserted { sets.append(parameters) }
            }
        }
        if hot > 0, let name = try? CacheName(query.name) {
            let commands = CacheCommands(keys: context.keys)
            let reply = try await redis.pipeline([commands.hottest(name, limit: hot)])
            for entry in try HotEntries(reply: reply[0]).entries where seen.insert(entry.parameters.json).inserted {
                sets.append(entry.parameters)
            }
        }
        return sets
    }

    /// A set as the read library takes it.
    static func values(_ parameters: CanonicalParameters) -> [String: JSONValue] {
        Dictionary(parameters.object.members.map { ($0.key, $0.value) }, uniquingKeysWith: { $1 })
    }
}
