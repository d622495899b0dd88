import PGOutput
import PostgresReplication

/// What `setup` and `teardown` do for the history window's slot.
enum HistorySetup {
    /// Creates `<slot>_history` (pgoutput, the same publication is named when it is copied and
    /// streamed) when `history:` is configured and the slot is missing, and recreates it when it
    /// was lost (the window then starts now; the main slot is not touched). Returns one line for
    /// the setup report, nil without `history:`.
    static func ensure(_ connection: PostgresConnection, _ configuration: WorkerConfiguration) throws -> String? {
        guard let window = configuration.history else { return nil }
        let name = configuration.historySlot
        var recreated = false
        if let state = try connection.slotState(name), state.isLost {
            try connection.dropSlotIfExists(name)
            recreated = true
        }
        let (state, created) = try connection.createSlotIfMissing(name)
        let position = state.confirmedFlushLSN.map { "\($0)" } ?? "?"
        let what = recreated ? "was lost: recreated" : created ? "created" : "exists"
        return "history slot \(name) \(what) at \(position) (window: \(window.keepDescription))"
    }

    /// Drops `<slot>_history` and copies left by killed `replay`/`peek` runs (inactive ones);
    /// returns the names dropped.
    static func drop(_ connection: PostgresConnection, _ configuration: WorkerConfiguration) throws -> [String] {
        let prefix = HistorySlots.copyPrefix(configuration.historySlot)
        let rows = try connection.execute(
            """
            SELECT slot_name FROM pg_replication_slots WHERE active_pid IS NULL
              AND (slot_name = \(PostgresConnection.literal(configuration.historySlot)) OR left(slot_name, \(prefix.utf8.count)) = \(PostgresConnection.literal(prefix)))
            """).rows
        var dropped: [String] = []
        for row in rows {
            guard let name = row.first ?? nil else { continue }
            if try connection.dropSlotIfExists(name) { dropped.append(name) }
        }
        return dropped
    }
}
