import Foundation

/// A table named as in SQL: `public."Order"`, `"Order"`, `orders`. Names follow Postgres'
/// identifier rules (PostgreSQL documentation, "Identifiers and Key Words"): unquoted names fold
/// ASCII letters to lower case and nothing else; quoted names keep every character (`""` is a
/// quote); both are truncated to 63 bytes (NAMEDATALEN - 1); no schema means `public`.
public struct TableName: Hashable, Sendable, CustomStringConvertible {
    /// The schema (`public` when not given).
    public var schema: String
    /// The table's name, exactly as stored in the catalog.
    public var name: String
    /// The table as the configuration wrote it, with the implicit `public.` in front when no
    /// schema was given, for messages (not part of equality).
    public let spelling: String

    /// The longest identifier Postgres keeps, in bytes (NAMEDATALEN - 1).
    static let maximumIdentifierBytes = 63

    /// Makes a table name from catalog spellings (spelled as SQL would need it: `public."Order"`).
    public init(schema: String, name: String) {
        self.schema = schema
        self.name = name
        self.spelling = "\(Self.minimallyQuoted(schema)).\(Self.minimallyQuoted(name))"
    }

    /// Parses `schema.table` with optional double quotes on either part; nil when malformed.
    public init?(parsing text: String) {
        var parts: [String] = []
        var current = ""
        var quoted = false
        var wasQuoted = false
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        var characters = Array(trimmed.unicodeScalars)[...]
        while let character = characters.popFirst() {
            if quoted {
                if character == "\"" {
                    if characters.first == "\"" {
                        current.unicodeScalars.append("\"")
                        characters.removeFirst()
                    } else {
                        quoted = false
                    }
                } else {
                    current.unicodeScalars.append(character)
                }
            } else if character == "\"" {
                guard current.isEmpty else { return nil }
                quoted = true
                wasQuoted = true
            } else if character == "." {
                guard !current.isEmpty else { return nil }
                parts.append(Self.truncated(current))
                current = ""
                wasQuoted = false
            } else {
                guard !wasQuoted, Self.isIdentifierCharacter(character, first: current.isEmpty) else { return nil }
                // Only ASCII letters fold, as in Postgres' downcase_identifier for UTF-8.
                let folded = ("A"..."Z").contains(character) ? Unicode.Scalar(character.value + 32)! : character
                current.unicodeScalars.append(folded)
            }
        }
        guard !quoted, !current.isEmpty else { return nil }
        parts.append(Self.truncated(current))
        switch parts.count {
        case 1: (schema, name, spelling) = ("public", parts[0], "public." + trimmed)
        case 2: (schema, name, spelling) = (parts[0], parts[1], trimmed)
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

    public static func == (lhs: TableName, rhs: TableName) -> Bool {
        lhs.schema == rhs.schema && lhs.name == rhs.name
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(schema)
        hasher.combine(name)
    }

    /// Unquoted identifiers: a letter (any non-ASCII character counts as one) or `_` first, then
    /// also digits and `$`.
    private static func isIdentifierCharacter(_ character: Unicode.Scalar, first: Bool) -> Bool {
        if character.value >= 0x80 { return true }
        if ("a"..."z").contains(character) || ("A"..."Z").contains(character) || character == "_" { return true }
        return !first && (("0"..."9").contains(character) || character == "$")
    }

    /// `identifier` cut to 63 bytes on a character boundary, as Postgres does.
    private static func truncated(_ identifier: String) -> String {
        guard identifier.utf8.count > maximumIdentifierBytes else { return identifier }
        var result = ""
        var bytes = 0
        for scalar in identifier.unicodeScalars {
            let size = String(scalar).utf8.count
            guard bytes + size <= maximumIdentifierBytes else { break }
            result.unicodeScalars.append(scalar)
            bytes += size
        }
        return result
    }

    /// `identifier` bare when SQL reads it back unchanged, else quoted.
    private static func minimallyQuoted(_ identifier: String) -> String {
        let plain = identifier.unicodeScalars.enumerated().allSatisfy { index, scalar in
            ("a"..."z").contains(scalar) || scalar == "_" || (index > 0 && (("0"..."9").contains(scalar) || scalar == "$"))
        }
        return plain && !identifier.isEmpty ? identifier : quote(identifier)
    }

    private static func quote(_ identifier: String) -> String {
        "\"" + identifier.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }
}
