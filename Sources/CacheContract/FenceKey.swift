/// A fence: the key holding its version, and the key of the set of derived entry keys it
/// covers (filled by fills, emptied by bumps, so a bump deletes stale entries without SCAN).
public struct FenceKey: Hashable, Sendable {
    /// `<ns>:fence:<query>[:<param>=<value>]`, a hash with fields `lsn` and `epoch`.
    public let key: String
    /// `<ns>:fmem:<query>[:<param>=<value>]`, a set of derived entry keys.
    public let members: String

    /// Makes a fence from its two keys.
    public init(key: String, members: String) {
        self.key = key
        self.members = members
    }
}
