import RedisCache
/// A derived entry's parameters in canonical form: the jsonb text of the parameter object and
/// the first 32 hex digits (128 bits) of its SHA-256, which names the entry in Redis.
public struct CanonicalParameters: Hashable, Sendable {
    /// The parameters as an object.
    public let object: JSONObject
    /// The canonical JSON text (also the member of the query's hot set).
    public let json: String
    /// 32 lowercase hex digits: SHA-256 of ``json``'s UTF-8 bytes, first 16 bytes.
    public let hash: String

    /// Canonicalizes a parameter object.
    public init(_ object: JSONObject) {
        self.object = object
        self.json = CanonicalJSON.render(.object(object))
        self.hash = String(HexDigest.sha256(json.utf8).prefix(32))
    }

    /// Canonicalizes named parameters.
    public init(_ parameters: [String: JSONValue]) {
        self.init(JSONObject(parameters))
    }

    /// Parses parameter JSON (e.g. a hot-set member); it must be an object.
    public init(json: String) throws(CacheContractError) {
        guard case .object(let object) = try CanonicalJSON.parse(json) else {
            throw CacheContractError(code: .invalidJSON, context: String(json.prefix(60)), message: "parameters must be a JSON object")
        }
        self.init(object)
    }
}
