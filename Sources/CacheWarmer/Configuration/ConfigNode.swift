import Foundation

/// A position in a parsed YAML document that reads typed values and records every problem with
/// its key path, so validation reports all problems at once instead of stopping at the first.
final class ConfigNode {
    let value: Any?
    let path: String
    let report: ProblemLog

    init(value: Any?, path: String, report: ProblemLog) {
        self.value = value
        self.path = path
        self.report = report
    }

    var isPresent: Bool { value != nil && !(value is NSNull) }

    func child(_ key: String) -> ConfigNode {
        let childValue = (value as? [String: Any])?[key]
        return ConfigNode(value: childValue, path: path.isEmpty ? key : "\(path).\(key)", report: report)
    }

    /// Records unknown keys (typos) of a mapping.
    func allowKeys(_ allowed: Set<String>) {
        guard let mapping = value as? [String: Any] else {
            if isPresent { report.add(path, "must be a mapping") }
            return
        }
        for key in mapping.keys.sorted() where !allowed.contains(key) {
            report.add(path.isEmpty ? key : "\(path).\(key)", "unknown key (known: \(allowed.sorted().joined(separator: ", ")))")
        }
    }

    func string(default fallback: String? = nil) -> String? {
        guard isPresent else { return fallback }
        if let text = value as? String { return text }
        if let number = value as? Int { return String(number) }
        report.add(path, value is Bool ? Self.booleanHint : "must be a string")
        return fallback
    }

    /// YAML reads unquoted `off`, `on`, `yes`, `no`, `true` and `false` as booleans.
    static let booleanHint = "must be a string (an unquoted off/on/yes/no/true/false is read as a boolean: quote it)"

    func requiredString() -> String? {
        guard isPresent else {
            report.add(path, "is required")
            return nil
        }
        return string()
    }

    func int(default fallback: Int, range: ClosedRange<Int>) -> Int {
        guard isPresent else { return fallback }
        guard let number = value as? Int else {
            report.add(path, "must be an integer")
            return fallback
        }
        guard range.contains(number) else {
            report.add(path, "must be between \(range.lowerBound) and \(range.upperBound), got \(number)")
            return fallback
        }
        return number
    }

    func seconds(default fallback: Double, minimum: Double = 0) -> Double {
        guard isPresent else { return fallback }
        let number = (value as? Double) ?? (value as? Int).map(Double.init)
        guard let number, number >= minimum else {
            report.add(path, "must be a number of seconds >= \(minimum)")
            return fallback
        }
        return number
    }

    /// A size: an integer of bytes, or a string like `64MiB`, `512kB`, `1GB` (k/M/G are 1024
    /// multiples, as in Postgres' memory settings).
    func bytes(default fallback: Int, range: ClosedRange<Int>) -> Int {
        guard isPresent else { return fallback }
        var number: Int?
        if let integer = value as? Int {
            number = integer
        } else if let text = value as? String {
            let trimmed = text.trimmingCharacters(in: .whitespaces)
            let digits = trimmed.prefix { $0.isASCII && $0.isNumber }
            let unit = trimmed.dropFirst(digits.count).trimmingCharacters(in: .whitespaces).lowercased()
            let multipliers: [String: Int] = ["": 1, "b": 1, "kb": 1 << 10, "kib": 1 << 10, "mb": 1 << 20, "mib": 1 << 20, "gb": 1 << 30, "gib": 1 << 30]
            if let value = Int(digits), let multiplier = multipliers[unit] { number = value.multipliedReportingOverflow(by: multiplier).overflow ? nil : value * multiplier }
        }
        guard let number else {
            report.add(path, "must be a size: bytes, or a number with kB, MB or GB (e.g. 64MB)")
            return fallback
        }
        guard range.contains(number) else {
            report.add(path, "must be between \(range.lowerBound) and \(range.upperBound) bytes, got \(number)")
            return fallback
        }
        return number
    }

    func stringList() -> [String]? {
        guard isPresent else { return nil }
        if let single = value as? String { return [single] }
        guard let list = value as? [Any], let strings = list as? [String] else {
            let hasBoolean = (value as? [Any])?.contains { $0 is Bool } ?? false
            report.add(path, hasBoolean ? "must be a list of strings (an unquoted off/on/yes/no/true/false is read as a boolean: quote it)" : "must be a list of strings")
            return nil
        }
        return strings
    }

    func list() -> [ConfigNode] {
        guard isPresent else { return [] }
        guard let items = value as? [Any] else {
            report.add(path, "must be a list")
            return []
        }
        return items.enumerated().map { ConfigNode(value: $1, path: "\(path)[\($0)]", report: report) }
    }

    func mapping() -> [(String, ConfigNode)] {
        guard isPresent else { return [] }
        guard let mapping = value as? [String: Any] else {
            report.add(path, "must be a mapping")
            return []
        }
        return mapping.keys.sorted().map { ($0, child($0)) }
    }
}

/// Problems collected while reading a configuration.
final class ProblemLog {
    private(set) var problems: [ConfigurationError.Problem] = []

    func add(_ path: String, _ message: String) {
        problems.append(ConfigurationError.Problem(path: path, message: message))
    }
}

