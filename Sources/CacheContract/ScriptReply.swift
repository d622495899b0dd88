import PGOutput
import RedisCache

/// Shared checks for script replies: error replies and wrong shapes become
/// ``CacheContractError/Code-swift.enum/unexpectedReply`` naming the script.
enum ScriptReply {
    static func integer(_ reply: RedisReply, _ script: String) throws(CacheContractError) -> Int64 {
        guard let value = reply.integer else { throw unexpected(reply, script) }
        return value
    }

    static func array(_ reply: RedisReply, _ script: String, count: Int) throws(CacheContractError) -> [RedisReply] {
        guard case .array(let elements) = reply, elements.count == count else { throw unexpected(reply, script) }
        return elements
    }

    /// A 16-digit LSN, or nil for the empty string.
    static func optionalLSN(_ reply: RedisReply, _ script: String) throws(CacheContractError) -> LSN? {
        guard let text = reply.text else { throw unexpected(reply, script) }
        if text.isEmpty { return nil }
        guard let lsn = LSN(sortableString: text) else { throw unexpected(reply, script) }
        return lsn
    }

    /// A decimal epoch, or nil for the empty string.
    static func optionalEpoch(_ reply: RedisReply, _ script: String) throws(CacheContractError) -> Int64? {
        guard let text = reply.text else { throw unexpected(reply, script) }
        if text.isEmpty { return nil }
        guard let epoch = Int64(text) else { throw unexpected(reply, script) }
        return epoch
    }

    static func unexpected(_ reply: RedisReply, _ script: String) -> CacheContractError {
        if case .error(let message) = reply {
            return CacheContractError(code: .unexpectedReply, context: script, message: "error reply: \(message)")
        }
        return CacheContractError(code: .unexpectedReply, context: script, message: "unexpected reply \(reply)")
    }
}
