import Foundation
import Logging
import PGOutput
import PostgresReplication

/// A copy of a logical slot made for one `replay` or `peek` (`pg_copy_logical_replication_slot`,
/// non-temporary: a temporary slot belongs to the session that made it, and the stream runs on
/// another), advanced to the start and dropped on every exit of ``with(_:source:start:logger:_:)``,
/// errors and interruptions included. The source never moves.
public enum SlotCopy {
    /// Where a copy stands before streaming.
    public struct Made: Sendable {
        /// The copy's name.
        public var name: String
        /// Its confirmed position after the advance: streaming starts here.
        public var position: LSN
        /// Seconds `pg_replication_slot_advance` took to bring it to the start (0 without advance).
        public var advanceSeconds: Double
    }

    /// Copies `source`, advances the copy to `start` (when later than the source's position),
    /// runs `body` with it, and drops it. Throws ``ReplicationError`` with code
    /// `startBeforeSlotPosition` (exit 4) when `start` is before the source's position, and
    /// `slotMissing`/`slotInvalidated` when the source is missing or lost.
    public static func with<T: Sendable>(
        _ writer: ConnectionString, source: String, start: LSN?, logger: Logger, _ body: (Made) async throws -> T
    ) async throws -> T {
        let name = HistorySlots.copyPrefix(source.hasSuffix("_history") ? source : source + "_history")
            + "\(getpid())_" + String(UInt32.random(in: 0...UInt32.max), radix: 16)
        let made = try await offPool { () throws -> Made in
            let connection = try Setup.adminConnection(writer)
            guard let state = try connection.slotState(source) else {
                throw ReplicationError(code: .slotMissing, message: "\(writer): replication slot \(source) does not exist (run `cache-warmer setup`)")
            }
            if state.isLost { throw ReplicationError.slotLost(target: writer, slot: source, restartLSN: state.restartLSN) }
            let earliest = state.confirmedFlushLSN ?? .zero
            if let start, start < earliest {
                throw ReplicationError(
                    code: .startBeforeSlotPosition, message: "\(writer): \(start) is before slot \(source)'s position \(earliest), the earliest LSN available",
                    earliestAvailable: earliest)
            }
            try HistorySlots.copy(connection, from: source, to: name)
            do {
                var position = earliest
                let began = ContinuousClock.now
                if let start, start > earliest {
                    position = try HistorySlots.advance(connection, slot: name, to: start)
                }
                let elapsed = ContinuousClock.now - began
                let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
                return Made(name: name, position: position, advanceSeconds: seconds)
            } catch {
                _ = try? connection.dropSlotIfExists(name)
                throw error
            }
        }
        logger.info("slot copied for reading", metadata: ["source": "\(source)", "copy": "\(name)", "position": "\(made.position)", "advance_s": "\(made.advanceSeconds)"])
        do {
            let result = try await body(made)
            try await drop(writer, name, logger: logger)
            return result
        } catch {
            try? await drop(writer, name, logger: logger)
            throw error
        }
    }

    /// Drops copy `name`, waiting up to 10 s for the walsender that streamed it to let go.
    static func drop(_ writer: ConnectionString, _ name: String, logger: Logger) async throws {
        try await offPool {
            let connection = try Setup.adminConnection(writer)
            var attempts = 0
            while true {
                do {
                    try connection.dropSlotIfExists(name)
                    return
                } catch let error as PostgresError where error.sqlState == "55006" && attempts < 100 {
                    _ = error
                    attempts += 1
                    usleep(100_000)
                }
            }
        }
        logger.info("slot copy dropped", metadata: ["copy": "\(name)"])
    }
}
