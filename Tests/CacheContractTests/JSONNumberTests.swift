import CacheContract
import Testing

/// Numbers as `numeric_in` + `numeric_out` print them (expected strings checked with psql).
@Suite struct JSONNumberTests {
    @Test(arguments: [
        ("0", "0"), ("-0", "0"), ("-0.0", "0.0"), ("0e5", "0"), ("0.00e-2", "0.0000"),
        ("1E2", "100"), ("1.0e+2", "100"), ("1.00e1", "10.0"), ("-1.5E-3", "-0.0015"),
        ("1.5e-05", "0.000015"), ("1e+20", "100000000000000000000"), ("1.50", "1.50"),
        ("123456789012345678901234567890.123456789", "123456789012345678901234567890.123456789"),
        ("1.234567890123456e+15", "1234567890123456"), ("-42", "-42"), ("0.1e1", "1"),
    ])
    func normalizesLikeNumeric(input: String, expected: String) throws {
        #expect(try JSONNumber(input).text == expected)
    }

    @Test(arguments: ["", "-", "01", "1.", ".5", "+1", "1e", "1e+", "NaN", "Infinity", "1 ", "0x10", "1.2.3", "--1"])
    func refusesNonJSONNumbers(input: String) {
        #expect(throws: CacheContractError.self) { try JSONNumber(input) }
    }

    @Test func enforcesNumericLimits() throws {
        #expect(try JSONNumber("1e-16383").text.utf8.count == 16385)
        #expect(try JSONNumber("1e131071").text.utf8.count == 131_072)
        #expect(try JSONNumber("0e200000").text == "0")
        for tooBig in ["1e-16384", "1e131072", "0e-20000", "1.5e-16383", "1e9999999999"] {
            #expect(throws: CacheContractError.self, "\(tooBig)") { try JSONNumber(tooBig) }
        }
    }

    @Test func doublesUseShortestDigitsWithoutScale() {
        #expect(JSONNumber(100.0)?.text == "100")
        #expect(JSONNumber(-0.0)?.text == "0")
        #expect(JSONNumber(0.1 + 0.2)?.text == "0.30000000000000004")
        #expect(JSONNumber(1e21)?.text == "1000000000000000000000")
        #expect(JSONNumber(1.5e-5)?.text == "0.000015")
        #expect(JSONNumber(Double.nan) == nil)
        #expect(JSONNumber(-Double.infinity) == nil)
        #expect(JSONNumber(12) .text == "12")
    }

    @Test func minimalTextDropsTheScale() throws {
        #expect(try JSONNumber("1.50").minimalText == "1.5")
        #expect(try JSONNumber("2.000").minimalText == "2")
        #expect(try JSONNumber("0.0").minimalText == "0")
        #expect(try JSONNumber("100").minimalText == "100")
    }
}
