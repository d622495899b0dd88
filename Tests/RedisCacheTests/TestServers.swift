import Foundation
import RedisCache
import TestSupport
import Testing

/// The local stack's Redis (`REDIS_URL`).
func stackURL() throws -> RedisURL {
    try RedisURL(try StackEnvironment.require("REDIS_URL"))
}

/// A key prefix unique to one test.
func uniquePrefix(_ name: String = "rct") -> String {
    StackEnvironment.uniqueName(name)
}

/// Seconds elapsed while running `body` on the calling thread (no suspension, so a busy
/// cooperative pool does not add to the figure).
func elapsed<T>(_ body: () throws -> T) rethrows -> (T, Double) {
    let start = ContinuousClock.now
    let value = try body()
    return (value, seconds(ContinuousClock.now - start))
}

/// Seconds elapsed while running `body`, including any wait for the cooperative pool.
func elapsed<T>(_ body: () async throws -> T) async rethrows -> (T, Double) {
    let start = ContinuousClock.now
    let value = try await body()
    return (value, seconds(ContinuousClock.now - start))
}

/// A duration in seconds.
func seconds(_ duration: Duration) -> Double {
    Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
}

/// A TCP listener on 127.0.0.1 whose connections complete in the kernel's backlog but are never
/// answered: a server that hangs.
final class SilentServer {
    let port: Int
    private let descriptor: Int32

    init() throws {
        let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard listener >= 0 else { throw TestFailure("socket: \(String(cString: strerror(errno)))") }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(listener, $0, length) } }
        guard bound == 0, listen(listener, 16) == 0 else {
            close(listener)
            throw TestFailure("bind/listen: \(String(cString: strerror(errno)))")
        }
        _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(listener, $0, &length) } }
        descriptor = listener
        port = Int(UInt16(bigEndian: address.sin_port))
    }

    deinit {
        close(descriptor)
    }
}

/// A port on 127.0.0.1 with nothing listening (bound once, then released).
func closedPort() throws -> Int {
    try SilentServer().port
}

/// A failure in test setup, with its reason.
struct TestFailure: Error, CustomStringConvertible {
    var description: String

    init(_ description: String) {
        self.description = description
    }
}

/// A TLS-only Redis with ACL users started by `deploy/local/redis-tls.sh` for one suite:
/// user `app` / `apppass`, default user off, a certificate for `localhost` and `127.0.0.1` from
/// a throwaway CA (``caFile``), and a second CA that signed nothing (``otherCAFile``).
struct DedicatedRedis: Sendable {
    /// The temporary directory with the certificates, configuration and logs.
    let directory: String
    /// The TLS port.
    let port: Int

    /// The server of the suite running on this task (set by ``DedicatedRedisTrait``).
    @TaskLocal static var current: DedicatedRedis?

    var caFile: String { directory + "/ca.pem" }
    var otherCAFile: String { directory + "/other-ca.pem" }

    /// `scheme://user:password@host:port/0?query`.
    func url(scheme: String = "rediss", user: String? = "app", password: String? = "apppass", host: String = "127.0.0.1", query: String? = nil) throws -> RedisURL {
        var credentials = user ?? ""
        if let password { credentials += ":" + password }
        if !credentials.isEmpty { credentials += "@" }
        return try RedisURL("\(scheme)://\(credentials)\(host):\(port)/0" + (query.map { "?" + $0 } ?? ""))
    }

    /// The URL that should work: the app user, verified against the test CA.
    func trustedURL(host: String = "127.0.0.1") throws -> RedisURL {
        try url(host: host, query: "ca=\(caFile)")
    }

    static func start() throws -> DedicatedRedis {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("redis-tls-\(UUID().uuidString.prefix(8))").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let status = try StackEnvironment.run(["/bin/bash", script, "start", directory])
        let log = (try? String(contentsOfFile: directory + "/script.log", encoding: .utf8)) ?? ""
        guard status == 0, let text = try? String(contentsOfFile: directory + "/port", encoding: .utf8), let port = Int(text.trimmingCharacters(in: .whitespacesAndNewlines)) else {
            _ = try? StackEnvironment.run(["/bin/bash", script, "stop", directory])
            try? FileManager.default.removeItem(atPath: directory)
            throw TestFailure("\(script) start \(directory) failed (exit \(status)): \(log)")
        }
        return DedicatedRedis(directory: directory, port: port)
    }

    func stop() throws {
        try StackEnvironment.run(["/bin/bash", DedicatedRedis.script, "stop", directory])
        try? FileManager.default.removeItem(atPath: directory)
    }

    private static var script: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("deploy/local/redis-tls.sh").path
    }
}

/// Starts a ``DedicatedRedis`` around a suite and stops it afterwards, even when tests fail.
struct DedicatedRedisTrait: SuiteTrait, TestScoping {
    var isRecursive: Bool { false }

    func provideScope(for test: Test, testCase: Test.Case?, performing function: @Sendable () async throws -> Void) async throws {
        let server = try DedicatedRedis.start()
        defer { try? server.stop() }
        try await DedicatedRedis.$current.withValue(server) {
            try await function()
        }
    }
}

extension Trait where Self == DedicatedRedisTrait {
    /// Runs the suite against its own TLS + ACL Redis.
    static var dedicatedRedis: Self { DedicatedRedisTrait() }
}

/// The error `body` throws, or nil when it succeeds.
func redisError<T>(_ body: () throws(RedisError) -> T) -> RedisError? {
    do {
        _ = try body()
        return nil
    } catch {
        return error
    }
}

/// The error `body` throws, or nil when it succeeds.
func redisError<T>(_ body: () async throws(RedisError) -> T) async -> RedisError? {
    do {
        _ = try await body()
        return nil
    } catch {
        return error
    }
}
