/// A configured name used inside keys: an entity (`order`), a query (`catalog-page`) or a
/// parameter (`category`). One to 100 characters of `A-Z a-z 0-9 _ . -`, so a name never needs
/// escaping and never contains the key separators `:` `=` `%`.
public struct CacheName: Hashable, Sendable, CustomStringConvertible {
    /// The name as written in keys.
    public let rawValue: String

    /// Validates `rawValue`; throws ``CacheContractError/Code-swift.enum/invalidName`` otherwise.
    public init(_ rawValue: String) throws(CacheContractError) {
        guard (1...100).contains(rawValue.utf8.count), rawValue.utf8.allSatisfy(CacheName.isAllowed) else {
            throw CacheContractError(
                code: .invalidName, context: rawValue,
                message: "a name is 1 to 100 characters of A-Z a-z 0-9 _ . -")
        }
        self.rawValue = rawValue
    }

    /// The name as written in keys.
    public var description: String { rawValue }

    static func isAllowed(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
            UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "_"), UInt8(ascii: "."), UInt8(ascii: "-"):
            true
        default:
            false
        }
    }
}
