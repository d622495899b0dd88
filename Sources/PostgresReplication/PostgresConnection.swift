import CLibPQ
import Foundation

/// One libpq connection that owns its `PGconn` and closes it on deinit. Regular or a
/// `replication=database` walsender connection (for slot commands and streaming).
///
/// Calls block the calling thread: async callers run them on a dedicated thread, never on the
/// cooperative pool. Nothing outside this type sees the C handle.
public final class PostgresConnection {
    private let connection: OpaquePointer
    /// Where this connection goes (password redacted in its description).
    public let target: ConnectionString

    /// Connects. `replication` opens a logical replication (walsender) connection.
    ///
    /// - Parameters:
    ///   - target: a `postgres://` URL or `key=value` string; TLS settings (`sslmode`,
    ///     `sslrootcert`, ...) in it are passed through to libpq.
    ///   - replication: open with `replication=database`.
    ///   - connectTimeout: seconds (libpq's `connect_timeout`, at least 2).
    ///   - applicationName: shown in `pg_stat_activity`.
    public init(
        _ target: ConnectionString, replication: Bool = false, connectTimeout: Int = 10,
        applicationName: String = "cache-warmer"
    ) throws(PostgresError) {
        self.target = target
        var keys = ["dbname", "connect_timeout", "application_name"]
        var values = [target.rawValue, String(max(2, connectTimeout)), applicationName]
        if replication {
            keys.append("replication")
            values.append("database")
        }
        let handle = keys.withCStringArray { keyPointers in
            values.withCStringArray { valuePointers in
                PQconnectdbParams(keyPointers, valuePointers, 1)
            }
        }
        guard let handle else {
            throw PostgresError(code: .connectionFailed, message: "\(target): libpq could not allocate a connection")
        }
        guard PQstatus(handle) == CONNECTION_OK else {
            let reason = PostgresConnection.errorMessage(handle)
            PQfinish(handle)
            throw PostgresError(code: .connectionFailed, message: "cannot connect to \(target): \(reason)")
        }
        self.connection = handle
    }

    deinit {
        PQfinish(connection)
    }

    /// Runs one or more SQL statements with the simple query protocol and returns the last
    /// result. Throws with the server's SQLSTATE when a statement fails.
    @discardableResult
    public func execute(_ sql: String) throws(PostgresError) -> QueryResult {
        guard let result = PQexec(connection, sql) else {
            throw PostgresError(code: .connectionLost, message: "\(target): \(PostgresConnection.errorMessage(connection))")
        }
        defer { PQclear(result) }
        switch PQresultStatus(result) {
        case PGRES_TUPLES_OK, PGRES_COMMAND_OK, PGRES_EMPTY_QUERY:
            return PostgresConnection.copy(result)
        default:
            let state = PQresultErrorField(result, Int32(UInt8(ascii: "C"))).map { String(cString: $0) }
            let message = PQresultErrorMessage(result).map { String(cString: $0) } ?? "unknown error"
            let lost = PQstatus(connection) != CONNECTION_OK
            throw PostgresError(
                code: lost ? .connectionLost : .queryFailed, sqlState: state,
                message: "\(target): \(PostgresConnection.oneLine(message)) (statement: \(PostgresConnection.oneLine(String(sql.prefix(200)))))")
        }
    }

    /// The server's `server_version_num` (e.g. 150018).
    public var serverVersion: Int {
        Int(PQserverVersion(connection))
    }

    private static func copy(_ result: OpaquePointer) -> QueryResult {
        let columnCount = PQnfields(result)
        let rowCount = PQntuples(result)
        let columns = (0..<columnCount).map { String(cString: PQfname(result, $0)) }
        let rows = (0..<rowCount).map { row in
            (0..<columnCount).map { column -> String? in
                PQgetisnull(result, row, column) == 1 ? nil : String(cString: PQgetvalue(result, row, column))
            }
        }
        return QueryResult(columns: columns, rows: rows, commandTag: String(cString: PQcmdStatus(result)))
    }

    private static func errorMessage(_ connection: OpaquePointer) -> String {
        oneLine(PQerrorMessage(connection).map { String(cString: $0) } ?? "unknown error")
    }

    /// Folds libpq's multi-line messages into one line.
    static func oneLine(_ text: String) -> String {
        text.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }.joined(separator: " ")
    }
}

extension Array where Element == String {
    /// Calls `body` with a NULL-terminated C array of C strings.
    fileprivate func withCStringArray<R>(_ body: (UnsafePointer<UnsafePointer<CChar>?>) -> R) -> R {
        let duplicates = map { strdup($0) }
        defer { duplicates.forEach { free($0) } }
        let pointers = duplicates.map { UnsafePointer($0) } + [nil]
        return pointers.withUnsafeBufferPointer { body($0.baseAddress!) }
    }
}
