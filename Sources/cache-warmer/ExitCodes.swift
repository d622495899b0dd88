import ArgumentParser
import CacheWarmer
import Foundation
import PostgresReplication
import RedisCache

/// Exit codes: 0 success, 1 runtime failure (connection, Redis, server), 3 not set up (run
/// `setup`; also a lost slot: `setup --recreate-slot`), 4 replay position unavailable, 78
/// configuration error. 3 and 78 need an operator: the systemd unit does not restart on them.
/// Prints the error as one line (configuration errors: one line per problem) on standard error.
enum ExitCodes {
    static func fail(_ error: any Error) -> ExitCode {
        var standardError = StandardError()
        print("cache-warmer: \(error)", to: &standardError)
        switch error {
        case is ConfigurationError: return ExitCode(78)
        case let error as WorkerError where error.code == .notSetUp: return ExitCode(3)
        case let error as ReplicationError
        where error.code == .slotMissing || error.code == .slotInvalidated || error.code == .publicationMismatch || error.code == .walLevelNotLogical:
            return ExitCode(3)
        case let error as ReplicationError where error.code == .startBeforeSlotPosition: return ExitCode(4)
        default: return ExitCode(1)
        }
    }
}

/// Standard error as a `TextOutputStream`.
struct StandardError: TextOutputStream {
    mutating func write(_ string: String) {
        FileHandle.standardError.write(string.data(using: .utf8) ?? Data())
    }
}
