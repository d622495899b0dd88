import Synchronization

/// Exclusive use of one pooled ``RedisClient`` until ``release()`` (or until the lease is
/// deallocated, so a forgotten lease still goes back to its ``RedisConnectionPool``).
public final class RedisLease: Sendable {
    /// The client, for this lease's holder alone.
    public let client: RedisClient
    private let pool: RedisConnectionPool
    private let released = Atomic(false)

    init(client: RedisClient, pool: RedisConnectionPool) {
        self.client = client
        self.pool = pool
    }

    deinit {
        release()
    }

    /// Returns the client to the pool; later calls do nothing.
    public func release() {
        if !released.exchange(true, ordering: .acquiringAndReleasing) {
            pool.checkIn(client)
        }
    }
}
