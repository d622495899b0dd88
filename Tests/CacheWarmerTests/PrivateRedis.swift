import Foundation
import Synchronization
import RedisCache
import TestSupport

/// A Redis server of the test's own on a free loopback port, so a test can stop, pause or
/// restore it without touching the stack's Redis that other suites use. It saves its RDB
/// snapshot only when told (`SAVE`), in a directory of its own.
final class PrivateRedis: Sendable {
    let port: Int
    let directory: String
    private let pid: Mutex<pid_t>

    var url: String { "redis://127.0.0.1:\(port)/0" }

    init() throws {
        directory = NSTemporaryDirectory() + StackEnvironment.uniqueName("cw-redis")
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        port = Int.random(in: 36_400...36_999)
        pid = Mutex(0)
        try start()
    }

    /// Starts the server (again), loading `dump.rdb` from its directory if one was saved.
    func start() throws {
        let spawned = try StackEnvironment.spawn(
            ["/usr/bin/redis-server", "--port", "\(port)", "--bind", "127.0.0.1", "--dir", directory, "--save", "", "--appendonly", "no"],
            output: directory + "/redis.log")
        pid.withLock { $0 = spawned }
        for _ in 0..<200 {
            if (try? connection().command(["PING"]))?.text == "PONG" { return }
            usleep(25_000)
        }
        throw NotStarted(port: port, log: directory + "/redis.log")
    }

    /// The server did not answer within 5 s.
    struct NotStarted: Error, CustomStringConvertible {
        var port: Int
        var log: String
        var description: String { "a private redis-server on port \(port) did not start (see \(log))" }
    }

    func connection() throws -> RedisConnection {
        try RedisConnection(url: try RedisURL(url))
    }

    /// Stops the server without saving (what a crash or `SHUTDOWN NOSAVE` leaves behind).
    func stop() {
        let current = pid.withLock { $0 }
        guard current > 0 else { return }
        kill(current, SIGKILL)
        _ = StackEnvironment.waitForExit(current, within: 10)
        pid.withLock { $0 = 0 }
    }

    deinit {
        stop()
        try? FileManager.default.removeItem(atPath: directory)
    }
}
