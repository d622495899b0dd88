import Dispatch
import Foundation
import Synchronization

/// A serial executor that runs its jobs on one dedicated thread, so an actor that uses it may
/// block (socket I/O, `poll`) without holding a thread of Swift's cooperative pool.
///
/// The thread ends when the executor is released; jobs already queued run first.
final class ThreadExecutor: SerialExecutor {
    private let queue = JobQueue()

    /// Starts the thread, named `name` (visible in debuggers and `top -H`).
    init(name: String) {
        let queue = self.queue
        let thread = Thread { queue.run() }
        thread.name = name
        thread.start()
    }

    deinit {
        queue.finish()
    }

    /// Queues `job` for the thread; jobs run one at a time in the order they were queued.
    func enqueue(_ job: consuming ExecutorJob) {
        queue.push(UnownedJob(job), on: asUnownedSerialExecutor())
    }
}

/// The jobs waiting for a ``ThreadExecutor``'s thread.
private final class JobQueue: Sendable {
    private struct State {
        var jobs: [(job: UnownedJob, executor: UnownedSerialExecutor)] = []
        var finished = false
    }

    private let state = Mutex(State())
    private let signal = DispatchSemaphore(value: 0)

    func push(_ job: UnownedJob, on executor: UnownedSerialExecutor) {
        state.withLock { $0.jobs.append((job, executor)) }
        signal.signal()
    }

    func finish() {
        state.withLock { $0.finished = true }
        signal.signal()
    }

    /// The thread's loop: runs jobs in order until finished and empty.
    func run() {
        while true {
            signal.wait()
            let (jobs, finished) = state.withLock { state in
                defer { state.jobs.removeAll(keepingCapacity: true) }
                return (state.jobs, state.finished)
            }
            for entry in jobs {
                entry.job.runSynchronously(on: entry.executor)
            }
            if finished, jobs.isEmpty { return }
        }
    }
}
