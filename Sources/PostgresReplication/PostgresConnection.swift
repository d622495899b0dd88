import CLibPQ
import Foundation
import NIOCore

/// One libpq connection that owns its `PGconn` and closes it on deinit. Regular or a
/// `replication=database` walsender connection (for slot commands and streaming).
///
/// Calls block the calling thread: async callers run them on a dedicated thread, never on the
/// cooperative pool. Nothing outside this type sees the C handle.
///
/// `@unchecked Sendable`: libpq connections may move between threads but must not be used by two
/// at once; every owner (a replication stream's thread, a one-off setup call) uses it alone.
public final class PostgresConnection: @unchecked Sendable {
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
    ///   - settings: session settings sent at startup (libpq `options`, `-c name=value`),
    ///     e.g. `TimeZone=UTC`; they replace any `options` given in the URL.
    public init(
        _ target: ConnectionString, replication: Bool = false, connectTimeout: Int = 10,
        applicationName: String = "cache-warmer", settings: [String: String] = [:]
    ) throws(PostgresError) {
        self.target = target
        var keys = ["dbname", "connect_timeout", "application_name"]
        var values = [target.rawValue, String(max(2, connectTimeout)), applicationName]
        if !settings.isEmpty {
            keys.append("options")
            values.append(settings.sorted { $0.key < $1.key }.map { "-c \($0.key)=\($0.value.replacingOccurrences(of: " ", with: "\\ "))" }.joined(separator: " "))
        }
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
            throw PostgresConnection.resultError(result, connection: connection, target: target, sql: sql)
        }
    }

    private static func resultError(_ result: OpaquePointer, connection: OpaquePointer, target: ConnectionString, sql: String?) -> PostgresError {
        let state = PQresultErrorField(result, Int32(UInt8(ascii: "C"))).map { String(cString: $0) }
        let message = PQresultErrorMessage(result).map { String(cString: $0) } ?? ""
        let text = oneLine(message.isEmpty ? errorMessage(connection) : message)
        let lost = PQstatus(connection) != CONNECTION_OK
        let statement = sql.map { " (statement: \(oneLine(String($0.prefix(200)))))" } ?? ""
        return PostgresError(code: lost ? .connectionLost : .queryFailed, sqlState: state, message: "\(target): \(text)\(statement)")
    }

    /// Runs a statement that switches the connection into COPY BOTH mode (`START_REPLICATION`),
    /// then makes the connection non-blocking for ``readCopyData()`` and ``sendCopyData(_:)``.
    public func startCopyBoth(_ sql: String) throws(PostgresError) {
        guard let result = PQexec(connection, sql) else {
            throw PostgresError(code: .connectionLost, message: "\(target): \(PostgresConnection.errorMessage(connection))")
        }
        defer { PQclear(result) }
        guard PQresultStatus(result) == PGRES_COPY_BOTH else {
            throw PostgresConnection.resultError(result, connection: connection, target: target, sql: sql)
        }
        guard PQsetnonblocking(connection, 1) == 0 else {
            throw PostgresError(code: .connectionLost, message: "\(target): cannot switch to non-blocking mode: \(PostgresConnection.errorMessage(connection))")
        }
    }

    /// One step of reading a COPY stream without blocking.
    public enum CopyRead {
        /// A complete CopyData message.
        case data(ByteBuffer)
        /// Nothing complete yet: wait for the socket to be readable (``waitReadable(timeout:)``).
        case wouldBlock
        /// The server ended the COPY (for example at the end of a replay); the connection is usable.
        case finished
    }

    /// Reads the next CopyData message if one is complete, consuming socket input first.
    /// Throws when the connection broke or the server ended the stream with an error.
    public func readCopyData() throws(PostgresError) -> CopyRead {
        var buffer: UnsafeMutablePointer<CChar>?
        var length = PQgetCopyData(connection, &buffer, 1)
        if length == 0 {
            guard PQconsumeInput(connection) == 1 else {
                throw PostgresError(code: .connectionLost, message: "\(target): \(PostgresConnection.errorMessage(connection))")
            }
            length = PQgetCopyData(connection, &buffer, 1)
        }
        if length > 0, let buffer {
            defer { PQfreemem(buffer) }
            return .data(ByteBuffer(bytes: UnsafeRawBufferPointer(start: buffer, count: Int(length))))
        }
        if length == 0 {
            return .wouldBlock
        }
        if length == -1 {
            try finishCopy()
            return .finished
        }
        throw PostgresError(code: .connectionLost, message: "\(target): \(PostgresConnection.errorMessage(connection))")
    }

    /// Queues a CopyData message and flushes what the socket takes now; returns false when
    /// output is still pending (call ``flush()`` again after ``waitWritable(timeout:)``).
    @discardableResult
    public func sendCopyData(_ bytes: [UInt8]) throws(PostgresError) -> Bool {
        let queued = bytes.withUnsafeBufferPointer { buffer in
            buffer.baseAddress!.withMemoryRebound(to: CChar.self, capacity: buffer.count) {
                PQputCopyData(connection, $0, Int32(buffer.count))
            }
        }
        guard queued == 1 else {
            throw PostgresError(code: .connectionLost, message: "\(target): cannot send: \(PostgresConnection.errorMessage(connection))")
        }
        return try flush()
    }

    /// Flushes queued output without blocking; true when everything was sent.
    public func flush() throws(PostgresError) -> Bool {
        switch PQflush(connection) {
        case 0: return true
        case 1: return false
        default: throw PostgresError(code: .connectionLost, message: "\(target): cannot flush: \(PostgresConnection.errorMessage(connection))")
        }
    }

    /// Ends COPY BOTH from the client side (`PQputCopyEnd`) and reads the server's remaining
    /// messages and final results, for at most `timeout` seconds.
    public func endCopy(timeout: Double = 5) throws(PostgresError) {
        guard PQputCopyEnd(connection, nil) == 1 else {
            throw PostgresError(code: .connectionLost, message: "\(target): cannot end COPY: \(PostgresConnection.errorMessage(connection))")
        }
        let deadline = DispatchTime.now().uptimeNanoseconds + UInt64(timeout * 1e9)
        while DispatchTime.now().uptimeNanoseconds < deadline {
            if try flush() == false {
                _ = waitWritable(timeout: 0.1)
                continue
            }
            switch try readCopyData() {
            case .finished: return
            case .data: continue
            case .wouldBlock: _ = waitReadable(timeout: 0.1)
            }
        }
        throw PostgresError(code: .connectionLost, message: "\(target): the server did not end COPY within \(timeout) s")
    }

    /// Waits until the socket is readable or `timeout` seconds pass; true when readable.
    public func waitReadable(timeout: Double) -> Bool {
        wait(events: Int16(POLLIN), timeout: timeout)
    }

    /// Waits until the socket is writable or `timeout` seconds pass; true when writable.
    public func waitWritable(timeout: Double) -> Bool {
        wait(events: Int16(POLLOUT), timeout: timeout)
    }

    private func wait(events: Int16, timeout: Double) -> Bool {
        var descriptor = pollfd(fd: PQsocket(connection), events: events, revents: 0)
        let ready = poll(&descriptor, 1, Int32(max(0, min(timeout, 3600)) * 1000))
        return ready > 0
    }

    /// Reads results after COPY ended until libpq has none; throws the first error result.
    private func finishCopy() throws(PostgresError) {
        var failure: PostgresError?
        while let result = PQgetResult(connection) {
            let status = PQresultStatus(result)
            if failure == nil, status != PGRES_COMMAND_OK, status != PGRES_TUPLES_OK, status != PGRES_COPY_BOTH, status != PGRES_COPY_OUT {
                failure = PostgresConnection.resultError(result, connection: connection, target: target, sql: nil)
            }
            PQclear(result)
        }
        if let failure { throw failure }
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
