import Dispatch
import Foundation
import Synchronization

/// The connection of a ``RedisClient``, used by whoever holds the client (see ``ClientCore``).
///
/// `@unchecked Sendable`: `connection` is written only by the current holder (a caller or the
/// client's thread), and read by the holder or under ``ClientCore``'s mutex while nobody holds
/// it (``ClientCore/claim()``, ``ClientCore/isIdle``); holdership passes from one thread to
/// another under that mutex, which orders the accesses. The thread's last write, when the
/// client is gone, happens after every holder has let go.
final class ConnectionSlot: @unchecked Sendable {
    var connection: RedisConnection?
}

/// A ``RedisClient``'s thread and who holds its connection: nobody, a caller waiting inline
/// on its own thread, or the thread running queued jobs in order. The connection is held by
/// one of them at a time, so jobs and inline calls never interleave on the wire.
final class ClientCore: Sendable {
    /// A job for the thread: it uses the connection slot and returns what to do once the
    /// thread has let go of the connection (resume the caller), so that a caller resumed by
    /// the last queued job finds the client idle.
    typealias Job = @Sendable (ConnectionSlot) -> Completion
    /// Runs after the job's thread let go of the connection (or took the next job).
    typealias Completion = @Sendable () -> Void

    /// A pipeline queued for the thread, which the exchange running before it may take along
    /// into its own round trip.
    struct QueuedExchange: Sendable {
        let batch: RedisBatch
        let deliver: @Sendable (Result<[RedisReply], RedisError>) -> Void
    }

    let slot = ConnectionSlot()
    private let state = Mutex(State())
    private let wake = DispatchSemaphore(value: 0)

    private enum Holder {
        case nobody, caller, thread
    }

    private struct Entry {
        var job: Job
        var exchange: QueuedExchange?
    }

    private struct State {
        var holder = Holder.nobody
        var jobs: [Entry] = []
        var closed = false
        var finished = false
    }

    /// Starts the thread, named `name` (visible in debuggers and `top -H`).
    init(name: String) {
        // The thread keeps the core alive until ``finish()`` ends it.
        let thread = Thread { [self] in serve() }
        thread.name = name
        thread.start()
    }

    /// Queues `job` after the others; the thread runs it once nobody else holds the connection.
    /// With `exchange`, a job running before it may take the exchange along instead (see
    /// ``takeQueuedExchanges(maximumCommands:)``), and then `job` never runs.
    func submit(_ job: @escaping Job, exchange: QueuedExchange? = nil) {
        let start = state.withLock { state in
            state.jobs.append(Entry(job: job, exchange: exchange))
            guard state.holder == .nobody else { return false }
            state.holder = .thread
            return true
        }
        if start { wake.signal() }
    }

    /// For a caller: holds the connection when nobody does, nothing is queued and it is open;
    /// nil otherwise. The caller then calls ``release()`` or ``handOff(_:)``.
    func claim() -> RedisConnection? {
        state.withLock { state in
            guard let connection = claimable(state) else { return nil }
            state.holder = .caller
            return connection
        }
    }

    /// Jobs waiting for the thread.
    var queued: Int {
        state.withLock { $0.jobs.count }
    }

    /// True when ``claim()`` would succeed now.
    var isIdle: Bool {
        state.withLock { claimable($0) != nil }
    }

    /// Under the lock: the connection when nobody holds it, nothing is queued and it is open.
    private func claimable(_ state: State) -> RedisConnection? {
        guard state.holder == .nobody, state.jobs.isEmpty, !state.closed, let connection = slot.connection, !connection.isBroken else { return nil }
        return connection
    }

    /// For the claiming caller: gives the connection up (to the thread when jobs are waiting).
    func release() {
        let start = state.withLock { state in
            state.holder = state.jobs.isEmpty ? .nobody : .thread
            return state.holder == .thread
        }
        if start { wake.signal() }
    }

    /// For the claiming caller: passes the connection to the thread with `job` first in line.
    func handOff(_ job: @escaping Job) {
        state.withLock { state in
            state.jobs.insert(Entry(job: job), at: 0)
            state.holder = .thread
        }
        wake.signal()
    }

    /// The next queued job, or nil after letting go of the connection.
    private func nextJob() -> Job? {
        state.withLock { state in
            if state.jobs.isEmpty {
                if state.holder == .thread { state.holder = .nobody }
                return nil
            }
            return state.jobs.removeFirst().job
        }
    }

    /// For the running job: removes the exchanges queued next in line, in order, while their
    /// commands add up to at most `maximumCommands`, and returns them.
    func takeQueuedExchanges(maximumCommands: Int) -> [QueuedExchange] {
        state.withLock { state in
            var taken: [QueuedExchange] = []
            var commands = 0
            while let exchange = state.jobs.first?.exchange, commands + exchange.batch.count <= maximumCommands {
                taken.append(exchange)
                commands += exchange.batch.count
                state.jobs.removeFirst()
            }
            return taken
        }
    }

    /// Marks the client closed: no more claims; jobs see ``isClosed``.
    func close() {
        state.withLock { $0.closed = true }
    }

    /// True after ``close()``.
    var isClosed: Bool {
        state.withLock { $0.closed }
    }

    /// Ends the thread once its queue is empty (the client is gone, so nothing is queued).
    func finish() {
        state.withLock { $0.finished = true }
        wake.signal()
    }

    /// The thread: on each wake-up, runs jobs until the queue is empty, then lets go.
    private func serve() {
        while true {
            wake.wait()
            var next = nextJob()
            while let job = next {
                let completion = job(slot)
                next = nextJob()
                completion()
            }
            if state.withLock({ $0.finished && $0.jobs.isEmpty }) {
                slot.connection = nil
                return
            }
        }
    }
}
