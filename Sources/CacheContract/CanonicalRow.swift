/// A row rendered as canonical JSON, with the columns whose type the renderer did not know.
public struct CanonicalRow: Hashable, Sendable {
    /// The JSON object: byte for byte Postgres' `to_jsonb(row)::text` (see docs/cache-protocol.md).
    public var json: String
    /// Columns of unknown types, rendered as JSON strings of their text: right for enums and
    /// most extension types, wrong for composites or types with a cast to json. Empty when
    /// every column's type is known; a cautious caller invalidates instead of caching otherwise.
    public var unverifiedColumns: [String]

    /// Makes a rendered row.
    public init(json: String, unverifiedColumns: [String]) {
        self.json = json
        self.unverifiedColumns = unverifiedColumns
    }

    /// True when every column had a known type.
    public var isVerified: Bool { unverifiedColumns.isEmpty }
}
