import CacheContract
import CacheReads
import Foundation
import Logging
import PGOutput
import PostgresNIO
import TestSupport
import Testing

/// The database's defaults for the settings that change how values print are changed while the
/// library runs (`ALTER DATABASE ... SET`, on a database of the test's own): fills print exactly
/// what they print under the contract's settings, which the worker renders.
@Suite struct SessionSettingsTests {
    @Test func fillsPrintTheSameWhenTheDatabaseDefaultsChange() async throws {
        let database = StackEnvironment.uniqueName("h3settings")
        let writerText = try StackEnvironment.require("DB_WRITER_URL")
        let admin = try await connect(writerText, database: "cachewarmer")
        try await admin.query(PostgresQuery(unsafeSQL: "CREATE DATABASE \(database)"), logger: logger)
        do {
            try await check(database)
        } catch {
            try? await dropDatabase(admin, database)
            try? await admin.close()
            throw error
        }
        try await dropDatabase(admin, database)
        try await admin.close()
    }

    private let logger = Logger(label: "settings-test")

    private func check(_ database: String) async throws {
        let writerText = try StackEnvironment.require("DB_WRITER_URL")
        let readerText = try StackEnvironment.require("DB_READER_URL")
        let setup = try await connect(writerText, database: database)
        try await setup.query("""
            CREATE TABLE "Order" (id int PRIMARY KEY, "userId" int, status text, "totalCents" int,
              span interval, blob bytea, ratio float8, at timestamptz, day date)
            """, logger: logger)
        try await setup.query("""
            INSERT INTO "Order" VALUES (1, 7, 'x', 100, '1 day 02:03:04.5', '\\x00ff10', 0.1, '2024-01-31 10:00:00+00', '2024-01-31')
            """, logger: logger)
        let canonical = "SET TimeZone = 'UTC'; SET DateStyle = 'ISO, MDY'; SET IntervalStyle = 'postgres'; SET bytea_output = 'hex'; SET extra_float_digits = 1; SET lc_monetary = 'C'"
        let expected = try await scalar(setup, canonical, #"SELECT to_jsonb(t)::text FROM "Order" t WHERE id = 1"#)
        // Defaults that print every one of those columns differently.
        for statement in [
            "ALTER DATABASE \(database) SET IntervalStyle = 'iso_8601'", "ALTER DATABASE \(database) SET bytea_output = 'escape'",
            "ALTER DATABASE \(database) SET extra_float_digits = -3", "ALTER DATABASE \(database) SET TimeZone = 'Asia/Tokyo'",
            "ALTER DATABASE \(database) SET DateStyle = 'SQL, DMY'",
        ] {
            try await setup.query(PostgresQuery(unsafeSQL: statement), logger: logger)
        }
        try await setup.close()
        let fresh = try await connect(writerText, database: database)
        let underDefaults = try await scalar(fresh, nil, #"SELECT to_jsonb(t)::text FROM "Order" t WHERE id = 1"#)
        try await fresh.close()
        #expect(underDefaults != expected, "control: the new defaults do change how the row prints (\(underDefaults ?? "nil"))")

        var configuration = try ReadsHarness.configuration(readers: [try Self.url(readerText, database: database)])
        configuration.worker.writerURL = try Self.url(writerText, database: database)
        try await ReadsHarness.with(configuration) { harness in
            let reads = harness.reads
            let token = try await reads.write { _ in true }.token
            for consistency in [Consistency.readYourWrites(token), .strong] {
                let result = try await reads.row(entity: "order", key: KeyPart(1), consistency: consistency)
                #expect(result.value == expected, "\(consistency) read from \(result.source)")
            }
            let entry = try harness.commands.keys.row(try EntityName("order"), key: [KeyPart(1)])
            #expect(try harness.cached(entry).state == .value(try #require(expected)))
            let settings = try await reads.reads.query("SELECT current_setting('IntervalStyle') || ' ' || current_setting('bytea_output')")
            #expect(try settings.first?.decode(String.self) == "postgres hex")
        }
    }

    private func scalar(_ connection: PostgresConnection, _ settings: String?, _ sql: String) async throws -> String? {
        if let settings {
            for statement in settings.split(separator: ";") {
                try await connection.query(PostgresQuery(unsafeSQL: String(statement)), logger: logger)
            }
        }
        for try await text in try await connection.query(PostgresQuery(unsafeSQL: sql), logger: logger).decode(String.self) { return text }
        return nil
    }

    private func dropDatabase(_ admin: PostgresConnection, _ database: String) async throws {
        try await admin.query(PostgresQuery(unsafeSQL: "DROP DATABASE IF EXISTS \(database) WITH (FORCE)"), logger: logger)
    }

    private func connect(_ text: String, database: String) async throws -> PostgresConnection {
        let components = try #require(URLComponents(string: text))
        return try await PostgresConnection.connect(
            configuration: .init(
                host: components.host ?? "127.0.0.1", port: components.port ?? 5432, username: components.user ?? "cachewarmer",
                password: components.password, database: database, tls: .disable),
            id: 1, logger: logger)
    }

    static func url(_ text: String, database: String) throws -> String {
        var components = try #require(URLComponents(string: text))
        components.path = "/" + database
        return try #require(components.string)
    }
}
