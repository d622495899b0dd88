import CacheContract
import CacheWarmer
import Foundation
import PostgresReplication
import TestSupport
import Synchronization
import Testing

/// Raised to end a background loop of a test.
private final class StopFlag: Sendable {
    let raised = Atomic<Bool>(false)
}

/// `verify` against a replica that applies WAL a second late while writes stream through the
/// worker: cache entries are then often newer than the rows the replica gives, which is no
/// evidence of staleness. Sets `recovery_min_apply_delay` on the stack's replica: runs alone
/// (in CI in the FaultTests pass), and resets it at the end.
@Suite(.serialized) struct VerifyLagFaultTests {
    @Test func aLaggingReplicaUnderWritesGivesNoFalseStaleEntries() async throws {
        let replica = try PostgresConnection(ConnectionString(
            "host=\(try StackEnvironment.require("STACK_PG_SOCKET_DIR")) port=\(try StackEnvironment.require("STACK_REPLICA_PORT")) user=\(try StackEnvironment.require("STACK_PG_OS_USER")) dbname=postgres"))
        let rows = 3000
        let harness = try await WarmHarness(rows: rows)
        _ = try await harness.resync()
        func delay(_ setting: String) throws {
            try replica.execute(setting)
            try replica.execute("SELECT pg_reload_conf()")
        }
        try delay("ALTER SYSTEM SET recovery_min_apply_delay = '1s'")
        defer { try? delay("ALTER SYSTEM RESET recovery_min_apply_delay") }
        let load = ChangeLoad(table: harness.table, rows: rows, pause: 1_000)
        // Five hot rows change faster than the replica applies: the replica never gives a row
        // as new as their entries while this runs.
        let table = harness.table
        let stop = StopFlag()
        let hot = Task {
            try await onOwnThread {
                let writer = try StackEnvironment.writerConnection()
                while !stop.raised.load(ordering: .relaxed) {
                    try writer.execute("UPDATE \(table) SET label = md5(random()::text) WHERE id BETWEEN 900001 AND 900005")
                    usleep(50_000)
                }
            }
        }
        _ = try harness.sql("INSERT INTO \(table) (id, label) SELECT g, 'hot' FROM generate_series(900001, 900005) g")
        var unsettled = 0
        for round in 0..<3 {
            let counts = try await harness.verify { $0.settleWait = .seconds(10) }
            #expect(counts.stale == 0 && counts.deletedLive == 0, "round \(round): \(counts)")
            unsettled += counts.unsettled
        }
        stop.raised.store(true, ordering: .relaxed)
        _ = try? await hot.value
        let changes = try await load.stop()
        #expect(unsettled > 0, "the hot rows' differences were seen and left unsettled")
        #expect(changes.updates + changes.deletes + changes.inserts > 200, "changes were in flight")
        try delay("ALTER SYSTEM RESET recovery_min_apply_delay")
        // Once the replica caught up, everything settles.
        try await harness.settle()
        let settled = try await harness.verify()
        #expect(settled.stale == 0 && settled.deletedLive == 0 && settled.unsettled == 0, "\(settled)")
        await harness.cleanUp()
    }
}
