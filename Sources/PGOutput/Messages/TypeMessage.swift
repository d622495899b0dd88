import NIOCore

/// Type ('Y'): names a non-built-in data type used by a following Relation.
public struct TypeMessage: Hashable, Sendable {
    /// The transaction id, present only inside a streamed transaction.
    public var xid: UInt32?
    /// The type's OID.
    public var oid: UInt32
    /// The type's schema.
    public var namespace: String
    /// The type's name.
    public var name: String

    /// Makes a Type message.
    public init(xid: UInt32? = nil, oid: UInt32, namespace: String, name: String) {
        self.xid = xid
        self.oid = oid
        self.namespace = namespace
        self.name = name
    }

    static func decode(from buffer: inout ByteBuffer, inStream: Bool) throws(PGOutputError) -> Self {
        TypeMessage(
            xid: inStream ? try buffer.readWire("xid") : nil,
            oid: try buffer.readWire("type OID"),
            namespace: try buffer.readWireString("type namespace"),
            name: try buffer.readWireString("type name"))
    }
}
