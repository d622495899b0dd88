import CacheContract
import CacheWarmer
import Foundation
import PGOutput
import PostgresReplication
import RedisCache
import TestSupport
import Testing

/// Replay from the history window on the real stack: A, B, C written at three times, replayed
/// into new namespaces long after; the window advancing and surviving a restart.
@Suite struct HistoryReplayTests {
    @Test func replaySinceBeforeAMatchesTheLiveNamespaceAndUntilBetweenBAndCGivesTheStateAfterB() async throws {
        let history = try HistoryHarness(keep: "1h")
        let base = history.base
        let replayed = base.namespace + "-r1"
        let untilB = base.namespace + "-r2"
        let running = history.start()
        let record = try history.record()
        #expect(try await eventuallyTrue {
            // New WAL (of a table nobody caches) for the worker to confirm on a quiet database.
            try base.sql("INSERT INTO \"AuditLog\" (message) VALUES ('history test')")
            return try await record.all().count >= 2
        }, "the keeper records confirmed positions")
        try await Task.sleep(for: .milliseconds(300))
        let beforeA = Date()
        try await Task.sleep(for: .milliseconds(300))
        let user = Int.random(in: 10_000_000...99_999_999)
        // A
        let first = try #require(try base.sql("INSERT INTO \"Order\" (\"userId\", \"totalCents\") VALUES (\(user), 1) RETURNING id").scalar)
        let second = try #require(try base.sql("INSERT INTO \"Order\" (\"userId\", \"totalCents\") VALUES (\(user), 10) RETURNING id").scalar)
        #expect(try await base.waitApplied(through: try base.currentWAL()))
        try await Task.sleep(for: .milliseconds(500))
        // B
        try base.sql("UPDATE \"Order\" SET \"totalCents\" = 2 WHERE id = \(first)")
        let third = try #require(try base.sql("INSERT INTO \"Order\" (\"userId\", \"totalCents\") VALUES (\(user), 20) RETURNING id").scalar)
        #expect(try await base.waitApplied(through: try base.currentWAL()))
        try await Task.sleep(for: .milliseconds(600))
        let betweenBAndC = Date()
        try await Task.sleep(for: .milliseconds(600))
        // C
        try base.sql("UPDATE \"Order\" SET \"totalCents\" = 3 WHERE id = \(first)")
        try base.sql("DELETE FROM \"Order\" WHERE id = \(third)")
        try base.sql("UPDATE \"Order\" SET \"totalCents\" = 11 WHERE id = \(second)")
        // ... and the worker goes far past them.
        var later: [String] = []
        for index in 0..<200 {
            later.append(try #require(try base.sql("INSERT INTO \"Order\" (\"userId\", \"totalCents\") VALUES (\(user), \(1000 + index)) RETURNING id").scalar))
        }
        #expect(try await base.waitApplied(through: try base.currentWAL()))
        try await running.stop()
        let mainBefore = try history.slot(base.slot)?.confirmedFlushLSN
        let historyBefore = try history.historyPosition()

        let outcome = try await history.replay(.time(beforeA), into: replayed)
        #expect(outcome.summary.changes >= 206)
        let ids = [first, second, third] + later
        var compared = 0
        for id in ids {
            let live = try base.hash("\(base.namespace):order:\(id)")
            let copy = try base.hash("\(replayed):order:\(id)")
            #expect(!live.isEmpty)
            #expect(copy["row"] == live["row"] && copy["lsn"] == live["lsn"] && copy["deleted"] == live["deleted"], "order \(id): replayed \(copy) live \(live)")
            compared += 1
        }
        #expect(compared == 203)
        #expect(try base.hash("\(replayed):order:\(third)")["deleted"] == "1")

        _ = try await history.replay(.time(beforeA), .time(betweenBAndC), into: untilB)
        #expect(try cents(base.hash("\(untilB):order:\(first)")) == 2, "the state after B")
        #expect(try cents(base.hash("\(untilB):order:\(second)")) == 10)
        #expect(try cents(base.hash("\(untilB):order:\(third)")) == 20, "C's delete is not replayed")
        #expect(try base.hash("\(untilB):order:\(later[0])").isEmpty, "nothing after C")

        // Into the live namespace: an entry Redis lost comes back, nothing goes back in time.
        let liveBefore = try ids.map { try base.hash("\(base.namespace):order:\($0)") }
        let liveEpoch = try base.epoch()
        _ = try base.redis().command(["DEL", "\(base.namespace):order:\(second)"])
        _ = try await history.replay(.time(beforeA), into: base.namespace)
        #expect(try base.epoch() == liveEpoch, "the live epoch is kept")
        for (id, before) in zip(ids, liveBefore) {
            #expect(try base.hash("\(base.namespace):order:\(id)") == before, "order \(id) after replaying into the live namespace")
        }

        #expect(try history.slot(base.slot)?.confirmedFlushLSN == mainBefore, "replay does not move the main slot")
        #expect(try history.historyPosition() == historyBefore, "nor the history slot")
        #expect(try history.copies().isEmpty, "the slot copies are dropped")
        await history.cleanUp(namespaces: [replayed, untilB])
    }

    /// `totalCents` of a cached order row.
    func cents(_ entry: [String: String]) throws -> Int? {
        guard let row = entry["row"] else { return nil }
        return (try JSONSerialization.jsonObject(with: Data(row.utf8)) as? [String: Any])?["totalCents"] as? Int
    }

    @Test func aStartOutsideTheWindowIsRefusedWithTheEarliestLSNAndTimeAndExit4() async throws {
        let history = try HistoryHarness(keep: "1h")
        let base = history.base
        let running = history.start()
        let record = try history.record()
        // Positions are recorded as the worker confirms new ones: give it new WAL to confirm
        // (on a quiet database nothing else moves it).
        #expect(try await eventuallyTrue {
            try base.sql("INSERT INTO \"AuditLog\" (message) VALUES ('history test')")  // unpublished
            return try await record.all().count >= 2
        })
        try await running.stop()
        let earliest = try #require(try history.historyPosition())
        await #expect(throws: ReplicationError.self) {
            _ = try await history.replay(.lsn(earliest.advanced(by: -1)), into: base.namespace + "-x")
        }
        do {
            _ = try await HistoryRange.resolve(history.configuration, source: history.configuration.historySlot, start: .time(Date().addingTimeInterval(-3600)), end: nil, logger: history.logger)
            Issue.record("a start an hour before a window that began now is refused")
        } catch let error as ReplicationError {
            #expect(error.code == .startBeforeSlotPosition)
            #expect(error.earliestAvailable == earliest)
            #expect(error.message.contains("earliest available is \(earliest) (confirmed at 20"), "\(error.message)")
        }
        // The command line says the same and exits 4.
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(base.slot)
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let config = directory.appendingPathComponent("worker.yaml").path
        try """
            namespace: \(base.namespace)
            slot: \(base.slot)
            metrics_port: 0
            history: { keep: 1h }
            entities:
              order: { table: public."Order", key: [id] }
            """.write(toFile: config, atomically: true, encoding: .utf8)
        let log = directory.appendingPathComponent("replay.log").path
        let status = StackEnvironment.waitForExit(try StackEnvironment.spawn([WorkerProcessTests.binary, "replay", "--config", config, "--since", "1d"], output: log))
        #expect(status == 4)
        let output = try String(contentsOfFile: log, encoding: .utf8)
        #expect(output.contains("outside the history window") && output.contains("earliest available is \(earliest)"), "\(output)")
        #expect(try history.copies().isEmpty)
        await history.cleanUp()
    }

    @Test func theCommandLineDryRunAndSIGINTDropTheCopy() async throws {
        let writer = try StackEnvironment.writer()
        let name = StackEnvironment.uniqueName("t_hist")
        let namespace = name.replacingOccurrences(of: "_", with: "-")
        let sql = { (statement: String) throws -> QueryResult in try PostgresConnection(writer).execute(statement) }
        try sql("CREATE TABLE \(name) (id serial PRIMARY KEY, note text); CREATE PUBLICATION \(name) FOR TABLE \(name)")
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(name)
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let config = directory.appendingPathComponent("worker.yaml").path
        try """
            namespace: \(namespace)
            slot: \(name)
            publication: \(name)
            metrics_port: 0
            history: { keep: 1h }
            entities:
              item: { table: public.\(name), key: [id] }
            """.write(toFile: config, atomically: true, encoding: .utf8)
        let redis = try RedisConnection(url: try RedisURL(try StackEnvironment.require("REDIS_URL")))
        defer {
            _ = try? sql("SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name LIKE '\(name)%' AND active_pid IS NULL")
            _ = try? sql("DROP PUBLICATION IF EXISTS \(name); DROP TABLE IF EXISTS \(name)")
            for target in [namespace, namespace + "-r"] {
                if case .array(let keys)? = try? redis.command(["KEYS", "\(target):*"]), !keys.isEmpty { _ = try? redis.command(["DEL"] + keys.compactMap(\.text)) }
            }
        }
        func cli(_ arguments: [String], interruptWhen: (() throws -> Bool)? = nil) async throws -> (status: Int32?, output: String) {
            let log = directory.appendingPathComponent("cli-\(UUID().uuidString.prefix(6)).log").path
            let pid = try StackEnvironment.spawn([WorkerProcessTests.binary] + arguments + ["--config", config], output: log)
            if let interruptWhen {
                #expect(try await eventually(within: 30, interruptWhen), "the replay streams its copy")
                kill(pid, SIGINT)
            }
            let status = try await onOwnThread { StackEnvironment.waitForExit(pid, within: 60) }
            return (status, (try? String(contentsOfFile: log, encoding: .utf8)) ?? "")
        }
        #expect(try await cli(["setup"]).status == 0)
        let earliest = try #require(try PostgresConnection(writer).slotState(name + "_history")?.confirmedFlushLSN)
        try sql("DO $$ BEGIN FOR i IN 1..30000 LOOP INSERT INTO \(name) (note) VALUES ('row ' || i); COMMIT; END LOOP; END $$")

        let dry = try await cli(["replay", "--from", "\(earliest)", "--namespace", namespace + "-r", "--dry-run"])
        #expect(dry.status == 0 && dry.output.contains("replay from \(earliest) to ") && dry.output.contains("into namespace \(namespace)-r"), "\(dry.output)")
        #expect(try redis.command(["EXISTS", "\(namespace)-r:meta:epoch"]).integer == 0, "a dry run writes nothing")

        let copies = "SELECT count(*) FROM pg_replication_slots WHERE slot_name LIKE '\(name)_history_c_%'"
        let interrupted = try await cli(["replay", "--from", "\(earliest)", "--namespace", namespace + "-r"]) {
            try PostgresConnection(writer).execute(copies + " AND active_pid IS NOT NULL").scalar == "1"
        }
        #expect(interrupted.status == 0 && interrupted.output.contains("replayed "), "SIGINT ends the replay after the batch in progress: \(interrupted.output)")
        #expect(try PostgresConnection(writer).execute(copies).scalar == "0", "the copy is dropped on SIGINT")
        #expect(try PostgresConnection(writer).slotState(name + "_history")?.confirmedFlushLSN == earliest, "the history slot did not move")

        // A copy left by a killed run: status names it, teardown drops it with the history slot.
        try sql("SELECT pg_copy_logical_replication_slot('\(name)_history', '\(name)_history_c_1_dead', false)")
        let status = try await cli(["status"])
        #expect(status.status == 0 && status.output.contains("\(name)_history_c_1_dead") && status.output.contains("history earliest     \(earliest)"), "\(status.output)")
        #expect(try await cli(["teardown"]).status == 0)
        #expect(try sql("SELECT count(*) FROM pg_replication_slots WHERE slot_name LIKE '\(name)%'").scalar == "0", "teardown dropped the slot, the history slot and the copy")
    }

    @Test func theHistorySlotAdvancesWithinTheWindowAndARestartKeepsIt() async throws {
        let keep = 2.0
        let history = try HistoryHarness(keep: "2s")
        let base = history.base
        var running = history.start()
        let user = Int.random(in: 10_000_000...99_999_999)
        var positions: [LSN] = []
        let record = try history.record()
        #expect(try await eventuallyTrue(within: 30) { try await record.all().count >= 1 }, "the worker streams and confirms")
        let startedAt = try base.currentWAL()
        let began = Date()
        // Writes until the history slot has moved past the start a few times (at least keep + some ticks).
        while Date().timeIntervalSince(began) < 30 && (positions.count < 3 || positions.last! <= startedAt || Date().timeIntervalSince(began) < 5) {
            try base.sql("INSERT INTO \"Order\" (\"userId\", \"totalCents\", note) SELECT \(user), i, repeat('x', 500) FROM generate_series(1, 20) i")
            if let position = try history.historyPosition(), position != positions.last { positions.append(position) }
            try await Task.sleep(for: .milliseconds(50))
        }
        #expect(try await base.waitApplied(through: try base.currentWAL()))
        #expect(positions.count >= 3, "the history slot moved while the worker ran: \(positions)")
        #expect(positions == positions.sorted())
        // Its window: it starts at a position the worker confirmed between keep and keep + a few ticks ago.
        var age: Double?
        for _ in 0..<5 where age == nil {
            if let earliest = try history.historyPosition(), let time = try await record.time(of: earliest) { age = Date().timeIntervalSince(time) }
        }
        let measured = try #require(age)
        #expect(measured >= keep - 0.05 && measured <= keep + 3, "window age \(measured) s for keep \(keep) s")
        let main = try #require(try history.slot(base.slot))
        let held = try #require(try history.slot(history.configuration.historySlot))
        // It trails the main slot and has left the start of the test behind (restart_lsn, the WAL
        // actually retained, follows confirmed_flush_lsn at the server's running-xacts cadence).
        #expect(held.confirmedFlushLSN! <= main.confirmedFlushLSN!)
        #expect(held.confirmedFlushLSN! > startedAt)

        // Restart: the recorded times survive, so a time inside the window still maps to the same LSN.
        let inside = Date().addingTimeInterval(-keep + 1.5)
        let before = try await HistoryRange.resolve(history.configuration, source: history.configuration.historySlot, start: .time(inside), end: nil, logger: history.logger)
        try await running.stop()
        running = history.start()
        try await Task.sleep(for: .milliseconds(300))
        let after = try await HistoryRange.resolve(history.configuration, source: history.configuration.historySlot, start: .time(inside), end: nil, logger: history.logger)
        #expect(after.start == before.start, "the window kept its positions and times across the restart")
        try await running.stop()
        await history.cleanUp()
    }
}
