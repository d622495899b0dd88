import Glibc

/// CPU time this process has used (user + system, all threads), from `getrusage(RUSAGE_SELF)`.
/// The worker runs in the benchmark's process, so differences measure its CPU.
enum ProcessCPU {
    /// Seconds of CPU used so far.
    static func seconds() -> Double {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        return Double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) + Double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6
    }
}
