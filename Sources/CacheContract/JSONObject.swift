/// A JSON object in `jsonb` form: one member per key (the last one given wins) and members
/// ordered by the key's UTF-8 length, then bytewise — the order Postgres stores and prints.
public struct JSONObject: Hashable, Sendable {
    /// One key and its value.
    public struct Member: Hashable, Sendable {
        /// The key.
        public var key: String
        /// The value.
        public var value: JSONValue

        /// Makes a member.
        public init(key: String, value: JSONValue) {
            self.key = key
            self.value = value
        }
    }

    /// The members in jsonb order, keys unique.
    public let members: [Member]

    /// Makes an object from members in any order; for equal keys (compared bytewise) the last
    /// one wins, as in `jsonb`.
    public init(members input: [Member]) {
        var byKey: [[UInt8]: Int] = [:]
        var unique: [Member] = []
        for member in input {
            let key = Array(member.key.utf8)
            if let index = byKey[key] {
                unique[index] = member
            } else {
                byKey[key] = unique.count
                unique.append(member)
            }
        }
        self.members = unique.sorted { JSONObject.jsonbKeyOrder($0.key, $1.key) }
    }

    /// Makes an object from a dictionary.
    public init(_ dictionary: [String: JSONValue]) {
        self.init(members: dictionary.map { Member(key: $0.key, value: $0.value) })
    }

    /// The value for `key` (compared bytewise), or nil.
    public subscript(key: String) -> JSONValue? {
        members.first { $0.key.utf8.elementsEqual(key.utf8) }?.value
    }

    /// jsonb's key order: shorter UTF-8 first, equal lengths bytewise (`lengthCompareJsonbString`).
    public static func jsonbKeyOrder(_ lhs: String, _ rhs: String) -> Bool {
        let left = lhs.utf8, right = rhs.utf8
        if left.count != right.count { return left.count < right.count }
        return left.lexicographicallyPrecedes(right)
    }
}
