import NIOCore
import PGOutput
import Testing

/// Message layouts that fixtures from PG15 cannot show (v4) or that need exact field checks.
@Suite struct HandMadeMessageTests {
    @Test func insertInsideAStreamCarriesTheXid() throws {
        var decoder = try PGOutputDecoder(protocolVersion: 2)
        _ = try decoder.decode(Bytes("S").u32(900).u8(1).buffer)
        #expect(decoder.inStream)
        let insert = try decoder.decode(Bytes("I").u32(900).u32(16384).char("N").i16(2).text("7").char("n").buffer)
        #expect(insert == .insert(InsertMessage(xid: 900, relationOID: 16384, newTuple: TupleData(values: [.text(ByteBuffer(string: "7")), .null]))))
        _ = try decoder.decode(Bytes("E").buffer)
        #expect(!decoder.inStream)
        // Outside the stream the same bytes mean relation 900 and then a stray marker.
        #expect(throws: PGOutputError.self) {
            try decoder.decode(Bytes("I").u32(900).u32(16384).char("N").i16(2).text("7").char("n").buffer)
        }
    }

    @Test func streamAbortInVersionFourCarriesLSNAndTimestamp() throws {
        let bytes = Bytes("A").u32(5).u32(6).u64(0x10).u64(20)
        #expect(try PGOutputMessage.decode(from: bytes.buffer, protocolVersion: 4, inStream: false)
            == .streamAbort(StreamAbortMessage(xid: 5, subtransactionXid: 6, abortLSN: LSN(0x10), abortTimestamp: PostgresTimestamp(rawValue: 20))))
        #expect(try PGOutputMessage.decode(from: Bytes("A").u32(5).u32(6).buffer, protocolVersion: 4, inStream: false)
            == .streamAbort(StreamAbortMessage(xid: 5, subtransactionXid: 6)))
        #expect(throws: PGOutputError.self) { try PGOutputMessage.decode(from: bytes.buffer, protocolVersion: 2, inStream: false) }
    }

    @Test func streamPrepareSharesThePrepareLayout() throws {
        let bytes = Bytes("p").u8(0).u64(1).u64(2).u64(3).u32(4).cstring("gid-1")
        #expect(try PGOutputMessage.decode(from: bytes.buffer, protocolVersion: 3, inStream: false)
            == .streamPrepare(PrepareMessage(prepareLSN: LSN(1), endLSN: LSN(2), prepareTimestamp: PostgresTimestamp(rawValue: 3), xid: 4, gid: "gid-1")))
    }

    @Test func typeMessageInsideAStream() throws {
        let bytes = Bytes("Y").u32(77).u32(16500).cstring("public").cstring("mood")
        #expect(try PGOutputMessage.decode(from: bytes.buffer, protocolVersion: 2, inStream: true)
            == .type(TypeMessage(xid: 77, oid: 16500, namespace: "public", name: "mood")))
    }

    @Test func binaryAndUnchangedToastColumns() throws {
        let bytes = Bytes("U").u32(1).char("N").i16(3).char("b").i32(4).u32(0x2A).char("u").char("n")
        guard case .update(let update) = try PGOutputMessage.decode(from: bytes.buffer, protocolVersion: 1, inStream: false) else {
            Issue.record("not an update"); return
        }
        #expect(update.oldTuple == nil)
        #expect(update.newTuple.values == [.binary(ByteBuffer(bytes: [0, 0, 0, 0x2A])), .unchangedToast, .null])
        #expect(update.newTuple.hasUnchangedToast)
    }

    @Test func everyMessageIDHasItsMinimumVersion() {
        #expect(PGOutputMessage.ID.allCases.count == 19)
        #expect(PGOutputMessage.ID.streamAbort.minimumProtocolVersion == 2)
        #expect(PGOutputMessage.ID.rollbackPrepared.minimumProtocolVersion == 3)
    }
}
