/// A JSON value with `jsonb` semantics: numbers as ``JSONNumber`` (numeric text), objects as
/// ``JSONObject`` (keys unique and in jsonb order). ``CanonicalJSON/render(_:)`` prints it
/// exactly as Postgres prints the same `jsonb` value.
public indirect enum JSONValue: Hashable, Sendable {
    /// `null`.
    case null
    /// `true` or `false`.
    case bool(Bool)
    /// A number.
    case number(JSONNumber)
    /// A string (any Unicode text; Postgres text cannot contain U+0000).
    case string(String)
    /// An array.
    case array([JSONValue])
    /// An object.
    case object(JSONObject)
}

extension JSONValue {
    /// An object from a dictionary.
    public static func object(_ members: [String: JSONValue]) -> JSONValue {
        .object(JSONObject(members))
    }

    /// An integer.
    public static func integer(_ value: some BinaryInteger) -> JSONValue {
        .number(JSONNumber(value))
    }
}
