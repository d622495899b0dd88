import Foundation
import Logging
import PGOutput
import PostgresReplication
import Synchronization

/// Reads a slot copy's decoded messages (acknowledging only the copy), up to an end position,
/// for `peek` and for finding the LSN of a time (`--until`).
final class CopyReader: Sendable {
    private let current = Mutex<LogicalReplicationStream?>(nil)
    private let interrupted = Atomic<Bool>(false)

    init() {}

    /// Ends the reading at once (SIGINT): ``read`` returns after the message in hand.
    func interrupt() {
        interrupted.store(true, ordering: .releasing)
        current.withLock { $0 }?.interruptConsumer()
    }

    /// Streams `slot` (a copy) from its position until the commit that reaches `end`, calling
    /// `handle` for each message until it returns false. Logical decoding messages are included.
    func read(
        _ writer: ConnectionString, slot: String, publication: String, end: LSN, logger: Logger,
        _ handle: (PGOutputMessage, LSN) throws -> Bool
    ) async throws {
        var options = ReplicationOptions(slot: slot, publications: [publication])
        options.endLSN = end
        // The copy is acknowledged (it is dropped afterwards; the source never moves): the stream
        // then asks the server for keepalives and notices the end without waiting for one.
        options.acknowledge = true
        options.messages = true
        options.statusInterval = 0.5
        let stream = try LogicalReplicationStream(target: writer, options: options, logger: logger)
        current.withLock { $0 = stream }
        if interrupted.load(ordering: .acquiring) { stream.interruptConsumer() }
        defer { current.withLock { $0 = nil } }
        do {
            reading: for try await chunk in stream.batches {
                for event in chunk {
                    switch event {
                    case .idle(let walEnd): stream.confirm(walEnd)
                    case .message(let message, let walStart, _):
                        if case .commit(let commit) = message { stream.confirm(commit.endLSN) }
                        if case .message(let logical) = message, !logical.isTransactional { stream.confirm(logical.lsn) }
                        if try !handle(message, walStart) { break reading }
                    case .restarted: break
                    }
                }
            }
        } catch {
            await stream.stop()
            throw error
        }
        await stream.stop()
    }
}
