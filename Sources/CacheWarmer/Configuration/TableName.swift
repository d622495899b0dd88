import Foundation

/// A table named as in SQL: `public."Order"`, `"Order"`, `orders` (unquoted names fold to lower
/// case, as Postgres does; no schema means `public`).
public struct TableName: Hashable, Sendable, CustomStringConvertible {
    /// The schema (`public` when not given).
    public var schema: String
    /// The table's name, exactly as stored in the catalog.
    public var name: String

    /// Makes a table name from catalog spellings.
    public init(schema: String, name: String) {
        self.schema = schema
        self.name = name
    }

    /// Parses `schema.table` with optional double quotes on either part; nil when malformed.
    public init?(parsing text: String) {
        var parts: [String] = []
        var current = ""
        var quoted = false
        var wasQuoted = false
        var characters = Array(text.trimmingCharacters(in: .whitespaces))[...]
        while let character = characters.popFirst() {
            if quoted {
                if character == "\"" {
                    if characters.first == "\"" {
                        current.append("\"")
                        characters.removeFirst()
                    } else {
                        quoted = false
                    }
                } else {
                    current.append(character)
                }
            } else if character == "\"" {
                guard current.isEmpty else { return nil }
                quoted = true
                wasQuoted = true
            } else if character == "." {
                guard !current.isEmpty else { return nil }
                parts.append(current)
                current = ""
                wasQuoted = false
            } else {
                guard !wasQuoted, character.isLetter || character.isNumber || character == "_" || character == "$" else { return nil }
                current.append(Character(character.lowercased()))
            }
        }
        guard !quoted, !current.isEmpty else { return nil }
        parts.append(current)
        switch parts.count {
        case 1: self.init(schema: "public", name: parts[0])
        case 2: self.init(schema: parts[0], name: parts[1])
        default: return nil
        }
    }

    /// The name as SQL, both parts quoted: `"public"."Order"`.
    public var sql: String {
        "\(Self.quote(schema)).\(Self.quote(name))"
    }

    public var description: String {
        "\(schema).\(name)"
    }

    private static func quote(_ identifier: String) -> String {
        "\"" + identifier.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }
}
