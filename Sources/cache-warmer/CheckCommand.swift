import ArgumentParser
import Foundation
import PostgresReplication
import RedisCache

/// `cache-warmer check`: verifies that the writer, the reader and Redis are reachable and set up
/// the way the worker needs (logical WAL on the writer, a read-only standby as reader).
struct CheckCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check",
        abstract: "Check the writer, reader and Redis connections (exit 1 on the first problem)."
    )

    @Option(help: "Writer (primary) connection URL.")
    var writerURL: String = ProcessInfo.processInfo.environment["DB_WRITER_URL"] ?? ""

    @Option(help: "Reader (replica) connection URL.")
    var readerURL: String = ProcessInfo.processInfo.environment["DB_READER_URL"] ?? ""

    @Option(help: "Redis URL.")
    var redisURL: String = ProcessInfo.processInfo.environment["REDIS_URL"] ?? ""

    func run() throws {
        var failures = 0
        func report(_ name: String, _ body: () throws -> String) {
            do {
                print("ok    \(name): \(try body())")
            } catch {
                failures += 1
                print("FAIL  \(name): \(error)")
            }
        }
        report("writer") {
            guard !writerURL.isEmpty else { throw ValidationError("set DB_WRITER_URL or --writer-url") }
            let connection = try PostgresConnection(ConnectionString(writerURL))
            let level = try connection.execute("SHOW wal_level").scalar ?? "?"
            guard level == "logical" else {
                throw ValidationError(
                    "\(connection.target): wal_level is '\(level)', must be 'logical' (ALTER SYSTEM SET wal_level = logical and restart; on RDS set rds.logical_replication = 1)")
            }
            return "\(connection.target) wal_level=logical server_version=\(connection.serverVersion)"
        }
        report("reader") {
            guard !readerURL.isEmpty else { throw ValidationError("set DB_READER_URL or --reader-url") }
            let connection = try PostgresConnection(ConnectionString(readerURL))
            let standby = try connection.execute("SELECT pg_is_in_recovery()").scalar == "t"
            return "\(connection.target) \(standby ? "standby (read-only)" : "NOT a standby: reads go to a primary")"
        }
        report("redis") {
            guard !redisURL.isEmpty else { throw ValidationError("set REDIS_URL or --redis-url") }
            let url = try RedisURL(redisURL)
            let reply = try RedisConnection(url: url).command(["PING"])
            guard reply.text == "PONG" else { throw RedisError(code: .unexpectedReply, message: "\(url): PING answered \(reply)") }
            return "\(url) PONG"
        }
        if failures > 0 { throw ExitCode.failure }
    }
}
