import CacheContract
import Foundation
import PGOutput
import RedisCache

/// The positions the worker confirmed and when, in `<ns>:meta:history` (a sorted set: member =
/// LSN as 16 hex digits, score = Unix milliseconds of the first confirmation). They map times to
/// LSNs for `--since`/`--until` and tell the worker how far the history slot may advance; kept
/// in Redis so a restarted worker (or `replay` in another process) finds them.
public struct HistoryRecord: Sendable {
    /// One recorded position.
    public struct Entry: Hashable, Sendable {
        /// A position the worker confirmed (a commit end, or an idle WAL end).
        public var lsn: LSN
        /// When the worker first confirmed it.
        public var time: Date
    }

    let key: String
    let redis: RedisClient

    /// The record of `keys`' namespace in `redis`.
    public init(keys: CacheKeys, redis: RedisClient) {
        self.key = keys.history
        self.redis = redis
    }

    /// Records `lsn` as confirmed at `time` unless it is recorded already (first time wins).
    func record(_ lsn: LSN, at time: Date) async throws {
        let reply = try await redis.command(["ZADD", key, "NX", Self.score(time), lsn.sortableString])
        if case .error(let message) = reply { throw RedisError(serverReply: message, server: redis.url.description) }
    }

    /// The newest entry recorded at or before `time`, if any.
    public func newest(atOrBefore time: Date) async throws -> Entry? {
        try await entries(["ZREVRANGEBYSCORE", key, Self.score(time), "-inf", "WITHSCORES", "LIMIT", "0", "1"]).first
    }

    /// The oldest entry recorded at or after `time`, if any.
    public func oldest(atOrAfter time: Date) async throws -> Entry? {
        try await entries(["ZRANGEBYSCORE", key, Self.score(time), "+inf", "WITHSCORES", "LIMIT", "0", "1"]).first
    }

    /// Every entry, oldest first.
    public func all() async throws -> [Entry] {
        try await entries(["ZRANGE", key, "0", "-1", "WITHSCORES"])
    }

    /// When `lsn` was recorded, if it was.
    public func time(of lsn: LSN) async throws -> Date? {
        let reply = try await redis.command(["ZSCORE", key, lsn.sortableString])
        return reply.text.flatMap { Double($0) }.map { Date(timeIntervalSince1970: $0 / 1000) }
    }

    /// Removes the entries recorded before `time` (the history slot has passed them).
    func trim(before time: Date) async throws {
        _ = try await redis.command(["ZREMRANGEBYSCORE", key, "-inf", "(" + Self.score(time)])
    }

    private func entries(_ command: [String]) async throws -> [Entry] {
        let reply = try await redis.command(command)
        if case .error(let message) = reply { throw RedisError(serverReply: message, server: redis.url.description) }
        guard case .array(let items) = reply else { return [] }
        var result: [Entry] = []
        for index in stride(from: 0, to: items.count - 1, by: 2) {
            guard let lsn = items[index].text.flatMap({ LSN(sortableString: $0) }), let score = items[index + 1].text.flatMap({ Double($0) }) else {
                continue
            }
            result.append(Entry(lsn: lsn, time: Date(timeIntervalSince1970: score / 1000)))
        }
        return result
    }

    /// Unix milliseconds, as an integer string.
    static func score(_ time: Date) -> String {
        String(Int64((time.timeIntervalSince1970 * 1000).rounded(.down)))
    }
}
