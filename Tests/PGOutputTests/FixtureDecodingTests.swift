import NIOCore
import PGOutput
import PGOutputFixtures
import Testing

/// Decodes streams captured from a real PostgreSQL 15 (`Scripts/capture-pgoutput-fixtures.sh`).
@Suite struct FixtureDecodingTests {
    static let names = Fixture.allNames

    @Test func fixturesArePresent() {
        #expect(Self.names.count >= 13)
    }

    @Test(arguments: names)
    func everyMessageDecodesAndCommitPositionsMatch(_ name: String) throws {
        let fixture = try Fixture.callAsFunction(name)
        let messages = try fixture.decodeAll()
        #expect(!messages.isEmpty)
        var lastBegin: BeginMessage?
        for (line, message) in zip(fixture.lines, messages) {
            switch message {
            case .begin(let begin):
                lastBegin = begin
                #expect(begin.xid == line.xid)
            case .commit(let commit):
                // The slot reports a commit at its end LSN; Begin announced the commit record's LSN.
                #expect(commit.endLSN == line.lsn)
                #expect(commit.commitLSN == lastBegin?.finalLSN)
                #expect(commit.commitLSN < commit.endLSN)
            case .streamCommit(let commit):
                #expect(commit.endLSN == line.lsn)
            default:
                break
            }
        }
    }

    @Test(arguments: names.filter { $0 != "small_rows_bench" && !$0.hasPrefix("streamed") })
    func everyShorterPrefixOfEveryMessageIsRejected(_ name: String) throws {
        let fixture = try Fixture.callAsFunction(name)
        var decoder = try PGOutputDecoder(protocolVersion: fixture.protocolVersion)
        for line in fixture.lines {
            for length in 0..<line.bytes.readableBytes {
                let prefix = line.bytes.getSlice(at: line.bytes.readerIndex, length: length)!
                #expect(throws: PGOutputError.self) {
                    try PGOutputMessage.decode(from: prefix, protocolVersion: fixture.protocolVersion, inStream: decoder.inStream)
                }
            }
            _ = try decoder.decode(line.bytes)
        }
    }

    @Test func defaultIdentity() throws {
        let messages = try Fixture.callAsFunction("insert_update_delete_default_identity").decodeAll()
        let (relations, changes) = try Self.named(messages)
        #expect(relations.first?.replicaIdentity == UInt8(ascii: "d"))
        #expect(relations.first?.columns.map(\.isKey) == [true, false, false])
        let update = try #require(changes.first { $0.kind == "U" })
        #expect(update.old == nil)
        let delete = try #require(changes.first { $0.kind == "D" })
        #expect(delete.oldIsKeyOnly == true)
        // A key-only old image has the key set and every other column null.
        #expect(delete.old?.dropFirst().allSatisfy { $0.value == .null } == true)
    }

    @Test func fullIdentity() throws {
        let messages = try Fixture.callAsFunction("insert_update_delete_full_identity").decodeAll()
        let (relations, changes) = try Self.named(messages)
        #expect(relations.first?.replicaIdentity == UInt8(ascii: "f"))
        let update = try #require(changes.first { $0.kind == "U" })
        #expect(update.oldIsKeyOnly == false)
        #expect(update.old?.allSatisfy { $0.value != .null } == true)
        #expect(update.old?.map(\.name) == update.new?.map(\.name))
        let delete = try #require(changes.first { $0.kind == "D" })
        #expect(delete.oldIsKeyOnly == false)
        #expect(delete.old?.allSatisfy { $0.value != .null } == true)
    }

    @Test func unchangedToastColumnIsMarked() throws {
        let messages = try Fixture.callAsFunction("toast_unchanged").decodeAll()
        let updates = messages.compactMap { if case .update(let u) = $0 { u } else { nil } }
        #expect(updates.count == 2)
        #expect(updates[0].newTuple.hasUnchangedToast)
        #expect(!updates[1].newTuple.hasUnchangedToast)
        let inserts = messages.compactMap { if case .insert(let i) = $0 { i } else { nil } }
        #expect(inserts.first?.newTuple.hasUnchangedToast == false)
    }

    @Test func primaryKeyChangeCarriesTheOldKey() throws {
        let (_, changes) = try Self.named(try Fixture.callAsFunction("primary_key_change").decodeAll())
        let keyChanges = changes.filter { $0.kind == "U" && $0.old != nil }
        #expect(keyChanges.count >= 1)
        for change in keyChanges {
            #expect(change.oldIsKeyOnly == true)
            let oldKey = change.old?.first { $0.isKey }?.value.textValue
            let newKey = change.new?.first { $0.isKey }?.value.textValue
            #expect(oldKey != nil && newKey != nil && oldKey != newKey)
        }
    }

    @Test func truncateOfTwoTables() throws {
        let messages = try Fixture.callAsFunction("truncate_two_tables").decodeAll()
        let truncates = messages.compactMap { if case .truncate(let t) = $0 { t } else { nil } }
        #expect(truncates.first?.relationOIDs.count == 2)
        let relationOIDs = Set(messages.compactMap { if case .relation(let r) = $0 { r.oid } else { nil } })
        #expect(truncates.allSatisfy { Set($0.relationOIDs).isSubset(of: relationOIDs) })
        #expect(truncates.contains { $0.options.contains(.restartIdentity) && $0.options.contains(.cascade) })
    }

    @Test func logicalMessages() throws {
        let messages = try Fixture.callAsFunction("logical_messages").decodeAll()
        let logical = messages.compactMap { if case .message(let m) = $0 { m } else { nil } }
        #expect(logical.contains { $0.isTransactional && $0.prefix == "prefix-tx" && String(buffer: $0.content) == "payload" })
        // A non-transactional message is delivered on its own, outside any Begin/Commit.
        let nonTransactional = try Fixture.callAsFunction("logical_messages").lines.compactMap { line -> LogicalMessage? in
            guard case .message(let m) = try PGOutputMessage.decode(from: line.bytes, protocolVersion: 1, inStream: false), !m.isTransactional else { return nil }
            return m
        }
        #expect(nonTransactional.count <= 1)
    }

    @Test func alterTableSendsANewRelationForTheSameOID() throws {
        let messages = try Fixture.callAsFunction("alter_table_between_inserts").decodeAll()
        let relations = messages.compactMap { if case .relation(let r) = $0 { r } else { nil } }
        #expect(relations.count == 2)
        #expect(relations[0].oid == relations[1].oid)
        #expect(relations[1].columns.count == relations[0].columns.count + 1)
        var cache = RelationCache()
        var widths: [Int] = []
        for message in messages {
            switch message {
            case .relation(let relation): cache.apply(relation)
            case .insert(let insert): widths.append(try cache.columns(of: insert.newTuple, relationOID: insert.relationOID).count)
            default: break
            }
        }
        #expect(widths == [relations[0].columns.count, relations[1].columns.count])
    }

    @Test func streamedCommittedTransaction() throws {
        let messages = try Fixture.callAsFunction("streamed_committed").decodeAll()
        let starts = messages.compactMap { if case .streamStart(let s) = $0 { s } else { nil } }
        #expect(starts.count >= 2)
        #expect(starts.first?.isFirstSegment == true)
        #expect(starts.dropFirst().allSatisfy { !$0.isFirstSegment })
        let xid = try #require(starts.first?.xid)
        let inserts = messages.compactMap { if case .insert(let i) = $0 { i } else { nil } }
        #expect(!inserts.isEmpty && inserts.allSatisfy { $0.xid == xid })
        let commits = messages.compactMap { if case .streamCommit(let c) = $0 { c } else { nil } }
        #expect(commits.map(\.xid) == [xid])
    }

    @Test func streamedAbortedTransaction() throws {
        let messages = try Fixture.callAsFunction("streamed_aborted").decodeAll()
        let aborts = messages.compactMap { if case .streamAbort(let a) = $0 { a } else { nil } }
        #expect(!aborts.isEmpty)
        let starts = messages.compactMap { if case .streamStart(let s) = $0 { s.xid } else { nil } }
        #expect(aborts.allSatisfy { starts.contains($0.xid) })
        #expect(aborts.allSatisfy { $0.abortLSN == nil })
    }

    @Test func twoPhaseCommitAndRollback() throws {
        let messages = try Fixture.callAsFunction("two_phase").decodeAll()
        let begins = messages.compactMap { if case .beginPrepare(let b) = $0 { b } else { nil } }
        let prepares = messages.compactMap { if case .prepare(let p) = $0 { p } else { nil } }
        let commits = messages.compactMap { if case .commitPrepared(let c) = $0 { c } else { nil } }
        let rollbacks = messages.compactMap { if case .rollbackPrepared(let r) = $0 { r } else { nil } }
        #expect(begins.map(\.gid) == ["fx1", "fx2"])
        #expect(prepares.map(\.gid) == ["fx1", "fx2"])
        #expect(zip(begins, prepares).allSatisfy { $0.prepareLSN == $1.prepareLSN && $0.endLSN == $1.endLSN && $0.xid == $1.xid })
        #expect(commits.map(\.gid) == ["fx1"])
        #expect(rollbacks.map(\.gid) == ["fx2"])
        #expect(rollbacks.first?.preparedEndLSN == prepares.last?.endLSN)
    }

    @Test func binaryModeSendsBinaryColumns() throws {
        let (_, changes) = try Self.named(try Fixture.callAsFunction("binary_mode").decodeAll())
        let first = try #require(changes.first { $0.kind == "I" }?.new)
        #expect(first.contains { if case .binary = $0.value { true } else { false } })
        let int4 = try #require(first.first { $0.typeOID == 23 })
        guard case .binary(let bytes) = int4.value else { Issue.record("int4 not binary"); return }
        #expect(bytes.readableBytes == 4)
    }

    @Test func textFormsOfCommonTypes() throws {
        let (_, changes) = try Self.named(try Fixture.callAsFunction("types_text").decodeAll())
        let rows = changes.filter { $0.kind == "I" }.compactMap(\.new)
        #expect(rows.count == 3)
        let first = Dictionary(uniqueKeysWithValues: rows[0].map { ($0.name, $0.value.textValue) })
        #expect(first["c_int2"] == "12345")
        #expect(first["c_int4"] == "2147483647")
        #expect(first["c_int8"] == "9223372036854775807")
        #expect(first["c_numeric"] == "12345.6789")
        #expect(first["c_text"] == "hello, world")
        #expect(first["c_bool"] == "t")
        #expect(first["c_timestamptz"] == "2026-01-02 03:04:05.123456+00")
        // Every column of the third row but its key is NULL.
        #expect(rows[2].filter { !$0.isKey }.allSatisfy { $0.value == .null })
    }

    /// A change with its columns named through the session's Relation messages.
    struct NamedChange {
        var kind: Character
        var old: [NamedColumn]?
        var oldIsKeyOnly: Bool?
        var new: [NamedColumn]?
    }

    static func named(_ messages: [PGOutputMessage]) throws -> ([RelationMessage], [NamedChange]) {
        var cache = RelationCache()
        var relations: [RelationMessage] = []
        var changes: [NamedChange] = []
        for message in messages {
            switch message {
            case .relation(let relation):
                cache.apply(relation)
                relations.append(relation)
            case .insert(let insert):
                changes.append(NamedChange(kind: "I", new: try cache.columns(of: insert.newTuple, relationOID: insert.relationOID)))
            case .update(let update):
                var isKey: Bool?
                if let old = update.oldTuple { if case .key = old { isKey = true } else { isKey = false } }
                changes.append(
                    NamedChange(
                        kind: "U", old: try update.oldTuple.map { try cache.columns(of: $0.tuple, relationOID: update.relationOID) },
                        oldIsKeyOnly: isKey, new: try cache.columns(of: update.newTuple, relationOID: update.relationOID)))
            case .delete(let delete):
                var isKey = false
                if case .key = delete.oldTuple { isKey = true }
                changes.append(
                    NamedChange(kind: "D", old: try cache.columns(of: delete.oldTuple.tuple, relationOID: delete.relationOID), oldIsKeyOnly: isKey))
            default:
                break
            }
        }
        return (relations, changes)
    }
}
