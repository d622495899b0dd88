import Logging
import PostgresNIO

extension DatabaseURL {
    /// Why connecting fails, in one line, or nil when a connection opens. A `PostgresClient`'s
    /// pool retries failed connections in the background and its callers only see a timeout; one
    /// direct attempt names the cause (a certificate that does not verify, a refused connection,
    /// a rejected password). Never includes the password.
    func connectionFailure(timeout: Duration) async -> String? {
        let tls: PostgresConnection.Configuration.TLS
        do {
            switch tlsMode {
            case nil: tls = .disable
            case (let configuration, true)?: tls = .require(try NIOSSLContext(configuration: configuration))
            case (let configuration, false)?: tls = .prefer(try NIOSSLContext(configuration: configuration))
            }
        } catch {
            return "TLS settings (sslrootcert \(sslRootCert ?? "system")) cannot be used: \(Self.oneLine(String(describing: error)))"
        }
        var configuration = PostgresConnection.Configuration(host: host, port: port, username: user, password: password, database: database, tls: tls)
        configuration.options.connectTimeout = .milliseconds(Self.milliseconds(timeout))
        var logger = Logger(label: "cache-reads.diagnosis")
        logger.logLevel = .critical
        do {
            let connection = try await PostgresConnection.connect(configuration: configuration, id: 0, logger: logger)
            try? await connection.close()
            return nil
        } catch let error as PSQLError {
            if let message = error.serverInfo?[.message] { return message }
            let text = String(reflecting: error)
            if text.contains("CERTIFICATE_VERIFY_FAILED") {
                return "the server's TLS certificate does not verify (sslmode=\(sslMode), sslrootcert=\(sslRootCert ?? "system"))"
            }
            if text.contains("Connection refused") { return "connection refused" }
            return Self.oneLine(text)
        } catch {
            return Self.oneLine(String(reflecting: error))
        }
    }

    /// `text` on one line, at most 300 characters.
    static func oneLine(_ text: String) -> String {
        String(text.split(whereSeparator: \.isNewline).joined(separator: " ").prefix(300))
    }
}

extension CacheReads {
    /// `error` with the cause of a connection failure added when it is a timeout of `url`.
    static func explained(_ error: any Error, url: DatabaseURL, within: Duration) async -> any Error {
        guard let timeout = error as? CacheReadsError, timeout.code == .timeout,
            let reason = await url.connectionFailure(timeout: within)
        else { return error }
        return CacheReadsError(code: .timeout, context: timeout.context, message: "\(timeout.message); connecting to \(url) fails: \(reason)")
    }
}
