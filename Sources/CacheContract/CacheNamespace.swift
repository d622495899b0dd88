/// The prefix of every key (default `cw`), so several deployments can share one Redis.
/// One to 64 characters of `A-Z a-z 0-9 _ . - { }`: braces allow a Redis Cluster hash tag
/// such as `{cw}`, which puts all keys of the namespace in one slot (the scripts need that).
public struct CacheNamespace: Hashable, Sendable, CustomStringConvertible {
    /// The prefix as written in keys.
    public let rawValue: String

    /// The default namespace, `cw`.
    public static let standard = CacheNamespace(unchecked: "cw")

    /// Validates `rawValue`; throws ``CacheContractError/Code-swift.enum/invalidName`` otherwise.
    public init(_ rawValue: String) throws(CacheContractError) {
        let allowed = rawValue.utf8.allSatisfy { CacheName.isAllowed($0) || $0 == UInt8(ascii: "{") || $0 == UInt8(ascii: "}") }
        guard (1...64).contains(rawValue.utf8.count), allowed else {
            throw CacheContractError(
                code: .invalidName, context: rawValue,
                message: "a namespace is 1 to 64 characters of A-Z a-z 0-9 _ . - { }")
        }
        self.rawValue = rawValue
    }

    private init(unchecked rawValue: String) {
        self.rawValue = rawValue
    }

    /// The prefix as written in keys.
    public var description: String { rawValue }
}
