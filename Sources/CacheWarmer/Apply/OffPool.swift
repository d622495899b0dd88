import Dispatch

/// Runs a blocking call (libpq setup queries) on a Dispatch thread, so the cooperative pool's
/// few threads never wait on the network.
func offPool<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        DispatchQueue.global().async {
            continuation.resume(with: Result { try body() })
        }
    }
}
