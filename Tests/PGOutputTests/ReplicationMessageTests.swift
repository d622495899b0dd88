import NIOCore
import PGOutput
import Testing

@Suite struct ReplicationMessageTests {
    @Test func decodesXLogData() throws {
        let bytes = Bytes("w").u64(0x1_0000_0010).u64(0x1_0000_0020).u64(42).raw([0x45])
        guard case .xLogData(let data) = try ReplicationMessage.decode(from: bytes.buffer) else {
            Issue.record("not XLogData"); return
        }
        #expect(data.walStart == LSN("1/10"))
        #expect(data.walEnd == LSN("1/20"))
        #expect(data.serverClock.rawValue == 42)
        #expect(Array(data.payload.readableBytesView) == [0x45])
    }

    @Test func decodesKeepalive() throws {
        let bytes = Bytes("k").u64(0x2_0000_0000).u64(7).u8(1)
        #expect(try ReplicationMessage.decode(from: bytes.buffer)
            == .keepalive(PrimaryKeepalive(walEnd: LSN("2/0")!, serverClock: PostgresTimestamp(rawValue: 7), replyRequested: true)))
    }

    @Test func encodesStandbyStatusUpdateByteExact() {
        let update = StandbyStatusUpdate(
            write: LSN("0/3000")!, flush: LSN("0/2000")!, apply: LSN("0/1000")!,
            clientClock: PostgresTimestamp(rawValue: 0x0102_0304_0506_0708), replyRequested: true)
        #expect(update.encoded == [
            0x72,
            0, 0, 0, 0, 0, 0, 0x30, 0,
            0, 0, 0, 0, 0, 0, 0x20, 0,
            0, 0, 0, 0, 0, 0, 0x10, 0,
            1, 2, 3, 4, 5, 6, 7, 8,
            1,
        ])
        #expect(update.encoded.count == StandbyStatusUpdate.encodedSize)
    }

    @Test func shortKeepaliveIsTruncated() {
        let bytes = Bytes("k").u64(1).u64(2)
        #expect(throws: PGOutputError.self) { try ReplicationMessage.decode(from: bytes.buffer) }
        do { _ = try ReplicationMessage.decode(from: bytes.buffer) } catch {
            #expect(error.code == .truncatedMessage)
            #expect(error.messageType == UInt8(ascii: "k"))
            #expect(error.offset == 17)
        }
    }

    @Test func unknownReplicationMessageType() {
        do {
            _ = try ReplicationMessage.decode(from: Bytes("x").u8(0).buffer)
            Issue.record("decoded an unknown type")
        } catch {
            #expect(error.code == .unknownMessageType)
            #expect(error.bytesHex == "7800")
        }
    }

    @Test func keepaliveWithTrailingBytes() {
        do {
            _ = try ReplicationMessage.decode(from: Bytes("k").u64(1).u64(2).u8(0).u8(9).buffer)
            Issue.record("accepted trailing bytes")
        } catch {
            #expect(error.code == .trailingBytes)
            #expect(error.offset == 18)
        }
    }

    @Test func xLogDataWithShortHeader() {
        do {
            _ = try ReplicationMessage.decode(from: Bytes("w").u64(1).u32(0).buffer)
            Issue.record("decoded a short header")
        } catch {
            #expect(error.code == .truncatedMessage)
        }
    }
}
