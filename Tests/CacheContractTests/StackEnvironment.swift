import Foundation
import Testing

/// The local stack's settings, read from the environment that `deploy/local/stack.sh env` prints.
/// A missing variable fails the test with the command to run, instead of skipping it.
enum StackEnvironment {
    static func require(_ name: String) throws -> String {
        guard let value = ProcessInfo.processInfo.environment[name], !value.isEmpty else {
            Issue.record("\(name) is not set: load the stack's settings with `eval \"$(deploy/local/stack.sh env)\"`")
            throw MissingEnvironment(name: name)
        }
        return value
    }

    struct MissingEnvironment: Error {
        var name: String
    }
}
