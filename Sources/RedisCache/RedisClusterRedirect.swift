/// What a cluster node's error reply asks the client to do (Redis Cluster specification,
/// "Redirection and resharding": `MOVED` and `ASK`; "Multi-keys operations": `TRYAGAIN`;
/// "Failure detection": `CLUSTERDOWN`).
enum RedisClusterRedirect: Equatable {
    /// `MOVED <slot> <host>:<port>`: the slot lives on that node now; update the map and resend there.
    case moved(slot: Int, to: RedisClusterTopology.Address)
    /// `ASK <slot> <host>:<port>`: during a migration, send `ASKING` then this one command there, once.
    case ask(slot: Int, to: RedisClusterTopology.Address)
    /// `TRYAGAIN` (a multi-key command during a migration) or `CLUSTERDOWN`: retry after a short wait.
    case busy

    /// The redirect in `reply`, or nil when it is another reply. `from` is the node that answered:
    /// an empty host in the address means that node's host.
    init?(_ reply: RedisReply, from: RedisClusterTopology.Address) {
        guard case .error(let message) = reply else { return nil }
        let words = message.split(separator: " ", omittingEmptySubsequences: true)
        guard let first = words.first else { return nil }
        switch first {
        case "MOVED", "ASK":
            guard words.count >= 3, let slot = Int(words[1]), let colon = words[2].lastIndex(of: ":"),
                let port = Int(words[2][words[2].index(after: colon)...])
            else { return nil }
            let host = String(words[2][..<colon])
            let address = RedisClusterTopology.Address(host: host.isEmpty ? from.host : host, port: port)
            self = first == "MOVED" ? .moved(slot: slot, to: address) : .ask(slot: slot, to: address)
        case "TRYAGAIN", "CLUSTERDOWN":
            self = .busy
        default:
            return nil
        }
    }
}
