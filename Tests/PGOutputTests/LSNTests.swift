import Testing
import PGOutput

@Suite struct LSNTests {
    @Test func parsesPostgresTextForm() {
        #expect(LSN("16/B374D848")?.rawValue == 0x16_B374_D848)
        #expect(LSN("0/0") == LSN.zero)
        #expect(LSN("ffffffff/FFFFFFFF")?.rawValue == UInt64.max)
        #expect(LSN("16/b374d848") == LSN("16/B374D848"))
    }

    @Test(arguments: ["", "/", "1/", "/1", "1//2", "g/1", "1/2/3", "123456789/0", "0/123456789", " 1/2", "1/2 ", "-1/2"])
    func rejectsMalformedText(_ text: String) {
        #expect(LSN(text) == nil)
    }

    @Test func formatsLikePostgres() {
        #expect(LSN(0x16_B374_D848).description == "16/B374D848")
        #expect(LSN.zero.description == "0/0")
        #expect(LSN(0x1_0000_0000).description == "1/0")
    }

    @Test func sortableStringIsFixedWidthAndOrdered() {
        let small = LSN(0x1_0000_000A)
        let large = LSN(0xA_0000_0001)
        #expect(small.sortableString == "000000010000000A")
        #expect(large.sortableString == "0000000A00000001")
        #expect(small.sortableString < large.sortableString)
        #expect(LSN(sortableString: small.sortableString) == small)
        #expect(LSN(sortableString: "1/A") == nil)
        #expect(LSN(parsing: "1/A") == small)
        #expect(LSN(parsing: "000000010000000A") == small)
    }

    @Test func roundTripsThroughText() {
        for raw: UInt64 in [0, 1, 0xFFFF_FFFF, 0x1_0000_0000, 0xDEAD_BEEF_0BAD_F00D, .max] {
            #expect(LSN(LSN(raw).description) == LSN(raw))
            #expect(LSN(sortableString: LSN(raw).sortableString) == LSN(raw))
        }
    }

    @Test func comparesAndMeasuresDistance() {
        let a = LSN("0/1000")!
        let b = LSN("0/1800")!
        #expect(a < b)
        #expect(b.distance(from: a) == 0x800)
        #expect(a.distance(from: b) == -0x800)
        #expect(a.advanced(by: 0x800) == b)
        #expect(b.advanced(by: -0x800) == a)
        #expect(a.advanced(by: -0x10000) == .zero)
        #expect(LSN(.max).advanced(by: 1) == LSN(.max))
    }
}

@Suite struct PostgresTimestampTests {
    @Test func convertsFromThePostgresEpoch() {
        #expect(PostgresTimestamp(rawValue: 0).date.timeIntervalSince1970 == 946_684_800)
        // 2026-01-02 03:04:05.123456 UTC
        let ts = PostgresTimestamp(rawValue: 820_638_245_123_456)
        #expect(ts.unixMicroseconds == 1_767_323_045_123_456)
        #expect(abs(ts.date.timeIntervalSince1970 - 1_767_323_045.123456) < 1e-6)
        #expect(PostgresTimestamp(ts.date) == ts)
        #expect(PostgresTimestamp(rawValue: -1_000_000).date.timeIntervalSince1970 == 946_684_799)
    }
}
