import Glibc

/// A point on the monotonic clock, for timeouts that span several waits.
struct Deadline {
    private let nanoseconds: UInt64

    /// The moment `seconds` from now.
    init(after seconds: Double) {
        nanoseconds = Deadline.now() &+ UInt64(max(0, min(seconds, 86_400)) * 1e9)
    }

    /// Milliseconds left (rounded up, at least 0), for `poll`.
    var remainingMilliseconds: Int32 {
        let now = Deadline.now()
        guard nanoseconds > now else { return 0 }
        return Int32(min((nanoseconds - now + 999_999) / 1_000_000, UInt64(Int32.max)))
    }

    private static func now() -> UInt64 {
        var time = timespec()
        clock_gettime(CLOCK_MONOTONIC, &time)
        return UInt64(time.tv_sec) * 1_000_000_000 + UInt64(time.tv_nsec)
    }
}
