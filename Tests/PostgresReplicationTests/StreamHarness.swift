import Foundation
import Logging
import PGOutput
import PostgresReplication
import TestSupport

/// A throwaway slot on the writer for one test, and helpers to write rows and read them back.
final class StreamHarness: Sendable {
    let slot = StackEnvironment.uniqueName("t_slot")
    let publication = "cache_warmer_pub"
    /// Rows this test writes carry this `userId`, so changes by concurrent tests are told apart.
    let userID = Int.random(in: 1_000_000...2_000_000_000)
    let target: ConnectionString
    let logger = Logger(label: "test.replication")

    init() throws {
        target = try StackEnvironment.writer()
        try admin { try $0.createSlotIfMissing(slot) }
    }

    func admin<T>(_ body: (PostgresConnection) throws -> T) throws -> T {
        try body(try PostgresConnection(target))
    }

    func options(_ configure: (inout ReplicationOptions) -> Void = { _ in }) -> ReplicationOptions {
        var options = ReplicationOptions(slot: slot, publications: [publication])
        options.statusInterval = 0.2
        options.backoff = Backoff(initial: 0.1, maximum: 0.5)
        configure(&options)
        return options
    }

    func stream(_ configure: (inout ReplicationOptions) -> Void = { _ in }) throws -> LogicalReplicationStream {
        try LogicalReplicationStream(target: target, options: options(configure), logger: logger)
    }

    /// Inserts an order in its own transaction and returns its id.
    @discardableResult
    func insertOrder(_ cents: Int, on connection: PostgresConnection? = nil) throws -> Int {
        let sql = "INSERT INTO \"Order\" (\"userId\", \"totalCents\") VALUES (\(userID), \(cents)) RETURNING id"
        let result = try (connection ?? PostgresConnection(target)).execute(sql)
        return Int(result.scalar ?? "") ?? -1
    }

    func slotState() throws -> SlotState? {
        try admin { try $0.slotState(slot) }
    }

    func currentWAL() throws -> LSN {
        try admin { LSN(try $0.execute("SELECT pg_current_wal_lsn()").scalar ?? "") ?? .zero }
    }

    /// Drops the slot once no consumer holds it.
    func drop() async {
        for _ in 0..<100 {
            if (try? slotState()?.activePID) == nil {
                _ = try? admin { try $0.dropSlotIfExists(slot) }
                return
            }
            try? await Task.sleep(for: .milliseconds(100))
        }
    }
}

/// Turns stream events into this test's row changes, named through the Relation messages.
struct ChangeLog {
    struct Change: Equatable {
        var kind: Character
        var id: Int
        var cents: Int?
        var commitEnd: LSN?
    }

    var relations = RelationCache()
    var changes: [Change] = []
    var commits: [CommitMessage] = []
    var restarts = 0
    private var open: [Change] = []
    let userID: Int

    init(userID: Int) {
        self.userID = userID
    }

    /// Applies an event; returns the commit end LSN when the event completed a transaction.
    mutating func apply(_ event: ReplicationEvent) throws -> LSN? {
        switch event {
        case .restarted:
            restarts += 1
            open = []
        case .idle:
            break
        case .message(let message, _, _):
            switch message {
            case .relation(let relation):
                relations.apply(relation)
            case .insert(let insert):
                try record("I", insert.newTuple, insert.relationOID)
            case .update(let update):
                try record("U", update.newTuple, update.relationOID)
            case .delete(let delete):
                try record("D", delete.oldTuple.tuple, delete.relationOID)
            case .commit(let commit):
                commits.append(commit)
                changes += open.map { var change = $0; change.commitEnd = commit.endLSN; return change }
                open = []
                return commit.endLSN
            default:
                break
            }
        }
        return nil
    }

    private mutating func record(_ kind: Character, _ tuple: TupleData, _ relation: UInt32) throws {
        let columns = try relations.columns(of: tuple, relationOID: relation)
        let value = { (name: String) in columns.first { $0.name == name }?.value.textValue }
        guard relations[relation]?.name == "Order" else { return }
        // Deletes carry only the key; they belong to this test when the id was ours.
        let id = Int(value("id") ?? "") ?? -1
        if kind == "D" {
            if changes.contains(where: { $0.id == id }) || open.contains(where: { $0.id == id }) {
                open.append(Change(kind: kind, id: id))
            }
            return
        }
        guard value("userId") == String(userID) else { return }
        open.append(Change(kind: kind, id: id, cents: Int(value("totalCents") ?? "")))
    }
}

/// Stops `stream` after `seconds` unless the test ended it before.
func watchdog(_ stream: LogicalReplicationStream, seconds: Double = 60) -> Task<Void, Never> {
    Task {
        try? await Task.sleep(for: .seconds(seconds))
        if !Task.isCancelled { await stream.stop() }
    }
}
