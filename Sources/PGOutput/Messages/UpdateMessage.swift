import NIOCore

/// Update ('U'): a changed row. The old image is present only with `REPLICA IDENTITY FULL` or
/// when a key column changed.
public struct UpdateMessage: Hashable, Sendable {
    /// The transaction id, present only inside a streamed transaction.
    public var xid: UInt32?
    /// The relation the row belongs to.
    public var relationOID: UInt32
    /// The old key (`K`) or old row (`O`), if sent.
    public var oldTuple: OldTuple?
    /// The new row; may contain ``TupleValue/unchangedToast`` columns.
    public var newTuple: TupleData

    /// Makes an Update message.
    public init(xid: UInt32? = nil, relationOID: UInt32, oldTuple: OldTuple? = nil, newTuple: TupleData) {
        self.xid = xid
        self.relationOID = relationOID
        self.oldTuple = oldTuple
        self.newTuple = newTuple
    }

    static func decode(from buffer: inout ByteBuffer, inStream: Bool) throws(PGOutputError) -> Self {
        let xid: UInt32? = inStream ? try buffer.readWire("xid") : nil
        let oid: UInt32 = try buffer.readWire("relation OID")
        let markerOffset = buffer.readerIndex
        var marker: UInt8 = try buffer.readWire("tuple marker")
        var old: OldTuple?
        switch marker {
        case UInt8(ascii: "K"), UInt8(ascii: "O"):
            let tuple = try TupleData.decode(from: &buffer)
            old = marker == UInt8(ascii: "K") ? .key(tuple) : .full(tuple)
            try buffer.expectTupleMarker(UInt8(ascii: "N"))
        case UInt8(ascii: "N"):
            break
        default:
            marker = 0
        }
        guard marker != 0 else {
            throw PGOutputError(code: .badTupleMarker, offset: markerOffset, detail: "expected 'K', 'O' or 'N'")
        }
        return UpdateMessage(xid: xid, relationOID: oid, oldTuple: old, newTuple: try TupleData.decode(from: &buffer))
    }
}
