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
        pid = Mutex(0)
        var port = 0
        // Below the kernel's ephemeral range (32768-60999 here): a port in it may be taken by an
        // outgoing connection, also between this server's stop and its restart on the same port.
        // 29000-31999 is clear of the stack's, the chaos suite's and the other tests' ports.
        for _ in 0..<20 {
            port = Int.random(in: 29_000...31_999)
            if (try? Self.launch(port: port, directory: directory, pid: pid)) != nil { break }
            port = 0
        }
        guard port != 0 else { throw NotStarted(port: port, log: directory + "/redis.log") }
        self.port = port
    }

    /// Starts the server (again), loading `dump.rdb` from its directory if one was saved.
    func start() throws {
        try Self.launch(port: port, directory: directory, pid: pid)
    }

    private static func launch(port: Int, directory: String, pid: borrowing Mutex<pid_t>) throws {
        let spawned = try StackEnvironment.spawn(
            ["/usr/bin/redis-server", "--port", "\(port)", "--bind", "127.0.0.1", "--dir", directory, "--save", "", "--appendonly", "no"],
            output: directory + "/redis.log")
        pid.withLock { $0 = spawned }
        for _ in 0..<200 {
            if (try? RedisConnection(url: try RedisURL("redis://127.0.0.1:\(port)/0")).command(["PING"]))?.text == "PONG" { return }
            var status: Int32 = 0
            if waitpid(spawned, &status, WNOHANG) == spawned {
                // It exited (the port was taken): try another.
                pid.withLock { $0 = 0 }
                break
            }
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
