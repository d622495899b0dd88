import Foundation
import RedisCache
import Testing

/// Pipelines against the local stack's Redis: size, binary data, pre-built batches, throughput.
@Suite struct PipelineTests {
    @Test func tenThousandCommandsInOneBatch() throws {
        let connection = try RedisConnection(url: try stackURL())
        let prefix = uniquePrefix()
        let sets = (0..<10_000).map { ["SET", "\(prefix):\($0)", "value-\($0)", "EX", "60"] }
        let replies = try connection.pipeline(sets)
        #expect(replies.count == 10_000)
        #expect(replies.allSatisfy { $0 == .status("OK") })
        let values = try connection.pipeline((0..<10_000).map { ["GET", "\(prefix):\($0)"] })
        #expect(values == (0..<10_000).map { .string(Array("value-\($0)".utf8)) })
    }

    @Test func prebuiltBatchAndBinaryArguments() throws {
        let connection = try RedisConnection(url: try stackURL())
        let prefix = uniquePrefix()
        let allBytes = (0...255).map { UInt8($0) }
        let key = Array("\(prefix):bin\u{0}\r\n".utf8)
        var batch = RedisBatch()
        try batch.append([Array("SET".utf8), key, allBytes, Array("EX".utf8), Array("60".utf8)])
        try batch.append([Array("GET".utf8), key])
        try batch.append(["SET", "\(prefix):empty", "", "EX", "60"])
        try batch.append(["GET", "\(prefix):empty"])
        #expect(batch.count == 4)
        let replies = try connection.pipeline(batch)
        #expect(replies == [.status("OK"), .string(allBytes), .status("OK"), .string([])])
        #expect(try connection.command([Array("STRLEN".utf8), key]) == .integer(256))
    }

    @Test func megabyteValuesCrossManyReadsAndWrites() throws {
        let connection = try RedisConnection(url: try stackURL())
        let prefix = uniquePrefix()
        let value = (0..<(1 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        let commands: [[[UInt8]]] = (0..<8).map { [Array("SET".utf8), Array("\(prefix):\($0)".utf8), value, Array("EX".utf8), Array("60".utf8)] }
        #expect(try connection.pipeline(commands).allSatisfy { $0 == .status("OK") })
        let values = try connection.pipeline((0..<8).map { ["GET", "\(prefix):\($0)"] })
        #expect(values.allSatisfy { $0 == .string(value) })
    }

    @Test func emptyCommandIsRejectedBeforeSending() throws {
        let connection = try RedisConnection(url: try stackURL())
        let error = redisError { () throws(RedisError) in try connection.pipeline([["PING"], []]) }
        #expect(try #require(error, "an empty command was sent").code == .invalidCommand)
        #expect(try connection.command(["PING"]) == .status("PONG"))
        #expect(try connection.pipeline([[String]]()) == [])
    }

    /// Pipelining must beat one round trip per command by a wide margin (ratios from the same
    /// run; absolute rates vary with the machine and the build configuration).
    @Test func pipelinedBatchesBeatRoundTripsPerCommand() throws {
        let connection = try RedisConnection(url: try stackURL())
        let prefix = uniquePrefix()
        let single = 1_000
        let start = ContinuousClock.now
        for index in 0..<single {
            _ = try connection.command(["SET", "\(prefix):\(index % 100)", "x", "EX", "60"])
        }
        let singleSeconds = seconds(ContinuousClock.now - start)
        let batch = try RedisBatch((0..<10_000).map { ["SET", "\(prefix):\($0 % 1000)", "value-\($0)", "EX", "60"] })
        let rounds = 5
        let pipelineStart = ContinuousClock.now
        for _ in 0..<rounds {
            let replies = try connection.pipeline(batch)
            #expect(replies.count == batch.count)
        }
        let pipelineSeconds = seconds(ContinuousClock.now - pipelineStart)
        let singleRate = Double(single) / singleSeconds
        let pipelineRate = Double(rounds * batch.count) / pipelineSeconds
        print("redis SET: \(Int(singleRate)) commands/s one at a time, \(Int(pipelineRate)) commands/s in pipelines of \(batch.count)")
        #expect(pipelineRate > 3 * singleRate)
    }
}
