import PostgresReplication
import TestSupport
import Testing

/// SQL literals and identifiers as the project quotes them (standard_conforming_strings on:
/// only the quote character is doubled; Postgres documentation, Lexical Structure, 4.1.2.1
/// and 4.1.1).
@Suite struct QuotingTests {
    @Test func literalsDoubleSingleQuotesOnly() {
        #expect(PostgresConnection.literal("plain") == "'plain'")
        #expect(PostgresConnection.literal("") == "''")
        #expect(PostgresConnection.literal("it's") == "'it''s'")
        #expect(PostgresConnection.literal("''") == "''''''")
        #expect(PostgresConnection.literal(#"back\slash "double""#) == #"'back\slash "double"'"#)
        #expect(PostgresConnection.literal("café ' 🚀") == "'café '' 🚀'")
    }

    @Test func identifiersDoubleDoubleQuotesOnly() {
        #expect(PostgresConnection.identifier("Order") == #""Order""#)
        #expect(PostgresConnection.identifier(#"a"b"#) == #""a""b""#)
        #expect(PostgresConnection.identifier("it's") == #""it's""#)
    }

    /// Postgres parses what we quote back to the same text.
    @Test func postgresReadsQuotedTextBack() throws {
        let connection = try PostgresConnection(ConnectionString(try StackEnvironment.require("DB_WRITER_URL")))
        for text in ["it's", "''", #"back\slash"#, "café ' 🚀", ""] {
            #expect(try connection.execute("SELECT \(PostgresConnection.literal(text))").scalar == text)
        }
    }
}
