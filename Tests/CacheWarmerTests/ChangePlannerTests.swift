import CacheContract
import CacheWarmer
import NIOCore
import PGOutput
import Testing

/// The planner on hand-made changes: what each kind of change writes, with exact keys and JSON.
@Suite struct ChangePlannerTests {
    static let order = RelationMessage(
        oid: 1, namespace: "public", name: "Order", replicaIdentity: UInt8(ascii: "d"),
        columns: [
            .init(isKey: true, name: "id", typeOID: 23, typeModifier: -1),
            .init(isKey: false, name: "userId", typeOID: 23, typeModifier: -1),
            .init(isKey: false, name: "note", typeOID: 25, typeModifier: -1),
        ])
    /// The same table under REPLICA IDENTITY FULL (every column flagged), where a deferrable
    /// unique key lets two rows hold one key inside a transaction.
    static let orderFull = RelationMessage(
        oid: 1, namespace: "public", name: "Order", replicaIdentity: UInt8(ascii: "f"),
        columns: [
            .init(isKey: true, name: "id", typeOID: 23, typeModifier: -1),
            .init(isKey: true, name: "userId", typeOID: 23, typeModifier: -1),
            .init(isKey: true, name: "note", typeOID: 25, typeModifier: -1),
        ])
    static let product = RelationMessage(
        oid: 2, namespace: "public", name: "Product", replicaIdentity: UInt8(ascii: "f"),
        columns: [
            .init(isKey: true, name: "id", typeOID: 23, typeModifier: -1),
            .init(isKey: false, name: "category", typeOID: 25, typeModifier: -1),
        ])

    static func configuration(orderMode: EntityConfiguration.Mode = .writeThrough) -> WorkerConfiguration {
        var configuration = WorkerConfiguration()
        configuration.entities = [
            EntityConfiguration(name: "order", table: TableName(schema: "public", name: "Order"), mode: orderMode),
        ]
        configuration.queries = [
            QueryConfiguration(
                name: "catalog-page", sql: "SELECT 1 WHERE $category = $category", parameters: ["category"],
                dependsOn: [.init(table: TableName(schema: "public", name: "Product"), match: (parameter: "category", column: "category"))]),
        ]
        return configuration
    }

    static func tuple(_ values: String?...) -> TupleData {
        TupleData(values: values.map { $0.map { .text(ByteBuffer(string: $0)) } ?? .null })
    }

    private func plan(_ changes: [RowChange], configuration: WorkerConfiguration = Self.configuration()) throws -> WriteBatch {
        let planner = try ChangePlanner(configuration: configuration)
        var batch = WriteBatch()
        for change in changes {
            planner.plan(change, lsn: LSN(0x100), into: &batch)
        }
        return batch
    }

    @Test func insertWritesTheCanonicalRow() throws {
        let batch = try plan([.insert(Self.order, new: Self.tuple("7", "42", "a \"quote\""))])
        #expect(batch.rows["cw:order:7"]?.write == .set(row: #"{"id": 7, "note": "a \"quote\"", "userId": 42}"#))
        #expect(batch.rows["cw:order:7"]?.lsn == LSN(0x100))
        #expect(batch.fences.isEmpty)
    }

    @Test func anUnchangedToastColumnInvalidates() throws {
        let new = TupleData(values: [.text(ByteBuffer(string: "7")), .text(ByteBuffer(string: "42")), .unchangedToast])
        let batch = try plan([.update(Self.order, old: nil, new: new)])
        #expect(batch.rows["cw:order:7"]?.write == .invalidate)
    }

    @Test func deleteLeavesATombstone() throws {
        let batch = try plan([.delete(Self.order, old: .key(Self.tuple("7", nil, nil)))])
        #expect(batch.rows["cw:order:7"]?.write == .tombstone)
    }

    @Test func primaryKeyChangeRemovesTheOldKey() throws {
        let batch = try plan([.update(Self.order, old: .key(Self.tuple("7", nil, nil)), new: Self.tuple("8", "42", nil))])
        #expect(batch.rows["cw:order:7"]?.write == .tombstone)
        #expect(batch.rows["cw:order:8"]?.write == .set(row: #"{"id": 8, "note": null, "userId": 42}"#))
    }

    @Test func invalidateModeNeverWritesRows() throws {
        let batch = try plan([.insert(Self.order, new: Self.tuple("7", "42", nil))], configuration: Self.configuration(orderMode: .invalidate))
        #expect(batch.rows["cw:order:7"]?.write == .invalidate)
    }

    @Test func repeatedChangesToOneKeyCoalesce() throws {
        let batch = try plan([
            .insert(Self.order, new: Self.tuple("7", "1", nil)),
            .update(Self.order, old: nil, new: Self.tuple("7", "2", nil)),
            .update(Self.order, old: nil, new: Self.tuple("7", "3", nil)),
        ])
        #expect(batch.rows.count == 1)
        #expect(batch.rows["cw:order:7"]?.write == .set(row: #"{"id": 7, "note": null, "userId": 3}"#))
        #expect(batch.changes == 3)
    }

    @Test func productInsertFencesItsCategoryOnly() throws {
        let batch = try plan([.insert(Self.product, new: Self.tuple("1", "home"))])
        #expect(batch.fences.keys.map(\.key) == ["cw:fence:catalog-page:category=home"])
    }

    @Test func categoryChangeWithAFullOldImageFencesBothCategories() throws {
        let batch = try plan([.update(Self.product, old: .full(Self.tuple("1", "home")), new: Self.tuple("1", "garden"))])
        #expect(Set(batch.fences.keys.map(\.key)) == ["cw:fence:catalog-page:category=home", "cw:fence:catalog-page:category=garden"])
    }

    @Test func anUpdateWithoutAnOldImageFencesTheWholeQuery() throws {
        let batch = try plan([.update(Self.product, old: nil, new: Self.tuple("1", "garden"))])
        #expect(batch.fences.keys.map(\.key) == ["cw:fence:catalog-page"])
    }

    @Test func aKeyOnlyDeleteFencesTheWholeQuery() throws {
        let batch = try plan([.delete(Self.product, old: .key(Self.tuple("1", nil)))])
        #expect(batch.fences.keys.map(\.key) == ["cw:fence:catalog-page"])
    }

    @Test func truncateFencesTheEntityAndItsQueries() throws {
        let batch = try plan([.truncate([Self.order, Self.product])])
        #expect(Set(batch.fences.keys.map(\.key)) == ["cw:fence:order", "cw:fence:catalog-page"])
        #expect(batch.rows.isEmpty)
    }

    @Test func keysSwappedInOneTransactionNeverTombstoneARowThatStands() throws {
        // Row p moves 1 -> 2, then row q moves 2 -> 1 (a deferred unique key under a FULL
        // identity allows it): key 2 was left by q after p arrived there, so the stream cannot
        // say it is empty.
        let batch = try plan([
            .update(Self.orderFull, old: .full(Self.tuple("1", "10", "p")), new: Self.tuple("2", "10", "p")),
            .update(Self.orderFull, old: .full(Self.tuple("2", "20", "q")), new: Self.tuple("1", "20", "q")),
        ])
        #expect(batch.rows["cw:order:1"]?.write == .set(row: #"{"id": 1, "note": "q", "userId": 20}"#))
        #expect(batch.rows["cw:order:2"]?.write == .invalidate)
    }

    @Test func aKeyChangeThenADeleteMarksTheKeyItLeft() throws {
        let batch = try plan([
            .insert(Self.orderFull, new: Self.tuple("5", "1", "x")),
            .update(Self.orderFull, old: .full(Self.tuple("3", "2", "y")), new: Self.tuple("5", "2", "y")),
            .delete(Self.orderFull, old: .full(Self.tuple("5", "2", "y"))),
        ])
        #expect(batch.rows["cw:order:3"]?.write == .tombstone, "nothing arrived at 3 in this transaction")
        #expect(batch.rows["cw:order:5"]?.write == .invalidate, "two rows stood at 5 in the transaction; the stream cannot say which one left")
    }

    @Test func underAnImmediatePrimaryKeyTheRowThatLeavesIsTheRowThatArrived() throws {
        // Insert then delete, and a key change then a delete, in one transaction: with the key
        // as the (never deferrable) identity, only one row can have stood at each key.
        let batch = try plan([
            .insert(Self.order, new: Self.tuple("7", "1", "x")),
            .delete(Self.order, old: .key(Self.tuple("7", nil, nil))),
            .insert(Self.order, new: Self.tuple("8", "1", "x")),
            .update(Self.order, old: .key(Self.tuple("8", nil, nil)), new: Self.tuple("9", "1", "x")),
            .delete(Self.order, old: .key(Self.tuple("9", nil, nil))),
        ])
        #expect(batch.rows["cw:order:7"]?.write == .tombstone)
        #expect(batch.rows["cw:order:8"]?.write == .tombstone)
        #expect(batch.rows["cw:order:9"]?.write == .tombstone)
    }

    @Test func aFullIdentityTableWhoseKeyIsAUniqueIndexLeavesTombstones() throws {
        var batch = WriteBatch()
        let planner = try ChangePlanner(configuration: Self.configuration(), uniqueKeys: [TableName(schema: "public", name: "Order")])
        for change: RowChange in [
            .insert(Self.orderFull, new: Self.tuple("7", "1", "x")),
            .delete(Self.orderFull, old: .full(Self.tuple("7", "1", "x"))),
        ] {
            planner.plan(change, lsn: LSN(0x100), into: &batch)
        }
        #expect(batch.rows["cw:order:7"]?.write == .tombstone, "the catalog showed the key unique at every step")
    }

    @Test func aKeyThatIsOnlyPartOfTheIdentityIsNotTakenAsUnique() throws {
        let orderByTenant = RelationMessage(
            oid: 1, namespace: "public", name: "Order", replicaIdentity: UInt8(ascii: "i"),
            columns: [
                .init(isKey: true, name: "id", typeOID: 23, typeModifier: -1),
                .init(isKey: true, name: "userId", typeOID: 23, typeModifier: -1),
                .init(isKey: false, name: "note", typeOID: 25, typeModifier: -1),
            ])
        let batch = try plan([
            .insert(orderByTenant, new: Self.tuple("7", "1", "x")),
            .delete(orderByTenant, old: .key(Self.tuple("7", "2", nil))),
        ])
        #expect(batch.rows["cw:order:7"]?.write == .invalidate, "(7, 1) may still stand after (7, 2) left")
    }

    @Test func rowsWrittenBeforeATruncateInTheSameTransactionBecomeMarkers() throws {
        let batch = try plan([
            .insert(Self.order, new: Self.tuple("7", "1", nil)),
            .truncate([Self.order]),
            .insert(Self.order, new: Self.tuple("8", "1", nil)),
        ])
        #expect(batch.rows["cw:order:7"]?.write == .invalidate, "the fence at the commit would not void a write at the commit")
        #expect(batch.rows["cw:order:8"]?.write == .set(row: #"{"id": 8, "note": null, "userId": 1}"#))
        #expect(batch.payloadBytes == #"{"id": 8, "note": null, "userId": 1}"#.utf8.count)
    }

    @Test func aRowThatCannotBeAddressedStillMovesItsQueriesFences() throws {
        var configuration = Self.configuration()
        configuration.entities.append(EntityConfiguration(name: "product", table: TableName(schema: "public", name: "Product")))
        let batch = try plan([.insert(Self.product, new: Self.tuple(nil, "garden"))], configuration: configuration)
        #expect(Set(batch.fences.keys.map(\.key)) == ["cw:fence:product", "cw:fence:catalog-page:category=garden"])
    }

    @Test func aRowLargerThanTheEntryLimitIsInvalidatedNotRendered() throws {
        var configuration = Self.configuration()
        configuration.maxEntryBytes = 1024
        let batch = try plan([
            .insert(Self.order, new: Self.tuple("1", "1", String(repeating: "x", count: 1023))),
            .insert(Self.order, new: Self.tuple("2", "1", String(repeating: "x", count: 1000))),
        ], configuration: configuration)
        #expect(batch.rows["cw:order:1"]?.write == .invalidate)
        #expect(batch.rows["cw:order:2"]?.write != .invalidate)
    }

    @Test func aShapeChangeMovesTheEntityAndQueryFences() throws {
        var configuration = Self.configuration()
        configuration.entities.append(EntityConfiguration(name: "product", table: TableName(schema: "public", name: "Product")))
        var planner = try ChangePlanner(configuration: configuration)
        var batch = WriteBatch()
        planner.shapeChanged(TableName(schema: "public", name: "Product"), invalidateOnly: true, lsn: LSN(0x42), into: &batch)
        #expect(batch.fences.mapValues { $0 }.count == 2)
        #expect(Set(batch.fences.keys.map(\.key)) == ["cw:fence:product", "cw:fence:catalog-page"])
        planner.plan(.insert(Self.product, new: Self.tuple("1", "home")), lsn: LSN(0x43), into: &batch)
        #expect(batch.rows["cw:product:1"]?.write == .invalidate, "generated columns: invalidate only")
    }

    @Test func mergeGivesEveryWriteTheCommitVersion() throws {
        let transaction = try plan([.insert(Self.order, new: Self.tuple("7", "1", nil)), .insert(Self.product, new: Self.tuple("1", "home"))])
        var batch = WriteBatch()
        batch.merge(transaction, committedAt: LSN(0x5000), time: PostgresTimestamp(rawValue: 0))
        #expect(batch.rows["cw:order:7"]?.lsn == LSN(0x5000))
        #expect(batch.fences.values.allSatisfy { $0 == LSN(0x5000) })
        #expect(batch.lastCommit == LSN(0x5000))
        #expect(batch.transactions == 1)
    }

    @Test func anEmptiedBatchIsLikeANewOne() throws {
        var batch = WriteBatch()
        batch.write(.set(row: "{}"), key: "cw:order:1", lsn: LSN(7), ttl: nil, arrival: true)
        batch.bump(FenceKey(key: "cw:fence:q", members: "cw:fmem:q"), lsn: LSN(7), query: "q")
        batch.recordShape("public.t", "x")
        batch.commit(LSN(8), at: PostgresTimestamp(rawValue: 0))
        batch.removeAll()
        #expect(batch.rows.isEmpty && batch.fences.isEmpty && batch.movedQueries.isEmpty && batch.shapes.isEmpty && batch.commitTimes.isEmpty)
        #expect(batch.isEmpty && batch.writeCount == 0 && batch.transactions == 0 && batch.changes == 0 && batch.payloadBytes == 0)
        #expect(!batch.arrivedInTransaction("cw:order:1"))
    }
}
