import PGOutput

/// One value inside a key: a primary-key column of a row key, or the value of a per-parameter
/// fence. Its ``text`` is one string per value (numbers without trailing fraction zeros, so
/// `1.50` and `1.5` name the same row), and ``escaped`` is that text made safe to join with `:`.
public struct KeyPart: Hashable, Sendable, CustomStringConvertible {
    /// The value's text before escaping.
    public let text: String

    /// A string value, used as is.
    public init(_ text: String) {
        self.text = text
    }

    /// An integer value.
    public init(_ value: some BinaryInteger) {
        self.text = String(value)
    }

    /// A JSON value: strings as themselves, numbers by ``JSONNumber/minimalText``, `true`,
    /// `false`, `null`, arrays and objects as their canonical JSON.
    public init(_ value: JSONValue) {
        switch value {
        case .string(let string): self.text = string
        case .number(let number): self.text = number.minimalText
        case .bool(let flag): self.text = flag ? "true" : "false"
        case .null: self.text = "null"
        case .array, .object: self.text = CanonicalJSON.render(value)
        }
    }

    /// A pgoutput column's value, through its canonical JSON value (so a timestamptz key is
    /// written `2024-01-31T10:00:00+00:00`, as a reader sees it in `to_jsonb`).
    public init(column: NamedColumn, types: PostgresTypes = .builtin) throws(CacheContractError) {
        // Text and integer keys (the usual ones) without building a JSON value: the same text.
        if case .text(let buffer) = column.value, let kind = types.kind(of: column.typeOID) {
            let bytes = buffer.readableBytesView
            switch kind {
            case .string:
                if let text = String(validating: bytes, as: UTF8.self) {
                    self.init(text)
                    return
                }
            case .number:
                if CanonicalJSON.isCanonicalNumber(bytes), !bytes.contains(UInt8(ascii: ".")) {
                    self.init(String(decoding: bytes, as: UTF8.self))
                    return
                }
            default:
                break
            }
        }
        self.init(try CanonicalJSON.value(of: column, types: types).value)
    }

    /// A key column's value from its text output (`::text` under the contract's session
    /// settings) and its type's kind: the same part ``init(column:types:)`` makes from the WAL,
    /// with the same shortcut for text and integer keys (resync and verify render keys of rows
    /// they read this way).
    public init(keyText text: String, kind: PostgresTypeKind) throws(CacheContractError) {
        switch kind {
        case .string:
            self.init(text)
            return
        case .number:
            let canonical = text.utf8.withContiguousStorageIfAvailable { CanonicalJSON.isCanonicalNumber($0) } ?? CanonicalJSON.isCanonicalNumber(Array(text.utf8))
            if canonical, !text.utf8.contains(UInt8(ascii: ".")) {
                self.init(text)
                return
            }
        default:
            break
        }
        self.init(try CanonicalJSON.value(text: Array(text.utf8), kind: kind))
    }

    /// ``text`` with `%` → `%25`, `:` → `%3A`, `=` → `%3D` (uppercase hex); all other bytes
    /// unchanged. Distinct texts give distinct escaped texts, none of which contains `:` or `=`.
    public var escaped: String {
        guard text.utf8.contains(where: { $0 == UInt8(ascii: "%") || $0 == UInt8(ascii: ":") || $0 == UInt8(ascii: "=") }) else {
            return text
        }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(text.utf8.count + 8)
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "%"): bytes += "%25".utf8
            case UInt8(ascii: ":"): bytes += "%3A".utf8
            case UInt8(ascii: "="): bytes += "%3D".utf8
            default: bytes.append(byte)
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// The unescaped text.
    public var description: String { text }
}
