/// Teaches ``PostgresTypes`` the database's own types from its catalog: enums, ranges, domains
/// (as their base type, like `to_jsonb`) and arrays of those. Composite types and extension
/// types with a cast to `json` (e.g. `hstore`) stay unknown: `to_jsonb` turns those into
/// objects, which their text form cannot reproduce.
public enum PostgresTypeCatalog {
    /// The query whose rows ``register(rows:into:)`` reads (run it on the same database, simple
    /// protocol, every column as text).
    public static let query = """
        SELECT t.oid::text, t.typtype::text, t.typbasetype::text, t.typelem::text, t.typlen::text,
               coalesce(e.typdelim::text, ','),
               EXISTS (SELECT 1 FROM pg_cast c WHERE c.castsource = t.oid
                       AND c.casttarget = 'json'::regtype AND c.castmethod = 'f')::text
          FROM pg_type t LEFT JOIN pg_type e ON e.oid = t.typelem
         WHERE t.oid >= 16384 AND t.typtype IN ('b', 'd', 'e', 'r', 'm')
        """

    private struct Row {
        var type: String
        var baseType: UInt32
        var element: UInt32
        var length: Int
        var delimiter: UInt8
        var castsToJSON: Bool
    }

    /// Registers every type of `rows` (the result of ``query``) whose JSON form is known;
    /// returns how many were registered.
    @discardableResult
    public static func register(rows: [[String?]], into types: inout PostgresTypes) throws(CacheContractError) -> Int {
        var catalog: [UInt32: Row] = [:]
        for row in rows {
            guard row.count == 7, let oid = row[0].flatMap({ UInt32($0) }), let type = row[1],
                let baseType = row[2].flatMap({ UInt32($0) }), let element = row[3].flatMap({ UInt32($0) }),
                let length = row[4].flatMap({ Int($0) }), let delimiter = row[5]?.utf8.first, let casts = row[6]
            else {
                throw CacheContractError(code: .invalidCatalogRow, context: "\(row)", message: "expected the 7 text columns of PostgresTypeCatalog.query")
            }
            catalog[oid] = Row(type: type, baseType: baseType, element: element, length: length, delimiter: delimiter, castsToJSON: casts == "true")
        }
        var registered = 0
        for oid in catalog.keys {
            if let kind = resolve(oid, catalog: catalog, known: types, depth: 0) {
                types.register(oid, as: kind)
                registered += 1
            }
        }
        return registered
    }

    private static func resolve(_ oid: UInt32, catalog: [UInt32: Row], known: PostgresTypes, depth: Int) -> PostgresTypeKind? {
        if let kind = known.kind(of: oid) { return kind }
        guard depth < 16, let row = catalog[oid] else { return nil }
        switch row.type {
        case "e":
            return .string
        case "r", "m":
            return row.castsToJSON ? nil : .string
        case "d":
            return resolve(row.baseType, catalog: catalog, known: known, depth: depth + 1)
        case "b" where row.element != 0 && row.length == -1:
            return resolve(row.element, catalog: catalog, known: known, depth: depth + 1)
                .map { .array(element: $0, delimiter: row.delimiter) }
        case "b":
            return row.castsToJSON ? nil : .string
        default:
            return nil
        }
    }
}
