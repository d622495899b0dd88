import CacheContract
import CacheWarmer
import Foundation
import PGOutput
import PostgresReplication
import TestSupport
import Testing

/// Transactions that move rows between keys (swaps and shifts under a deferred primary key, key
/// changes then deletes, writes then TRUNCATE) end with what their last operations leave:
/// whatever the cache serves for a key is the database's row there, or a miss.
@Suite struct KeyMoveTests {
    /// One transaction's statements over `rows` (position -> item), updating `rows` to what the
    /// database holds after it commits.
    static func transaction(_ rows: inout [Int: String], table: String, positions: ClosedRange<Int>, serial: inout Int, using random: inout SplitMix64) -> [String] {
        var statements = ["SET CONSTRAINTS ALL DEFERRED"]
        for _ in 0..<Int.random(in: 1...4, using: &random) {
            let free = positions.filter { rows[$0] == nil }
            switch Int.random(in: 0..<10, using: &random) {
            case 0..<3 where rows.count >= 2:
                // Permute the keys of a few rows, one UPDATE each in a random order (transient duplicates).
                let chosen = Array(rows.keys.shuffled(using: &random).prefix(Int.random(in: 2...min(4, rows.count), using: &random)))
                let targets = chosen.shuffled(using: &random)
                let moves = zip(chosen, targets).map { (item: rows[$0]!, to: $1) }
                for move in moves.shuffled(using: &random) {
                    statements.append("UPDATE \(table) SET pos = \(move.to) WHERE item = '\(move.item)'")
                }
                for position in chosen { rows[position] = nil }
                for move in moves { rows[move.to] = move.item }
            case 3..<5 where !free.isEmpty && !rows.isEmpty:
                // Shift a row to a free key; sometimes delete it afterwards.
                let from = rows.keys.randomElement(using: &random)!
                let to = free.randomElement(using: &random)!
                let item = rows[from]!
                statements.append("UPDATE \(table) SET pos = \(to), note = note || '+' WHERE item = '\(item)'")
                rows[from] = nil
                if Bool.random(using: &random) {
                    statements.append("DELETE FROM \(table) WHERE item = '\(item)'")
                } else {
                    rows[to] = item
                }
            case 5..<7 where !free.isEmpty:
                serial += 1
                let position = free.randomElement(using: &random)!
                statements.append("INSERT INTO \(table) (pos, item, note) VALUES (\(position), 'i\(serial)', 'n')")
                rows[position] = "i\(serial)"
            case 7..<9 where !rows.isEmpty:
                let position = rows.keys.randomElement(using: &random)!
                statements.append("DELETE FROM \(table) WHERE item = '\(rows[position]!)'")
                rows[position] = nil
            case 9:
                // TRUNCATE refuses pending deferred checks: run them first (the state is unique here).
                statements += ["SET CONSTRAINTS ALL IMMEDIATE", "TRUNCATE \(table)", "SET CONSTRAINTS ALL DEFERRED"]
                rows = [:]
            default:
                serial += 1
                if let position = free.first {
                    statements.append("INSERT INTO \(table) (pos, item, note) VALUES (\(position), 'i\(serial)', 'n')")
                    rows[position] = "i\(serial)"
                }
            }
        }
        return statements
    }

    @Test(arguments: [UInt64(1), 2, 3])
    func randomKeyMovesInsideTransactionsMatchTheDatabase(seed: UInt64) async throws {
        let table = StackEnvironment.uniqueName("t_slot")
        let writer = try StackEnvironment.writerConnection()
        try writer.execute(
            """
            CREATE TABLE \(table) (pos int NOT NULL, item text NOT NULL UNIQUE, note text NOT NULL,
                                   CONSTRAINT \(table)_pkey PRIMARY KEY (pos) DEFERRABLE INITIALLY IMMEDIATE);
            ALTER TABLE \(table) REPLICA IDENTITY FULL;
            CREATE PUBLICATION \(table)_pub FOR TABLE \(table);
            """)
        defer { _ = try? writer.execute("DROP PUBLICATION IF EXISTS \(table)_pub; DROP TABLE \(table)") }
        let harness = try WorkerHarness { configuration in
            configuration.publication = "\(table)_pub"
            configuration.entities = [EntityConfiguration(name: "slot", table: TableName(schema: "public", name: table), key: ["pos"])]
            configuration.queries = []
            configuration.batchMaxTransactions = 7
        }
        let run = harness.start()
        var random = SplitMix64(seed: seed)
        var rows: [Int: String] = [:]
        var serial = 0
        let positions = 1...10
        for _ in 0..<40 {
            let statements = Self.transaction(&rows, table: table, positions: positions, serial: &serial, using: &random)
            try harness.sql("BEGIN; " + statements.joined(separator: "; ") + "; COMMIT")
        }
        #expect(try await harness.waitApplied(through: try harness.currentWAL()))
        var problems: [String] = []
        for position in positions {
            let expected = try harness.sql("SELECT to_jsonb(t)::text FROM \(table) t WHERE pos = \(position)").scalar
            #expect((expected == nil) == (rows[position] == nil), "the model follows the database")
            let read = try harness.read("slot", String(position))
            guard read.isValid else { continue }
            switch read.state {
            case .value(let row) where row == expected: break
            case .tombstone where expected == nil: break
            default: problems.append("key \(position): cache serves \(read.state), the database has \(expected ?? "no row")")
            }
        }
        #expect(problems.isEmpty, "seed \(seed): \(problems)")
        harness.worker.shutDown()
        _ = try await run.value
        await harness.cleanUp()
    }

    /// Under a plain (immediate) primary key, a row inserted or moved and then deleted in the same
    /// transaction leaves a tombstone, not a miss: no other row can have stood at its key. Also
    /// under REPLICA IDENTITY FULL, where the worker learns the key's index from the catalog.
    @Test(arguments: ["DEFAULT", "FULL"])
    func aRowInsertedThenDeletedInOneTransactionLeavesATombstone(identity: String) async throws {
        let table = StackEnvironment.uniqueName("t_once")
        let writer = try StackEnvironment.writerConnection()
        try writer.execute(
            """
            CREATE TABLE \(table) (id int PRIMARY KEY, note text NOT NULL);
            ALTER TABLE \(table) REPLICA IDENTITY \(identity);
            CREATE PUBLICATION \(table)_pub FOR TABLE \(table);
            """)
        defer { _ = try? writer.execute("DROP PUBLICATION IF EXISTS \(table)_pub; DROP TABLE \(table)") }
        let harness = try WorkerHarness { configuration in
            configuration.publication = "\(table)_pub"
            configuration.entities = [EntityConfiguration(name: "once", table: TableName(schema: "public", name: table), key: ["id"])]
            configuration.queries = []
        }
        let run = harness.start()
        try harness.sql(
            """
            BEGIN; INSERT INTO \(table) VALUES (1, 'a'); DELETE FROM \(table) WHERE id = 1;
            INSERT INTO \(table) VALUES (2, 'b'); UPDATE \(table) SET id = 3 WHERE id = 2; DELETE FROM \(table) WHERE id = 3; COMMIT
            """)
        #expect(try await harness.waitApplied(through: try harness.currentWAL()))
        for key in ["1", "2", "3"] {
            let read = try harness.read("once", key)
            #expect(read.isValid, "key \(key)")
            #expect(read.state == .tombstone, "key \(key): \(read.state)")
        }
        harness.worker.shutDown()
        _ = try await run.value
        await harness.cleanUp()
    }
}
