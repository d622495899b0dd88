import Foundation
import RedisCache
import Synchronization
import TestSupport

/// The local stack's Redis Cluster (`STACK_REDIS_CLUSTER_URL`); a missing setting fails the test.
func clusterURL() throws -> RedisClusterURL {
    try RedisClusterURL(try clusterURLText())
}

/// `STACK_REDIS_CLUSTER_URL`, or an error saying how to start the cluster.
func clusterURLText() throws -> String {
    guard let text = ProcessInfo.processInfo.environment["STACK_REDIS_CLUSTER_URL"], !text.isEmpty else {
        throw TestFailure(
            "STACK_REDIS_CLUSTER_URL is not set: start the local stack with its Redis Cluster and load its settings: "
                + "`STACK_REDIS_CLUSTER=3 deploy/local/stack.sh up && eval \"$(deploy/local/stack.sh env)\"` (`make stack-up` does)")
    }
    return text
}

/// A cluster client for the stack's cluster.
func clusterClient(cluster: RedisClusterOptions = RedisClusterOptions()) throws -> RedisClusterClient {
    try RedisClusterClient(url: try clusterURL(), cluster: cluster)
}

/// Commands sent to single nodes of the stack's cluster, for setting up and checking faults.
struct ClusterAdmin: Sendable {
    let client: RedisClusterClient

    init() throws {
        client = try clusterClient()
    }

    /// Runs `command` on `node`; an error reply throws.
    @discardableResult
    func run(_ node: RedisClusterClient.Address, _ command: [String]) async throws -> RedisReply {
        let reply = try await client.client(for: node).command(command)
        if case .error(let message) = reply {
            throw TestFailure("\(node): \(command.prefix(3).joined(separator: " ")): \(message)")
        }
        return reply
    }

    /// The node's cluster id.
    func id(_ node: RedisClusterClient.Address) async throws -> String {
        try await run(node, ["CLUSTER", "MYID"]).text ?? ""
    }

    /// A field of `CLUSTER INFO` or `INFO <section>` text.
    func field(_ node: RedisClusterClient.Address, _ command: [String], _ name: String) async throws -> String? {
        let text = try await run(node, command).text ?? ""
        return text.split(whereSeparator: \.isNewline).first { $0.hasPrefix(name + ":") }.map { String($0.dropFirst(name.count + 1)) }
    }

    /// Every node of the map (masters and replicas), fresh.
    func nodes() async throws -> [RedisClusterClient.Address] {
        try await client.refreshTopology().nodes
    }

    /// Waits until every node reports `cluster_state:ok` with all 16,384 slots assigned and
    /// agrees on who serves `slot` (if given); throws after `seconds`.
    func waitHealthy(within seconds: Double = 30) async throws {
        let deadline = Date().addingTimeInterval(seconds)
        var last = ""
        while Date() < deadline {
            var healthy = true
            for node in try await nodes() {
                let state = try? await field(node, ["CLUSTER", "INFO"], "cluster_state")
                let assigned = try? await field(node, ["CLUSTER", "INFO"], "cluster_slots_assigned")
                if state != "ok" || assigned != "16384" {
                    healthy = false
                    last = "\(node): cluster_state \(state ?? "?"), slots assigned \(assigned ?? "?")"
                }
            }
            if healthy { return }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw TestFailure("the cluster is not healthy after \(seconds) s: \(last)")
    }

    /// Moves `slot` from `source` to `target` the way `redis-cli --cluster reshard` does
    /// (Redis Cluster specification, "Cluster live reconfiguration"): IMPORTING on the target,
    /// MIGRATING on the source, MIGRATE of its keys in groups of `group` with `pause` between
    /// groups, then SETSLOT NODE on the target, the source and the other masters. Also finishes
    /// a move that was interrupted.
    func moveSlot(_ slot: Int, from source: RedisClusterClient.Address, to target: RedisClusterClient.Address, group: Int = 100, pause: Duration = .zero, stopBefore finishing: Bool = false) async throws {
        let sourceID = try await id(source)
        let targetID = try await id(target)
        try await run(target, ["CLUSTER", "SETSLOT", String(slot), "IMPORTING", sourceID])
        try await run(source, ["CLUSTER", "SETSLOT", String(slot), "MIGRATING", targetID])
        try await migrateKeys(slot, from: source, to: target, group: group, pause: pause)
        guard !finishing else { return }
        try await assign(slot, to: target, targetID: targetID, source: source)
    }

    /// MIGRATEs every key of `slot` still on `source` to `target`, at most `limit` keys if given.
    func migrateKeys(_ slot: Int, from source: RedisClusterClient.Address, to target: RedisClusterClient.Address, group: Int = 100, pause: Duration = .zero, limit: Int? = nil) async throws {
        var moved = 0
        while limit.map({ moved < $0 }) ?? true {
            let count = min(group, limit.map { $0 - moved } ?? group)
            guard case .array(let found) = try await run(source, ["CLUSTER", "GETKEYSINSLOT", String(slot), String(count)]), !found.isEmpty else { return }
            let keys = found.compactMap(\.text)
            try await run(source, ["MIGRATE", target.host, String(target.port), "", "0", "5000", "KEYS"] + keys)
            moved += keys.count
            if pause > .zero { try await Task.sleep(for: pause) }
        }
    }

    /// `CLUSTER SETSLOT slot NODE target` on the target, the source, then every other master.
    func assign(_ slot: Int, to target: RedisClusterClient.Address, targetID: String? = nil, source: RedisClusterClient.Address) async throws {
        var resolved = targetID
        if resolved == nil { resolved = try await id(target) }
        let targetID = resolved!
        try await run(target, ["CLUSTER", "SETSLOT", String(slot), "NODE", targetID])
        try await run(source, ["CLUSTER", "SETSLOT", String(slot), "NODE", targetID])
        for master in try await client.refreshTopology().masters where master != target && master != source {
            try await run(master, ["CLUSTER", "SETSLOT", String(slot), "NODE", targetID])
        }
    }
}

/// Set once by a test to tell a ``ClusterWriteLoop`` to finish.
final class StopSignal: Sendable {
    private let state = Mutex(false)

    func fire() {
        state.withLock { $0 = true }
    }

    var fired: Bool {
        state.withLock { $0 }
    }
}

/// Writes batches of keys through a cluster client while a test changes the cluster: every
/// batch that throws (a node down, a failover) is sent again after 50 ms, since a SET of the
/// same value is safe to repeat; after 2,000 such failures, or 30 s after the stop signal, it
/// gives up. After the stop signal it writes `after` more batches, so
/// the last writes meet the cluster's final layout.
enum ClusterWriteLoop {
    struct Outcome: Sendable {
        /// Every key written and its value.
        var values: [String: String] = [:]
        /// The errors of batches that were sent again.
        var failures: [String] = []
        /// Batches that succeeded.
        var batches = 0
        /// True when it stopped before writing its batches after the stop signal.
        var gaveUp = false
    }

    static let maximumFailures = 2000

    static func start(
        _ client: RedisClusterClient, after: Int = 50, stop: StopSignal, keys: @escaping @Sendable (Int) -> [String]
    ) -> Task<Outcome, Never> {
        Task {
            var outcome = Outcome()
            var remaining = Int.max
            var batch = 0
            var deadline = Date.distantFuture
            while remaining > 0 {
                guard outcome.failures.count < maximumFailures, Date() < deadline else {
                    outcome.gaveUp = true
                    break
                }
                if stop.fired, remaining == Int.max {
                    remaining = after
                    deadline = Date().addingTimeInterval(30)
                }
                let names = keys(batch)
                let value = "b\(batch)"
                do {
                    let replies = try await client.pipeline(names.map { ["SET", $0, value, "EX", "600"] })
                    if let bad = replies.first(where: { $0 != .status("OK") }) {
                        outcome.failures.append("batch \(batch): \(bad)")
                    } else {
                        names.forEach { outcome.values[$0] = value }
                        outcome.batches += 1
                        batch += 1
                        if remaining != Int.max { remaining -= 1 }
                    }
                } catch {
                    outcome.failures.append("batch \(batch): \(error)")
                    try? await Task.sleep(for: .milliseconds(50))
                }
            }
            return outcome
        }
    }
}

extension ClusterAdmin {
    /// Waits until every replica's link to its master is up, so a manual failover can start.
    func waitReplicasInSync(within seconds: Double = 30) async throws {
        let deadline = Date().addingTimeInterval(seconds)
        var last = ""
        while Date() < deadline {
            let topology = try await client.refreshTopology()
            var synced = true
            for replica in topology.shards.flatMap(\.replicas) {
                let link = try? await field(replica, ["INFO", "replication"], "master_link_status")
                if link?.trimmingCharacters(in: .whitespacesAndNewlines) != "up" {
                    synced = false
                    last = "\(replica): master_link_status \(link ?? "?")"
                }
            }
            if synced, topology.shards.allSatisfy({ !$0.replicas.isEmpty }) { return }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw TestFailure("replicas not in sync after \(seconds) s: \(last)")
    }

    /// The first element of `ROLE` (`master` or `slave`).
    func role(_ node: RedisClusterClient.Address) async throws -> String {
        guard case .array(let items) = try await run(node, ["ROLE"]), let role = items.first?.text else { return "?" }
        return role
    }

    /// `CLUSTER FAILOVER` on `replica`, then waits until it is a master and the cluster is
    /// healthy. A manual failover that does not complete within 5 s is abandoned by Redis, and
    /// masters refuse to vote twice for one shard within twice the node timeout (10 s on the
    /// stack), so a failover soon after another is asked for again every 6 s.
    func failover(to replica: RedisClusterClient.Address, within seconds: Double = 45) async throws {
        let deadline = Date().addingTimeInterval(seconds)
        var asked = Date.distantPast
        while try await role(replica) != "master" {
            guard Date() < deadline else { throw TestFailure("\(replica) is not a master \(seconds) s after CLUSTER FAILOVER") }
            if Date().timeIntervalSince(asked) > 6 {
                try await run(replica, ["CLUSTER", "FAILOVER"])
                asked = Date()
            }
            try await Task.sleep(for: .milliseconds(50))
        }
        try await waitHealthy(within: seconds)
    }
}
