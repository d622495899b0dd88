import Dispatch
import Synchronization

/// A bounded hand-off from the stream's reader thread to an async consumer. The producer blocks
/// (with a timeout, so it can keep the connection alive) while the queue is full: a slow consumer
/// stops the socket from being read, and memory stays bounded.
final class EventQueue: Sendable {
    private struct State {
        var buffer: [ReplicationEvent] = []
        /// WAL message bytes of the events in ``buffer``.
        var bufferedBytes = 0
        var waitingConsumer: CheckedContinuation<[ReplicationEvent]?, any Error>?
        var producerWaiting = false
        var finished = false
        var consumerInterrupted = false
        var failure: (any Error)?
    }

    private let state = Mutex(State())
    private let space = DispatchSemaphore(value: 0)
    let capacity: Int
    let byteCapacity: Int

    init(capacity: Int, byteCapacity: Int = .max) {
        self.capacity = capacity
        self.byteCapacity = byteCapacity
    }

    /// Adds events (`bytes`: the size of their WAL messages) unless the queue is full; returns
    /// false when full (call ``waitForSpace(timeout:)``). The buffer may pass ``capacity`` and
    /// ``byteCapacity`` by one batch.
    func tryPush(_ events: [ReplicationEvent], bytes: Int = 0) -> Bool {
        enum Outcome {
            case handOff(CheckedContinuation<[ReplicationEvent]?, any Error>)
            case queued
            case full
        }
        let outcome: Outcome = state.withLock { state in
            if let consumer = state.waitingConsumer {
                state.waitingConsumer = nil
                return .handOff(consumer)
            }
            guard state.buffer.count < capacity, state.bufferedBytes < byteCapacity else {
                state.producerWaiting = true
                return .full
            }
            state.buffer.append(contentsOf: events)
            state.bufferedBytes += bytes
            return .queued
        }
        switch outcome {
        case .handOff(let consumer):
            consumer.resume(returning: events)
            return true
        case .queued:
            return true
        case .full:
            return false
        }
    }

    /// True when events wait in the buffer (the consumer is behind the stream).
    var hasBacklog: Bool {
        state.withLock { !$0.buffer.isEmpty }
    }

    /// Blocks the producer thread until the consumer takes events or `timeout` seconds pass.
    func waitForSpace(timeout: Double) {
        _ = space.wait(timeout: .now() + timeout)
    }

    /// Ends the sequence after the buffered events; with an error, the consumer gets it after them.
    func finish(throwing error: (any Error)? = nil) {
        let consumer: CheckedContinuation<[ReplicationEvent]?, any Error>? = state.withLock { state in
            guard !state.finished else { return nil }
            state.finished = true
            state.failure = error
            defer { state.waitingConsumer = nil }
            return state.buffer.isEmpty ? state.waitingConsumer : nil
        }
        if let consumer {
            if let error { consumer.resume(throwing: error) } else { consumer.resume(returning: nil) }
        }
        space.signal()
    }

    /// Ends the consumer's iteration now (buffered events are left unread), waking it if it waits.
    func interruptConsumer() {
        let consumer = state.withLock { state -> CheckedContinuation<[ReplicationEvent]?, any Error>? in
            state.consumerInterrupted = true
            defer { state.waitingConsumer = nil }
            return state.waitingConsumer
        }
        consumer?.resume(returning: nil)
        space.signal()
    }

    /// The next batch of events, nil at the end; suspends while the queue is empty.
    func next() async throws -> [ReplicationEvent]? {
        try await withCheckedThrowingContinuation { continuation in
            enum Outcome {
                case events([ReplicationEvent], wakeProducer: Bool)
                case end((any Error)?)
                case wait
            }
            let outcome: Outcome = state.withLock { state in
                if state.consumerInterrupted {
                    return .end(nil)
                }
                if !state.buffer.isEmpty {
                    let events = state.buffer
                    state.buffer.removeAll(keepingCapacity: true)
                    state.bufferedBytes = 0
                    let wake = state.producerWaiting
                    state.producerWaiting = false
                    return .events(events, wakeProducer: wake)
                }
                if state.finished {
                    let failure = state.failure
                    state.failure = nil
                    return .end(failure)
                }
                state.waitingConsumer = continuation
                return .wait
            }
            switch outcome {
            case .events(let events, let wake):
                if wake { space.signal() }
                continuation.resume(returning: events)
            case .end(let failure):
                if let failure { continuation.resume(throwing: failure) } else { continuation.resume(returning: nil) }
            case .wait:
                break
            }
        }
    }
}
