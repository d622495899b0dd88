import CacheContract
import CacheReads
import Foundation
import PostgresReplication
import TestSupport
import Testing

/// The read path (postgres-nio) over TLS with `sslmode=verify-full&sslrootcert=...`, against a
/// TLS-only server of the test's own (deploy/local/pg-tls.sh) holding the demo schema.
@Suite struct TlsReadsTests {
    static let schema = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("deploy/sql/demo-schema.sql")

    /// The demo configuration pointed at `url` for the writer and the reader.
    static func configuration(_ url: String) throws -> CacheReadsConfiguration {
        var configuration = try ReadsHarness.configuration(readers: [url])
        configuration.worker.writerURL = url
        configuration.attempts = 1
        return configuration
    }

    @Test func fillsAndReadsOverVerifiedTls() async throws {
        let server = try DedicatedPostgres.start()
        defer { server.stop() }
        let owner = try PostgresConnection(ConnectionString(server.url))
        try owner.execute(try String(contentsOf: Self.schema, encoding: .utf8))
        let id = try #require(try owner.execute("INSERT INTO \"Order\" (\"userId\", \"totalCents\") VALUES (7, 700) RETURNING id").scalar)
        let json = try #require(try owner.execute("SELECT to_jsonb(o)::text FROM \"Order\" o WHERE id = \(id)").scalar)

        let result = try await ReadsHarness.with(try Self.configuration(server.url)) { harness in
            try await harness.reads.row(entity: "order", key: KeyPart(id), consistency: .strong)
        }
        #expect(result.value == json, "\(result)")
    }

    @Test func aWrongCAFailsWithAClearError() async throws {
        let server = try DedicatedPostgres.start()
        defer { server.stop() }
        let wrong = server.url(query: "sslmode=verify-full&sslrootcert=\(server.otherCAFile)")
        let error = await #expect(throws: CacheReadsError.self) {
            try await ReadsHarness.with(try Self.configuration(wrong)) { harness in
                try await harness.reads.row(entity: "order", key: KeyPart("1"), consistency: .strong)
            }
        }
        let text = error.map { "\($0)" } ?? ""
        #expect(text.contains("TLS certificate does not verify") && text.contains(server.otherCAFile), "\(text)")
        #expect(text.contains("127.0.0.1:\(server.port)"), "names the server: \(text)")
        #expect(!text.contains("\n") && !text.contains("cachewarmer:cachewarmer"), "\(text)")
    }
}
