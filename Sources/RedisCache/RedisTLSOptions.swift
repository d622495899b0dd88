/// TLS settings for `rediss://` connections. By default the server's certificate is checked
/// against the system's CA certificates and the URL's host name.
public struct RedisTLSOptions: Sendable, Hashable {
    /// A PEM file of CA certificates trusted instead of the system's (nil: system paths).
    /// The URL's `ca=` option overrides it.
    public var caFile: String?
    /// Skip certificate and host name verification. Only for tests or an explicit operator
    /// choice; the URL's `insecure=true` sets it too.
    public var insecureSkipVerification: Bool

    /// TLS options; the defaults verify against the system's CA certificates.
    public init(caFile: String? = nil, insecureSkipVerification: Bool = false) {
        self.caFile = caFile
        self.insecureSkipVerification = insecureSkipVerification
    }
}
