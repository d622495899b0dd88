import CacheWarmer
import Foundation
import Logging
import PGOutput
import PostgresReplication
import TestSupport
import Synchronization
import Testing

/// `peek` on the real stack: each kind of change, decoded from a copy of a slot that nobody
/// consumes, checked field by field.
@Suite struct PeekTests {
    @Test func insertsUpdatesDeletesTruncateKeyChangeToastAndMessagesFieldByField() async throws {
        let writer = try StackEnvironment.writer()
        let plain = StackEnvironment.uniqueName("t_peek")
        let full = StackEnvironment.uniqueName("t_peekfull")
        let publication = StackEnvironment.uniqueName("t_peekpub")
        let slot = StackEnvironment.uniqueName("t_peek_slot")
        let sql = { (statement: String) throws -> QueryResult in try PostgresConnection(writer, settings: ["TimeZone": "UTC"]).execute(statement) }
        try sql("CREATE TABLE \(plain) (id int PRIMARY KEY, note text, big text); ALTER TABLE \(plain) ALTER COLUMN big SET STORAGE EXTERNAL")
        try sql("CREATE TABLE \(full) (sku text PRIMARY KEY, qty int); ALTER TABLE \(full) REPLICA IDENTITY FULL")
        try sql("CREATE PUBLICATION \(publication) FOR TABLE \(plain), \(full)")
        try PostgresConnection(writer).createSlotIfMissing(slot)
        defer {
            _ = try? PostgresConnection(writer).dropSlotIfExists(slot)
            _ = try? sql("DROP PUBLICATION IF EXISTS \(publication); DROP TABLE IF EXISTS \(plain), \(full)")
        }
        let big = try #require(try sql("SELECT string_agg(md5(i::text), '') FROM generate_series(1, 200) i").scalar)
        try sql("INSERT INTO \(plain) VALUES (1, 'first \"quoted\"', '\(big)')")
        try await Task.sleep(for: .milliseconds(600))
        let middle = Date()
        try await Task.sleep(for: .milliseconds(600))
        try sql("UPDATE \(plain) SET note = 'second' WHERE id = 1")
        try sql("UPDATE \(plain) SET id = 2, note = NULL WHERE id = 1")
        try sql("DELETE FROM \(plain) WHERE id = 2")
        let session = try PostgresConnection(writer)
        try session.execute("BEGIN; INSERT INTO \(full) VALUES ('s-1', 5); INSERT INTO \(plain) VALUES (3, 'three', 'small')")
        let xid = try #require(try session.execute("SELECT txid_current()::text").scalar)
        try session.execute("COMMIT")
        try sql("UPDATE \(full) SET qty = 6 WHERE sku = 's-1'")
        try sql("DELETE FROM \(full) WHERE sku = 's-1'")
        try sql("SELECT pg_logical_emit_message(true, '\(publication)', 'hello')")
        try sql("TRUNCATE \(plain), \(full)")
        let confirmedBefore = try PostgresConnection(writer).slotState(slot)?.confirmedFlushLSN

        var configuration = WorkerConfiguration()
        configuration.writerURL = writer.rawValue
        configuration.redisURL = try StackEnvironment.require("REDIS_URL")
        configuration.slot = slot
        configuration.publication = publication
        var logger = Logger(label: "test.peek")
        logger.logLevel = .warning
        let collected = LineBox()
        let count = try await ChangePeek(configuration: configuration, logger: logger).run(ChangePeek.Request()) { collected.append($0) }
        // Logical messages are not filtered by publication: keep this test's own.
        let lines = collected.lines.filter { !$0.contains("\"op\":\"message\"") || $0.contains(publication) }
        #expect(count >= 10)
        let objects = try lines.map { try #require(try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]) }
        try #require(objects.count == 10, "\(lines.joined(separator: "\n"))")
        let table = "public.\(plain)"
        let fullTable = "public.\(full)"

        func check(_ index: Int, table expected: String?, op: String, key: [String: String]?, oldKind: String?, old: [String: Any]?, new: [String: Any]?) {
            let object = objects[index]
            #expect(object["op"] as? String == op, "line \(index): \(lines[index])")
            #expect(object["table"] as? String == expected, "line \(index)")
            #expect(object["key"] as? [String: String] == key, "line \(index)")
            #expect(object["old_kind"] as? String == oldKind, "line \(index)")
            #expect((object["old"] as? NSDictionary) == old.map { NSDictionary(dictionary: $0) }, "line \(index): \(lines[index])")
            #expect((object["new"] as? NSDictionary) == new.map { NSDictionary(dictionary: $0) }, "line \(index): \(lines[index])")
            #expect((object["commit_lsn"] as? String).flatMap { LSN($0) } != nil, "line \(index)")
            #expect((object["xid"] as? Int ?? 0) > 0, "line \(index)")
            #expect((object["commit_time"] as? String).flatMap { TimeArgument.parse($0) }.map { abs($0.timeIntervalSinceNow) < 120 } == true, "line \(index)")
        }
        let toast = ["unchanged_toast": true]
        // "key" is the replica identity as the Relation message marks it: with REPLICA IDENTITY
        // FULL every column.
        check(0, table: table, op: "insert", key: ["id": "1"], oldKind: nil, old: nil, new: ["id": "1", "note": "first \"quoted\"", "big": big])
        check(1, table: table, op: "update", key: ["id": "1"], oldKind: nil, old: nil, new: ["id": "1", "note": "second", "big": toast])
        check(2, table: table, op: "update", key: ["id": "2"], oldKind: "key", old: ["id": "1"], new: ["id": "2", "note": NSNull(), "big": toast])
        check(3, table: table, op: "delete", key: ["id": "2"], oldKind: "key", old: ["id": "2"], new: nil)
        check(4, table: fullTable, op: "insert", key: ["sku": "s-1", "qty": "5"], oldKind: nil, old: nil, new: ["sku": "s-1", "qty": "5"])
        check(5, table: table, op: "insert", key: ["id": "3"], oldKind: nil, old: nil, new: ["id": "3", "note": "three", "big": "small"])
        #expect(objects[4]["commit_lsn"] as? String == objects[5]["commit_lsn"] as? String, "one transaction, one commit LSN")
        #expect(objects[4]["xid"] as? Int == objects[5]["xid"] as? Int)
        #expect(objects[4]["xid"] as? Int == Int(xid))
        #expect(objects[0]["commit_lsn"] as? String != objects[1]["commit_lsn"] as? String)
        check(6, table: fullTable, op: "update", key: ["sku": "s-1", "qty": "6"], oldKind: "full", old: ["sku": "s-1", "qty": "5"], new: ["sku": "s-1", "qty": "6"])
        check(7, table: fullTable, op: "delete", key: ["sku": "s-1", "qty": "6"], oldKind: "full", old: ["sku": "s-1", "qty": "6"], new: nil)
        #expect(objects[8]["op"] as? String == "message")
        #expect(objects[8]["prefix"] as? String == publication)
        #expect(objects[8]["content"] as? String == "hello")
        #expect(objects[8]["transactional"] as? Bool == true)
        #expect(objects[9]["op"] as? String == "truncate")
        #expect(objects[9]["tables"] as? [String] == [table, fullTable] || objects[9]["tables"] as? [String] == [fullTable, table])
        #expect(objects[9]["cascade"] as? Bool == false && objects[9]["restart_identity"] as? Bool == false)

        // --table and --limit; nothing is consumed and no copy is left.
        let filtered = LineBox()
        _ = try await ChangePeek(configuration: configuration, logger: logger).run(ChangePeek.Request(tables: [full], limit: 2)) { filtered.append($0) }
        #expect(filtered.lines.count == 2)
        #expect(filtered.lines.allSatisfy { $0.contains("\"table\":\"\(fullTable)\"") })
        // --until and --since by commit time.
        let early = LineBox()
        _ = try await ChangePeek(configuration: configuration, logger: logger).run(ChangePeek.Request(end: .time(middle), tables: [plain])) { early.append($0) }
        #expect(early.lines == [lines[0]], "only the change committed before the middle")
        let late = LineBox()
        _ = try await ChangePeek(configuration: configuration, logger: logger).run(ChangePeek.Request(start: .time(middle))) { late.append($0) }
        #expect(late.lines.filter { !$0.contains("\"op\":\"message\"") || $0.contains(publication) } == Array(lines.dropFirst()), "everything committed after it")
        #expect(try PostgresConnection(writer).slotState(slot)?.confirmedFlushLSN == confirmedBefore)
        #expect(try PostgresConnection(writer).execute("SELECT count(*) FROM pg_replication_slots WHERE slot_name LIKE '\(slot)_history_c_%'").scalar == "0")
    }
}

/// Lines collected from a peek's output callback.
final class LineBox: Sendable {
    private let storage = Mutex<[String]>([])
    func append(_ line: String) { storage.withLock { $0.append(line) } }
    var lines: [String] { storage.withLock { $0 } }
}
