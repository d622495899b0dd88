import struct Foundation.Date

/// A Postgres wire timestamp: microseconds since 2000-01-01 00:00:00 UTC.
public struct PostgresTimestamp: RawRepresentable, Hashable, Comparable, Sendable {
    /// Microseconds since the Postgres epoch (2000-01-01 00:00:00 UTC).
    public var rawValue: Int64

    /// Wraps a raw microsecond count.
    public init(rawValue: Int64) {
        self.rawValue = rawValue
    }

    /// Seconds from the Unix epoch (1970) to the Postgres epoch (2000).
    public static let postgresEpochUnixSeconds: Int64 = 946_684_800

    /// Converts a date to whole microseconds since the Postgres epoch (rounded to nearest).
    public init(_ date: Date) {
        let seconds = date.timeIntervalSince1970 - Double(PostgresTimestamp.postgresEpochUnixSeconds)
        self.rawValue = Int64((seconds * 1_000_000).rounded())
    }

    /// The same instant as a Foundation date (microsecond precision).
    public var date: Date {
        let seconds = rawValue / 1_000_000
        let micros = rawValue % 1_000_000
        return Date(
            timeIntervalSince1970: Double(seconds + PostgresTimestamp.postgresEpochUnixSeconds)
                + Double(micros) / 1_000_000)
    }

    /// Microseconds since the Unix epoch.
    public var unixMicroseconds: Int64 {
        rawValue &+ PostgresTimestamp.postgresEpochUnixSeconds * 1_000_000
    }

    /// The current time.
    public static func now() -> PostgresTimestamp {
        PostgresTimestamp(Date())
    }

    public static func < (lhs: PostgresTimestamp, rhs: PostgresTimestamp) -> Bool {
        lhs.rawValue < rhs.rawValue
    }
}
