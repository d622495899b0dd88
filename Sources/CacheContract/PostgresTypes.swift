/// Maps type OIDs to ``PostgresTypeKind``: every built-in scalar type of Postgres 15 and its
/// array type, plus whatever the caller registers (enums, domains: see ``PostgresTypeCatalog``).
/// OIDs it does not know are rendered as strings and reported as unverified.
public struct PostgresTypes: Sendable {
    private var kinds: [UInt32: PostgresTypeKind]

    /// The built-in types of Postgres 15.
    public static let builtin = PostgresTypes(kinds: PostgresTypes.builtinKinds())

    private init(kinds: [UInt32: PostgresTypeKind]) {
        self.kinds = kinds
    }

    /// The kind of `oid`, or nil when neither built in nor registered.
    public func kind(of oid: UInt32) -> PostgresTypeKind? {
        kinds[oid]
    }

    /// Adds or replaces a type (e.g. an enum as ``PostgresTypeKind/string``).
    public mutating func register(_ oid: UInt32, as kind: PostgresTypeKind) {
        kinds[oid] = kind
    }

    private static func builtinKinds() -> [UInt32: PostgresTypeKind] {
        // (type OID, array type OID, kind); the array delimiter is `,` except for box.
        let scalars: [(UInt32, UInt32, PostgresTypeKind)] = [
            (16, 1000, .bool), (17, 1001, .string), (18, 1002, .string), (19, 1003, .string),
            (20, 1016, .number), (21, 1005, .number), (23, 1007, .number), (24, 1008, .string),
            (25, 1009, .string), (26, 1028, .string), (27, 1010, .string), (28, 1011, .string),
            (29, 1012, .string), (114, 199, .json), (142, 143, .string), (600, 1017, .string),
            (601, 1018, .string), (602, 1019, .string), (604, 1027, .string), (628, 629, .string),
            (650, 651, .string), (700, 1021, .number), (701, 1022, .number), (718, 719, .string),
            (774, 775, .string), (790, 791, .string), (829, 1040, .string), (869, 1041, .string),
            (1033, 1034, .string), (1042, 1014, .string), (1043, 1015, .string), (1082, 1182, .date),
            (1083, 1183, .string), (1114, 1115, .timestamp), (1184, 1185, .timestamptz),
            (1186, 1187, .string), (1266, 1270, .string), (1560, 1561, .string), (1562, 1563, .string),
            (1700, 1231, .number), (1790, 2201, .string), (2202, 2207, .string), (2203, 2208, .string),
            (2204, 2209, .string), (2205, 2210, .string), (2206, 2211, .string), (2950, 2951, .string),
            (2970, 2949, .string), (3220, 3221, .string), (3614, 3643, .string), (3615, 3645, .string),
            (3734, 3735, .string), (3769, 3770, .string), (3802, 3807, .jsonb), (3904, 3905, .string),
            (3906, 3907, .string), (3908, 3909, .string), (3910, 3911, .string), (3912, 3913, .string),
            (3926, 3927, .string), (4072, 4073, .string), (4089, 4090, .string), (4096, 4097, .string),
            (4191, 4192, .string), (4451, 6150, .string), (4532, 6151, .string), (4533, 6152, .string),
            (4534, 6153, .string), (4535, 6155, .string), (4536, 6157, .string), (5038, 5039, .string),
            (5069, 271, .string),
        ]
        var kinds: [UInt32: PostgresTypeKind] = [:]
        for (oid, arrayOID, kind) in scalars {
            kinds[oid] = kind
            kinds[arrayOID] = .array(of: kind)
        }
        kinds[603] = .string
        kinds[1020] = .array(element: .string, delimiter: UInt8(ascii: ";"))
        return kinds
    }
}
