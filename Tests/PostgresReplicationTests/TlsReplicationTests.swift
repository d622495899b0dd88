import Foundation
import PGOutput
import PostgresReplication
import TestSupport
import Testing

/// libpq over TLS with `sslmode=verify-full`, against a server of the test's own that refuses
/// connections without TLS (deploy/local/pg-tls.sh).
@Suite struct TlsReplicationTests {
    @Test func streamsOverVerifiedTls() async throws {
        let server = try DedicatedPostgres.start()
        defer { server.stop() }
        let target = ConnectionString(server.url)
        let connection = try PostgresConnection(target)
        #expect(try connection.execute("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()").scalar == "t")
        try connection.execute("CREATE TABLE tls_item (id int PRIMARY KEY, note text)")
        try connection.execute("CREATE PUBLICATION tls_pub FOR TABLE tls_item")
        try connection.createSlotIfMissing("tls_slot")
        try connection.execute("INSERT INTO tls_item VALUES (1, 'over tls')")

        var options = ReplicationOptions(slot: "tls_slot", publications: ["tls_pub"])
        options.statusInterval = 0.2
        let stream = try LogicalReplicationStream(target: target, options: options, logger: .init(label: "test.tls"))
        var inserted: [String?] = []
        let reader = Task {
            for try await event in stream {
                if case .message(.insert(let insert), _, _) = event {
                    inserted.append(insert.newTuple.values.last?.textValue)
                }
                if case .message(.commit(let commit), _, _) = event {
                    stream.confirm(commit.endLSN)
                    return inserted
                }
            }
            return inserted
        }
        let timeout = Task {
            try await Task.sleep(for: .seconds(30))
            await stream.stop()
        }
        let values = try await reader.value
        timeout.cancel()
        // The walsender's own connection is TLS too (pg_stat_ssl covers walsenders).
        let walsenderSSL = try connection.execute(
            "SELECT s.ssl FROM pg_stat_ssl s JOIN pg_replication_slots r ON s.pid = r.active_pid WHERE r.slot_name = 'tls_slot'").scalar
        await stream.stop()
        #expect(values == ["over tls"])
        #expect(walsenderSSL == "t")
    }

    @Test func aWrongCAFailsWithOneLineNamingTheServer() async throws {
        let server = try DedicatedPostgres.start()
        defer { server.stop() }
        let wrong = ConnectionString(server.url(query: "sslmode=verify-full&sslrootcert=\(server.otherCAFile)"))
        let error = try #require(throws: PostgresError.self) { try PostgresConnection(wrong) }
        let text = "\(error)"
        #expect(text.contains("certificate verify failed"), "\(text)")
        #expect(text.contains("127.0.0.1") && text.contains("\(server.port)"), "names the server: \(text)")
        #expect(!text.contains("\n"), "one line: \(text)")
        #expect(!text.contains("cachewarmer:cachewarmer"), "no password: \(text)")
        // Without TLS the server refuses: the verified connection above really was TLS.
        let plain = ConnectionString(server.url(query: "sslmode=disable"))
        let refused = try #require(throws: PostgresError.self) { try PostgresConnection(plain) }
        #expect("\(refused)".contains("no encryption"))
        // The replication stream fails the same way, at once: a certificate that cannot verify is
        // not retried.
        let options = ReplicationOptions(slot: "none", publications: ["none"])
        let stream = try LogicalReplicationStream(target: wrong, options: options, logger: .init(label: "test.tls"))
        let started = Date()
        await #expect(throws: ReplicationError.self) {
            for try await _ in stream {}
        }
        // Retried, it would never end: any bound shows it; a busy machine stretches the handshake.
        #expect(Date().timeIntervalSince(started) < 45)
        await stream.stop()
    }
}
