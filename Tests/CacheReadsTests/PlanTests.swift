@testable import CacheReads
import CacheContract
import CacheWarmer
import PGOutput
import Testing

/// The pure parts: consistency spellings, `$name` rewriting, keys and fences of a lookup.
@Suite struct PlanTests {
    @Test func consistencySpellings() {
        #expect(Consistency(parsing: "eventual") == .eventual)
        #expect(Consistency(parsing: "strong") == .strong)
        #expect(Consistency(parsing: "ryw:16/B374D848") == .readYourWrites(LSN(0x16_B374_D848)))
        #expect(Consistency(parsing: "ryw:00000016B374D848") == .readYourWrites(LSN(0x16_B374_D848)))
        #expect(Consistency(parsing: "bounded:2.5") == .boundedStaleness(2.5))
        #expect(Consistency(parsing: "bounded:-1") == nil)
        #expect(Consistency(parsing: "ryw:nope") == nil)
        #expect(Consistency(parsing: "fast") == nil)
        for level in [Consistency.eventual, .strong, .boundedStaleness(3), .readYourWrites(LSN(0x1_0000_0020))] {
            #expect(Consistency(parsing: level.description) == level)
        }
    }

    @Test func parameterNamesBecomePositionsLongestNameFirst() {
        let (sql, order) = QueryPlan.rewrite(
            "SELECT $offset, $off, $category, $off, $1, $unknown, '$tag$'", parameters: ["off", "offset", "category"])
        #expect(sql == "SELECT $1, $2, $3, $2, $1, $unknown, '$tag$'")
        #expect(order == ["offset", "off", "category"])
    }

    @Test func aCatalogLookupHasItsQueryAndCategoryFences() throws {
        let query = QueryConfiguration(
            name: "catalog-page", sql: "SELECT id FROM \"Product\" WHERE category = $category LIMIT 20 OFFSET $offset;",
            parameters: ["category", "offset"],
            dependsOn: [.init(table: TableName(schema: "public", name: "Product"), match: (parameter: "category", column: "category"))])
        let plan = try QueryPlan(query, keys: CacheKeys(), ttl: CacheTTL())
        let lookup = try plan.lookup(["category": .string("a:b"), "offset": .integer(0)])
        #expect(lookup.entry == "cw:q:catalog-page:" + CanonicalParameters(["category": .string("a:b"), "offset": .integer(0)]).hash)
        #expect(lookup.fences.map(\.key) == ["cw:fence:catalog-page", "cw:fence:catalog-page:category=a%3Ab"])
        #expect(lookup.query.sql == "SELECT coalesce(jsonb_agg(to_jsonb(q)), '[]'::jsonb)::text FROM (SELECT id FROM \"Product\" WHERE category = $1 LIMIT 20 OFFSET $2) q")
        #expect(lookup.query.binds.count == 2)
        #expect(throws: CacheReadsError.self) { try plan.lookup(["category": .string("x")]) }
        #expect(throws: CacheReadsError.self) { try plan.lookup(["category": .string("x"), "offset": .integer(0), "page": .integer(1)]) }
    }

    @Test func anEntityLookupUsesTheRowKeyAndTheEntityFence() throws {
        let entity = EntityConfiguration(name: "line_item", table: TableName(schema: "public", name: "LineItem"), key: ["orderId", "line"])
        let plan = try EntityPlan(entity, keys: CacheKeys(), ttl: CacheTTL())
        let lookup = try plan.lookup([KeyPart(7), KeyPart("x:y")])
        #expect(lookup.entry == "cw:line_item:7:x%3Ay")
        #expect(lookup.fences.map(\.key) == ["cw:fence:line_item"])
        #expect(lookup.query.sql == #"SELECT to_jsonb(t)::text FROM "public"."LineItem" t WHERE t."orderId" = $1 AND t."line" = $2"#)
        #expect(throws: CacheReadsError.self) { try plan.lookup([KeyPart(7)]) }
    }
}

/// Key parts respelled as the worker prints their column's type.
@Suite struct KeyTypesTests {
    @Test func uuidsAndIntegersAreRespelledOthersKept() {
        #expect(KeyTypes.canonical(KeyPart("6F9619FF-8B86-D011-B42D-00CF4FC964FF"), type: "uuid").text == "6f9619ff-8b86-d011-b42d-00cf4fc964ff")
        #expect(KeyTypes.canonical(KeyPart("{6F9619FF-8B86-D011-B42D-00CF4FC964FF}"), type: "uuid").text == "{6F9619FF-8B86-D011-B42D-00CF4FC964FF}")
        #expect(KeyTypes.canonical(KeyPart("042"), type: "int4").text == "42")
        #expect(KeyTypes.canonical(KeyPart("+42"), type: "int8").text == "42")
        #expect(KeyTypes.canonical(KeyPart("-007"), type: "int2").text == "-7")
        #expect(KeyTypes.canonical(KeyPart(" 42"), type: "int4").text == " 42")
        #expect(KeyTypes.canonical(KeyPart("042"), type: "text").text == "042")
        let types = KeyTypes()
        #expect(types.canonical("e", [KeyPart("042")]) == [KeyPart("042")], "types not known yet: as given")
        types.record("e", ["int4", "text"])
        #expect(types.canonical("e", [KeyPart("042"), KeyPart("042")]) == [KeyPart("42"), KeyPart("042")])
    }
}
