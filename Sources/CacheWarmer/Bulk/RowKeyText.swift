/// Reading a row entry key back into its key texts: the inverse of `KeyPart.escaped` joined
/// with `:` after `<ns>:<entity>:` (docs/cache-protocol.md, key grammar).
enum RowKeyText {
    /// The unescaped parts of `key` after `prefix`, or nil when `key` does not start with it or
    /// has a malformed escape.
    static func parts(_ key: String, prefix: String) -> [String]? {
        guard key.hasPrefix(prefix) else { return nil }
        var parts: [String] = []
        for piece in key.dropFirst(prefix.count).split(separator: ":", omittingEmptySubsequences: false) {
            guard let text = unescape(piece) else { return nil }
            parts.append(text)
        }
        return parts
    }

    /// `%25` → `%`, `%3A` → `:`, `%3D` → `=`; nil for any other `%` sequence.
    static func unescape(_ text: Substring) -> String? {
        guard text.utf8.contains(UInt8(ascii: "%")) else { return String(text) }
        var bytes: [UInt8] = []
        var input = Array(text.utf8)[...]
        while let byte = input.popFirst() {
            guard byte == UInt8(ascii: "%") else {
                bytes.append(byte)
                continue
            }
            guard input.count >= 2 else { return nil }
            let code = String(decoding: input.prefix(2), as: UTF8.self)
            input = input.dropFirst(2)
            switch code {
            case "25": bytes.append(UInt8(ascii: "%"))
            case "3A": bytes.append(UInt8(ascii: ":"))
            case "3D": bytes.append(UInt8(ascii: "="))
            default: return nil
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
