import Foundation

/// Machine-readable command output (`--json`): one JSON document with sorted snake_case keys.
enum JSONOutput {
    /// Prints `value` as one line of JSON on standard output.
    static func print(_ value: some Encodable) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        encoder.keyEncodingStrategy = .convertToSnakeCase
        Swift.print(String(decoding: try encoder.encode(value), as: UTF8.self))
    }
}
