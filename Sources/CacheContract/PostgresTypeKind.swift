/// How `to_jsonb` turns a value of a Postgres type into JSON (its `JsonbTypeCategory`), and so
/// how ``CanonicalJSON`` must turn the type's text output form into the same JSON.
public indirect enum PostgresTypeKind: Hashable, Sendable {
    /// `bool`: `t`/`f` become `true`/`false`.
    case bool
    /// `int2`, `int4`, `int8`, `float4`, `float8`, `numeric`: a JSON number as `numeric` prints
    /// it; `NaN`, `Infinity`, `-Infinity` become JSON strings.
    case number
    /// `date`: the ISO text (`2024-01-31`, `0044-03-15 BC`, `infinity`) as a string.
    case date
    /// `timestamp`: ISO text with `T` between date and time.
    case timestamp
    /// `timestamptz`: ISO text in UTC with `T` and a `+00:00` offset.
    case timestamptz
    /// `json`: parsed and re-printed as `jsonb`.
    case json
    /// `jsonb`: already canonical; parsed and re-printed all the same.
    case jsonb
    /// Every other scalar type (text, varchar, uuid, bytea, time, interval, enums, ...): the
    /// output text as a JSON string, which is what `to_jsonb` does for them.
    case string
    /// An array: Postgres' array literal becomes a (nested) JSON array of `element` values.
    /// `delimiter` is the element type's `typdelim` (`,` for all but `box`, which uses `;`).
    case array(element: PostgresTypeKind, delimiter: UInt8)

    /// An array with the usual `,` delimiter.
    public static func array(of element: PostgresTypeKind) -> PostgresTypeKind {
        .array(element: element, delimiter: UInt8(ascii: ","))
    }
}
