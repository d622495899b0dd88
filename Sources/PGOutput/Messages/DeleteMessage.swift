import NIOCore

/// Delete ('D'): a removed row, identified by its key (`K`) or its full old image (`O`).
public struct DeleteMessage: Hashable, Sendable {
    /// The transaction id, present only inside a streamed transaction.
    public var xid: UInt32?
    /// The relation the row belonged to.
    public var relationOID: UInt32
    /// The deleted row's key or full image.
    public var oldTuple: OldTuple

    /// Makes a Delete message.
    public init(xid: UInt32? = nil, relationOID: UInt32, oldTuple: OldTuple) {
        self.xid = xid
        self.relationOID = relationOID
        self.oldTuple = oldTuple
    }

    static func decode(from buffer: inout ByteBuffer, inStream: Bool) throws(PGOutputError) -> Self {
        let xid: UInt32? = inStream ? try buffer.readWire("xid") : nil
        let oid: UInt32 = try buffer.readWire("relation OID")
        let markerOffset = buffer.readerIndex
        let marker: UInt8 = try buffer.readWire("tuple marker")
        let old: OldTuple
        switch marker {
        case UInt8(ascii: "K"): old = .key(try TupleData.decode(from: &buffer))
        case UInt8(ascii: "O"): old = .full(try TupleData.decode(from: &buffer))
        default:
            throw PGOutputError(code: .badTupleMarker, offset: markerOffset, detail: "expected 'K' or 'O', got 0x\(String(marker, radix: 16))")
        }
        return DeleteMessage(xid: xid, relationOID: oid, oldTuple: old)
    }
}
