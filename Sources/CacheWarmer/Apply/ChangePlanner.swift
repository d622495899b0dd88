import CacheContract
import PGOutput

/// Turns row changes into cache writes, following the configuration: write-through entities get
/// their row's canonical JSON (or an invalidation when it cannot be rendered completely),
/// deletes leave tombstones, a primary-key change removes the old key, and dependent queries'
/// fences move, per parameter value when the rule and the row allow, else for the whole query.
/// Pure: no I/O, tested with hand-made changes.
public struct ChangePlanner: Sendable {
    struct Entity: Sendable {
        var configuration: EntityConfiguration
        var name: EntityName
        /// True when rows cannot be rendered from the WAL (e.g. generated columns): invalidate only.
        var forceInvalidate: Bool
        /// True when the catalog showed the key to be exactly a unique, immediate index's columns.
        var keyIsUnique = false
    }

    struct Dependent: Sendable {
        var query: CacheName
        var match: (parameter: CacheName, column: String)?
    }

    let keys: CacheKeys
    let types: PostgresTypes
    /// Rows whose WAL text is larger are invalidated, never rendered (bounded memory and
    /// Redis command size).
    let maxEntryBytes: Int
    private var entities: [TableName: Entity] = [:]
    private var dependents: [TableName: [Dependent]] = [:]
    /// Row layouts of the relations seen (``relationArrived(_:)``), with the columns they were
    /// made for: rows of a relation whose columns are not those are rendered the general way.
    private var layouts: [UInt32: (columns: [RelationMessage.Column], layout: RowLayout)] = [:]

    /// Builds the lookup tables; throws when a configured name is not a valid cache name.
    ///
    /// - Parameter invalidateOnly: tables whose rows must never be written through.
    /// - Parameter uniqueKeys: tables whose entity key is exactly the columns of a unique,
    ///   immediate, non-partial index (read from the catalog at start; a FULL replica identity
    ///   does not show it in the Relation message): no two rows hold one key at any point of a
    ///   transaction. An index dropped while streaming is not followed.
    public init(
        configuration: WorkerConfiguration, types: PostgresTypes = .builtin, invalidateOnly: Set<TableName> = [], uniqueKeys: Set<TableName> = []
    ) throws(CacheContractError) {
        keys = CacheKeys(namespace: try CacheNamespace(configuration.namespace))
        self.types = types
        maxEntryBytes = configuration.maxEntryBytes
        for entity in configuration.entities {
            entities[entity.table] = Entity(
                configuration: entity, name: try EntityName(entity.name), forceInvalidate: invalidateOnly.contains(entity.table),
                keyIsUnique: uniqueKeys.contains(entity.table))
        }
        for query in configuration.queries {
            let name = try CacheName(query.name)
            for dependency in query.dependsOn {
                var match: (CacheName, String)?
                if let rule = dependency.match { match = (try CacheName(rule.parameter), rule.column) }
                dependents[dependency.table, default: []].append(Dependent(query: name, match: match))
            }
        }
    }

    /// A configured table changed shape (a new Relation message): entries written under the old
    /// shape stop being served from `lsn` on (the entity fence and every dependent query's
    /// fence move), and while `invalidateOnly` (generated columns, which the WAL does not carry)
    /// its rows are invalidated instead of written through.
    public mutating func shapeChanged(_ table: TableName, invalidateOnly: Bool, lsn: LSN, into batch: inout WriteBatch) {
        if let entity = entities[table] {
            entities[table]?.forceInvalidate = invalidateOnly
            batch.bump(keys.entityFence(entity.name), lsn: lsn)
        }
        for dependent in dependents[table] ?? [] {
            batch.bump(keys.queryFence(dependent.query), lsn: lsn, query: dependent.query.rawValue)
        }
    }

    /// A Relation message arrived: rows of that relation are rendered with a layout worked out
    /// once (same bytes as without it).
    public mutating func relationArrived(_ relation: RelationMessage) {
        let layout = RowLayout(names: relation.columns.map(\.name), typeOIDs: relation.columns.map(\.typeOID), types: types)
        layouts[relation.oid] = (relation.columns, layout)
    }

    /// Whether `table`'s rows are invalidated instead of written through (generated columns).
    public mutating func setInvalidateOnly(_ table: TableName, _ invalidateOnly: Bool) {
        entities[table]?.forceInvalidate = invalidateOnly
    }

    /// Adds the writes for `change`, committed at `lsn`, to `batch`.
    ///
    /// - Parameter rendering: false when the writes will become invalidation markers anyway
    ///   (the rest of a large transaction): rows are then not rendered.
    public func plan(_ change: RowChange, lsn: LSN, into batch: inout WriteBatch, rendering: Bool = true) {
        switch change {
        case .insert(let relation, let new):
            planRow(relation, isInsert: true, old: nil, new: new, lsn: lsn, into: &batch, rendering: rendering)
        case .update(let relation, let old, let new):
            planRow(relation, isInsert: false, old: old, new: new, lsn: lsn, into: &batch, rendering: rendering)
        case .delete(let relation, let old):
            planRow(relation, isInsert: false, old: old, new: nil, lsn: lsn, into: &batch, rendering: rendering)
        case .truncate(let relations):
            for relation in relations {
                let table = TableName(schema: relation.namespace, name: relation.name)
                if let entity = entities[table] {
                    // Rows this transaction wrote before the TRUNCATE are gone with it: their
                    // writes carry the commit's version, which the fence does not exceed.
                    batch.truncated(rowsWithPrefix: keys.rowPrefix(entity.name))
                    batch.bump(keys.entityFence(entity.name), lsn: lsn)
                }
                for dependent in dependents[table] ?? [] {
                    batch.bump(keys.queryFence(dependent.query), lsn: lsn, query: dependent.query.rawValue)
                }
            }
        }
    }

    private func planRow(
        _ relation: RelationMessage, isInsert: Bool, old: OldTuple?, new: TupleData?, lsn: LSN, into batch: inout WriteBatch, rendering: Bool
    ) {
        let table = TableName(schema: relation.namespace, name: relation.name)
        let entity = entities[table]
        let tableDependents = dependents[table] ?? []
        // A published table nothing is configured for: no columns to name, nothing to write.
        guard entity != nil || !tableDependents.isEmpty else { return }
        if let entity {
            planEntity(
                entity, keyIsImmediatelyUnique: Self.keyIsImmediatelyUnique(entity, relation), relation: relation, oldTuple: old?.tuple,
                newTuple: new, lsn: lsn, into: &batch, rendering: rendering)
        }
        guard !tableDependents.isEmpty else { return }
        let oldColumns = old.map { Self.named($0.tuple, relation) }
        let newColumns = new.map { Self.named($0, relation) }
        for dependent in tableDependents {
            planFence(dependent, relation: relation, isInsert: isInsert, old: old, oldColumns: oldColumns, newColumns: newColumns, lsn: lsn, into: &batch)
        }
    }

    /// The entity's own entry: the row at its new key, a tombstone where it left a key, or the
    /// entity fence when a key cannot be read. When the key is not unique at every step (a
    /// swap or shift of keys under a deferred constraint, or a key that is only part of a FULL
    /// identity), a key the transaction left after some row arrived at it may still hold that
    /// other row, which the stream cannot tell apart: it gets an invalidation marker, never a
    /// tombstone. Under an immediate unique key, the row that leaves is the row that arrived.
    private func planEntity(
        _ entity: Entity, keyIsImmediatelyUnique: Bool, relation: RelationMessage, oldTuple: TupleData?, newTuple: TupleData?, lsn: LSN,
        into batch: inout WriteBatch, rendering: Bool
    ) {
        let oldKey = oldTuple.flatMap { rowKey(entity, relation, $0) }
        func leave(_ key: String) {
            let ambiguous = !keyIsImmediatelyUnique && batch.arrivedInTransaction(key)
            batch.write(ambiguous ? .invalidate : .tombstone, key: key, lsn: lsn, ttl: nil)
        }
        guard let newTuple else {
            if let oldKey { leave(oldKey) } else { batch.bump(keys.entityFence(entity.name), lsn: lsn) }
            return
        }
        guard let newKey = rowKey(entity, relation, newTuple) else {
            // A row whose key cannot be read cannot be addressed: void the whole entity.
            batch.bump(keys.entityFence(entity.name), lsn: lsn)
            return
        }
        if let oldKey, oldKey != newKey { leave(oldKey) }
        let write = rendering ? render(entity, relation, newTuple) : .invalidate
        batch.write(write, key: newKey, lsn: lsn, ttl: entity.configuration.ttl, arrival: true)
    }

    /// Moves the parameter fences of the row's old and new values, or the whole query's fence when
    /// a value is unknown: an update or delete without a full old image (unless the matched column
    /// is part of the key, which an update without a key image did not change), an unsent TOAST
    /// value, or a dependency without a match rule.
    private func planFence(
        _ dependent: Dependent, relation: RelationMessage, isInsert: Bool, old: OldTuple?, oldColumns: [NamedColumn]?,
        newColumns: [NamedColumn]?, lsn: LSN, into batch: inout WriteBatch
    ) {
        let query = dependent.query.rawValue
        guard let match = dependent.match else {
            batch.bump(keys.queryFence(dependent.query), lsn: lsn, query: query)
            return
        }
        let isKeyColumn = relation.columns.first { $0.name == match.column }?.isKey ?? false
        var values: [KeyPart] = []
        var known = true
        func add(_ columns: [NamedColumn]?) {
            guard let column = columns?.first(where: { $0.name == match.column }), column.value != .unchangedToast,
                let part = try? KeyPart(column: column, types: types)
            else {
                known = false
                return
            }
            if !values.contains(part) { values.append(part) }
        }
        if newColumns != nil { add(newColumns) }
        switch old {
        case .full?: add(oldColumns)
        case .key?: if isKeyColumn { add(oldColumns) } else { known = false }
        case nil: if !isInsert && !isKeyColumn { known = false }
        }
        guard known, !values.isEmpty else {
            batch.bump(keys.queryFence(dependent.query), lsn: lsn, query: query)
            return
        }
        for value in values {
            batch.bump(keys.parameterFence(dependent.query, match.parameter, value), lsn: lsn, query: query)
        }
    }

    /// True when the catalog showed the key to be a unique, immediate index's columns, or when
    /// the entity key is exactly the replica identity index's columns (REPLICA
    /// IDENTITY DEFAULT or USING INDEX): Postgres only takes a unique, non-partial, immediate
    /// (not DEFERRABLE) index as the identity, so no two rows hold the key at any point of a
    /// transaction's WAL. A FULL identity flags every column and proves nothing. Source: the
    /// Postgres documentation, ALTER TABLE ... REPLICA IDENTITY, and the Relation message's
    /// per-column flags (Logical Replication Message Formats).
    static func keyIsImmediatelyUnique(_ entity: Entity, _ relation: RelationMessage) -> Bool {
        if entity.keyIsUnique { return true }
        guard relation.replicaIdentity == UInt8(ascii: "d") || relation.replicaIdentity == UInt8(ascii: "i") else { return false }
        // The identity's names and the key's, compared as sets (without building any: this runs per row).
        let key = entity.configuration.key
        var identityCount = 0
        for column in relation.columns where column.isKey {
            guard key.contains(column.name) else { return false }
            identityCount += 1
        }
        return identityCount > 0 && key.allSatisfy { name in relation.columns.contains { $0.isKey && $0.name == name } }
    }

    /// The row's entry key from its tuple (the relation's column order), nil when a key column
    /// is missing, NULL, unsent or unreadable.
    private func rowKey(_ entity: Entity, _ relation: RelationMessage, _ tuple: TupleData) -> String? {
        var parts: [KeyPart] = []
        parts.reserveCapacity(entity.configuration.key.count)
        let count = min(relation.columns.count, tuple.values.count)
        for name in entity.configuration.key {
            guard let index = relation.columns[..<count].firstIndex(where: { $0.name == name }) else { return nil }
            let column = relation.columns[index]
            let value = tuple.values[index]
            guard value != .null, value != .unchangedToast,
                let part = try? KeyPart(column: NamedColumn(name: column.name, typeOID: column.typeOID, isKey: column.isKey, value: value), types: types)
            else { return nil }
            parts.append(part)
        }
        return parts.count == 1 ? keys.row(entity.name, parts[0]) : try? keys.row(entity.name, key: parts)
    }

    private func render(_ entity: Entity, _ relation: RelationMessage, _ tuple: TupleData) -> WriteBatch.RowWrite {
        guard entity.configuration.mode == .writeThrough, !entity.forceInvalidate,
            Self.byteCount(tuple, columns: relation.columns.count) <= maxEntryBytes
        else { return .invalidate }
        // The relation's layout when it is the one of these columns; else (or for a row the
        // layout path leaves to it) the general renderer, which gives the same bytes.
        var rendered: CanonicalRow?
        if let cached = layouts[relation.oid], cached.columns == relation.columns {
            rendered = CanonicalJSON.row(tuple.values, layout: cached.layout)
        }
        if rendered == nil { rendered = try? CanonicalJSON.row(Self.named(tuple, relation), types: types) }
        guard let row = rendered, row.isVerified else { return .invalidate }
        return .set(row: row.json)
    }

    /// Bytes of the tuple's first `count` values as sent (the row's size in the WAL).
    private static func byteCount(_ tuple: TupleData, columns count: Int) -> Int {
        var total = 0
        for index in 0..<min(count, tuple.values.count) { total += tuple.values[index].byteCount }
        return total
    }

    private static func named(_ tuple: TupleData, _ relation: RelationMessage) -> [NamedColumn] {
        zip(relation.columns, tuple.values).map { column, value in
            NamedColumn(name: column.name, typeOID: column.typeOID, isKey: column.isKey, value: value)
        }
    }
}
