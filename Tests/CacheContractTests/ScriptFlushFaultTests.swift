import CacheContract
import PGOutput
import RedisCache
import Testing

/// `SCRIPT FLUSH` empties the shared Redis' script cache, which every other test uses: this
/// suite runs alone (`make test` runs suites named `*FaultTests` after the others).
@Suite struct ScriptFlushFaultTests {
    /// After `SCRIPT FLUSH` (what a restart or failover does), calls still work: the NOSCRIPT
    /// replies make `evaluate` load the scripts and send the calls again.
    @Test func reloadsScriptsAfterScriptFlush() throws {
        let cache = try RedisFixture()
        let epoch = try cache.beginEpoch()
        let entity = try EntityName("order")
        _ = try cache.redis.command(["SCRIPT", "FLUSH"])
        let calls = (0..<5).map { index in
            cache.commands.setRow(cache.keys.row(entity, KeyPart(index)), row: "{}", lsn: LSN(UInt64(index + 1)), epoch: epoch)
        } + [cache.commands.read(cache.keys.row(entity, KeyPart(0)))]
        let replies = try cache.redis.evaluate(calls)
        #expect(try replies.prefix(5).map { try WriteOutcome(reply: $0) } == Array(repeating: .written, count: 5))
        #expect(try CacheRead(reply: replies[5]).isValid)

        let unique = RedisScript(name: "never-loaded", source: "return ARGV[1] .. '\(cache.keys.namespace)'")
        #expect(try cache.redis.command(unique.call(keys: [], arguments: ["x"]).command) == .error("NOSCRIPT No matching script. Please use EVAL."))
        #expect(try cache.redis.evaluate(unique.call(keys: [], arguments: ["x"])).text == "x\(cache.keys.namespace)")
    }
}
