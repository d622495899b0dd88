import Foundation
import Logging
import PGOutput
import Synchronization

/// A logical replication slot read through libpq as an async sequence of decoded events.
///
/// A dedicated thread owns the connection (blocking libpq never runs on the cooperative pool),
/// decodes messages, answers keepalives, sends standby status updates every
/// ``ReplicationOptions/statusInterval`` reporting only what ``confirm(_:)`` was told was
/// applied, reconnects with backoff, and stops reading the socket while the consumer is behind.
public final class LogicalReplicationStream: AsyncSequence, Sendable {
    public typealias Element = ReplicationEvent

    struct Control {
        var confirmed: LSN = .zero
        var reportedFlush: LSN = .zero
        var serverWALEnd: LSN = .zero
        var running = true
        var waitingForEnd: [CheckedContinuation<Void, Never>] = []
    }

    let queue: EventQueue
    let control = Mutex(Control())
    /// Read on every message by the stream's thread, so kept apart from ``control``'s lock.
    private let stopFlag = Atomic<Bool>(false)
    /// Where the stream reads (password redacted in its description).
    public let target: ConnectionString
    /// The options it was started with.
    public let options: ReplicationOptions

    /// Validates the options and starts streaming on a dedicated thread. Connection and slot
    /// errors arrive through the sequence.
    public init(target: ConnectionString, options: ReplicationOptions, logger: Logger) throws(ReplicationError) {
        try options.validate()
        self.target = target
        self.options = options
        self.queue = EventQueue(capacity: options.queueCapacity, byteCapacity: options.queueBytes)
        let session = ReplicationSession(target: target, options: options, logger: logger, queue: queue, stream: self)
        let thread = Thread { session.run() }
        thread.name = "replication-\(options.slot)"
        thread.start()
    }

    /// Records that every change up to `lsn` (a commit's end LSN) is applied; the next status
    /// update reports it as flushed, letting the slot release WAL. Positions only move forward.
    public func confirm(_ lsn: LSN) {
        control.withLock { $0.confirmed = Swift.max($0.confirmed, lsn) }
    }

    /// The highest position confirmed by the consumer.
    public var confirmed: LSN {
        control.withLock { $0.confirmed }
    }

    /// The flush position last reported to the server.
    public var reportedFlush: LSN {
        control.withLock { $0.reportedFlush }
    }

    /// True when decoded events are already waiting for the consumer: a consumer may then keep
    /// work in flight (e.g. a Redis pipeline) while it takes them, instead of finishing it first.
    public var hasBacklog: Bool {
        queue.hasBacklog
    }

    /// The server's WAL end as last reported (keepalives, data): with ``confirmed``, the lag.
    public var serverWALEnd: LSN {
        control.withLock { $0.serverWALEnd }
    }

    /// Stops streaming: sends a final status update with the confirmed position, ends the
    /// replication connection, and returns once the stream's thread is done.
    public func stop() async {
        await withCheckedContinuation { continuation in
            stopFlag.store(true, ordering: .releasing)
            let done = control.withLock { control -> Bool in
                guard control.running else { return true }
                control.waitingForEnd.append(continuation)
                return false
            }
            if done { continuation.resume() }
        }
    }

    /// Ends the consumer's iteration at once, for a graceful shutdown: the consumer finishes what
    /// it holds, confirms it, then calls ``stop()`` so the final status update reports it.
    public func interruptConsumer() {
        queue.interruptConsumer()
    }

    /// Called by the session thread when it ends.
    func sessionEnded() {
        let waiters = control.withLock { control -> [CheckedContinuation<Void, Never>] in
            control.running = false
            defer { control.waitingForEnd = [] }
            return control.waitingForEnd
        }
        waiters.forEach { $0.resume() }
    }

    var stopRequested: Bool {
        stopFlag.load(ordering: .acquiring)
    }

    /// Iterates the events; throws the error that ended the stream, if any.
    /// Hands out the events of the batches the stream's thread delivers.
    public struct AsyncIterator: AsyncIteratorProtocol {
        let queue: EventQueue
        var pending: [ReplicationEvent] = []
        var index = 0

        public mutating func next() async throws -> ReplicationEvent? {
            if index == pending.count {
                guard let batch = try await queue.next() else { return nil }
                pending = batch
                index = 0
                if pending.isEmpty { return try await next() }
            }
            defer { index += 1 }
            return pending[index]
        }
    }

    public func makeAsyncIterator() -> AsyncIterator {
        AsyncIterator(queue: queue)
    }
}

extension LogicalReplicationStream {
    /// The events in the chunks the stream's thread hands over: a chunk ends when the server had
    /// nothing more to send at once, so a consumer can apply each chunk as one batch.
    public var batches: Batches {
        Batches(queue: queue)
    }

    /// An async sequence of event chunks, in WAL order.
    public struct Batches: AsyncSequence, Sendable {
        public typealias Element = [ReplicationEvent]
        let queue: EventQueue

        public struct AsyncIterator: AsyncIteratorProtocol {
            let queue: EventQueue

            public mutating func next() async throws -> [ReplicationEvent]? {
                while let batch = try await queue.next() {
                    if !batch.isEmpty { return batch }
                }
                return nil
            }
        }

        public func makeAsyncIterator() -> AsyncIterator {
            AsyncIterator(queue: queue)
        }
    }
}
