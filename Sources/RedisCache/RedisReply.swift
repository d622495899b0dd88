/// A Redis reply, copied out of hiredis' memory.
public enum RedisReply: Hashable, Sendable {
    /// A bulk string.
    case string([UInt8])
    /// A status reply such as `OK`.
    case status(String)
    /// An integer reply.
    case integer(Int64)
    /// A nil (missing) reply.
    case null
    /// An array reply.
    case array([RedisReply])
    /// An error reply (`ERR ...`, `NOSCRIPT ...`): kept as a value so one failed command in a
    /// pipeline does not hide the others' replies.
    case error(String)

    /// The reply as text, for string and status replies.
    public var text: String? {
        switch self {
        case .string(let bytes): String(decoding: bytes, as: UTF8.self)
        case .status(let status): status
        default: nil
        }
    }

    /// The integer value, for integer replies.
    public var integer: Int64? {
        if case .integer(let value) = self { return value }
        return nil
    }
}
