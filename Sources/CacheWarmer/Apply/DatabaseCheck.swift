import CacheContract
import Logging
import PGOutput
import PostgresReplication

/// What the worker checks on the writer before streaming: logical WAL, the slot, the publication
/// covering the configured tables, the data types for rendering, and tables whose rows the WAL
/// cannot render completely (generated columns, which pgoutput does not send).
struct DatabaseCheck: Sendable {
    var slot: SlotState
    var currentWAL: LSN
    var types: PostgresTypes
    var invalidateOnly: Set<TableName>
    /// Entity tables whose key is exactly the columns of a unique, immediate, non-partial index
    /// (see ``ChangePlanner/init(configuration:types:invalidateOnly:uniqueKeys:)``).
    var uniqueKeys: Set<TableName>
    /// The configured tables as the catalog describes them now.
    var tables: [TableName: TableRequirements.TableState]

    static func run(configuration: WorkerConfiguration, writer: ConnectionString, logger: Logger) async throws -> DatabaseCheck {
        try await offPool {
            let connection = try PostgresConnection(writer, settings: ReplicationOptions.canonicalSessionSettings.merging(Setup.adminSettings) { $1 })
            try connection.requireLogicalWAL()
            guard let slot = try connection.slotState(configuration.slot) else {
                throw WorkerError(code: .notSetUp, message: "\(writer): replication slot \(configuration.slot) does not exist: run `cache-warmer setup`")
            }
            if slot.isLost {
                throw ReplicationError.slotLost(target: writer, slot: configuration.slot, restartLSN: slot.restartLSN)
            }
            let tables = try PublicationSetup.ensure(connection, TableRequirements(configuration), create: false)
            var types = PostgresTypes.builtin
            _ = try PostgresTypeCatalog.register(rows: try connection.execute(PostgresTypeCatalog.query).rows, into: &types)
            var invalidateOnly: Set<TableName> = []
            for entity in configuration.entities where entity.mode == .writeThrough && !(tables[entity.table]?.generatedColumns.isEmpty ?? true) {
                invalidateOnly.insert(entity.table)
                logger.warning("table has generated columns, which the WAL does not carry: its entries are invalidated, not written through", metadata: ["table": "\(entity.table.spelling)"])
            }
            var uniqueKeys: Set<TableName> = []
            for entity in configuration.entities {
                guard let state = tables[entity.table] else { continue }
                if state.candidateIndexes.contains(where: { Set($0.columns) == Set(entity.key) }) { uniqueKeys.insert(entity.table) }
            }
            let wal = LSN(try connection.execute("SELECT pg_current_wal_lsn()").scalar ?? "") ?? .zero
            return DatabaseCheck(slot: slot, currentWAL: wal, types: types, invalidateOnly: invalidateOnly, uniqueKeys: uniqueKeys, tables: tables)
        }
    }
}
