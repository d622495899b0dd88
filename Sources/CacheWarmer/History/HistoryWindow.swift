import Foundation

/// `history:` in the configuration: how much of the past the `<slot>_history` slot keeps on the
/// writer for `replay --from/--since` and `peek` (a duration, or bytes of WAL).
public struct HistoryWindow: Hashable, Sendable {
    /// What the window keeps.
    public enum Keep: Hashable, Sendable {
        /// Everything the worker confirmed within the last `seconds`.
        case duration(seconds: Double)
        /// About this many bytes of WAL behind the worker's confirmed position.
        case bytes(Int64)
    }

    /// What the window keeps.
    public var keep: Keep
    /// Seconds between recorded positions (`<ns>:meta:history`), and between advances of the
    /// history slot (default 1): the resolution of `--since`/`--until` before the commit-time scan.
    public var recordInterval: Double = 1

    /// A window keeping `keep`.
    public init(keep: Keep, recordInterval: Double = 1) {
        self.keep = keep
        self.recordInterval = recordInterval
    }

    /// Human form for status and logs: `1h`, `2147483648 bytes`.
    public var keepDescription: String {
        switch keep {
        case .duration(let seconds): HistoryWindow.durationText(seconds)
        case .bytes(let bytes): "\(bytes) bytes of WAL"
        }
    }

    /// Parses a duration: a number of seconds, or a number with `s`, `m`, `h` or `d`
    /// (`30s`, `15m`, `1h`, `1.5h`, `7d`); nil when it is none of these or not positive.
    public static func parseDuration(_ text: String) -> Double? {
        let trimmed = text.trimmingCharacters(in: .whitespaces).lowercased()
        let units: [(String, Double)] = [("ms", 0.001), ("s", 1), ("m", 60), ("h", 3600), ("d", 86400)]
        for (suffix, factor) in units where trimmed.hasSuffix(suffix) {
            let number = trimmed.dropLast(suffix.count).trimmingCharacters(in: .whitespaces)
            if let value = Double(number), value > 0, value.isFinite, !number.hasSuffix("m") { return value * factor }
        }
        if let value = Double(trimmed), value > 0, value.isFinite { return value }
        return nil
    }

    /// `90` -> `1m30s`, `3600` -> `1h`.
    public static func durationText(_ seconds: Double) -> String {
        if seconds < 1 { return "\(Int((seconds * 1000).rounded()))ms" }
        var rest = Int(seconds.rounded())
        var parts: [String] = []
        for (unit, size) in [("d", 86400), ("h", 3600), ("m", 60), ("s", 1)] where rest >= size {
            parts.append("\(rest / size)\(unit)")
            rest %= size
        }
        return parts.joined()
    }

    /// Reads `history:` (absent: nil) and records problems on the node's log.
    static func parse(_ node: ConfigNode) -> HistoryWindow? {
        guard node.isPresent else { return nil }
        node.allowKeys(["keep", "keep_bytes", "record_interval_s"])
        let keepNode = node.child("keep")
        let bytesNode = node.child("keep_bytes")
        let interval = node.child("record_interval_s").seconds(default: 1, minimum: 0.05)
        switch (keepNode.isPresent, bytesNode.isPresent) {
        case (true, true):
            node.report.add(node.path, "give keep (a duration) or keep_bytes, not both")
            return nil
        case (false, false):
            node.report.add(node.path, "needs keep (a duration like 30s, 15m, 1h) or keep_bytes (like 2GB)")
            return nil
        case (true, false):
            let text: String? = (keepNode.value as? String) ?? (keepNode.value as? Int).map { String($0) } ?? (keepNode.value as? Double).map { String($0) }
            guard let text, let seconds = parseDuration(text) else {
                node.report.add(keepNode.path, "must be a duration like 30s, 15m, 1h or 7d")
                return nil
            }
            return HistoryWindow(keep: .duration(seconds: seconds), recordInterval: interval)
        case (false, true):
            let bytes = bytesNode.bytes(default: 0, range: (1 << 20)...Int.max)
            guard bytes > 0 else { return nil }
            return HistoryWindow(keep: .bytes(Int64(bytes)), recordInterval: interval)
        }
    }
}

extension WorkerConfiguration {
    /// The history window's slot, `<slot>_history`: created by `setup` when `history:` is
    /// configured, advanced by the running worker, copied (never streamed) by `replay` and `peek`.
    public var historySlot: String { slot + "_history" }
}
