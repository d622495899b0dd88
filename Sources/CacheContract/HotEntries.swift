import RedisCache

/// The most-read parameter sets of a query (the reply of ``CacheCommands/hottest(_:limit:)``),
/// most read first, for the worker to re-warm.
public struct HotEntries: Hashable, Sendable {
    /// One parameter set and its sampled read count.
    public struct Entry: Hashable, Sendable {
        /// The parameters.
        public var parameters: CanonicalParameters
        /// The sampled read count.
        public var score: Double
    }

    /// The entries, highest score first; members that do not parse are skipped.
    public var entries: [Entry]

    /// Parses a `ZREVRANGE ... WITHSCORES` reply.
    public init(reply: RedisReply) throws(CacheContractError) {
        guard case .array(let items) = reply, items.count % 2 == 0 else { throw ScriptReply.unexpected(reply, "hottest") }
        var entries: [Entry] = []
        for index in stride(from: 0, to: items.count, by: 2) {
            guard let json = items[index].text, let scoreText = items[index + 1].text, let score = Double(scoreText) else {
                throw ScriptReply.unexpected(reply, "hottest")
            }
            if let parameters = try? CanonicalParameters(json: json) {
                entries.append(Entry(parameters: parameters, score: score))
            }
        }
        self.entries = entries
    }
}
