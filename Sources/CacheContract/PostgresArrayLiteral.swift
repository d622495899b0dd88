/// Parses the text output of a Postgres array (`array_out`): `{1,2}`, `{{1,2},{3,NULL}}`,
/// `{"a b","q\"uote",NULL,"NULL"}`, `{}`, and the `[0:1]={...}` form with explicit bounds
/// (the bounds are dropped, as `to_jsonb` drops them).
enum PostgresArrayLiteral {
    /// One element or sub-array.
    indirect enum Node: Equatable {
        /// An element's text (escapes removed); nil for SQL NULL.
        case element([UInt8]?)
        /// A sub-array (a dimension).
        case array([Node])
    }

    /// Parses `text` with element `delimiter`; returns the top-level array's nodes.
    static func parse(_ text: [UInt8], delimiter: UInt8) throws(CacheContractError) -> [Node] {
        var index = 0
        if text.first == UInt8(ascii: "[") {
            guard let equals = text.firstIndex(of: UInt8(ascii: "=")) else { throw failure(text, "bounds without =") }
            index = equals + 1
        }
        guard index < text.count, text[index] == UInt8(ascii: "{") else { throw failure(text, "expected {") }
        let nodes = try parseArray(text, &index, delimiter: delimiter, depth: 0)
        guard index == text.count else { throw failure(text, "characters after the closing }") }
        return nodes
    }

    private static func parseArray(_ text: [UInt8], _ index: inout Int, delimiter: UInt8, depth: Int) throws(CacheContractError) -> [Node] {
        guard depth < 6 else { throw failure(text, "more than 6 dimensions") }
        index += 1
        var nodes: [Node] = []
        if index < text.count, text[index] == UInt8(ascii: "}") {
            index += 1
            return nodes
        }
        while true {
            guard index < text.count else { throw failure(text, "unterminated array") }
            switch text[index] {
            case UInt8(ascii: "{"):
                nodes.append(.array(try parseArray(text, &index, delimiter: delimiter, depth: depth + 1)))
            case UInt8(ascii: "\""):
                nodes.append(.element(try parseQuoted(text, &index)))
            default:
                nodes.append(.element(try parseUnquoted(text, &index, delimiter: delimiter)))
            }
            guard index < text.count else { throw failure(text, "unterminated array") }
            if text[index] == UInt8(ascii: "}") {
                index += 1
                return nodes
            }
            guard text[index] == delimiter else { throw failure(text, "expected a delimiter or }") }
            index += 1
        }
    }

    private static func parseQuoted(_ text: [UInt8], _ index: inout Int) throws(CacheContractError) -> [UInt8] {
        index += 1
        var value: [UInt8] = []
        while index < text.count {
            let byte = text[index]
            index += 1
            switch byte {
            case UInt8(ascii: "\""):
                return value
            case UInt8(ascii: "\\"):
                guard index < text.count else { throw failure(text, "backslash at the end") }
                value.append(text[index])
                index += 1
            default:
                value.append(byte)
            }
        }
        throw failure(text, "unterminated quoted element")
    }

    /// An unquoted element; `NULL` (exactly, as `array_out` writes it) is SQL NULL.
    private static func parseUnquoted(_ text: [UInt8], _ index: inout Int, delimiter: UInt8) throws(CacheContractError) -> [UInt8]? {
        var value: [UInt8] = []
        while index < text.count, text[index] != delimiter, text[index] != UInt8(ascii: "}") {
            let byte = text[index]
            guard byte != UInt8(ascii: "{"), byte != UInt8(ascii: "\"") else { throw failure(text, "unexpected character in an unquoted element") }
            if byte == UInt8(ascii: "\\") {
                index += 1
                guard index < text.count else { throw failure(text, "backslash at the end") }
            }
            value.append(text[index])
            index += 1
        }
        guard !value.isEmpty else { throw failure(text, "empty unquoted element") }
        return value == Array("NULL".utf8) ? nil : value
    }

    private static func failure(_ text: [UInt8], _ message: String) -> CacheContractError {
        CacheContractError(code: .invalidTextForm, context: String(decoding: text.prefix(60), as: UTF8.self), message: "array literal: \(message)")
    }
}
