/// The name of a cached entity (a table's rows, e.g. `order`): a ``CacheName`` that is not one
/// of the words the key grammar reserves after the namespace (``reserved``), so a row key can
/// never equal a query, fence, hot-set or meta key.
public struct EntityName: Hashable, Sendable, CustomStringConvertible {
    /// The validated name.
    public let name: CacheName

    /// Second key segments that belong to the contract itself.
    public static let reserved: Set<String> = ["q", "fence", "fmem", "hot", "meta"]

    /// Validates `rawValue` as a ``CacheName`` that is not reserved.
    public init(_ rawValue: String) throws(CacheContractError) {
        let name = try CacheName(rawValue)
        guard !EntityName.reserved.contains(rawValue) else {
            throw CacheContractError(
                code: .invalidName, context: rawValue,
                message: "entity names \(EntityName.reserved.sorted()) are reserved by the key grammar")
        }
        self.name = name
    }

    /// The name as written in keys.
    public var description: String { name.rawValue }
}
