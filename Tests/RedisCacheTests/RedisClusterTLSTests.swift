import Foundation
import RedisCache
import TestSupport
import Testing

/// The cluster client over TLS with an ACL user, against a Redis Cluster of three TLS-only
/// masters (`tls-cluster yes`, default user off, user `app`) that the suite starts with
/// `deploy/local/redis-tls.sh start-cluster`: the seed's `rediss://` options reach every node.
@Suite(.dedicatedRedisCluster) struct RedisClusterTLSTests {
    private func server() throws -> DedicatedRedisCluster {
        try #require(DedicatedRedisCluster.current)
    }

    @Test func verifiedTLSAndACLOnEveryNode() async throws {
        let server = try server()
        let client = try RedisClusterClient(url: try server.url(query: "cluster=true&ca=\(server.caFile)"))
        defer { Task { await client.close() } }
        let topology = try await client.topology()
        // The nodes are reached on their TLS ports (`tls-port` in CLUSTER SHARDS).
        #expect(Set(topology.masters.map(\.port)) == Set(server.ports))
        let prefix = uniquePrefix("rct")
        let keys = (0..<300).map { "\(prefix):\($0)" }
        let replies = try await client.pipeline(keys.flatMap { [["SET", $0, "v-\($0)", "EX", "60"], ["GET", $0]] })
        #expect(replies == keys.flatMap { [RedisReply.status("OK"), .string(Array("v-\($0)".utf8))] })
        for master in topology.masters {
            #expect(try await client.client(for: master).command(["ACL", "WHOAMI"]) == .string(Array("app".utf8)), "\(master)")
        }
        let script = RedisScript(name: "test-tls", source: "-- \(prefix)\nreturn redis.call('GET', KEYS[1])")
        let values = try await client.evaluate(keys.map { script.call(keys: [$0], arguments: []) })
        #expect(values == keys.map { .string(Array("v-\($0)".utf8)) })
        #expect(client.statistics.scriptLoads == 3)
    }

    @Test func untrustedCertificateIsRejected() async throws {
        let server = try server()
        let client = try RedisClusterClient(url: try server.url(query: "cluster=true&ca=\(server.otherCAFile)"), reconnect: RedisReconnectPolicy(attempts: 1))
        defer { Task { await client.close() } }
        let error = await redisError { () async throws(RedisError) in try await client.command(["PING"]) }
        #expect(error?.code == .tlsCertificateRejected)
        #expect(error?.message.contains("TLS certificate verification failed") == true, "\(String(describing: error))")
    }

    @Test func wrongPasswordIsReported() async throws {
        let server = try server()
        let client = try RedisClusterClient(url: try server.url(password: "not-apppass", query: "cluster=true&ca=\(server.caFile)"), reconnect: RedisReconnectPolicy(attempts: 1))
        defer { Task { await client.close() } }
        let error = await redisError { () async throws(RedisError) in try await client.command(["PING"]) }
        #expect(error?.code == .authenticationFailed)
        #expect(error?.message.contains("WRONGPASS") == true, "\(String(describing: error))")
        #expect(error?.message.contains("not-apppass") == false)
    }
}

/// Three TLS-only masters forming a Redis Cluster, started by `deploy/local/redis-tls.sh
/// start-cluster` for one suite (user `app` / `apppass`, a throwaway CA, bus over TLS).
struct DedicatedRedisCluster: Sendable {
    /// The temporary directory with the certificates, configurations and logs.
    let directory: String
    /// The masters' TLS ports.
    let ports: [Int]

    /// The cluster of the suite running on this task (set by ``DedicatedRedisClusterTrait``).
    @TaskLocal static var current: DedicatedRedisCluster?

    var caFile: String { directory + "/ca.pem" }
    var otherCAFile: String { directory + "/other-ca.pem" }

    /// `rediss://app:password@127.0.0.1:<first port>/?query`: one seed.
    func url(password: String = "apppass", query: String) throws -> RedisClusterURL {
        try RedisClusterURL("rediss://app:\(password)@127.0.0.1:\(ports[0])/?\(query)")
    }

    static func start() throws -> DedicatedRedisCluster {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("redis-tls-cluster-\(UUID().uuidString.prefix(8))").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let status = try StackEnvironment.run(["/bin/bash", script, "start-cluster", directory])
        let log = (try? String(contentsOfFile: directory + "/script.log", encoding: .utf8)) ?? ""
        let ports = ((try? String(contentsOfFile: directory + "/ports", encoding: .utf8)) ?? "").split(whereSeparator: \.isNewline).compactMap { Int($0) }
        guard status == 0, ports.count == 3 else {
            _ = try? StackEnvironment.run(["/bin/bash", script, "stop", directory])
            try? FileManager.default.removeItem(atPath: directory)
            throw TestFailure("\(script) start-cluster \(directory) failed (exit \(status)): \(log)")
        }
        return DedicatedRedisCluster(directory: directory, ports: ports)
    }

    func stop() throws {
        try StackEnvironment.run(["/bin/bash", DedicatedRedisCluster.script, "stop", directory])
        try? FileManager.default.removeItem(atPath: directory)
    }

    private static var script: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("deploy/local/redis-tls.sh").path
    }
}

/// Starts a ``DedicatedRedisCluster`` around a suite and stops it afterwards, even when tests fail.
struct DedicatedRedisClusterTrait: SuiteTrait, TestScoping {
    var isRecursive: Bool { false }

    func provideScope(for test: Test, testCase: Test.Case?, performing function: @Sendable () async throws -> Void) async throws {
        let server = try DedicatedRedisCluster.start()
        defer { try? server.stop() }
        try await DedicatedRedisCluster.$current.withValue(server) {
            try await function()
        }
    }
}

extension Trait where Self == DedicatedRedisClusterTrait {
    /// Runs the suite against its own TLS + ACL Redis Cluster.
    static var dedicatedRedisCluster: Self { DedicatedRedisClusterTrait() }
}
