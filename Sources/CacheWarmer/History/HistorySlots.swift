import PGOutput
import PostgresReplication

/// The SQL the history window runs on the writer: advancing the `<slot>_history` slot, copying
/// it for a replay or a peek, and dropping copies. Postgres 15 docs, "Replication Management
/// Functions" (`pg_replication_slot_advance`, `pg_copy_logical_replication_slot`).
enum HistorySlots {
    /// Moves logical slot `slot` forward to `lsn` (decoding the WAL in between on the server;
    /// never backwards: an older `lsn` leaves it where it is). Returns its new confirmed position.
    @discardableResult
    static func advance(_ connection: PostgresConnection, slot: String, to lsn: LSN) throws(PostgresError) -> LSN {
        let reply = try connection.execute(
            "SELECT end_lsn FROM pg_replication_slot_advance(\(PostgresConnection.literal(slot)), \(PostgresConnection.literal("\(lsn)"))::pg_lsn)")
        return reply.scalar.flatMap { LSN($0) } ?? lsn
    }

    /// Copies logical slot `source` as the non-temporary slot `copy` (same plugin, same
    /// restart_lsn and confirmed_flush_lsn). Non-temporary because a temporary slot belongs to
    /// the session that made it, and the stream runs on another: callers drop it on every exit.
    static func copy(_ connection: PostgresConnection, from source: String, to copy: String) throws(PostgresError) {
        try connection.execute(
            "SELECT pg_copy_logical_replication_slot(\(PostgresConnection.literal(source)), \(PostgresConnection.literal(copy)), false)")
    }

    /// `max_slot_wal_keep_size` in bytes, nil when -1 (unlimited).
    static func maxSlotWALKeepSize(_ connection: PostgresConnection) throws(PostgresError) -> Int64? {
        // The setting's unit is MB; pg_size_bytes understands the unit current_setting omits.
        let text = try connection.execute("SELECT setting FROM pg_settings WHERE name = 'max_slot_wal_keep_size'").scalar
        guard let text, let megabytes = Int64(text), megabytes >= 0 else { return nil }
        return megabytes * 1024 * 1024
    }

    /// The prefix of copies made by `replay` and `peek` of `historySlot` (`<history>_c_<id>`),
    /// so that a copy left by a killed process can be recognised.
    static func copyPrefix(_ historySlot: String) -> String {
        historySlot + "_c_"
    }
}
