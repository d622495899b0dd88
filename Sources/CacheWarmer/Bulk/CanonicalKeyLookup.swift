import CacheContract
import Logging
import PGOutput
import PostgresReplication

/// A row entry's key from key values as a person types them (`1.50`, an upper-case uuid,
/// `0199`, a timestamp in any zone): the database parses each value as its column's type and
/// prints it under the contract's session settings, and the key is rendered from that text as
/// the worker renders it from the WAL (``EntityScan/entryKey(_:keys:)``). Used by `inspect`,
/// which an operator types keys into.
public enum CanonicalKeyLookup {
    /// The entry key of `entity`'s row with key `values` (in key order), read on the reader
    /// (the writer when no reader is configured). Throws ``WorkerError`` naming the column for a
    /// value its type does not accept, and for a wrong number of values.
    public static func rowKey(_ entity: EntityConfiguration, values: [String], configuration: WorkerConfiguration, logger: Logger) async throws -> String {
        guard values.count == entity.key.count else {
            throw WorkerError(
                code: .invalidConfiguration,
                message: "entity '\(entity.name)' has \(entity.key.count) key column(s) (\(entity.key.joined(separator: ", "))), got \(values.count) value(s)")
        }
        let context = try BulkContext(configuration: configuration, source: configuration.readerURL == nil ? .writer : .reader, logger: logger)
        let types = try await context.types()
        let reader = context.reader()
        defer { reader.reset() }
        let scan = try await offPool { try EntityScan.load(entity, warm: entity.warm, types: types, connection: try reader.open()) }
        var texts: [String] = []
        for (index, value) in values.enumerated() {
            let select = "SELECT '', (\(EntityScan.literal(value))::\(scan.keyTypes[index].sql))::text"
            do {
                let rows = try await offPool { try reader.read(select) }
                texts.append(rows.rows.first?.key.first ?? value)
            } catch let error as PostgresError where error.code == .queryFailed {
                throw WorkerError(
                    code: .invalidConfiguration,
                    message: "entity '\(entity.name)': '\(value)' is not a value of key column \(entity.key[index]) (\(scan.keyTypes[index].sql)): \(error.message)")
            }
        }
        return try scan.entryKey(texts, keys: context.keys)
    }
}
