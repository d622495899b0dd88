import CacheContract
import NIOCore
import PGOutput
import TestSupport
import Testing

/// Key rendering: byte-exact strings and escape safety.
@Suite struct CacheKeysTests {
    let keys = CacheKeys()

    @Test func rendersEveryKindOfKey() throws {
        let order = try EntityName("order")
        let query = try CacheName("catalog-page")
        let parameters = CanonicalParameters(["category": .integer(7), "page": .integer(2)])
        #expect(try keys.row(order, key: [KeyPart(42)]) == "cw:order:42")
        #expect(keys.row(order, KeyPart("a:b")) == "cw:order:a%3Ab")
        #expect(try keys.row(try EntityName("line_item"), key: [KeyPart(7), KeyPart("x")]) == "cw:line_item:7:x")
        #expect(parameters.json == #"{"page": 2, "category": 7}"#)
        #expect(keys.derived(query, parameters) == "cw:q:catalog-page:ac7051c56f3eaf10ffb0af8ffda65a9f")
        #expect(keys.queryFence(query) == FenceKey(key: "cw:fence:catalog-page", members: "cw:fmem:catalog-page"))
        #expect(
            keys.parameterFence(query, try CacheName("category"), KeyPart("a=b:c%"))
                == FenceKey(key: "cw:fence:catalog-page:category=a%3Db%3Ac%25", members: "cw:fmem:catalog-page:category=a%3Db%3Ac%25"))
        #expect(keys.hot(query) == "cw:hot:catalog-page")
        #expect(keys.checkpoint == "cw:meta:checkpoint")
        #expect(keys.epoch == "cw:meta:epoch")
        #expect(keys.floor == "cw:meta:floor")
        let tagged = CacheKeys(namespace: try CacheNamespace("{shop}"))
        #expect(tagged.row(order, KeyPart(1)) == "{shop}:order:1")
    }

    @Test func compositeKeysAreEscapeSafe() throws {
        let entity = try EntityName("pair")
        let left = try keys.row(entity, key: [KeyPart("a:b"), KeyPart("c")])
        let right = try keys.row(entity, key: [KeyPart("a"), KeyPart("b:c")])
        #expect(left == "cw:pair:a%3Ab:c")
        #expect(right == "cw:pair:a:b%3Ac")
        #expect(left != right)
        // `%` is escaped too, so an already-escaped-looking text stays distinct.
        #expect(try keys.row(entity, key: [KeyPart("a%3Ab"), KeyPart("c")]) == "cw:pair:a%253Ab:c")
        #expect(keys.row(entity, KeyPart("é 😀\n")) == "cw:pair:é 😀\n")
        #expect(throws: CacheContractError.self) { try keys.row(entity, key: []) }
    }

    @Test func escapingIsInjectiveOnRandomParts() throws {
        let alphabet: [Character] = ["a", ":", "%", "=", "3", "A", "D", "2", "5"]
        var seen: [String: [String]] = [:]
        var generator = SplitMix64(seed: 7)
        let entity = try EntityName("e")
        for _ in 0..<3000 {
            let count = Int(generator.next() % 3) + 1
            let parts = (0..<count).map { _ in String((0..<Int(generator.next() % 4)).map { _ in alphabet[Int(generator.next() % UInt64(alphabet.count))] }) }
            let key = try keys.row(entity, key: parts.map(KeyPart.init))
            if let previous = seen[key] {
                #expect(previous == parts, "\(previous) and \(parts) both render \(key)")
            }
            seen[key] = parts
        }
    }

    @Test func keyPartsOfValuesAndColumns() throws {
        #expect(KeyPart(.number(try JSONNumber("1.50"))).text == "1.5")
        #expect(KeyPart(.number(try JSONNumber("-0.0"))).text == "0")
        #expect(KeyPart(.bool(true)).text == "true")
        #expect(KeyPart(.null).text == "null")
        #expect(KeyPart(.array([.integer(1), .string("x")])).text == #"[1, "x"]"#)
        let column = NamedColumn(name: "at", typeOID: 1184, isKey: true, value: .text(ByteBuffer(string: "2024-01-31 10:00:00.5+00")))
        #expect(try KeyPart(column: column).text == "2024-01-31T10:00:00.5+00:00")
        let numeric = NamedColumn(name: "n", typeOID: 1700, isKey: true, value: .text(ByteBuffer(string: "12.500")))
        #expect(try KeyPart(column: numeric).text == "12.5")
        // Text and integer columns take a shorter path to the same text as through their JSON value.
        for (oid, text) in [(25, "ord_00000001"), (25, "a:b=%"), (25, "é😀"), (23, "-42"), (20, "0"), (1700, "-0"), (1700, "-0.00"), (701, "1e+100")] as [(UInt32, String)] {
            let column = NamedColumn(name: "k", typeOID: oid, isKey: true, value: .text(ByteBuffer(string: text)))
            #expect(try KeyPart(column: column) == KeyPart(CanonicalJSON.value(of: column).value), "\(oid) \(text)")
        }
    }

    @Test(arguments: ["", "has space", "a:b", "x=y", "p%", String(repeating: "n", count: 101), "é"])
    func refusesInvalidNames(name: String) {
        #expect(throws: CacheContractError.self) { try CacheName(name) }
    }

    @Test(arguments: ["q", "fence", "fmem", "hot", "meta"])
    func reservedWordsAreNotEntities(name: String) throws {
        #expect(throws: CacheContractError.self) { try EntityName(name) }
        _ = try CacheName(name)
    }

    @Test func namespacesAllowHashTagsOnly() throws {
        _ = try CacheNamespace("cw")
        _ = try CacheNamespace("{cw}")
        #expect(throws: CacheContractError.self) { try CacheNamespace("cw:prod") }
        #expect(throws: CacheContractError.self) { try CacheNamespace("") }
        #expect(CacheNamespace.standard.rawValue == "cw")
    }
}
