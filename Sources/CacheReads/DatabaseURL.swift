import Foundation
import PostgresNIO

/// A parsed `postgres://user:password@host:port/database?sslmode=...` URL, turned into a
/// `PostgresClient` configuration. It sends no session settings at startup: a pooler in
/// transaction mode refuses or drops them; every transaction sets its own (`VersionedFetch`).
struct DatabaseURL: Sendable, CustomStringConvertible {
    var host: String
    var port: Int
    var user: String
    var password: String?
    var database: String?
    var sslMode: String
    /// libpq's `sslrootcert`: a PEM file with the CAs that verify the server (nil or `system`:
    /// the system's trust store).
    var sslRootCert: String?

    init(_ text: String) throws(CacheReadsError) {
        guard let components = URLComponents(string: text), let scheme = components.scheme,
            scheme == "postgres" || scheme == "postgresql", let host = components.host, !host.isEmpty,
            let user = components.user, !user.isEmpty
        else {
            throw CacheReadsError(code: .configuration, context: Self.redact(text), message: "not a postgres://user@host URL")
        }
        self.host = host
        self.port = components.port ?? 5432
        self.user = user.removingPercentEncoding ?? user
        self.password = components.password.map { $0.removingPercentEncoding ?? $0 }
        let path = components.path.drop(while: { $0 == "/" })
        self.database = path.isEmpty ? nil : String(path)
        self.sslMode = components.queryItems?.first(where: { $0.name == "sslmode" })?.value ?? "prefer"
        self.sslRootCert = components.queryItems?.first(where: { $0.name == "sslrootcert" })?.value
    }

    /// `host:port/database`, no credentials.
    var description: String { "\(host):\(port)/\(database ?? user)" }

    /// A pool configuration: TLS by `sslmode`, the connect timeout and pool size of `settings`,
    /// no startup parameters.
    func clientConfiguration(settings: CacheReadsConfiguration) -> PostgresClient.Configuration {
        let tls: PostgresClient.Configuration.TLS
        switch tlsMode {
        case nil: tls = .disable
        case (let tlsConfiguration, true)?: tls = .require(tlsConfiguration)
        case (let tlsConfiguration, false)?: tls = .prefer(tlsConfiguration)
        }
        var configuration = PostgresClient.Configuration(
            host: host, port: port, username: user, password: password, database: database, tls: tls)
        configuration.options.connectTimeout = settings.connectTimeout
        configuration.options.maximumConnections = settings.maximumConnections
        return configuration
    }

    /// TLS by `sslmode` and `sslrootcert` (nil: no TLS), and whether it is required.
    var tlsMode: (configuration: TLSConfiguration, required: Bool)? {
        var tlsConfiguration = TLSConfiguration.makeClientConfiguration()
        switch sslMode {
        case "disable", "allow": return nil
        case "require", "verify-ca", "verify-full":
            // As libpq: require with a root certificate verifies the chain like verify-ca;
            // verify-full also checks the host name against the certificate.
            switch sslMode {
            case "require" where sslRootCert == nil: tlsConfiguration.certificateVerification = .none
            case "require", "verify-ca": tlsConfiguration.certificateVerification = .noHostnameVerification
            default: tlsConfiguration.certificateVerification = .fullVerification
            }
            if let sslRootCert, sslRootCert != "system" { tlsConfiguration.trustRoots = .file(sslRootCert) }
            return (tlsConfiguration, true)
        default:
            tlsConfiguration.certificateVerification = .none
            return (tlsConfiguration, false)
        }
    }

    static func milliseconds(_ duration: Duration) -> Int64 {
        let (seconds, attoseconds) = duration.components
        return max(1, seconds * 1000 + attoseconds / 1_000_000_000_000_000)
    }

    static func redact(_ text: String) -> String {
        guard var components = URLComponents(string: text), components.password != nil else { return text }
        components.password = "***"
        return components.string ?? "<unparsable URL>"
    }
}
