import NIOCore
import PGOutput
import Testing

/// One test per ``PGOutputError`` code, on hand-made bytes.
@Suite struct ErrorCodeTests {
    private func decodeError(_ bytes: Bytes, version: Int = 1, inStream: Bool = false) -> PGOutputError? {
        do {
            _ = try PGOutputMessage.decode(from: bytes.buffer, protocolVersion: version, inStream: inStream)
            return nil
        } catch {
            return error
        }
    }

    private let relation = Bytes("R").u32(16384).cstring("public").cstring("Order").char("d").i16(1)
        .u8(1).cstring("id").u32(23).i32(-1)

    @Test func truncatedMessage() {
        let error = decodeError(Bytes("B").u64(1).u8(0))
        #expect(error?.code == .truncatedMessage)
        #expect(error?.offset == 9)
        #expect(error?.messageType == UInt8(ascii: "B"))
    }

    @Test func truncatedTextColumn() {
        let error = decodeError(Bytes("I").u32(1).char("N").i16(1).char("t").i32(10).raw([0x41]))
        #expect(error?.code == .truncatedMessage)
        #expect(error?.detail.contains("needs 10 bytes, 1 left") == true)
    }

    @Test func unknownMessageType() {
        #expect(decodeError(Bytes("Z"))?.code == .unknownMessageType)
    }

    @Test func streamMessageInProtocolVersionOneIsUnknown() {
        #expect(decodeError(Bytes("S").u32(1).u8(1), version: 1)?.code == .unknownMessageType)
        #expect(decodeError(Bytes("S").u32(1).u8(1), version: 2) == nil)
        #expect(decodeError(Bytes("b").u64(1).u64(2).u64(3).u32(4).cstring("g"), version: 2)?.code == .unknownMessageType)
    }

    @Test func badTupleKind() {
        let error = decodeError(Bytes("I").u32(1).char("N").i16(1).char("x"))
        #expect(error?.code == .badTupleKind)
        #expect(error?.offset == 8)
    }

    @Test func badTupleMarker() {
        #expect(decodeError(Bytes("I").u32(1).char("X").i16(0))?.code == .badTupleMarker)
        #expect(decodeError(Bytes("U").u32(1).char("Z").i16(0))?.code == .badTupleMarker)
        #expect(decodeError(Bytes("U").u32(1).char("K").i16(0).char("K").i16(0))?.code == .badTupleMarker)
        #expect(decodeError(Bytes("D").u32(1).char("N").i16(0))?.code == .badTupleMarker)
    }

    @Test func trailingBytes() {
        let error = decodeError(Bytes("C").u8(0).u64(1).u64(2).u64(3).u8(0xAA))
        #expect(error?.code == .trailingBytes)
        #expect(error?.offset == 26)
    }

    @Test func stringNotTerminated() {
        let error = decodeError(Bytes("R").u32(1).raw(Array("public".utf8)))
        #expect(error?.code == .stringNotTerminated)
        #expect(error?.offset == 5)
    }

    @Test func invalidUTF8() {
        #expect(decodeError(Bytes("O").u64(1).raw([0xFF, 0xFE, 0]))?.code == .invalidUTF8)
    }

    @Test func negativeLength() {
        #expect(decodeError(Bytes("I").u32(1).char("N").i16(1).char("t").i32(-5))?.code == .negativeLength)
        #expect(decodeError(Bytes("I").u32(1).char("N").i16(-1))?.code == .negativeLength)
        #expect(decodeError(Bytes("T").i32(-1).u8(0))?.code == .negativeLength)
    }

    @Test func truncateCountLargerThanMessage() {
        #expect(decodeError(Bytes("T").i32(1_000_000).u8(0).u32(1))?.code == .truncatedMessage)
    }

    @Test func emptyMessage() {
        #expect(decodeError(Bytes())?.code == .emptyMessage)
    }

    @Test func unsupportedProtocolVersion() {
        #expect(throws: PGOutputError.self) { try PGOutputDecoder(protocolVersion: 5) }
        #expect(decodeError(Bytes("E"), version: 0)?.code == .unsupportedProtocolVersion)
    }

    @Test func unknownRelation() throws {
        let cache = RelationCache()
        do {
            _ = try cache.columns(of: TupleData(values: [.null]), relationOID: 99)
            Issue.record("unknown relation accepted")
        } catch {
            #expect(error.code == .unknownRelation)
            #expect(error.detail.contains("99"))
        }
    }

    @Test func columnCountMismatch() throws {
        var cache = RelationCache()
        guard case .relation(let message) = try PGOutputMessage.decode(from: relation.buffer, protocolVersion: 1, inStream: false) else {
            Issue.record("not a relation"); return
        }
        cache.apply(message)
        do {
            _ = try cache.columns(of: TupleData(values: [.null, .null]), relationOID: 16384)
            Issue.record("mismatch accepted")
        } catch {
            #expect(error.code == .columnCountMismatch)
            #expect(error.detail.contains("public.Order has 1 columns, tuple has 2"))
        }
    }

    @Test func errorDescriptionIsOneLineWithTypeOffsetAndBoundedHex() {
        let long = Bytes("I").u32(1).char("N").i16(1).char("t").i32(1000).raw(Array(repeating: 0x41, count: 200))
        guard let error = decodeError(long) else { Issue.record("no error"); return }
        let text = error.description
        #expect(!text.contains("\n"))
        #expect(text.contains("message 'I'"))
        #expect(text.contains("at offset"))
        #expect(error.bytesHex.hasPrefix("49"))
        #expect(error.bytesHex.contains("…(213 bytes)"))
        #expect(error.bytesHex.count < 2 * PGOutputError.maxReportedBytes + 20)
    }

    @Test func errorOffsetsCountFromMessageStartInsideALargerBuffer() {
        var buffer = ByteBuffer(bytes: [0xFF, 0xFF])
        buffer.writeBytes(Bytes("B").u64(1).buffer.readableBytesView)
        buffer.moveReaderIndex(forwardBy: 2)
        do {
            _ = try PGOutputMessage.decode(from: buffer, protocolVersion: 1, inStream: false)
        } catch {
            #expect(error.offset == 9)
            #expect(error.messageType == UInt8(ascii: "B"))
        }
    }
}
