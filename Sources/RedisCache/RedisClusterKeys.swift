/// Where a command's keys are, so the cluster client can send it to the master of their hash
/// slot. Every key of one command must hash to one slot (Redis Cluster specification,
/// "Implemented subset": multi-key operations need all keys in one slot, else the server
/// answers `CROSSSLOT`); the client checks that before sending anything.
enum RedisClusterKeys {
    /// Commands without keys; the cluster client sends them to one master (the first in the map).
    static let keyless: Set<String> = [
        "PING", "ECHO", "INFO", "TIME", "DBSIZE", "CLUSTER", "SCRIPT", "CLIENT", "CONFIG", "COMMAND",
        "FUNCTION", "FLUSHALL", "FLUSHDB", "SCAN", "KEYS", "RANDOMKEY", "WAIT", "LASTSAVE", "HELLO",
        "ROLE", "SLOWLOG", "LATENCY", "MEMORY", "ACL", "PUBLISH",
    ]
    /// Commands whose arguments from the first on are all keys.
    static let allKeys: Set<String> = [
        "DEL", "UNLINK", "EXISTS", "TOUCH", "MGET", "WATCH", "SINTER", "SUNION", "SDIFF", "PFCOUNT",
        "SINTERSTORE", "SUNIONSTORE", "SDIFFSTORE", "PFMERGE",
    ]
    /// Commands whose first two arguments are keys.
    static let twoKeys: Set<String> = ["RENAME", "RENAMENX", "SMOVE", "RPOPLPUSH", "LMOVE", "COPY"]
    /// Commands with `numkeys` as their second argument, followed by that many keys.
    static let counted: Set<String> = ["EVAL", "EVALSHA", "EVAL_RO", "EVALSHA_RO", "FCALL", "FCALL_RO"]
    /// Commands a cluster pipeline cannot carry: a transaction or a connection setting would
    /// span whichever nodes the pipeline is split over.
    static let refused: Set<String> = ["MULTI", "EXEC", "DISCARD", "SELECT", "AUTH", "QUIT", "ASKING", "READONLY", "READWRITE", "SUBSCRIBE", "PSUBSCRIBE", "MONITOR"]

    /// The hash slot of a command's keys: nil for a keyless command. Throws
    /// ``RedisError/Code-swift.enum/crossSlot`` when its keys hash to different slots, and
    /// ``RedisError/Code-swift.enum/invalidCommand`` for an empty or unsupported command.
    /// `argument(i)` is the i-th argument's bytes.
    static func slot(count: Int, argument: (Int) -> [UInt8]) throws(RedisError) -> Int? {
        guard count > 0 else { throw RedisError(code: .invalidCommand, message: "an empty command") }
        let name = String(decoding: argument(0), as: UTF8.self).uppercased()
        if refused.contains(name) {
            throw RedisError(code: .invalidCommand, message: "\(name) cannot be sent through the cluster client (its pipelines are split over several nodes)")
        }
        let positions: [Int]
        if keyless.contains(name) || count == 1 {
            positions = []
        } else if allKeys.contains(name) {
            positions = Array(1..<count)
        } else if name == "MSET" || name == "MSETNX" {
            positions = Array(stride(from: 1, to: count, by: 2))
        } else if twoKeys.contains(name) {
            positions = Array(1..<min(3, count))
        } else if counted.contains(name) {
            guard count >= 3, let keys = Int(String(decoding: argument(2), as: UTF8.self)), keys >= 0, 3 + keys <= count else {
                throw RedisError(code: .invalidCommand, message: "\(name) needs numkeys and that many keys")
            }
            positions = Array(3..<(3 + keys))
        } else {
            positions = [1]
        }
        var slot: Int?
        for position in positions {
            let next = RedisClusterSlot.of(argument(position))
            if let slot, slot != next {
                throw RedisError(
                    code: .crossSlot,
                    message: "CROSSSLOT: the keys of \(name) hash to slots \(slot) and \(next); in a cluster all keys of one command must share a slot (give them one hash tag {...})")
            }
            slot = next
        }
        return slot
    }

    /// The slot of a text command.
    static func slot(_ command: [String]) throws(RedisError) -> Int? {
        try slot(count: command.count) { Array(command[$0].utf8) }
    }

    /// The slot of a command with raw byte arguments.
    static func slot(_ command: [[UInt8]]) throws(RedisError) -> Int? {
        try slot(count: command.count) { command[$0] }
    }
}
