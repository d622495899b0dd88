import Foundation
import PostgresReplication

/// A throwaway PostgreSQL 15 primary started by `deploy/local/pg-tls.sh` for one test: TLS only
/// (a certificate for `localhost` and `127.0.0.1` from a fresh CA), `wal_level = logical`, role
/// `cachewarmer`, and a superuser reachable over the Unix socket for settings the shared stack
/// must not get (ALTER SYSTEM, CHECKPOINT).
public struct DedicatedPostgres: Sendable {
    /// The temporary directory with the certificates, the cluster and its logs.
    public let directory: String
    /// The TCP port.
    public let port: Int
    /// `postgres://cachewarmer:...@127.0.0.1:port/cachewarmer?sslmode=verify-full&sslrootcert=<ca.pem>`.
    public let url: String
    /// A superuser connection over the Unix socket.
    public let adminURL: String

    /// The CA that signed the server's certificate.
    public var caFile: String { directory + "/ca.pem" }
    /// A CA that signed nothing this server presents.
    public var otherCAFile: String { directory + "/other-ca.pem" }

    /// The URL with another query (e.g. `sslmode=verify-full&sslrootcert=...`).
    public func url(query: String, host: String = "127.0.0.1") -> String {
        "postgres://cachewarmer:cachewarmer@\(host):\(port)/cachewarmer?\(query)"
    }

    /// A superuser session.
    public func admin() throws -> PostgresConnection {
        try PostgresConnection(ConnectionString(adminURL))
    }

    /// Starts a server; throws with the script's log when it cannot.
    public static func start() throws -> DedicatedPostgres {
        let directory = "/tmp/pg-tls-\(UUID().uuidString.prefix(8).lowercased())"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let status = try StackEnvironment.run(["/bin/bash", script, "start", directory])
        let read = { (name: String) in
            (try? String(contentsOfFile: directory + "/" + name, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines)
        }
        guard status == 0, let port = read("port").flatMap({ Int($0) }), let url = read("url"), let admin = read("admin-url") else {
            let log = read("script.log") ?? ""
            _ = try? StackEnvironment.run(["/bin/bash", script, "stop", directory])
            try? FileManager.default.removeItem(atPath: directory)
            throw StartFailure(description: "\(script) start \(directory) failed (exit \(status)): \(log)")
        }
        return DedicatedPostgres(directory: directory, port: port, url: url, adminURL: admin)
    }

    /// Restarts the server (fast shutdown), e.g. after ALTER SYSTEM of a setting that needs it.
    public func restart() throws {
        let status = try StackEnvironment.run(["/bin/bash", Self.script, "restart", directory])
        if status != 0 { throw StartFailure(description: "\(Self.script) restart \(directory) failed (exit \(status))") }
    }

    /// Stops the server and removes its directory.
    public func stop() {
        _ = try? StackEnvironment.run(["/bin/bash", Self.script, "stop", directory])
        try? FileManager.default.removeItem(atPath: directory)
    }

    /// The script's path in this repository.
    public static var script: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("deploy/local/pg-tls.sh").path
    }

    /// The server did not start.
    public struct StartFailure: Error, CustomStringConvertible {
        /// What failed, with the script's log.
        public var description: String
    }
}
