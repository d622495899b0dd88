import CacheContract
import Foundation
import PGOutput
import PostgresReplication
import RedisCache

/// Database-side setup and inspection: the publication and slot the worker needs, and the
/// state `cache-warmer status` prints.
public enum Setup {
    /// What `setup` did.
    public struct Report: Sendable, Codable, Hashable {
        /// The publication's name.
        public var publication: String
        /// The tables it covers now.
        public var tables: [String]
        /// The slot's name.
        public var slot: String
        /// True when this setup created the slot.
        public var slotCreated: Bool
        /// The slot's confirmed position (X/Y).
        public var slotConfirmedLSN: String?
        /// What setup did for the history window's slot (nil without `history:`).
        public var history: String?
    }

    /// Checks `wal_level`, creates or extends the publication to cover the configured tables, and
    /// creates the slot if missing. A lost slot is refused with the recovery steps
    /// (``recreateSlot(_:)``).
    public static func run(_ configuration: WorkerConfiguration) async throws -> Report {
        let writer = try writerURL(configuration)
        return try await offPool {
            let connection = try adminConnection(writer)
            try connection.requireLogicalWAL()
            try PublicationSetup.ensure(connection, TableRequirements(configuration), create: true)
            try refuseLostSlot(connection, slot: configuration.slot)
            let (slot, created) = try connection.createSlotIfMissing(configuration.slot)
            return Report(
                publication: configuration.publication, tables: configuration.tables.map(\.description), slot: slot.name,
                slotCreated: created, slotConfirmedLSN: slot.confirmedFlushLSN.map { "\($0)" },
                history: try HistorySetup.ensure(connection, configuration))
        }
    }

    /// Drops the slot (so the server stops retaining WAL for it) and, if asked, the publication.
    public static func teardown(_ configuration: WorkerConfiguration, dropPublication: Bool) async throws -> (slotDropped: Bool, publicationDropped: Bool) {
        let writer = try writerURL(configuration)
        return try await offPool {
            let connection = try adminConnection(writer)
            if let state = try connection.slotState(configuration.slot), let pid = state.activePID {
                throw ReplicationError(code: .slotInUse, message: "\(writer): slot \(configuration.slot) is in use by PID \(pid): stop the worker first")
            }
            let dropped = try connection.dropSlotIfExists(configuration.slot)
            _ = try HistorySetup.drop(connection, configuration)
            var publicationDropped = false
            if dropPublication {
                publicationDropped = try connection.execute("SELECT 1 FROM pg_publication WHERE pubname = '\(configuration.publication.replacingOccurrences(of: "'", with: "''"))'").rows.count == 1
                try connection.execute("DROP PUBLICATION IF EXISTS \"\(configuration.publication.replacingOccurrences(of: "\"", with: "\"\""))\"")
            }
            return (dropped, publicationDropped)
        }
    }

    /// The writer's current WAL position.
    public static func currentWAL(_ configuration: WorkerConfiguration) async throws -> LSN {
        let writer = try writerURL(configuration)
        return try await offPool {
            LSN(try adminConnection(writer).execute("SELECT pg_current_wal_lsn()").scalar ?? "") ?? .zero
        }
    }

    /// Settings for the worker's short administrative sessions: no statement or lock wait may
    /// hang a setup, a status check or a start.
    static let adminSettings = ["statement_timeout": "30s", "lock_timeout": "10s"]

    /// A short administrative session on the writer.
    static func adminConnection(_ writer: ConnectionString) throws -> PostgresConnection {
        try PostgresConnection(writer, settings: adminSettings)
    }

    static func writerURL(_ configuration: WorkerConfiguration) throws -> ConnectionString {
        guard let url = configuration.writerURL else {
            throw WorkerError(code: .invalidConfiguration, message: "writer_url is required (or set DB_WRITER_URL)")
        }
        return ConnectionString(url)
    }
}
