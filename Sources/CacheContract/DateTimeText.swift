/// Turns the ISO (`DateStyle=ISO`) text of dates and timestamps into the XSD form that
/// `to_jsonb` writes (`JsonEncodeDateTime`), and refuses text that another DateStyle or a
/// non-UTC `TimeZone` would have produced.
enum DateTimeText {
    /// `2024-01-31`, `0044-03-15 BC`, `infinity`: the same text in JSON.
    static func date(_ text: [UInt8]) throws(CacheContractError) -> String {
        if isSpecial(text) { return String(decoding: text, as: UTF8.self) }
        var index = 0
        guard scanDate(text, &index), scanEra(text, &index), index == text.count else {
            throw failure(text, "date is not in ISO form (DateStyle=ISO expected)")
        }
        return String(decoding: text, as: UTF8.self)
    }

    /// `2024-01-31 10:00:00.5` → `2024-01-31T10:00:00.5` (and ` BC` kept at the end).
    static func timestamp(_ text: [UInt8]) throws(CacheContractError) -> String {
        if isSpecial(text) { return String(decoding: text, as: UTF8.self) }
        var index = 0
        guard scanDate(text, &index), index < text.count, text[index] == UInt8(ascii: " ") else {
            throw failure(text, "timestamp is not in ISO form (DateStyle=ISO expected)")
        }
        let separator = index
        index += 1
        guard scanTime(text, &index), scanEra(text, &index), index == text.count else {
            throw failure(text, "timestamp is not in ISO form (DateStyle=ISO expected)")
        }
        var output = text
        output[separator] = UInt8(ascii: "T")
        return String(decoding: output, as: UTF8.self)
    }

    /// `2024-01-31 10:00:00.5+00` → `2024-01-31T10:00:00.5+00:00`; any offset other than `+00`
    /// means the session was not in UTC and throws ``CacheContractError/Code-swift.enum/sessionSettings``.
    static func timestamptz(_ text: [UInt8]) throws(CacheContractError) -> String {
        if isSpecial(text) { return String(decoding: text, as: UTF8.self) }
        var index = 0
        guard scanDate(text, &index), index < text.count, text[index] == UInt8(ascii: " ") else {
            throw failure(text, "timestamptz is not in ISO form (DateStyle=ISO expected)")
        }
        let separator = index
        index += 1
        guard scanTime(text, &index) else { throw failure(text, "timestamptz is not in ISO form (DateStyle=ISO expected)") }
        let offsetStart = index
        guard text.count - index >= 3, text[index] == UInt8(ascii: "+") || text[index] == UInt8(ascii: "-") else {
            throw failure(text, "timestamptz without a UTC offset")
        }
        index += 1
        while index < text.count, isDigit(text[index]) || text[index] == UInt8(ascii: ":") { index += 1 }
        guard text[offsetStart..<index].elementsEqual("+00".utf8) else {
            throw CacheContractError(
                code: .sessionSettings, context: String(decoding: text, as: UTF8.self),
                message: "timestamptz offset is not +00: the session must run with TimeZone=UTC")
        }
        let eraStart = index
        guard scanEra(text, &index), index == text.count else { throw failure(text, "timestamptz is not in ISO form") }
        var output = Array(text[..<separator])
        output.append(UInt8(ascii: "T"))
        output += text[(separator + 1)..<eraStart]
        output += ":00".utf8
        output += text[eraStart...]
        return String(decoding: output, as: UTF8.self)
    }

    private static func isSpecial(_ text: [UInt8]) -> Bool {
        text.elementsEqual("infinity".utf8) || text.elementsEqual("-infinity".utf8)
    }

    /// `YYYY-MM-DD` with four or more year digits.
    private static func scanDate(_ text: [UInt8], _ index: inout Int) -> Bool {
        let yearStart = index
        while index < text.count, isDigit(text[index]) { index += 1 }
        guard index - yearStart >= 4 else { return false }
        return scanLiteral(text, &index, UInt8(ascii: "-")) && scanDigits(text, &index, 2)
            && scanLiteral(text, &index, UInt8(ascii: "-")) && scanDigits(text, &index, 2)
    }

    /// `HH:MM:SS` with an optional fraction of 1 to 6 digits.
    private static func scanTime(_ text: [UInt8], _ index: inout Int) -> Bool {
        guard scanDigits(text, &index, 2), scanLiteral(text, &index, UInt8(ascii: ":")), scanDigits(text, &index, 2),
            scanLiteral(text, &index, UInt8(ascii: ":")), scanDigits(text, &index, 2)
        else { return false }
        if index < text.count, text[index] == UInt8(ascii: ".") {
            index += 1
            let start = index
            while index < text.count, isDigit(text[index]) { index += 1 }
            return (1...6).contains(index - start)
        }
        return true
    }

    /// An optional ` BC`.
    private static func scanEra(_ text: [UInt8], _ index: inout Int) -> Bool {
        guard index < text.count else { return true }
        guard text[index...].starts(with: " BC".utf8) else { return false }
        index += 3
        return true
    }

    private static func scanDigits(_ text: [UInt8], _ index: inout Int, _ count: Int) -> Bool {
        guard text.count - index >= count, text[index..<index + count].allSatisfy(isDigit) else { return false }
        index += count
        return true
    }

    private static func scanLiteral(_ text: [UInt8], _ index: inout Int, _ byte: UInt8) -> Bool {
        guard index < text.count, text[index] == byte else { return false }
        index += 1
        return true
    }

    private static func isDigit(_ byte: UInt8) -> Bool {
        byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")
    }

    private static func failure(_ text: [UInt8], _ message: String) -> CacheContractError {
        CacheContractError(code: .invalidTextForm, context: String(decoding: text.prefix(60), as: UTF8.self), message: message)
    }
}
