/// One line of `cache-warmer check`: what was checked, the verdict, and what to change.
public struct DeploymentFinding: Sendable, Hashable, CustomStringConvertible {
    /// `ok` passes, `warn` passes but deserves a look, `fail` is a requirement not met (exit 1).
    public enum Verdict: String, Sendable, Hashable {
        case ok, warn, fail
    }

    /// The verdict.
    public var verdict: Verdict
    /// What was checked: `writer`, `reader`, `redis` or `config`.
    public var subject: String
    /// What was found and, when not ok, what to change.
    public var message: String

    /// Makes a finding.
    public init(_ verdict: Verdict, _ subject: String, _ message: String) {
        self.verdict = verdict
        self.subject = subject
        self.message = message
    }

    /// `ok    writer: ...`, `WARN  redis: ...`, `FAIL  writer: ...`: one line, the verdict in a
    /// fixed-width column.
    public var description: String {
        let label = verdict == .ok ? "ok" : verdict.rawValue.uppercased()
        let line = "\(label.padding(toLength: 6, withPad: " ", startingAt: 0))\(subject): \(message)"
        return line.split(whereSeparator: \.isNewline).joined(separator: " ")
    }
}
