import CacheContract
import CacheWarmer
import PostgresNIO

/// A configured query ready for reads: the SQL with `$name` placeholders rewritten to `$1...`,
/// wrapped so the database returns the whole result as one canonical JSON array
/// (`jsonb_agg(to_jsonb(row))`, `[]` when empty), and the fences covering each result: the
/// query fence plus one parameter fence per `depends_on.match` rule.
struct QueryPlan: Sendable {
    var name: CacheName
    var parameters: [String]
    /// For each `$n`, the parameter it binds.
    var order: [String]
    var sql: String
    var matchedParameters: [CacheName]
    /// For each matched parameter, the expression giving its value as its column's type prints
    /// it (`{"value": ..., "deterministic": ...}`), bound to `$n` = its position (1-based).
    var canonicalExpressions: [String]
    var commands: CacheCommands

    init(_ query: QueryConfiguration, keys: CacheKeys, ttl: CacheTTL) throws(CacheReadsError) {
        do {
            name = try CacheName(query.name)
            var matched: [CacheName] = []
            var expressions: [String] = []
            for rule in query.dependsOn {
                if let match = rule.match {
                    let parameter = try CacheName(match.parameter)
                    if !matched.contains(parameter) {
                        matched.append(parameter)
                        expressions.append(Self.canonicalExpression(table: rule.table.sql, column: match.column, bind: matched.count))
                    }
                }
            }
            matchedParameters = matched
            canonicalExpressions = expressions
        } catch {
            throw CacheReadsError(code: .configuration, context: query.name, message: error.description)
        }
        parameters = query.parameters
        let (rewritten, order) = Self.rewrite(query.sql, parameters: query.parameters)
        self.order = order
        var body = Substring(rewritten)
        while let last = body.last, last == ";" || last.isWhitespace { body.removeLast() }
        sql = "SELECT coalesce(jsonb_agg(to_jsonb(q)), '[]'::jsonb)::text FROM (\(body)) q"
        var ttl = ttl
        if let seconds = query.ttl { ttl.entry = .milliseconds(Int64(seconds * 1000)) }
        commands = CacheCommands(keys: keys, ttl: ttl)
    }

    /// The lookup of the result for `values` (every configured parameter, no others).
    func lookup(_ values: [String: JSONValue]) throws(CacheReadsError) -> Lookup {
        let canonical = CanonicalParameters(values)
        let context = "\(name) \(canonical.json)"
        let missing = parameters.filter { values[$0] == nil }
        let unknown = values.keys.filter { !parameters.contains($0) }.sorted()
        guard missing.isEmpty, unknown.isEmpty else {
            throw CacheReadsError(
                code: .invalidArguments, context: context,
                message: "query '\(name)' takes \(parameters.joined(separator: ", "))"
                    + (missing.isEmpty ? "" : "; missing \(missing.joined(separator: ", "))")
                    + (unknown.isEmpty ? "" : "; unknown \(unknown.joined(separator: ", "))"))
        }
        var binds = PostgresBindings(capacity: order.count)
        for parameter in order {
            guard let value = values[parameter] else { continue }
            if let text = Self.text(value) {
                do {
                    try binds.append(UntypedText(text: text))
                } catch {
                    throw CacheReadsError(code: .invalidArguments, context: context, message: "cannot bind \(parameter): \(error)")
                }
            } else {
                binds.appendNull()
            }
        }
        var fences = [commands.keys.queryFence(name)]
        var parameterBinds = PostgresBindings(capacity: matchedParameters.count)
        for parameter in matchedParameters {
            if let value = values[parameter.rawValue] {
                fences.append(commands.keys.parameterFence(name, parameter, KeyPart(value)))
            }
            if let text = values[parameter.rawValue].flatMap(Self.text) {
                do {
                    try parameterBinds.append(UntypedText(text: text))
                } catch {
                    throw CacheReadsError(code: .invalidArguments, context: context, message: "cannot bind \(parameter): \(error)")
                }
            } else {
                parameterBinds.appendNull()
            }
        }
        let parameterQuery = canonicalExpressions.isEmpty
            ? nil
            : PostgresQuery(unsafeSQL: "SELECT jsonb_build_array(\(canonicalExpressions.joined(separator: ", ")))::text", binds: parameterBinds)
        return Lookup(
            context: context, entry: commands.keys.derived(name, canonical), fences: fences, commands: commands,
            query: PostgresQuery(unsafeSQL: sql, binds: binds), isDerived: true, hot: (name, canonical),
            rowKey: nil, parameterQuery: parameterQuery, canonicalFences: canonicalExpressions.isEmpty ? nil : (name, matchedParameters))
    }

    /// The parameter bound to `$bind` read as `column` of `table` reads it (the type's input and
    /// output functions: `042` -> `42`, an upper-case uuid -> lower case) and printed by
    /// `to_jsonb`, as the worker prints the column's values, with whether the column's collation
    /// is deterministic (under a nondeterministic one, equal values print differently).
    static func canonicalExpression(table: String, column: String, bind: Int) -> String {
        let key = "'" + column.replacingOccurrences(of: "'", with: "''") + "'"
        let tableLiteral = "'" + table.replacingOccurrences(of: "'", with: "''") + "'"
        return "jsonb_build_object('value', to_jsonb((jsonb_populate_record(NULL::\(table), jsonb_build_object(\(key), $\(bind)::text))).\(EntityPlan.quote(column))), "
            + "'deterministic', coalesce((SELECT c.collisdeterministic FROM pg_attribute a JOIN pg_collation c ON c.oid = a.attcollation "
            + "WHERE a.attrelid = \(tableLiteral)::regclass AND a.attname = \(key)), true))"
    }

    /// A parameter's text for binding; nil for JSON null (SQL NULL).
    static func text(_ value: JSONValue) -> String? {
        switch value {
        case .null: nil
        case .string(let string): string
        case .number(let number): number.text
        case .bool(let flag): flag ? "true" : "false"
        case .array, .object: CanonicalJSON.render(value)
        }
    }

    /// Replaces each `$name` of a configured parameter (the longest identifier after `$`) by
    /// `$n`, numbering distinct parameters in order of first use; other `$...` text is kept.
    static func rewrite(_ sql: String, parameters: [String]) -> (String, [String]) {
        var output = ""
        var order: [String] = []
        var characters = Substring(sql)
        while let character = characters.popFirst() {
            guard character == "$" else {
                output.append(character)
                continue
            }
            let identifier = characters.prefix(while: { $0.isLetter || $0.isNumber || $0 == "_" })
            if !identifier.isEmpty, parameters.contains(String(identifier)) {
                let name = String(identifier)
                if !order.contains(name) { order.append(name) }
                output += "$\((order.firstIndex(of: name) ?? 0) + 1)"
                characters = characters.dropFirst(identifier.count)
            } else {
                output.append(character)
            }
        }
        return (output, order)
    }
}
