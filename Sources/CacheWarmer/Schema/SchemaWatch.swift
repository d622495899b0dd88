import CacheContract
import Foundation
import Logging
import PGOutput
import PostgresReplication
import RedisCache

/// Follows the configured tables while the worker streams: the shape each Relation message
/// describes (columns, types, replica identity, and the generated columns pgoutput leaves out),
/// and, on every Relation message and every ``WorkerConfiguration/publicationCheckInterval``,
/// whether the publication still delivers what the configuration needs. A changed shape voids
/// the entries written under the old one (entity and query fences at that transaction's commit)
/// and switches write-through off while generated columns exist; a table the worker can no
/// longer follow (renamed, dropped, left the publication, changes under a leaf partition's
/// name) is an error that ends the run as not set up.
struct SchemaWatch {
    /// What the worker does about a Relation message.
    enum Decision: Equatable {
        /// Nothing changed.
        case unchanged
        /// The table's shape differs from the one its entries were written under.
        case shapeChanged(TableName, fingerprint: String, invalidateOnly: Bool)
        /// No shape was recorded for the table: record this one, void nothing.
        case recordOnly(TableName, fingerprint: String, invalidateOnly: Bool)
    }

    let configuration: WorkerConfiguration
    let requirements: TableRequirements
    let writer: ConnectionString
    let logger: Logger
    /// Configured tables by OID, as the catalog named them at start.
    private var byOID: [UInt32: TableName] = [:]
    /// Shapes the entries were written under, by table (loaded from Redis, updated as applied).
    private var shapes: [TableName: String]
    /// OIDs of tables that are neither configured nor partitions of a configured table.
    private var unrelated: Set<UInt32> = []
    /// Partitions of configured tables by OID, with their configured root. pgoutput describes a
    /// partition (after its root) even when it publishes through the root; a change naming one
    /// is an error.
    private(set) var partitions: [UInt32: (partition: TableName, root: TableName)] = [:]
    private var nextCheck: ContinuousClock.Instant

    init(configuration: WorkerConfiguration, writer: ConnectionString, tables: [TableName: TableRequirements.TableState], shapes: [TableName: String], logger: Logger) {
        self.configuration = configuration
        self.requirements = TableRequirements(configuration)
        self.writer = writer
        self.logger = logger
        self.shapes = shapes
        for (name, state) in tables { byOID[state.oid] = name }
        nextCheck = .now + .seconds(configuration.publicationCheckInterval)
    }

    /// The fingerprint of a relation's shape: replica identity, columns (name, type, modifier,
    /// key flag) in order, and the generated columns the catalog lists, as canonical JSON.
    static func fingerprint(_ relation: RelationMessage, generated: [String]) -> String {
        let columns: [[Any]] = relation.columns.map { [$0.name, Int($0.typeOID), Int($0.typeModifier), $0.isKey] }
        return json(["identity": String(Character(Unicode.Scalar(relation.replicaIdentity))), "columns": columns, "generated": generated])
    }

    /// The part of a shape the catalog tells without the WAL: replica identity, column names in
    /// order, generated columns. Nil when `fingerprint` is not one.
    static func outline(_ fingerprint: String) -> [String]? {
        guard let object = try? JSONSerialization.jsonObject(with: Data(fingerprint.utf8)) as? [String: Any],
            let identity = object["identity"] as? String, let columns = object["columns"] as? [[Any]], let generated = object["generated"] as? [String]
        else { return nil }
        return ["identity=" + identity] + columns.compactMap { $0.first as? String } + ["generated"] + generated
    }

    /// The outline of a table as the catalog describes it now.
    static func outline(_ state: TableRequirements.TableState) -> [String] {
        ["identity=" + state.replicaIdentity] + state.columns + ["generated"] + state.generatedColumns
    }

    private static func json(_ object: [String: Any]) -> String {
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])) ?? Data()
        return String(decoding: data, as: UTF8.self)
    }

    /// Checks a Relation message; throws ``WorkerError`` (not set up) when the table can no
    /// longer be followed.
    mutating func observe(_ relation: RelationMessage) async throws -> Decision {
        let table = TableName(schema: relation.namespace, name: relation.name)
        let configured = requirements.wanted.contains { $0.table == table }
        if let known = byOID[relation.oid], known != table {
            throw WorkerError(code: .notSetUp, message: "\(writer): table \(known.spelling) was renamed to \(table.spelling) while streaming: update the configuration and run `cache-warmer setup`")
        }
        guard configured else {
            guard !unrelated.contains(relation.oid) else { return .unchanged }
            if let root = try await partitionRoot(relation.oid), let configured = requirements.wanted.first(where: { $0.table == root }) {
                partitions[relation.oid] = (table, configured.table)
            } else {
                unrelated.insert(relation.oid)
            }
            return .unchanged
        }
        let tables = try await verify()
        guard let state = tables[table] else {
            throw WorkerError(code: .notSetUp, message: "\(writer): table \(table.spelling) no longer exists")
        }
        byOID[state.oid] = table
        let fingerprint = Self.fingerprint(relation, generated: state.generatedColumns)
        guard let previous = shapes[table] else {
            // First sight of the table in this epoch's Redis (a first start, or an upgrade from a
            // version that did not record shapes): its entries were written under this shape.
            shapes[table] = fingerprint
            return .recordOnly(table, fingerprint: fingerprint, invalidateOnly: !state.generatedColumns.isEmpty)
        }
        guard previous != fingerprint else { return .unchanged }
        logger.notice("table changed shape: entries written under the old shape are void from this transaction on", metadata: [
            "table": "\(table.spelling)", "previous": "\(previous)", "now": "\(fingerprint)",
        ])
        shapes[table] = fingerprint
        return .shapeChanged(table, fingerprint: fingerprint, invalidateOnly: !state.generatedColumns.isEmpty)
    }

    /// Throws when a change names a partition of a configured table instead of the table: the
    /// publication does not publish through the partition root, and the change cannot be placed.
    func checkPlaceable(_ message: PGOutputMessage) throws {
        guard !partitions.isEmpty else { return }
        let oids: [UInt32]
        switch message {
        case .insert(let change): oids = [change.relationOID]
        case .update(let change): oids = [change.relationOID]
        case .delete(let change): oids = [change.relationOID]
        case .truncate(let change): oids = change.relationOIDs
        default: return
        }
        for oid in oids {
            if let (partition, root) = partitions[oid] {
                throw WorkerError(
                    code: .notSetUp,
                    message: "\(writer): changes of \(root.spelling) arrive under its partition \(partition.spelling): publication \(configuration.publication) must publish via the partition root (ALTER PUBLICATION \(PostgresConnection.identifier(configuration.publication)) SET (publish_via_partition_root = true))")
            }
        }
    }

    /// Runs the periodic check when it is due: the publication's requirements (throws, not set
    /// up), and each table's shape in the catalog against the one its entries were written
    /// under. A column added, dropped or renamed, a replica identity or generated column changed
    /// with no row written since sends no Relation message; such a table is returned (its
    /// entries must be voided now) and its catalog outline recorded.
    mutating func checkIfDue() async throws -> [Decision] {
        guard ContinuousClock.now >= nextCheck else { return [] }
        nextCheck = .now + .seconds(configuration.publicationCheckInterval)
        let tables = try await verify()
        var drifted: [Decision] = []
        for wanted in requirements.wanted {
            guard let state = tables[wanted.table], let stored = shapes[wanted.table], let before = Self.outline(stored) else { continue }
            let now = Self.outline(state)
            guard before != now else { continue }
            logger.notice("table changed shape in the catalog: its entries are void from now on", metadata: [
                "table": "\(wanted.table.spelling)", "previous": "\(before)", "now": "\(now)",
            ])
            let fingerprint = Self.json(["identity": state.replicaIdentity, "columns": state.columns.map { [$0] as [Any] }, "generated": state.generatedColumns])
            shapes[wanted.table] = fingerprint
            drifted.append(.shapeChanged(wanted.table, fingerprint: fingerprint, invalidateOnly: !state.generatedColumns.isEmpty))
        }
        return drifted
    }

    /// The requirements check on the writer; throws (not set up) listing what is wrong.
    private func verify() async throws -> [TableName: TableRequirements.TableState] {
        let writer = writer
        let requirements = requirements
        return try await offPool {
            try PublicationSetup.ensure(try Setup.adminConnection(writer), requirements, create: false)
        }
    }

    private func partitionRoot(_ oid: UInt32) async throws -> TableName? {
        let writer = writer
        return try await offPool {
            let result = try Setup.adminConnection(writer).execute(
                "SELECT n.nspname, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = pg_partition_root(\(oid)::oid::regclass) AND c.oid <> \(oid)")
            guard let schema = result.value("nspname"), let name = result.value("relname") else { return nil }
            return TableName(schema: schema, name: name)
        }
    }

    /// The shapes stored in Redis (`<ns>:meta:shape`), by configured table.
    static func storedShapes(_ redis: RedisClient, keys: CacheKeys, configuration: WorkerConfiguration) async throws -> [TableName: String] {
        let reply = try await redis.pipeline([["HGETALL", keys.shapes]])
        guard case .array(let items)? = reply.first else { return [:] }
        var shapes: [TableName: String] = [:]
        for index in stride(from: 0, to: items.count - 1, by: 2) {
            if let field = items[index].text, let table = configuration.tables.first(where: { $0.sql == field }), let value = items[index + 1].text {
                shapes[table] = value
            }
        }
        return shapes
    }
}
