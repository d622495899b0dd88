import NIOCore

/// Insert ('I'): a new row in relation ``relationOID``.
public struct InsertMessage: Hashable, Sendable {
    /// The transaction id, present only inside a streamed transaction.
    public var xid: UInt32?
    /// The relation the row belongs to.
    public var relationOID: UInt32
    /// The new row.
    public var newTuple: TupleData

    /// Makes an Insert message.
    public init(xid: UInt32? = nil, relationOID: UInt32, newTuple: TupleData) {
        self.xid = xid
        self.relationOID = relationOID
        self.newTuple = newTuple
    }

    static func decode(from buffer: inout ByteBuffer, inStream: Bool) throws(PGOutputError) -> Self {
        let xid: UInt32? = inStream ? try buffer.readWire("xid") : nil
        let oid: UInt32 = try buffer.readWire("relation OID")
        try buffer.expectTupleMarker(UInt8(ascii: "N"))
        return InsertMessage(xid: xid, relationOID: oid, newTuple: try TupleData.decode(from: &buffer))
    }
}

extension ByteBuffer {
    /// Reads a tuple marker byte and fails unless it is `expected`.
    mutating func expectTupleMarker(_ expected: UInt8) throws(PGOutputError) {
        let offset = readerIndex
        let marker: UInt8 = try readWire("tuple marker")
        guard marker == expected else {
            throw PGOutputError(code: .badTupleMarker, offset: offset, detail: "expected '\(Character(UnicodeScalar(expected)))', got 0x\(String(marker, radix: 16))")
        }
    }
}
