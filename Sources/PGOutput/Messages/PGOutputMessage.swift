import NIOCore

/// One pgoutput message (the payload of one XLogData), for protocol versions 1 to 4.
public enum PGOutputMessage: Hashable, Sendable {
    case begin(BeginMessage)
    case commit(CommitMessage)
    case origin(OriginMessage)
    case relation(RelationMessage)
    case type(TypeMessage)
    case insert(InsertMessage)
    case update(UpdateMessage)
    case delete(DeleteMessage)
    case truncate(TruncateMessage)
    case message(LogicalMessage)
    case streamStart(StreamStartMessage)
    case streamStop
    case streamCommit(StreamCommitMessage)
    case streamAbort(StreamAbortMessage)
    case beginPrepare(BeginPrepareMessage)
    case prepare(PrepareMessage)
    case commitPrepared(CommitPreparedMessage)
    case rollbackPrepared(RollbackPreparedMessage)
    case streamPrepare(PrepareMessage)

    /// The message type bytes of pgoutput.
    public enum ID: UInt8, Sendable, CaseIterable {
        case begin = 0x42  // B
        case commit = 0x43  // C
        case origin = 0x4F  // O
        case relation = 0x52  // R
        case type = 0x59  // Y
        case insert = 0x49  // I
        case update = 0x55  // U
        case delete = 0x44  // D
        case truncate = 0x54  // T
        case message = 0x4D  // M
        case streamStart = 0x53  // S
        case streamStop = 0x45  // E
        case streamCommit = 0x63  // c
        case streamAbort = 0x41  // A
        case beginPrepare = 0x62  // b
        case prepare = 0x50  // P
        case commitPrepared = 0x4B  // K
        case rollbackPrepared = 0x72  // r
        case streamPrepare = 0x70  // p

        /// The first protocol version that has this message.
        public var minimumProtocolVersion: Int {
            switch self {
            case .begin, .commit, .origin, .relation, .type, .insert, .update, .delete, .truncate, .message: 1
            case .streamStart, .streamStop, .streamCommit, .streamAbort: 2
            case .beginPrepare, .prepare, .commitPrepared, .rollbackPrepared, .streamPrepare: 3
            }
        }
    }

    /// Decodes exactly one message from `buffer`, which must hold that message and nothing else.
    ///
    /// - Parameters:
    ///   - protocolVersion: the `proto_version` the stream was started with (1...4).
    ///   - inStream: true between Stream Start and Stream Stop, where changes carry an xid.
    public static func decode(from buffer: ByteBuffer, protocolVersion: Int, inStream: Bool) throws(PGOutputError) -> PGOutputMessage {
        var body = buffer
        do throws(PGOutputError) {
            guard (1...4).contains(protocolVersion) else {
                throw PGOutputError(code: .unsupportedProtocolVersion, offset: body.readerIndex, detail: "version \(protocolVersion)")
            }
            guard let typeByte: UInt8 = body.readInteger() else {
                throw PGOutputError(code: .emptyMessage, offset: body.readerIndex)
            }
            guard let id = ID(rawValue: typeByte), id.minimumProtocolVersion <= protocolVersion else {
                throw PGOutputError(code: .unknownMessageType, offset: buffer.readerIndex, detail: "type byte 0x\(String(typeByte, radix: 16)) in protocol version \(protocolVersion)")
            }
            let message = try decodeBody(id: id, from: &body, protocolVersion: protocolVersion, inStream: inStream)
            try body.expectFullyConsumed()
            return message
        } catch {
            throw error.located(in: buffer)
        }
    }

    private static func decodeBody(id: ID, from body: inout ByteBuffer, protocolVersion: Int, inStream: Bool) throws(PGOutputError) -> PGOutputMessage {
        switch id {
        case .begin: .begin(try .decode(from: &body))
        case .commit: .commit(try .decode(from: &body))
        case .origin: .origin(try .decode(from: &body))
        case .relation: .relation(try .decode(from: &body, inStream: inStream))
        case .type: .type(try .decode(from: &body, inStream: inStream))
        case .insert: .insert(try .decode(from: &body, inStream: inStream))
        case .update: .update(try .decode(from: &body, inStream: inStream))
        case .delete: .delete(try .decode(from: &body, inStream: inStream))
        case .truncate: .truncate(try .decode(from: &body, inStream: inStream))
        case .message: .message(try .decode(from: &body, inStream: inStream))
        case .streamStart: .streamStart(try .decode(from: &body))
        case .streamStop: .streamStop
        case .streamCommit: .streamCommit(try .decode(from: &body))
        case .streamAbort: .streamAbort(try .decode(from: &body, protocolVersion: protocolVersion))
        case .beginPrepare: .beginPrepare(try .decode(from: &body))
        case .prepare: .prepare(try .decode(from: &body))
        case .commitPrepared: .commitPrepared(try .decode(from: &body))
        case .rollbackPrepared: .rollbackPrepared(try .decode(from: &body))
        case .streamPrepare: .streamPrepare(try .decode(from: &body))
        }
    }
}
