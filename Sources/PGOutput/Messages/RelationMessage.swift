import NIOCore

/// Relation ('R'): describes a table's columns; sent before its first change in a session and
/// again whenever its schema changes.
public struct RelationMessage: Hashable, Sendable {
    /// One column of the relation.
    public struct Column: Hashable, Sendable {
        /// True when the column is part of the replica identity key.
        public var isKey: Bool
        /// The column name.
        public var name: String
        /// The column's data type OID (`pg_type.oid`).
        public var typeOID: UInt32
        /// The type modifier (`atttypmod`), -1 when none.
        public var typeModifier: Int32

        /// Makes a column description.
        public init(isKey: Bool, name: String, typeOID: UInt32, typeModifier: Int32) {
            self.isKey = isKey
            self.name = name
            self.typeOID = typeOID
            self.typeModifier = typeModifier
        }
    }

    /// The transaction id, present only inside a streamed transaction.
    public var xid: UInt32?
    /// The relation's OID.
    public var oid: UInt32
    /// The schema name (`public` for the default schema).
    public var namespace: String
    /// The table name.
    public var name: String
    /// `REPLICA IDENTITY` setting: `d` default, `n` nothing, `f` full, `i` index.
    public var replicaIdentity: UInt8
    /// The columns in table order.
    public var columns: [Column]

    /// Makes a Relation message.
    public init(xid: UInt32? = nil, oid: UInt32, namespace: String, name: String, replicaIdentity: UInt8, columns: [Column]) {
        self.xid = xid
        self.oid = oid
        self.namespace = namespace
        self.name = name
        self.replicaIdentity = replicaIdentity
        self.columns = columns
    }

    static func decode(from buffer: inout ByteBuffer, inStream: Bool) throws(PGOutputError) -> Self {
        let xid: UInt32? = inStream ? try buffer.readWire("xid") : nil
        let oid: UInt32 = try buffer.readWire("relation OID")
        let namespace = try buffer.readWireString("namespace")
        let name = try buffer.readWireString("relation name")
        let identity: UInt8 = try buffer.readWire("replica identity")
        let countOffset = buffer.readerIndex
        let count: Int16 = try buffer.readWire("column count")
        guard count >= 0 else {
            throw PGOutputError(code: .negativeLength, offset: countOffset, detail: "column count \(count)")
        }
        var columns: [Column] = []
        columns.reserveCapacity(Int(count))
        for _ in 0..<count {
            let flags: UInt8 = try buffer.readWire("column flags")
            columns.append(
                Column(
                    isKey: flags & 1 == 1,
                    name: try buffer.readWireString("column name"),
                    typeOID: try buffer.readWire("column type OID"),
                    typeModifier: try buffer.readWire("column type modifier")))
        }
        return RelationMessage(xid: xid, oid: oid, namespace: namespace, name: name, replicaIdentity: identity, columns: columns)
    }
}
