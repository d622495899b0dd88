import NIOCore

/// One column of a decoded row, named through its Relation message.
public struct NamedColumn: Hashable, Sendable {
    /// The column name.
    public var name: String
    /// The column's data type OID.
    public var typeOID: UInt32
    /// True when the column belongs to the replica identity key.
    public var isKey: Bool
    /// The value as sent.
    public var value: TupleValue

    /// Makes a named column.
    public init(name: String, typeOID: UInt32, isKey: Bool, value: TupleValue) {
        self.name = name
        self.typeOID = typeOID
        self.isKey = isKey
        self.value = value
    }
}

/// The Relation messages of a session by OID, so that row images can be read as named columns.
/// A new Relation message for a known OID (a schema change) replaces the old description.
public struct RelationCache: Sendable {
    private var relations: [UInt32: RelationMessage] = [:]

    /// An empty cache (a new replication session starts empty: the server resends Relations).
    public init() {}

    /// Records or replaces a relation's description.
    public mutating func apply(_ relation: RelationMessage) {
        relations[relation.oid] = relation
    }

    /// The relation described for `oid`, or nil.
    public subscript(oid: UInt32) -> RelationMessage? {
        relations[oid]
    }

    /// The relation for `oid`, or ``PGOutputError/Code-swift.struct/unknownRelation``.
    public func relation(_ oid: UInt32) throws(PGOutputError) -> RelationMessage {
        guard let relation = relations[oid] else {
            throw PGOutputError(code: .unknownRelation, offset: 0, detail: "relation OID \(oid) has had no Relation message")
        }
        return relation
    }

    /// Pairs each value of `tuple` with its column; the column counts must match.
    public func columns(of tuple: TupleData, relationOID: UInt32) throws(PGOutputError) -> [NamedColumn] {
        let relation = try relation(relationOID)
        guard relation.columns.count == tuple.values.count else {
            throw PGOutputError(
                code: .columnCountMismatch, offset: 0,
                detail: "\(relation.namespace).\(relation.name) has \(relation.columns.count) columns, tuple has \(tuple.values.count)")
        }
        return zip(relation.columns, tuple.values).map { column, value in
            NamedColumn(name: column.name, typeOID: column.typeOID, isKey: column.isKey, value: value)
        }
    }

    /// Forgets every relation (for a new session).
    public mutating func removeAll() {
        relations.removeAll()
    }
}
