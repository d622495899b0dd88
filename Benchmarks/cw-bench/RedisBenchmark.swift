import ArgumentParser
import CacheContract
import Foundation
import PGOutput
import RedisCache

/// Pipelined set-if-newer (the worker's write) against `redis-benchmark -P 100 -t set` on the same server.
struct RedisBenchmark: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "redis",
        abstract: "Pipelined set-if-newer vs redis-benchmark's pipelined SET (goal: >= 0.5x)."
    )

    @Option(help: "Redis URL (default: REDIS_URL).")
    var redisURL = ProcessInfo.processInfo.environment["REDIS_URL"] ?? ""

    @Option(help: "Writes per run.")
    var operations = 200_000

    @Option(help: "Commands per pipeline.")
    var pipeline = 1000

    @Option(help: "Rounds (medians are reported).")
    var rounds = 3

    @Option(help: "redis-benchmark binary.")
    var redisBenchmark = "/usr/bin/redis-benchmark"

    @Option(help: "Where to write the JSON result.")
    var output = "bench-results/redis.json"

    func run() throws {
        guard !redisURL.isEmpty else { throw ValidationError("set REDIS_URL or --redis-url") }
        let url = try RedisURL(redisURL)
        let connection = try RedisConnection(url: url)
        let keys = CacheKeys(namespace: try CacheNamespace("bench-\(UInt32.random(in: 0...UInt32.max))"))
        let commands = CacheCommands(keys: keys)
        // Loaded before timing, so no timed pipeline pays a NOSCRIPT round.
        for script in [CacheScripts.setIfNewer, CacheScripts.writeManyIfNewer, RedisBenchmark.floorScript] {
            try connection.load(script)
        }
        let epochReply = try connection.evaluate([commands.beginEpoch(proposed: 1, floor: .zero)])
        guard let epoch = try CacheEpoch.parse(epochReply[0]) else { throw ValidationError("begin-epoch failed: \(epochReply)") }
        let row = #"{"id": 1, "note": "benchmark row of about one hundred bytes", "status": "paid", "userId": 42}"#
        var scriptRates: [Double] = []
        var manyRates: [Double] = []
        var setRates: [Double] = []
        var floorRates: [Double] = []
        let entity = try EntityName("order")
        for round in 0..<rounds {
            let calls = (0..<operations).map { index in
                commands.setRow(keys.row(entity, KeyPart(index)), row: row, lsn: LSN(UInt64(round * operations + index + 1)), epoch: epoch)
            }
            let start = ContinuousClock.now
            var offset = 0
            while offset < calls.count {
                let replies = try connection.evaluate(Array(calls[offset..<min(offset + pipeline, calls.count)]))
                guard replies.allSatisfy({ $0.integer == 1 }) else { throw ValidationError("set-if-newer refused a write: \(replies.first { $0.integer != 1 }!)") }
                offset += pipeline
            }
            scriptRates.append(Double(operations) / (ContinuousClock.now - start).seconds)
            manyRates.append(try batchedRate(connection, commands: commands, keys: keys, row: row, epoch: epoch, round: round))
            floorRates.append(try floorRate(connection, keys: keys, row: row))
            setRates.append(try redisBenchmarkRate(url))
        }
        try RedisNamespace.remove(keys.namespace.rawValue, url: url)
        let script = scriptRates.sorted()[rounds / 2]
        let many = manyRates.sorted()[rounds / 2]
        let set = setRates.sorted()[rounds / 2]
        let floor = floorRates.sorted()[rounds / 2]
        try BenchmarkResult(
            name: "redis-set-if-newer",
            parameters: ["operations": "\(operations)", "pipeline": "\(pipeline)", "rounds": "\(rounds)", "redis-benchmark": "-P 100 -t set -d 100"],
            rows: [
                .init(label: "set-if-newer, one EVALSHA per write, pipelined", value: script, unit: "writes/s"),
                .init(label: "write-many-if-newer, 200 writes per EVALSHA (the worker's path)", value: many, unit: "writes/s"),
                .init(label: "redis-benchmark SET -P 100", value: set, unit: "writes/s"),
                .init(label: "set-if-newer / SET", value: script / set, unit: "ratio"),
                .init(label: "write-many-if-newer / SET (goal >= 0.5)", value: many / set, unit: "ratio"),
                .init(label: "Lua floor: one unchecked SET PX per entry, 200 per script run", value: floor, unit: "writes/s"),
                .init(label: "Lua floor / SET (the most any per-key script write reaches)", value: floor / set, unit: "ratio"),
            ]
        ).report(to: output)
    }

    /// The worker's path: `write-many-if-newer` calls of 200 entries, `pipeline` entries per pipeline.
    private func batchedRate(_ connection: RedisConnection, commands: CacheCommands, keys: CacheKeys, row: String, epoch: Int64, round: Int) throws -> Double {
        let entity = try EntityName("batched")
        let base = UInt64(round * operations)
        let entries = (0..<operations).map { index in
            CacheCommands.EntryWrite(key: keys.row(entity, KeyPart(index)), kind: .row, lsn: LSN(base + UInt64(index) + 1), ttl: .seconds(3600), row: row)
        }
        let calls = stride(from: 0, to: entries.count, by: 200).map { offset in
            commands.writeMany(Array(entries[offset..<min(offset + 200, entries.count)]), epoch: epoch)
        }
        let callsPerPipeline = max(1, pipeline / 200)
        let start = ContinuousClock.now
        var offset = 0
        while offset < calls.count {
            let replies = try connection.evaluate(Array(calls[offset..<min(offset + callsPerPipeline, calls.count)]))
            for reply in replies {
                guard try WriteOutcome.many(reply: reply, count: 200).allSatisfy({ $0 == .written }) else { throw ValidationError("write-many refused a write") }
            }
            offset += callsPerPipeline
        }
        return Double(operations) / (ContinuousClock.now - start).seconds
    }

    private static let floorScript = RedisScript(name: "bench-floor", source: """
        for i = 1, #KEYS do redis.call('SET', KEYS[i], ARGV[i], 'PX', 3600000) end
        return #KEYS
        """)

    /// What no script that writes each key can beat: one `SET ... PX` per entry and nothing
    /// else (no read, no check), 200 entries per run, batched like the worker's path.
    private func floorRate(_ connection: RedisConnection, keys: CacheKeys, row: String) throws -> Double {
        let script = RedisBenchmark.floorScript
        let entity = try EntityName("floor")
        let calls = stride(from: 0, to: operations, by: 200).map { offset in
            let range = offset..<min(offset + 200, operations)
            return script.call(keys: range.map { keys.row(entity, KeyPart($0)) }, arguments: range.map { _ in row })
        }
        let callsPerPipeline = max(1, pipeline / 200)
        let start = ContinuousClock.now
        var offset = 0
        while offset < calls.count {
            let replies = try connection.evaluate(Array(calls[offset..<min(offset + callsPerPipeline, calls.count)]))
            guard replies.allSatisfy({ $0.integer != nil }) else { throw ValidationError("the floor script failed: \(replies)") }
            offset += callsPerPipeline
        }
        return Double(operations) / (ContinuousClock.now - start).seconds
    }

    private func redisBenchmarkRate(_ url: RedisURL) throws -> Double {
        let process = Process()
        let pipe = Pipe()
        process.executableURL = URL(fileURLWithPath: redisBenchmark)
        var arguments = ["-h", url.host, "-p", "\(url.port)", "-P", "100", "-t", "set", "-n", "\(operations)", "-d", "100", "-r", "100000", "-q", "--csv"]
        if let password = url.password { arguments += ["-a", password] }
        if let user = url.user { arguments += ["--user", user] }
        process.arguments = arguments
        process.standardOutput = pipe
        process.standardError = FileHandle.nullDevice
        try process.run()
        let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        // CSV: "test","rps",...
        guard let line = output.split(separator: "\n").first(where: { $0.hasPrefix("\"SET\"") }),
            let rate = Double(line.split(separator: ",")[1].trimmingCharacters(in: CharacterSet(charactersIn: "\"")))
        else { throw ValidationError("cannot read redis-benchmark's output: \(output)") }
        return rate
    }
}
