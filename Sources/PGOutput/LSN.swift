/// A position in the writer's write-ahead log (Postgres `pg_lsn`): a 64-bit byte offset that only grows.
///
/// Text form is Postgres' own `X/Y` (two uppercase hex halves); ``sortableString`` is a fixed-width
/// form whose string order equals LSN order, used in Redis values.
public struct LSN: RawRepresentable, Hashable, Comparable, Sendable {
    /// The byte position in the WAL.
    public var rawValue: UInt64

    /// Wraps a raw WAL byte position.
    public init(rawValue: UInt64) {
        self.rawValue = rawValue
    }

    /// Wraps a raw WAL byte position.
    public init(_ rawValue: UInt64) {
        self.rawValue = rawValue
    }

    /// The invalid position `0/0`, which Postgres uses for "none".
    public static let zero = LSN(0)

    /// Parses Postgres' `X/Y` text form (hex halves, case-insensitive, at most 8 digits each),
    /// or returns nil.
    public init?(_ text: some StringProtocol) {
        let utf8 = Array(text.utf8)
        guard let slash = utf8.firstIndex(of: UInt8(ascii: "/")),
            let high = LSN.parseHex(utf8[..<slash]),
            let low = LSN.parseHex(utf8[(slash + 1)...])
        else { return nil }
        self.rawValue = high << 32 | low
    }

    /// Parses the 16-digit ``sortableString`` form, or returns nil.
    public init?(sortableString text: some StringProtocol) {
        let utf8 = Array(text.utf8)
        guard utf8.count == 16, let high = LSN.parseHex(utf8[..<8]), let low = LSN.parseHex(utf8[8...])
        else { return nil }
        self.rawValue = high << 32 | low
    }

    /// Postgres' text form, e.g. `16/B374D848`.
    public var description: String {
        String(rawValue >> 32, radix: 16, uppercase: true) + "/"
            + String(rawValue & 0xFFFF_FFFF, radix: 16, uppercase: true)
    }

    /// Sixteen uppercase, zero-padded hex digits: string order is LSN order.
    public var sortableString: String {
        let hex = String(rawValue, radix: 16, uppercase: true)
        return String(repeating: "0", count: 16 - hex.count) + hex
    }

    /// The number of WAL bytes from `other` to `self` (negative when `self` is older).
    public func distance(from other: LSN) -> Int64 {
        Int64(bitPattern: rawValue &- other.rawValue)
    }

    /// The position `bytes` further on (or back, when negative), clamped to the valid range.
    public func advanced(by bytes: Int64) -> LSN {
        if bytes >= 0 {
            let (sum, overflow) = rawValue.addingReportingOverflow(UInt64(bytes))
            return LSN(overflow ? .max : sum)
        }
        let magnitude = bytes.magnitude
        return LSN(rawValue >= magnitude ? rawValue - magnitude : 0)
    }

    public static func < (lhs: LSN, rhs: LSN) -> Bool {
        lhs.rawValue < rhs.rawValue
    }

    private static func parseHex(_ digits: ArraySlice<UInt8>) -> UInt64? {
        guard !digits.isEmpty, digits.count <= 8 else { return nil }
        var value: UInt64 = 0
        for byte in digits {
            let nibble: UInt8
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): nibble = byte - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): nibble = byte - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): nibble = byte - UInt8(ascii: "A") + 10
            default: return nil
            }
            value = value << 4 | UInt64(nibble)
        }
        return value
    }
}

extension LSN: CustomStringConvertible, LosslessStringConvertible {}

extension LSN {
    /// Accepts either the `X/Y` form or the 16-digit sortable form.
    public init?(parsing text: some StringProtocol) {
        if let lsn = LSN(text) ?? LSN(sortableString: text) {
            self = lsn
        } else {
            return nil
        }
    }
}
