import PostgresNIO

/// Which database failures are worth another attempt: broken or refused connections, the pool
/// giving up on connecting, admin shutdowns, serialization failures and deadlocks, too many
/// connections, and our own attempt timeout.
enum TransientError {
    static let sqlStates: Set<String> = ["40001", "40P01", "57P01", "57P02", "57P03", "53300", "08000", "08003", "08006", "08001", "08004"]

    static func isTransient(_ error: any Error) -> Bool {
        if let error = error as? PSQLError {
            switch error.code {
            case .server:
                guard let state = error.serverInfo?[.sqlState] else { return false }
                return sqlStates.contains(state)
            case .connectionError, .serverClosedConnection, .clientClosedConnection, .uncleanShutdown:
                return true
            default:
                return false
            }
        }
        if let error = error as? CacheReadsError { return error.code == .timeout }
        // ConnectionPoolError (circuit breaker, request timeout) and NIO connect errors.
        let type = String(describing: Swift.type(of: error))
        return type.contains("ConnectionPool") || type.contains("NIOConnectionError") || type.contains("ChannelError")
    }

    /// The SQLSTATE of a server error, if any.
    static func sqlState(_ error: any Error) -> String? {
        (error as? PSQLError)?.serverInfo?[.sqlState]
    }

    /// A short, single-line description (PSQLError's default hides the server message).
    static func describe(_ error: any Error) -> String {
        if let error = error as? PSQLError {
            if let info = error.serverInfo {
                return "\(info[.sqlState] ?? "?") \(info[.message] ?? "")"
            }
            return "\(error.code)"
        }
        return String(describing: error)
    }
}
