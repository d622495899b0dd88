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
        if let row = directRow(columns, types: types) { return row }
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

    /// The worker's path for one row: the same bytes as the general path (``JSONObject`` of
    /// ``JSONValue``s, then ``render(_:)``), written straight from the columns' text without a
    /// value tree; nil when a column needs the general path (duplicate names, an unrenderable or
    /// invalid column, whose error the general path reports).
    static func directRow(_ columns: [NamedColumn], types: PostgresTypes) -> CanonicalRow? {
        var order = Array(columns.indices)
        order.sort { JSONObject.jsonbKeyOrder(columns[$0].name, columns[$1].name) }
        var unverified: [String] = []
        var size = 2
        // Each column's kind, looked up once (input order, as the general path lists unverified columns).
        var kinds: [PostgresTypeKind] = []
        kinds.reserveCapacity(columns.count)
        for column in columns {
            size += column.name.utf8.count + column.value.byteCount + 8
            let kind = types.kind(of: column.typeOID)
            if kind == nil, case .text = column.value { unverified.append(column.name) }
            kinds.append(kind ?? .string)
        }
        var writer = JSONWriter()
        writer.reserveCapacity(size + size / 8)
        writer.append("{")
        for (position, index) in order.enumerated() {
            let column = columns[index]
            if position > 0 {
                // Equal names: the last one wins, which the general path sorts out.
                if column.name.utf8.elementsEqual(columns[order[position - 1]].name.utf8) { return nil }
                writer.append(", ")
            }
            writer.writeString(column.name.utf8)
            writer.append(": ")
            switch column.value {
            case .null: writer.append("null")
            case .unchangedToast, .binary: return nil
            case .text(let buffer):
                guard writeText(buffer.readableBytesView, kind: kinds[index], into: &writer) else { return nil }
            }
        }
        writer.append("}")
        return CanonicalRow(json: writer.text, unverifiedColumns: unverified)
    }

    /// Writes one text column as ``value(text:kind:)`` then ``render(_:)`` would; false when the
    /// text does not fit its type (the general path reports why).
    static func writeText<Text: RandomAccessCollection<UInt8>>(_ text: Text, kind: PostgresTypeKind, into writer: inout JSONWriter) -> Bool {
        switch kind {
        case .string:
            guard isValidUTF8(text) else { return false }
            writer.writeString(text)
        case .number:
            if isCanonicalNumber(text) {
                writer.appendRaw(text)
            } else {
                guard let value = try? value(text: Array(text), kind: kind) else { return false }
                writer.write(value)
            }
        case .bool:
            guard text.count == 1 else { return false }
            if text.first == UInt8(ascii: "t") {
                writer.append("true")
            } else if text.first == UInt8(ascii: "f") {
                writer.append("false")
            } else {
                return false
            }
        case .timestamptz:
            guard let string = try? DateTimeText.timestamptz(Array(text)) else { return false }
            writer.writeString(string.utf8)
        case .date, .timestamp, .json, .jsonb, .array:
            guard let value = try? value(text: Array(text), kind: kind) else { return false }
            writer.write(value)
        }
        return true
    }

    /// True for number text `numeric_in` + `numeric_out` print unchanged: an optional `-`,
    /// digits without a leading zero (or one `0`), an optional fraction, not all zeros when
    /// negative (`-0.0` prints `0.0`), short enough to be within numeric's limits.
    static func isCanonicalNumber<Text: RandomAccessCollection<UInt8>>(_ text: Text) -> Bool {
        guard !text.isEmpty, text.count <= 1000 else { return false }
        var index = text.startIndex
        let negative = text[index] == UInt8(ascii: "-")
        if negative { text.formIndex(after: &index) }
        let integerStart = index
        var nonZero = false
        while index < text.endIndex, text[index] >= UInt8(ascii: "0"), text[index] <= UInt8(ascii: "9") {
            if text[index] != UInt8(ascii: "0") { nonZero = true }
            text.formIndex(after: &index)
        }
        let integerCount = text.distance(from: integerStart, to: index)
        guard integerCount > 0, integerCount == 1 || text[integerStart] != UInt8(ascii: "0") else { return false }
        if index < text.endIndex {
            guard text[index] == UInt8(ascii: ".") else { return false }
            text.formIndex(after: &index)
            let fractionStart = index
            while index < text.endIndex, text[index] >= UInt8(ascii: "0"), text[index] <= UInt8(ascii: "9") {
                if text[index] != UInt8(ascii: "0") { nonZero = true }
                text.formIndex(after: &index)
            }
            guard index > fractionStart, index == text.endIndex else { return false }
        }
        return !negative || nonZero
    }

    /// True when `text` is valid UTF-8 (ASCII checked first, without decoding).
    private static func isValidUTF8(_ text: some Sequence<UInt8>) -> Bool {
        if text.allSatisfy({ $0 < 0x80 }) { return true }
        var parser = Unicode.UTF8.ForwardParser()
        var iterator = text.makeIterator()
        while true {
            switch parser.parseScalar(from: &iterator) {
            case .valid: continue
            case .emptyInput: return true
            case .error: return false
            }
        }
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
