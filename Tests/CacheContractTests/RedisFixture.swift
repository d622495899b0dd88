import TestSupport
import CacheContract
import Foundation
import PGOutput
import RedisCache

/// A Redis connection and a namespace of its own (so parallel tests never share keys), with
/// the contract's commands for it. ``removeKeys()`` deletes the namespace's keys.
final class RedisFixture {
    let redis: RedisConnection
    let keys: CacheKeys
    let commands: CacheCommands

    init(ttl: CacheTTL = CacheTTL(entry: .seconds(120), tombstone: .seconds(120), fence: .seconds(120), hot: .seconds(120))) throws {
        redis = try RedisConnection(url: try RedisURL(try StackEnvironment.require("REDIS_URL")))
        let namespace = try CacheNamespace("cwtest-" + UUID().uuidString.prefix(12).lowercased())
        keys = CacheKeys(namespace: namespace)
        commands = CacheCommands(keys: keys, ttl: ttl)
    }

    deinit {
        try? removeKeys()
    }

    /// Runs one script call (reloading the script on NOSCRIPT).
    func run(_ call: RedisScriptCall) throws -> RedisReply {
        try redis.evaluate(call)
    }

    /// Starts an epoch (proposing `proposed`) with fill floor `floor`; returns it.
    @discardableResult
    func beginEpoch(proposed: Int64 = 1, floor: LSN = .zero) throws -> Int64 {
        let reply = try run(commands.beginEpoch(proposed: proposed, floor: floor))
        guard let epoch = try CacheEpoch.parse(reply) else { throw CacheContractError(code: .unexpectedReply, message: "no epoch") }
        return epoch
    }

    func set(_ key: String, _ row: String, _ lsn: UInt64, epoch: Int64) throws -> WriteOutcome {
        try WriteOutcome(reply: run(commands.setRow(key, row: row, lsn: LSN(lsn), epoch: epoch)))
    }

    func tombstone(_ key: String, _ lsn: UInt64, epoch: Int64) throws -> WriteOutcome {
        try WriteOutcome(reply: run(commands.tombstone(key, lsn: LSN(lsn), epoch: epoch)))
    }

    func fillRow(_ key: String, _ row: String, _ lsn: UInt64, epoch: Int64, minimum: UInt64? = nil) throws -> FillOutcome {
        try FillOutcome(reply: run(commands.fillRow(key, row: row, lsn: LSN(lsn), epoch: epoch, minimum: minimum.map { LSN($0) })))
    }

    func fillDerived(_ key: String, _ value: String, _ lsn: UInt64, epoch: Int64, fences: [FenceKey]) throws -> FillOutcome {
        try FillOutcome(reply: run(commands.fillDerived(key, value: value, lsn: LSN(lsn), epoch: epoch, fences: fences, minimum: nil)))
    }

    func bump(_ fence: FenceKey, _ lsn: UInt64, epoch: Int64) throws -> FenceBump {
        try FenceBump(reply: run(commands.bumpFence(fence, lsn: LSN(lsn), epoch: epoch)))
    }

    func read(_ key: String, fences: [FenceKey] = []) throws -> CacheRead {
        try CacheRead(reply: run(commands.read(key, fences: fences)))
    }

    /// Deletes every key of this fixture's namespace.
    func removeKeys() throws {
        var cursor = "0"
        repeat {
            let reply = try redis.command(["SCAN", cursor, "MATCH", keys.namespace.rawValue + ":*", "COUNT", "1000"])
            guard case .array(let parts) = reply, parts.count == 2, let next = parts[0].text, case .array(let found) = parts[1] else { return }
            let names = found.compactMap(\.text)
            if !names.isEmpty { _ = try redis.command(["DEL"] + names) }
            cursor = next
        } while cursor != "0"
    }
}
