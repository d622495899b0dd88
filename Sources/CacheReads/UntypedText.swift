import PostgresNIO

/// A bind parameter sent as text with no type (OID 0), so the server infers its type from the
/// statement (`"id" = $1` binds an integer, `LIMIT $2` a bigint), as `psql` and Prisma do.
struct UntypedText: PostgresThrowingDynamicTypeEncodable {
    var text: String

    var psqlType: PostgresDataType { PostgresDataType(0) }
    var psqlFormat: PostgresFormat { .text }

    func encode<JSONEncoder: PostgresJSONEncoder>(into byteBuffer: inout ByteBuffer, context: PostgresEncodingContext<JSONEncoder>) throws {
        byteBuffer.writeString(text)
    }
}
