import Logging
import ServiceLifecycle

/// The worker as a `Service`: runs until the end position or a graceful shutdown (SIGTERM/SIGINT
/// through the `ServiceGroup`), which finishes the batch in progress, acknowledges it, sends a
/// final status update and returns.
public struct WorkerService: Service {
    let worker: Worker
    let options: Worker.RunOptions
    let onFinish: @Sendable (Worker.Summary) -> Void

    /// Wraps `worker` with what to stream and what to do with the run's totals.
    public init(worker: Worker, options: Worker.RunOptions = .init(), onFinish: @escaping @Sendable (Worker.Summary) -> Void = { _ in }) {
        self.worker = worker
        self.options = options
        self.onFinish = onFinish
    }

    public func run() async throws {
        let summary = try await withGracefulShutdownHandler {
            try await worker.run(options)
        } onGracefulShutdown: {
            worker.shutDown()
        }
        onFinish(summary)
    }
}
