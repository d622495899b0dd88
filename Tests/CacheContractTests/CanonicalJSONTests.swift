import CacheContract
import NIOCore
import PGOutput
import Testing

/// Canonical JSON rules without a server (the expected strings were checked with psql).
@Suite struct CanonicalJSONTests {
    private func column(_ name: String, _ oid: UInt32, _ text: String?) -> NamedColumn {
        NamedColumn(name: name, typeOID: oid, isKey: false, value: text.map { .text(ByteBuffer(string: $0)) } ?? .null)
    }

    private func render(_ oid: UInt32, _ text: String) throws -> String {
        CanonicalJSON.render(try CanonicalJSON.value(of: column("c", oid, text)).value)
    }

    @Test func ordersKeysByLengthThenBytes() throws {
        let row = try CanonicalJSON.row([
            column("bb", 23, "1"), column("a", 23, "2"), column("B", 23, "3"), column("é", 23, "4"), column("", 16, "t"),
        ])
        #expect(row.json == #"{"": true, "B": 3, "a": 2, "bb": 1, "é": 4}"#)
        #expect(row.isVerified)
    }

    @Test func escapesStringsLikeEscapeJSON() {
        let text = "q\" b\\ \u{8}\u{c}\n\r\t \u{1}\u{1f}\u{7f} é😀/"
        #expect(CanonicalJSON.render(.string(text)) == "\"q\\\" b\\\\ \\b\\f\\n\\r\\t \\u0001\\u001f\u{7f} é😀/\"")
    }

    @Test func rendersScalarTypes() throws {
        #expect(try render(16, "t") == "true")
        #expect(try render(16, "f") == "false")
        #expect(try render(701, "-0") == "0")
        #expect(try render(701, "1e+100") == "1" + String(repeating: "0", count: 100))
        #expect(try render(701, "NaN") == #""NaN""#)
        #expect(try render(700, "-Infinity") == #""-Infinity""#)
        #expect(try render(1700, "1.50") == "1.50")
        #expect(try render(1700, "Infinity") == #""Infinity""#)
        #expect(try render(20, "-9223372036854775808") == "-9223372036854775808")
        #expect(try render(17, "\\x00ff") == #""\\x00ff""#)
        #expect(try render(2950, "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11") == #""a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11""#)
        #expect(try render(26, "12") == #""12""#)
        #expect(try render(1083, "24:00:00") == #""24:00:00""#)
    }

    @Test func rendersDatesAndTimestampsInXSDForm() throws {
        #expect(try render(1082, "2024-02-29") == #""2024-02-29""#)
        #expect(try render(1082, "0044-03-15 BC") == #""0044-03-15 BC""#)
        #expect(try render(1082, "-infinity") == #""-infinity""#)
        #expect(try render(1114, "2024-01-01 10:00:00.123") == #""2024-01-01T10:00:00.123""#)
        #expect(try render(1114, "294276-12-31 23:59:59.999999") == #""294276-12-31T23:59:59.999999""#)
        #expect(try render(1184, "0044-03-15 12:00:00.5+00 BC") == #""0044-03-15T12:00:00.5+00:00 BC""#)
        #expect(try render(1184, "2024-01-01 00:00:00+00") == #""2024-01-01T00:00:00+00:00""#)
        #expect(try render(1184, "infinity") == #""infinity""#)
    }

    @Test func refusesTextFromOtherSessionSettings() {
        #expect { try render(1184, "2024-01-01 05:30:00+05:30") } throws: { ($0 as? CacheContractError)?.code == .sessionSettings }
        #expect { try render(1184, "Mon Jan 01 00:00:00 2024 UTC") } throws: { ($0 as? CacheContractError)?.code == .invalidTextForm }
        #expect { try render(1082, "01/31/2024") } throws: { ($0 as? CacheContractError)?.code == .invalidTextForm }
        #expect { try render(1114, "2024-01-01T00:00:00") } throws: { ($0 as? CacheContractError)?.code == .invalidTextForm }
        #expect { try render(16, "true") } throws: { ($0 as? CacheContractError)?.code == .invalidTextForm }
    }

    @Test func normalizesJSONLikeJSONB() throws {
        let json = " {\"b\" : 1,\t\"a\":[1.0e2,-0, \"\\u00e9\\/\\u001f\\ud83d\\ude00\"],\n\"a\" : {\"y\":true, \"x\" :null}, \"\":[]} "
        #expect(try render(114, json) == #"{"": [], "a": {"x": null, "y": true}, "b": 1}"#)
        #expect(try render(114, #"["\u0041\b\u0008"]"#) == #"["A\b\b"]"#)
        #expect(try render(3802, #"{"a": 1, "b": [1.50, "x"]}"#) == #"{"a": 1, "b": [1.50, "x"]}"#)
        #expect(try render(114, "1E400") == "1" + String(repeating: "0", count: 400))
        #expect(try render(114, #""s""#) == #""s""#)
        for invalid in [#""\u0000""#, #""\ud800""#, #""\udc00x""#, "[1,]", "{\"a\" 1}", "01", "\"a\u{1}\"", "[1] x", "nul"] {
            #expect(throws: CacheContractError.self, "\(invalid)") { try render(114, invalid) }
        }
        let deep = String(repeating: "[", count: 600) + String(repeating: "]", count: 600)
        #expect(throws: CacheContractError.self) { try render(114, deep) }
    }

    @Test func rendersArrays() throws {
        #expect(try render(1007, "{}") == "[]")
        #expect(try render(1007, "{{1,2},{3,NULL}}") == "[[1, 2], [3, null]]")
        #expect(try render(1007, "[0:2]={1,2,3}") == "[1, 2, 3]")
        #expect(try render(1009, #"{"",NULL,"NULL","a,b","c\"d","e\\f",null," x"}"#) == #"["", null, "NULL", "a,b", "c\"d", "e\\f", "null", " x"]"#)
        #expect(try render(1185, #"{"2024-01-01 00:00:00+00",NULL}"#) == #"["2024-01-01T00:00:00+00:00", null]"#)
        #expect(try render(199, #"{"{\"b\":1,\"a\":2}","[ ]",null}"#) == #"[{"a": 2, "b": 1}, [], null]"#)
        #expect(try render(1000, "{t,f,NULL}") == "[true, false, null]")
        #expect(try render(1022, "{NaN,-0,1e+300}") == #"["NaN", 0, 1"# + String(repeating: "0", count: 300) + "]")
        #expect(try render(1020, "{(1,1),(0,0);(2,2),(1,1)}") == #"["(1,1),(0,0)", "(2,2),(1,1)"]"#)
        #expect(try render(1007, "{{{1},{2}},{{3},{4}}}") == "[[[1], [2]], [[3], [4]]]")
        for invalid in ["", "{", "{1,2", "{1,,2}", "1,2", "{1}x", #"{"a}"#] {
            #expect(throws: CacheContractError.self, "\(invalid)") { try render(1007, invalid) }
        }
    }

    @Test func refusesColumnsTheStreamDidNotSend() {
        let toast = NamedColumn(name: "body", typeOID: 25, isKey: false, value: .unchangedToast)
        let binary = NamedColumn(name: "n", typeOID: 23, isKey: false, value: .binary(ByteBuffer(bytes: [0, 0, 0, 1])))
        #expect { try CanonicalJSON.row([column("id", 23, "1"), toast]) } throws: {
            ($0 as? CacheContractError)?.code == .unrenderableColumn && ($0 as? CacheContractError)?.context == "body"
        }
        #expect { try CanonicalJSON.row([binary]) } throws: { ($0 as? CacheContractError)?.code == .unrenderableColumn }
    }

    @Test func rowsAreTheRenderedValueTree() throws {
        let numbers = ["0", "-0", "-0.00", "0.50", "12.50", "-12.5", "1e+100", "1.5e-3", "NaN", "-Infinity", "123456789012345678901234567890.000001"]
        for (index, number) in numbers.enumerated() {
            let columns = [
                column("total", 1700, number), column("name", 25, "é\"\n\u{1}x"), column("at", 1184, "2024-01-31 10:00:00.5+00"),
                column("paid", 16, index % 2 == 0 ? "t" : "f"), column("id", 23, String(index)), column("note", 25, nil), column("tags", 1009, "{a,\"b c\"}"),
            ]
            let members = try columns.map { JSONObject.Member(key: $0.name, value: try CanonicalJSON.value(of: $0).value) }
            let tree = CanonicalJSON.render(.object(JSONObject(members: members)))
            #expect(try CanonicalJSON.row(columns).json == tree, "numeric text \(number)")
            let layout = RowLayout(names: columns.map(\.name), typeOIDs: columns.map(\.typeOID))
            #expect(CanonicalJSON.row(columns.map(\.value), layout: layout)?.json == tree, "with a layout: numeric text \(number)")
        }
    }

    @Test func aLayoutLeavesUnusualRowsToTheGeneralPath() throws {
        let layout = RowLayout(names: ["id", "mood", "body"], typeOIDs: [23, 99_999, 25])
        let row = CanonicalJSON.row([.text(ByteBuffer(string: "1")), .text(ByteBuffer(string: "happy")), .null], layout: layout)
        #expect(row == (try CanonicalJSON.row([column("id", 23, "1"), column("mood", 99_999, "happy"), column("body", 25, nil)])))
        #expect(row?.unverifiedColumns == ["mood"])
        #expect(CanonicalJSON.row([.text(ByteBuffer(string: "1")), .null, .unchangedToast], layout: layout) == nil)
        #expect(CanonicalJSON.row([.text(ByteBuffer(string: "x")), .null, .null], layout: layout) == nil, "not an integer")
        let twice = RowLayout(names: ["a", "a"], typeOIDs: [23, 23])
        #expect(CanonicalJSON.row([.text(ByteBuffer(string: "1")), .text(ByteBuffer(string: "2"))], layout: twice) == nil)
    }

    @Test func reportsUnknownTypesAsUnverified() throws {
        let row = try CanonicalJSON.row([column("id", 23, "1"), column("mood", 99_999, "happy"), column("gone", 99_998, nil)])
        #expect(row.json == #"{"id": 1, "gone": null, "mood": "happy"}"#)
        #expect(row.unverifiedColumns == ["mood"])
        var types = PostgresTypes.builtin
        types.register(99_999, as: .string)
        #expect(try CanonicalJSON.row([column("mood", 99_999, "happy")], types: types).isVerified)
    }

    @Test func canonicalObjectsAndParsing() throws {
        #expect(CanonicalJSON.object(["b": .string("x"), "aa": .null, "a": .array([.bool(true), .integer(-3)])]) == #"{"a": [true, -3], "b": "x", "aa": null}"#)
        #expect(CanonicalJSON.object([:]) == "{}")
        let parsed = try CanonicalJSON.parse(#"{"k": 1, "k": 2}"#)
        #expect(CanonicalJSON.render(parsed) == #"{"k": 2}"#)
        let parameters = try CanonicalParameters(json: #"{ "page":2 , "category":7 }"#)
        #expect(parameters == CanonicalParameters(["category": .integer(7), "page": .integer(2)]))
        #expect(throws: CacheContractError.self) { try CanonicalParameters(json: "[1]") }
    }
}
