import PGOutput

/// The canonical JSON of the cache: exactly what Postgres prints for `jsonb`. Rows are rendered
/// from pgoutput's text columns so that the worker's value equals `to_jsonb(row)::text`, which
/// is what a reader computes from the database.
public enum CanonicalJSON {
    /// Renders a row (pgoutput columns with their type OIDs) as `to_jsonb(row)::text` would.
    /// Throws ``CacheContractError/Code-swift.enum/unrenderableColumn`` for `u` (unchanged TOAST)
    /// and `b` (binary) columns, and other codes for text that does not fit its type; the caller
    /// then invalidates the entry instead of writing it.
    public static func row(_ columns: [NamedColumn], types: PostgresTypes = .builtin) throws(CacheContractError) -> CanonicalRow {
        var members: [JSONObject.Member] = []
        members.reserveCapacity(columns.count)
        var unverified: [String] = []
        for column in columns {
            let (value, verified) = try self.value(of: column, types: types)
            if !verified { unverified.append(column.name) }
            members.append(JSONObject.Member(key: column.name, value: value))
        }
        return CanonicalRow(json: render(.object(JSONObject(members: members))), unverifiedColumns: unverified)
    }

    /// One column's JSON value, and whether its type was known (unknown types become strings).
    public static func value(of column: NamedColumn, types: PostgresTypes = .builtin) throws(CacheContractError) -> (value: JSONValue, verified: Bool) {
        switch column.value {
        case .null:
            return (.null, true)
        case .unchangedToast:
            throw CacheContractError(code: .unrenderableColumn, context: column.name, message: "unchanged TOAST value (u) was not sent")
        case .binary:
            throw CacheContractError(code: .unrenderableColumn, context: column.name, message: "binary (b) column; the contract needs text columns")
        case .text(let buffer):
            let bytes = Array(buffer.readableBytesView)
            let kind = types.kind(of: column.typeOID)
            do {
                return (try value(text: bytes, kind: kind ?? .string), kind != nil)
            } catch {
                throw error.within(column.name)
            }
        }
    }

    /// The JSON value of a type's text output form.
    public static func value(text: [UInt8], kind: PostgresTypeKind) throws(CacheContractError) -> JSONValue {
        switch kind {
        case .bool:
            if text == [UInt8(ascii: "t")] { return .bool(true) }
            if text == [UInt8(ascii: "f")] { return .bool(false) }
            throw CacheContractError(code: .invalidTextForm, context: String(decoding: text, as: UTF8.self), message: "bool text is not t or f")
        case .number:
            // to_jsonb: output containing N or n (NaN, Infinity) is a string, the rest numeric.
            if text.contains(UInt8(ascii: "N")) || text.contains(UInt8(ascii: "n")) {
                return .string(try string(text))
            }
            return .number(JSONNumber(canonical: try JSONNumber.canonical(text)))
        case .date:
            return .string(try DateTimeText.date(text))
        case .timestamp:
            return .string(try DateTimeText.timestamp(text))
        case .timestamptz:
            return .string(try DateTimeText.timestamptz(text))
        case .json, .jsonb:
            return try JSONParser.parse(text)
        case .string:
            return .string(try string(text))
        case .array(let element, let delimiter):
            return .array(try arrayValues(PostgresArrayLiteral.parse(text, delimiter: delimiter), element: element))
        }
    }

    /// Prints `value` as Postgres prints `jsonb`.
    public static func render(_ value: JSONValue) -> String {
        var writer = JSONWriter()
        writer.write(value)
        return writer.text
    }

    /// Prints an object (e.g. query parameters) as Postgres prints `jsonb`.
    public static func object(_ members: [String: JSONValue]) -> String {
        render(.object(JSONObject(members)))
    }

    /// Parses JSON text with `jsonb` semantics (numbers normalized, duplicate keys last-wins).
    public static func parse(_ text: String) throws(CacheContractError) -> JSONValue {
        try JSONParser.parse(Array(text.utf8))
    }

    private static func arrayValues(_ nodes: [PostgresArrayLiteral.Node], element: PostgresTypeKind) throws(CacheContractError) -> [JSONValue] {
        var values: [JSONValue] = []
        values.reserveCapacity(nodes.count)
        for node in nodes {
            switch node {
            case .element(nil): values.append(.null)
            case .element(let text?): values.append(try value(text: text, kind: element))
            case .array(let children): values.append(.array(try arrayValues(children, element: element)))
            }
        }
        return values
    }

    private static func string(_ text: [UInt8]) throws(CacheContractError) -> String {
        guard let string = String(validating: text, as: UTF8.self) else {
            throw CacheContractError(code: .invalidTextForm, message: "text is not valid UTF-8 (server_encoding must be UTF8)")
        }
        return string
    }
}
