import RedisCache

/// Parsing of epoch replies: `begin-epoch`'s new epoch and `GET <ns>:meta:epoch`.
public enum CacheEpoch {
    /// The epoch in a `begin-epoch` or `GET` reply; nil when the key is missing.
    public static func parse(_ reply: RedisReply) throws(CacheContractError) -> Int64? {
        if reply == .null { return nil }
        guard let text = reply.text, let epoch = Int64(text), epoch >= 0 else {
            throw ScriptReply.unexpected(reply, "epoch")
        }
        return epoch
    }
}
