import Foundation

/// The time given to `--since`/`--until`: a duration ago (`15m`, `1h`, `90s`, `2d`) or a moment
/// in ISO 8601 (`2026-11-29T13:00:00Z`, `2026-11-29T13:00:00.250+01:00`; without an offset, UTC;
/// a space may replace the `T`).
public enum TimeArgument {
    /// The moment `text` names, relative to `now` for durations; nil when it is neither form.
    public static func parse(_ text: String, now: Date = Date()) -> Date? {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        if trimmed.first?.isNumber == true, !trimmed.contains("-"), !trimmed.contains(":"), let seconds = HistoryWindow.parseDuration(trimmed) {
            return now.addingTimeInterval(-seconds)
        }
        var iso = trimmed.replacingOccurrences(of: " ", with: "T")
        if let last = iso.last, last.isNumber, iso.count <= 26 { iso += "Z" }
        if iso.hasSuffix("+00") || iso.hasSuffix("-00") { iso += ":00" }
        let withFraction = ISO8601DateFormatter()
        withFraction.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        let plain = ISO8601DateFormatter()
        plain.formatOptions = [.withInternetDateTime]
        return withFraction.date(from: iso) ?? plain.date(from: iso)
    }
}
