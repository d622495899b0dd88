import NIOCore

/// Stream Start ('S', v2+): a block of a large in-progress transaction follows, until Stream Stop.
public struct StreamStartMessage: Hashable, Sendable {
    /// The streamed transaction's id.
    public var xid: UInt32
    /// True for the transaction's first block.
    public var isFirstSegment: Bool

    /// Makes a Stream Start message.
    public init(xid: UInt32, isFirstSegment: Bool) {
        self.xid = xid
        self.isFirstSegment = isFirstSegment
    }

    static func decode(from buffer: inout ByteBuffer) throws(PGOutputError) -> Self {
        let xid: UInt32 = try buffer.readWire("xid")
        let first: UInt8 = try buffer.readWire("first segment flag")
        return StreamStartMessage(xid: xid, isFirstSegment: first == 1)
    }
}
