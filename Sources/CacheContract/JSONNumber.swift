/// A JSON number in the form Postgres `numeric` prints it (`numeric_in` then `numeric_out`),
/// which is how `jsonb` stores and prints every number: no exponent, no `-0`, the scale kept
/// (`1.50` stays `1.50`, `1.5e-05` becomes `0.000015`, `1e+20` becomes `100000000000000000000`).
public struct JSONNumber: Hashable, Sendable, CustomStringConvertible {
    /// The canonical text.
    public let text: String

    /// The largest scale (digits after the point) `numeric` accepts.
    static let maxScale = 16383
    /// The most digits before the point `numeric` accepts.
    static let maxIntegerDigits = 131_072

    /// Normalizes a number in JSON syntax (`-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?`, which covers
    /// the output of Postgres' integer, float and numeric types). Throws for other text and for
    /// values `numeric` cannot hold.
    public init(_ text: some StringProtocol) throws(CacheContractError) {
        self.text = try JSONNumber.canonical(Array(text.utf8))
    }

    /// An integer.
    public init(_ value: some BinaryInteger) {
        self.text = String(value)
    }

    /// A finite double, written with the shortest digits that round-trip (as JavaScript's
    /// `String(n)` does) and without a scale of its own: `100.0` is `100`, `-0.0` is `0`.
    /// Nil for NaN and infinities, which JSON cannot hold.
    public init?(_ value: Double) {
        guard value.isFinite, let canonical = try? JSONNumber.canonical(Array("\(value)".utf8)) else { return nil }
        self.text = JSONNumber.strippingFractionZeros(canonical)
    }

    init(canonical: String) {
        self.text = canonical
    }

    /// The canonical text.
    public var description: String { text }

    /// The number without trailing zeros after the point (`1.50` → `1.5`, `2.0` → `2`): one text
    /// per numeric value, used where equal values must give equal keys.
    public var minimalText: String {
        JSONNumber.strippingFractionZeros(text)
    }

    static func strippingFractionZeros(_ text: String) -> String {
        guard text.utf8.contains(UInt8(ascii: ".")) else { return text }
        var bytes = Array(text.utf8)
        while bytes.last == UInt8(ascii: "0") { bytes.removeLast() }
        if bytes.last == UInt8(ascii: ".") { bytes.removeLast() }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// `numeric_in` + `numeric_out` on a JSON-syntax number.
    static func canonical(_ bytes: [UInt8]) throws(CacheContractError) -> String {
        let invalid = CacheContractError(code: .invalidTextForm, context: String(decoding: bytes.prefix(40), as: UTF8.self), message: "not a JSON number")
        var index = 0
        let negative = bytes.first == UInt8(ascii: "-")
        if negative { index += 1 }
        let integerStart = index
        while index < bytes.count, isDigit(bytes[index]) { index += 1 }
        let integerDigits = bytes[integerStart..<index]
        guard !integerDigits.isEmpty, integerDigits.count == 1 || integerDigits.first != UInt8(ascii: "0") else { throw invalid }
        var fractionDigits: ArraySlice<UInt8> = []
        if index < bytes.count, bytes[index] == UInt8(ascii: ".") {
            index += 1
            let start = index
            while index < bytes.count, isDigit(bytes[index]) { index += 1 }
            fractionDigits = bytes[start..<index]
            guard !fractionDigits.isEmpty else { throw invalid }
        }
        var exponent = 0
        if index < bytes.count, bytes[index] == UInt8(ascii: "e") || bytes[index] == UInt8(ascii: "E") {
            index += 1
            var exponentNegative = false
            if index < bytes.count, bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-") {
                exponentNegative = bytes[index] == UInt8(ascii: "-")
                index += 1
            }
            let start = index
            while index < bytes.count, isDigit(bytes[index]) {
                // numeric_in refuses exponents at or beyond INT_MAX / 2.
                exponent = min(exponent * 10 + Int(bytes[index] - UInt8(ascii: "0")), Int(Int32.max / 2))
                index += 1
            }
            guard index > start else { throw invalid }
            if exponentNegative { exponent = -exponent }
        }
        guard index == bytes.count else { throw invalid }
        guard exponent.magnitude < Int32.max / 2 else {
            throw CacheContractError(code: .numberOutOfRange, context: invalid.context, message: "exponent too large for numeric")
        }

        let scale = max(0, fractionDigits.count - exponent)
        guard scale <= maxScale else {
            throw CacheContractError(code: .numberOutOfRange, context: invalid.context, message: "more than \(maxScale) digits after the point")
        }
        let digits = Array(integerDigits) + Array(fractionDigits)
        guard let firstNonZero = digits.firstIndex(where: { $0 != UInt8(ascii: "0") }) else {
            return scale == 0 ? "0" : "0." + String(repeating: "0", count: scale)
        }
        // Position of the decimal point within `digits` after applying the exponent.
        let point = integerDigits.count + exponent
        guard point - firstNonZero <= maxIntegerDigits else {
            throw CacheContractError(code: .numberOutOfRange, context: invalid.context, message: "more than \(maxIntegerDigits) digits before the point")
        }
        var output: [UInt8] = negative ? [UInt8(ascii: "-")] : []
        if point <= firstNonZero {
            output.append(UInt8(ascii: "0"))
        } else {
            output += digits[firstNonZero..<min(point, digits.count)]
            if point > digits.count {
                output += repeatElement(UInt8(ascii: "0"), count: point - digits.count)
            }
        }
        if scale > 0 {
            output.append(UInt8(ascii: "."))
            if point < 0 {
                output += repeatElement(UInt8(ascii: "0"), count: -point)
            }
            output += digits[max(point, 0)...]
        }
        return String(decoding: output, as: UTF8.self)
    }

    private static func isDigit(_ byte: UInt8) -> Bool {
        byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")
    }
}
