import RedisCache
import Testing

/// Every kind of RESP reply, copied out of hiredis correctly.
@Suite struct ReplyTests {
    @Test func statusIntegerNilAndBinaryString() throws {
        let connection = try RedisConnection(url: try stackURL())
        let key = uniquePrefix()
        let binary: [UInt8] = [0, 255, 13, 10, 36, 42, 0xE2, 0x9C, 0x93]
        let replies = try connection.pipeline([
            ["PING"], ["INCRBY", "\(key):n", "-7"], ["GET", "\(key):missing"],
        ]) + [try connection.command([Array("SET".utf8), Array(key.utf8), binary]), try connection.command(["GET", key])]
        #expect(replies == [.status("PONG"), .integer(-7), .null, .status("OK"), .string(binary)])
        _ = try connection.command(["DEL", key, "\(key):n"])
    }

    @Test func nestedArraysWithNilsAndEmptyArrays() throws {
        let connection = try RedisConnection(url: try stackURL())
        let reply = try connection.command(["EVAL", "return {1, {2, {3, 'x', {}}}, false, 'y'}", "0"])
        #expect(reply == .array([
            .integer(1),
            .array([.integer(2), .array([.integer(3), .string(Array("x".utf8)), .array([])])]),
            .null,
            .string(Array("y".utf8)),
        ]))
        let key = uniquePrefix()
        #expect(try connection.command(["MGET", key, "\(key):missing"]) == .array([.null, .null]))
        let stream = try connection.pipeline([
            ["XADD", key, "1-1", "field", "value"], ["XRANGE", key, "-", "+"], ["DEL", key],
        ])
        #expect(stream[1] == .array([.array([.string(Array("1-1".utf8)), .array([.string(Array("field".utf8)), .string(Array("value".utf8))])])]))
    }

    @Test func errorInTheMiddleOfAPipelineHidesNothing() throws {
        let connection = try RedisConnection(url: try stackURL())
        let key = uniquePrefix()
        let replies = try connection.pipeline([
            ["SET", key, "not a number", "EX", "60"],
            ["INCR", key],
            ["GET", key],
            ["LPUSH", key, "x"],
            ["NO-SUCH-COMMAND"],
            ["PING"],
        ])
        #expect(replies.count == 6)
        #expect(replies[0] == .status("OK"))
        guard case .error(let notInteger) = replies[1], case .error(let wrongType) = replies[3], case .error(let unknown) = replies[4] else {
            Issue.record("expected error replies at 1, 3 and 4: \(replies)")
            return
        }
        #expect(notInteger.hasPrefix("ERR"))
        #expect(wrongType.hasPrefix("WRONGTYPE"))
        #expect(unknown.contains("unknown command"))
        #expect(replies[2] == .string(Array("not a number".utf8)))
        #expect(replies[5] == .status("PONG"))
        #expect(!connection.isBroken)
    }
}
