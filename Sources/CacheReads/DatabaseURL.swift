import Foundation
import PostgresNIO

/// A parsed `postgres://user:password@host:port/database?sslmode=...` URL, turned into a
/// `PostgresClient` configuration with the contract's session settings.
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

    /// A pool configuration whose sessions use the cache contract's settings, the read (or, for
    /// the read-write pool, the write) statement timeout, and `default_transaction_read_only`
    /// when `readOnly`.
    func clientConfiguration(readOnly: Bool, settings: CacheReadsConfiguration) -> PostgresClient.Configuration {
        let tls: PostgresClient.Configuration.TLS
        switch sslMode {
        case "disable", "allow": tls = .disable
        case "require", "verify-ca", "verify-full":
            var tlsConfiguration = TLSConfiguration.makeClientConfiguration()
            // As libpq: require with a root certificate verifies the chain like verify-ca;
            // verify-full also checks the host name against the certificate.
            switch sslMode {
            case "require" where sslRootCert == nil: tlsConfiguration.certificateVerification = .none
            case "require", "verify-ca": tlsConfiguration.certificateVerification = .noHostnameVerification
            default: tlsConfiguration.certificateVerification = .fullVerification
            }
            if let sslRootCert, sslRootCert != "system" { tlsConfiguration.trustRoots = .file(sslRootCert) }
            tls = .require(tlsConfiguration)
        default:
            var tlsConfiguration = TLSConfiguration.makeClientConfiguration()
            tlsConfiguration.certificateVerification = .none
            tls = .prefer(tlsConfiguration)
        }
        var configuration = PostgresClient.Configuration(
            host: host, port: port, username: user, password: password, database: database, tls: tls)
        configuration.options.connectTimeout = settings.connectTimeout
        configuration.options.maximumConnections = settings.maximumConnections
        var parameters = Self.sessionSettings
        parameters.append(("statement_timeout", String(Self.milliseconds(readOnly ? settings.statementTimeout : settings.writeStatementTimeout))))
        if readOnly { parameters.append(("default_transaction_read_only", "on")) }
        configuration.options.additionalStartupParameters = parameters
        return configuration
    }

    /// The session settings of docs/cache-protocol.md section 4, so `to_jsonb` prints exactly
    /// what the worker renders.
    static let sessionSettings: [(String, String)] = [
        ("TimeZone", "UTC"), ("DateStyle", "ISO, MDY"), ("extra_float_digits", "1"),
        ("IntervalStyle", "postgres"), ("bytea_output", "hex"),
    ]

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
