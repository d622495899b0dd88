import NIOCore

/// Truncate ('T'): every row of the listed relations was removed in one statement.
public struct TruncateMessage: Hashable, Sendable {
    /// `TRUNCATE` options.
    public struct Options: OptionSet, Hashable, Sendable {
        public var rawValue: UInt8
        public init(rawValue: UInt8) { self.rawValue = rawValue }
        /// `CASCADE` was given.
        public static let cascade = Options(rawValue: 1)
        /// `RESTART IDENTITY` was given.
        public static let restartIdentity = Options(rawValue: 2)
    }

    /// The transaction id, present only inside a streamed transaction.
    public var xid: UInt32?
    /// The statement's options.
    public var options: Options
    /// The truncated relations.
    public var relationOIDs: [UInt32]

    /// Makes a Truncate message.
    public init(xid: UInt32? = nil, options: Options, relationOIDs: [UInt32]) {
        self.xid = xid
        self.options = options
        self.relationOIDs = relationOIDs
    }

    static func decode(from buffer: inout ByteBuffer, inStream: Bool) throws(PGOutputError) -> Self {
        let xid: UInt32? = inStream ? try buffer.readWire("xid") : nil
        let countOffset = buffer.readerIndex
        let count: Int32 = try buffer.readWire("relation count")
        guard count >= 0 else {
            throw PGOutputError(code: .negativeLength, offset: countOffset, detail: "relation count \(count)")
        }
        let options = Options(rawValue: try buffer.readWire("options"))
        guard buffer.readableBytes >= Int(count) * 4 else {
            throw PGOutputError(code: .truncatedMessage, offset: buffer.readerIndex, detail: "\(count) relation OIDs need \(Int(count) * 4) bytes, \(buffer.readableBytes) left")
        }
        var oids: [UInt32] = []
        oids.reserveCapacity(Int(count))
        for _ in 0..<count {
            oids.append(try buffer.readWire("relation OID"))
        }
        return TruncateMessage(xid: xid, options: options, relationOIDs: oids)
    }
}
