/// A libpq connection string (`postgres://` URL or `key=value` form) that only ever prints
/// with its password redacted.
public struct ConnectionString: Sendable, Hashable, CustomStringConvertible {
    /// The string as given, password included: passed to libpq, never logged.
    public let rawValue: String

    /// Wraps a connection string.
    public init(_ rawValue: String) {
        self.rawValue = rawValue
    }

    /// The string with any password replaced by `***`.
    public var description: String {
        ConnectionString.redact(rawValue)
    }

    /// Redacts `user:password@` in URLs and `password=...` in key/value strings and URL queries.
    public static func redact(_ text: String) -> String {
        var result = text
        if let scheme = result.range(of: "://") {
            let authorityEnd = result[scheme.upperBound...].firstIndex(where: { $0 == "/" || $0 == "?" }) ?? result.endIndex
            if let at = result[scheme.upperBound..<authorityEnd].lastIndex(of: "@"),
                let colon = result[scheme.upperBound..<at].firstIndex(of: ":")
            {
                result.replaceSubrange(result.index(after: colon)..<at, with: "***")
            }
        }
        var output = ""
        var rest = Substring(result)
        while let range = rest.range(of: "password=") {
            output += rest[..<range.upperBound] + "***"
            rest = rest[range.upperBound...]
            if rest.first == "'" {
                rest = rest.dropFirst()
                var escaped = false
                while let character = rest.first {
                    rest = rest.dropFirst()
                    if escaped { escaped = false } else if character == "\\" { escaped = true } else if character == "'" { break }
                }
            } else {
                rest = rest.drop(while: { $0 != " " && $0 != "&" })
            }
        }
        return output + rest
    }
}
