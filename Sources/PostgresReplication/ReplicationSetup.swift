import PGOutput

/// The system identity a walsender reports (`IDENTIFY_SYSTEM`).
public struct SystemIdentity: Hashable, Sendable {
    /// The cluster's unique system identifier.
    public var systemID: String
    /// The current timeline.
    public var timeline: Int
    /// The current WAL flush position.
    public var walPosition: LSN
    /// The database connected to.
    public var database: String?
}

/// Slot and publication management, run on a (replication or regular) connection to the writer.
extension PostgresConnection {
    /// `IDENTIFY_SYSTEM` (replication connections only).
    public func identifySystem() throws(PostgresError) -> SystemIdentity {
        let result = try execute("IDENTIFY_SYSTEM")
        guard let id = result.value("systemid"), let timeline = result.value("timeline").flatMap({ Int($0) }),
            let position = result.value("xlogpos").flatMap({ LSN($0) })
        else {
            throw PostgresError(code: .unexpectedResponse, message: "\(target): IDENTIFY_SYSTEM answered \(result.rows)")
        }
        return SystemIdentity(systemID: id, timeline: timeline, walPosition: position, database: result.value("dbname"))
    }

    /// Fails with a message saying what to change unless `wal_level = logical`.
    public func requireLogicalWAL() throws(ReplicationError) {
        let level: String?
        do {
            level = try execute("SHOW wal_level").scalar
        } catch {
            throw ReplicationError(code: .connection, message: error.message, postgres: error)
        }
        guard level == "logical" else {
            throw ReplicationError(
                code: .walLevelNotLogical,
                message: "\(target): wal_level is '\(level ?? "?")', logical decoding needs 'logical': "
                    + "ALTER SYSTEM SET wal_level = logical and restart the server "
                    + "(on Amazon RDS/Aurora set the parameter rds.logical_replication = 1 in the DB parameter group and reboot)")
        }
    }

    /// The state of slot `name`, or nil when it does not exist.
    public func slotState(_ name: String) throws(PostgresError) -> SlotState? {
        let result = try execute(
            """
            SELECT slot_name, plugin, slot_type, database, confirmed_flush_lsn, restart_lsn, wal_status, active_pid
            FROM pg_replication_slots WHERE slot_name = \(Self.literal(name))
            """)
        guard !result.rows.isEmpty else { return nil }
        return SlotState(
            name: name, plugin: result.value("plugin"), slotType: result.value("slot_type") ?? "",
            database: result.value("database"), confirmedFlushLSN: result.value("confirmed_flush_lsn").flatMap { LSN($0) },
            restartLSN: result.value("restart_lsn").flatMap { LSN($0) }, walStatus: result.value("wal_status"),
            activePID: result.value("active_pid").flatMap { Int($0) })
    }

    /// Creates logical slot `name` with `pgoutput` unless it exists; returns its state and whether it was created.
    @discardableResult
    public func createSlotIfMissing(_ name: String) throws(PostgresError) -> (state: SlotState, created: Bool) {
        if let state = try slotState(name) { return (state, false) }
        try execute("SELECT pg_create_logical_replication_slot(\(Self.literal(name)), 'pgoutput')")
        guard let state = try slotState(name) else {
            throw PostgresError(code: .unexpectedResponse, message: "\(target): slot \(name) vanished right after its creation")
        }
        return (state, true)
    }

    /// Drops slot `name` if it exists; returns whether it existed.
    @discardableResult
    public func dropSlotIfExists(_ name: String) throws(PostgresError) -> Bool {
        guard try slotState(name) != nil else { return false }
        try execute("SELECT pg_drop_replication_slot(\(Self.literal(name)))")
        return true
    }

    /// A SQL string literal: `'it''s'`. The one place the project quotes SQL text.
    public static func literal(_ text: String) -> String {
        "'" + doubled(text, UInt8(ascii: "'")) + "'"
    }

    /// A quoted SQL identifier: `"Order"`. The one place the project quotes SQL names.
    public static func identifier(_ text: String) -> String {
        "\"" + doubled(text, UInt8(ascii: "\"")) + "\""
    }

    /// `text` with every `quote` byte doubled (stdlib only: bulk resync and verify quote
    /// thousands of key literals per chunk).
    private static func doubled(_ text: String, _ quote: UInt8) -> String {
        guard text.utf8.contains(quote) else { return text }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(text.utf8.count + 2)
        for byte in text.utf8 {
            bytes.append(byte)
            if byte == quote { bytes.append(quote) }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
