import CacheWarmer
import Foundation
import NIOCore
import PGOutput
import Testing

/// `peek`'s JSON lines, byte for byte, for every kind of change it prints.
@Suite struct ChangeLinesTests {
    static let relation = RelationMessage(
        oid: 16400, namespace: "public", name: "Order", replicaIdentity: UInt8(ascii: "d"),
        columns: [
            .init(isKey: true, name: "id", typeOID: 23, typeModifier: -1),
            .init(isKey: false, name: "note", typeOID: 25, typeModifier: -1),
            .init(isKey: false, name: "big", typeOID: 25, typeModifier: -1),
        ])
    static let other = RelationMessage(
        oid: 16401, namespace: "shop", name: "item", replicaIdentity: UInt8(ascii: "f"),
        columns: [.init(isKey: true, name: "sku", typeOID: 25, typeModifier: -1)])
    // 2026-11-29T13:01:44.123456Z in microseconds since 2000-01-01.
    static let commitTime = PostgresTimestamp(rawValue: (1_795_957_304 - 946_684_800) * 1_000_000 + 123_456)
    static let header = #"{"commit_lsn":"0/16B3748","xid":750,"commit_time":"2026-11-29T13:01:44.123456Z""#

    func text(_ value: String) -> TupleValue { .text(ByteBuffer(string: value)) }

    func renderer() throws -> ChangeLines {
        var lines = ChangeLines()
        #expect(try lines.lines(for: .relation(Self.relation)).isEmpty)
        #expect(try lines.lines(for: .relation(Self.other)).isEmpty)
        #expect(try lines.lines(for: .begin(BeginMessage(finalLSN: LSN(0x16B3748), commitTimestamp: Self.commitTime, xid: 750))).isEmpty)
        return lines
    }

    @Test func insertWithNullAndEscapes() throws {
        var lines = try renderer()
        let line = try lines.lines(for: .insert(InsertMessage(relationOID: 16400, newTuple: TupleData(values: [text("7"), text("a \"q\"\n\\ é\u{1}"), .null]))))
        #expect(line == [Self.header + #","table":"public.Order","op":"insert","key":{"id":"7"},"new":{"id":"7","note":"a \"q\"\n\\ é\u0001","big":null}}"#])
    }

    @Test func updateWithoutOldImageAndUnchangedToast() throws {
        var lines = try renderer()
        let line = try lines.lines(for: .update(UpdateMessage(relationOID: 16400, newTuple: TupleData(values: [text("7"), text("b"), .unchangedToast]))))
        #expect(line == [Self.header + #","table":"public.Order","op":"update","key":{"id":"7"},"new":{"id":"7","note":"b","big":{"unchanged_toast":true}}}"#])
    }

    @Test func updateChangingTheKeyShowsTheOldKeyOnly() throws {
        var lines = try renderer()
        let old = OldTuple.key(TupleData(values: [text("7"), .null, .null]))
        let line = try lines.lines(for: .update(UpdateMessage(relationOID: 16400, oldTuple: old, newTuple: TupleData(values: [text("8"), text("b"), .unchangedToast]))))
        #expect(line == [Self.header + #","table":"public.Order","op":"update","key":{"id":"8"},"old_kind":"key","old":{"id":"7"},"new":{"id":"8","note":"b","big":{"unchanged_toast":true}}}"#])
    }

    @Test func updateAndDeleteWithFullOldImage() throws {
        var lines = try renderer()
        let old = OldTuple.full(TupleData(values: [text("x-1")]))
        #expect(try lines.lines(for: .update(UpdateMessage(relationOID: 16401, oldTuple: old, newTuple: TupleData(values: [text("x-2")]))))
            == [Self.header + #","table":"shop.item","op":"update","key":{"sku":"x-2"},"old_kind":"full","old":{"sku":"x-1"},"new":{"sku":"x-2"}}"#])
        #expect(try lines.lines(for: .delete(DeleteMessage(relationOID: 16401, oldTuple: .full(TupleData(values: [text("x-2")])))))
            == [Self.header + #","table":"shop.item","op":"delete","key":{"sku":"x-2"},"old_kind":"full","old":{"sku":"x-2"}}"#])
    }

    @Test func deleteByKey() throws {
        var lines = try renderer()
        #expect(try lines.lines(for: .delete(DeleteMessage(relationOID: 16400, oldTuple: .key(TupleData(values: [text("8"), .null, .null])))))
            == [Self.header + #","table":"public.Order","op":"delete","key":{"id":"8"},"old_kind":"key","old":{"id":"8"}}"#])
    }

    @Test func truncateNamesEveryTableAndItsOptions() throws {
        var lines = try renderer()
        #expect(try lines.lines(for: .truncate(TruncateMessage(options: [.restartIdentity], relationOIDs: [16400, 16401])))
            == [Self.header + #","op":"truncate","tables":["public.Order","shop.item"],"cascade":false,"restart_identity":true}"#])
    }

    @Test func logicalMessagesInAndOutsideTransactions() throws {
        var lines = try renderer()
        #expect(try lines.lines(for: .message(LogicalMessage(isTransactional: true, lsn: LSN(0x16B3700), prefix: "audit", content: ByteBuffer(string: "hi"))))
            == [Self.header + #","op":"message","transactional":true,"prefix":"audit","content":"hi"}"#])
        #expect(try lines.lines(for: .commit(CommitMessage(commitLSN: LSN(0x16B3748), endLSN: LSN(0x16B3778), commitTimestamp: Self.commitTime))).isEmpty)
        #expect(try lines.lines(for: .message(LogicalMessage(isTransactional: false, lsn: LSN(0x16B3800), prefix: "p", content: ByteBuffer(bytes: [0xFF, 0x00]))))
            == [#"{"lsn":"0/16B3800","op":"message","transactional":false,"prefix":"p","content_hex":"ff00"}"#])
    }

    @Test func aChangeOfAnUnknownRelationIsAnError() throws {
        var lines = ChangeLines()
        #expect(throws: PGOutputError.self) {
            try lines.lines(for: .insert(InsertMessage(relationOID: 1, newTuple: TupleData(values: []))))
        }
    }

    @Test func durationsAndTimes() throws {
        #expect(HistoryWindow.parseDuration("30s") == 30)
        #expect(HistoryWindow.parseDuration("15m") == 900)
        #expect(HistoryWindow.parseDuration("1h") == 3600)
        #expect(HistoryWindow.parseDuration("1.5h") == 5400)
        #expect(HistoryWindow.parseDuration("250ms") == 0.25)
        #expect(HistoryWindow.parseDuration("0s") == nil)
        #expect(HistoryWindow.parseDuration("soon") == nil)
        let now = Date(timeIntervalSince1970: 1_795_957_304)
        #expect(TimeArgument.parse("15m", now: now) == now.addingTimeInterval(-900))
        #expect(TimeArgument.parse("2026-11-29T13:01:44Z", now: now) == now)
        #expect(TimeArgument.parse("2026-11-29 13:01:44", now: now) == now)
        #expect(TimeArgument.parse("2026-11-29T14:01:44+01:00", now: now) == now)
        #expect(TimeArgument.parse("2026-11-29T13:01:44.5Z", now: now) == now.addingTimeInterval(0.5))
        #expect(TimeArgument.parse("yesterday", now: now) == nil)
    }

    @Test func historyConfiguration() throws {
        let base = "writer_url: postgres://x\nredis_url: redis://x\nentities:\n  order: { table: public.o }\n"
        let hour = try WorkerConfiguration.parse(yaml: base + "history: { keep: 1h }", file: "t.yaml")
        #expect(hour.history?.keep == .duration(seconds: 3600))
        #expect(hour.historySlot == "cache_warmer_history")
        let bytes = try WorkerConfiguration.parse(yaml: base + "history: { keep_bytes: 2GB }", file: "t.yaml")
        #expect(bytes.history?.keep == .bytes(2 << 30))
        #expect(try WorkerConfiguration.parse(yaml: base, file: "t.yaml").history == nil)
        for bad in ["history: { keep: 1h, keep_bytes: 1GB }", "history: { keep: forever }", "history: {}", "history: { keep: 1h, keeep: 2 }"] {
            #expect(throws: ConfigurationError.self) { try WorkerConfiguration.parse(yaml: base + bad, file: "t.yaml") }
        }
    }
}
