/// Problems found in a configuration file: each names the file and the key path, one per line.
public struct ConfigurationError: Error, Hashable, Sendable, CustomStringConvertible {
    /// One problem at one key path.
    public struct Problem: Hashable, Sendable, CustomStringConvertible {
        /// The dotted key path, e.g. `entities.order.mode`.
        public var path: String
        /// What is wrong and what is accepted.
        public var message: String

        public var description: String { "\(path.isEmpty ? "(top level)" : path): \(message)" }
    }

    /// The file the problems are in.
    public var file: String
    /// Every problem found, in file order.
    public var problems: [Problem]

    /// Makes an error for `file`.
    public init(file: String, problems: [Problem]) {
        self.file = file
        self.problems = problems
    }

    public var description: String {
        problems.map { "\(file): \($0)" }.joined(separator: "\n")
    }
}
