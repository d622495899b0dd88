import Glibc

/// A point on the monotonic clock, for timeouts that span several waits.
struct Deadline: Comparable {
    private let nanoseconds: UInt64

    /// The moment `seconds` from now.
    init(after seconds: Double) {
        nanoseconds = Deadline.now() &+ UInt64(max(0, min(seconds, 86_400)) * 1e9)
    }

    /// The time left (zero once passed), for `ppoll`.
    var remaining: timespec {
        let now = Deadline.now()
        let left = nanoseconds > now ? nanoseconds - now : 0
        return timespec(tv_sec: Int(left / 1_000_000_000), tv_nsec: Int(left % 1_000_000_000))
    }

    /// True once the moment has come.
    var hasPassed: Bool {
        Deadline.now() >= nanoseconds
    }

    static func < (lhs: Deadline, rhs: Deadline) -> Bool {
        lhs.nanoseconds < rhs.nanoseconds
    }

    private static func now() -> UInt64 {
        var time = timespec()
        clock_gettime(CLOCK_MONOTONIC, &time)
        return UInt64(time.tv_sec) * 1_000_000_000 + UInt64(time.tv_nsec)
    }
}
