/// Which master serves each of the 16,384 hash slots, read from `CLUSTER SHARDS` (Redis 7) or
/// `CLUSTER SLOTS` (older servers) (Redis Cluster specification, "Client and Server roles in the
/// Redis cluster protocol": clients keep a map of slots to nodes and update it on `MOVED`).
public struct RedisClusterTopology: Sendable, Hashable {
    /// A node's address as clients reach it.
    public struct Address: Sendable, Hashable, CustomStringConvertible, Comparable {
        /// Host name or IP address.
        public var host: String
        /// The port a client connects to (the TLS port for `rediss://`).
        public var port: Int

        /// An address.
        public init(host: String, port: Int) {
            self.host = host
            self.port = port
        }

        /// `host:port`.
        public var description: String { "\(host):\(port)" }

        /// Orders by host, then port (for stable listings).
        public static func < (lhs: Address, rhs: Address) -> Bool {
            (lhs.host, lhs.port) < (rhs.host, rhs.port)
        }
    }

    /// One master, its replicas and the slot ranges it serves.
    public struct Shard: Sendable, Hashable {
        /// The master that serves the slots.
        public var master: Address
        /// Its replicas (not used for routing: every command goes to the master).
        public var replicas: [Address]
        /// The slot ranges it serves.
        public var slots: [ClosedRange<Int>]
    }

    /// The shards, in the order the server listed them.
    public let shards: [Shard]
    /// Slot -> index into ``shards`` (-1: no master serves the slot).
    private let owners: [Int16]

    /// A topology of `shards`; later shards win where slot ranges overlap.
    public init(shards: [Shard]) {
        var owners = [Int16](repeating: -1, count: RedisClusterSlot.count)
        for (index, shard) in shards.enumerated() {
            for range in shard.slots where range.lowerBound >= 0 && range.upperBound < RedisClusterSlot.count {
                for slot in range { owners[slot] = Int16(index) }
            }
        }
        self.shards = shards
        self.owners = owners
    }

    /// The master serving `slot`, or nil when none does (the cluster is down for that slot, or
    /// the map is incomplete).
    public func master(forSlot slot: Int) -> Address? {
        guard slot >= 0, slot < owners.count, owners[slot] >= 0 else { return nil }
        return shards[Int(owners[slot])].master
    }

    /// Every master, in ``shards`` order, without duplicates.
    public var masters: [Address] {
        var seen: Set<Address> = []
        return shards.map(\.master).filter { seen.insert($0).inserted }
    }

    /// Every node (masters and replicas).
    public var nodes: [Address] {
        var seen: Set<Address> = []
        return shards.flatMap { [$0.master] + $0.replicas }.filter { seen.insert($0).inserted }
    }

    /// The number of slots no master serves.
    public var uncoveredSlots: Int {
        owners.reduce(0) { $0 + ($1 < 0 ? 1 : 0) }
    }

    /// Parses a `CLUSTER SHARDS` reply (RESP2: each map is a flat array of names and values).
    /// `asked` is the node that answered: an empty endpoint means "this node's host"; `?` means
    /// unknown, and such a node is left out. With `tls`, a node's `tls-port` is used when given.
    public static func fromShards(_ reply: RedisReply, asked: Address, tls: Bool) throws(RedisError) -> RedisClusterTopology {
        guard case .array(let entries) = reply else { throw malformed("CLUSTER SHARDS", reply, asked) }
        var shards: [Shard] = []
        for entry in entries {
            let shard = try fields(entry, "CLUSTER SHARDS", asked)
            guard case .array(let bounds)? = shard["slots"], bounds.count % 2 == 0, case .array(let nodes)? = shard["nodes"] else {
                throw malformed("CLUSTER SHARDS", entry, asked)
            }
            var ranges: [ClosedRange<Int>] = []
            for index in stride(from: 0, to: bounds.count, by: 2) {
                guard let low = bounds[index].integer, let high = bounds[index + 1].integer, low <= high else {
                    throw malformed("CLUSTER SHARDS", entry, asked)
                }
                ranges.append(Int(low)...Int(high))
            }
            var master: (address: Address, online: Bool)?
            var replicas: [Address] = []
            for node in nodes {
                let node = try fields(node, "CLUSTER SHARDS", asked)
                let plain = node["port"]?.integer
                let secure = node["tls-port"]?.integer
                guard let port = tls ? (secure ?? plain) : (plain ?? secure), let host = endpoint(node["endpoint"] ?? node["ip"], asked) else { continue }
                let address = Address(host: host, port: Int(port))
                let online = node["health"]?.text == "online"
                if node["role"]?.text == "master" {
                    if master == nil || (online && master?.online == false) { master = (address, online) }
                } else {
                    replicas.append(address)
                }
            }
            // A shard without slots (a master that lost them all, or a new empty node) routes nothing.
            guard let master, !ranges.isEmpty else { continue }
            shards.append(Shard(master: master.address, replicas: replicas, slots: ranges))
        }
        return RedisClusterTopology(shards: shards)
    }

    /// Parses a `CLUSTER SLOTS` reply: per range `[start, end, [host, port, id, ...], replicas...]`.
    public static func fromSlots(_ reply: RedisReply, asked: Address) throws(RedisError) -> RedisClusterTopology {
        guard case .array(let entries) = reply else { throw malformed("CLUSTER SLOTS", reply, asked) }
        var byMaster: [Address: Shard] = [:]
        var order: [Address] = []
        for entry in entries {
            guard case .array(let parts) = entry, parts.count >= 3, let low = parts[0].integer, let high = parts[1].integer, low <= high else {
                throw malformed("CLUSTER SLOTS", entry, asked)
            }
            var addresses: [Address] = []
            for node in parts[2...] {
                guard case .array(let items) = node, items.count >= 2, let port = items[1].integer else { throw malformed("CLUSTER SLOTS", entry, asked) }
                guard let host = endpoint(items[0], asked) else { continue }
                addresses.append(Address(host: host, port: Int(port)))
            }
            guard let master = addresses.first else { continue }
            if byMaster[master] == nil {
                byMaster[master] = Shard(master: master, replicas: Array(addresses.dropFirst()), slots: [])
                order.append(master)
            }
            byMaster[master]?.slots.append(Int(low)...Int(high))
        }
        return RedisClusterTopology(shards: order.compactMap { byMaster[$0] })
    }

    /// A node's host from an endpoint value: empty or nil means the answering node's host, `?`
    /// an unknown endpoint (nil: the node cannot be reached).
    private static func endpoint(_ value: RedisReply?, _ asked: Address) -> String? {
        switch value?.text {
        case nil, "": asked.host
        case "?": nil
        case let host?: host
        }
    }

    /// A RESP2 map (flat array of names and values) as a dictionary.
    private static func fields(_ reply: RedisReply, _ command: String, _ asked: Address) throws(RedisError) -> [String: RedisReply] {
        guard case .array(let items) = reply, items.count % 2 == 0 else { throw malformed(command, reply, asked) }
        var fields: [String: RedisReply] = [:]
        for index in stride(from: 0, to: items.count, by: 2) {
            guard let name = items[index].text else { throw malformed(command, reply, asked) }
            fields[name] = items[index + 1]
        }
        return fields
    }

    private static func malformed(_ command: String, _ reply: RedisReply, _ asked: Address) -> RedisError {
        RedisError(code: .unexpectedReply, message: "\(asked): \(command) answered in an unexpected shape: \(String(describing: reply).prefix(200))")
    }
}
