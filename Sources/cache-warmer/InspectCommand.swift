import ArgumentParser
import CacheContract
import CacheWarmer
import Foundation
import Logging
import PGOutput
import RedisCache

/// `cache-warmer inspect`: one cache entry as the contract sees it.
struct InspectCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inspect",
        abstract: "Show a cache entry: state, version, epoch, TTL, covering fences, and whether a read accepts it now.",
        discussion: """
            `inspect order 42` (an entity's key values in key order), `inspect catalog-page
            category=books offset=0` (a query's parameters, as for `get`), or `inspect --key cw:order:42`.
            """
    )

    @OptionGroup var common: CommonOptions

    @Argument(help: "An entity or query name, then key values or name=value parameters.")
    var arguments: [String] = []

    @Option(help: "A Redis key to inspect as is.")
    var key: String?

    @Flag(help: "Print one JSON object.")
    var json = false

    func run() async throws {
        let logger = common.bootstrapLogging()
        if key == nil && arguments.isEmpty { throw ValidationError("give an entity or query name with its key or parameters, or --key") }
        if key != nil && !arguments.isEmpty { throw ValidationError("--key excludes a name and values") }
        let lines: [(String, String)]
        do {
            let configuration = try common.load()
            let keys = CacheKeys(namespace: try CacheNamespace(configuration.namespace))
            let (entry, fences) = try await Self.resolve(configuration, keys: keys, arguments: arguments, key: key, logger: logger)
            guard let redisText = configuration.redisURL else { throw ValidationError("redis_url is required (or set REDIS_URL)") }
            let redis = try RedisClient(url: try RedisURL(redisText))
            let commands = CacheCommands(keys: keys)
            let reply = try await redis.evaluate([commands.read(entry, fences: fences)])
            let read = try CacheRead(reply: reply[0])
            var commandsToRun = [["PTTL", entry]]
            commandsToRun += fences.map { ["HMGET", $0.key, "lsn", "epoch"] }
            let replies = try await redis.pipeline(commandsToRun)
            lines = Self.describe(entry: entry, read: read, ttl: replies[0].integer, fences: zip(fences, replies.dropFirst()).map { ($0.key, $1) })
            await redis.close()
        } catch let error as ValidationError {
            throw error
        } catch {
            throw ExitCodes.fail(error)
        }
        if json {
            print("{" + lines.map { "\"\($0.0)\": \($0.1.hasPrefix("[") || $0.1 == "true" || $0.1 == "false" || $0.1 == "null" || Int64($0.1) != nil ? $0.1 : "\"\(Self.escape($0.1))\"")" }.joined(separator: ", ") + "}")
        } else {
            for (name, value) in lines { print("\(name.padding(toLength: 14, withPad: " ", startingAt: 0)) \(value)") }
        }
    }

    /// The entry key and its covering fences for the arguments.
    /// Entity key values are read as their columns' types by the database first (`1.50` names
    /// the entry `1.5` does, an upper-case uuid the lower-case one), as the worker names rows.
    static func resolve(_ configuration: WorkerConfiguration, keys: CacheKeys, arguments: [String], key: String?, logger: Logger) async throws -> (String, [FenceKey]) {
        let prefix = keys.namespace.rawValue + ":"
        if let key {
            let rest = key.hasPrefix(prefix) ? String(key.dropFirst(prefix.count)) : ""
            let segments = rest.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
            if segments.first == "q", segments.count >= 2, let name = try? CacheName(segments[1]) {
                // Parameter fences need the parameters, which the key only hashes: the query fence alone.
                return (key, [keys.queryFence(name)])
            }
            if let first = segments.first, configuration.entities.contains(where: { $0.name == first }), let name = try? EntityName(first) {
                return (key, [keys.entityFence(name)])
            }
            return (key, [])
        }
        let name = arguments[0]
        let values = Array(arguments.dropFirst())
        if let entity = configuration.entities.first(where: { $0.name == name }) {
            guard values.count == entity.key.count else {
                throw ValidationError("entity '\(name)' has \(entity.key.count) key column(s) (\(entity.key.joined(separator: ", "))), got \(values.count) value(s)")
            }
            let entityName = try EntityName(name)
            let entry = try await CanonicalKeyLookup.rowKey(entity, values: values, configuration: configuration, logger: logger)
            return (entry, [keys.entityFence(entityName)])
        }
        if let query = configuration.queries.first(where: { $0.name == name }) {
            let parameters = try GetCommand.parameters(values)
            let queryName = try CacheName(name)
            var fences = [keys.queryFence(queryName)]
            var seen: Set<String> = []
            for rule in query.dependsOn {
                if let match = rule.match, seen.insert(match.parameter).inserted, let value = parameters[match.parameter] {
                    fences.append(keys.parameterFence(queryName, try CacheName(match.parameter), KeyPart(value)))
                }
            }
            return (keys.derived(queryName, CanonicalParameters(parameters)), fences)
        }
        let known = (configuration.entities.map(\.name) + configuration.queries.map(\.name)).sorted()
        throw ValidationError("'\(name)' is no configured entity or query (\(known.joined(separator: ", ")))")
    }

    static func describe(entry: String, read: CacheRead, ttl: Int64?, fences: [(String, RedisReply)]) -> [(String, String)] {
        var lines: [(String, String)] = [("key", entry)]
        switch read.state {
        case .missing: lines.append(("state", "missing"))
        case .value(let payload): lines += [("state", "value"), ("value", payload)]
        case .tombstone: lines.append(("state", "tombstone"))
        case .invalidated: lines.append(("state", "marker"))
        }
        lines.append(("version", read.lsn.map(\.description) ?? "null"))
        lines.append(("epoch", read.epoch.map(String.init) ?? "null"))
        lines.append(("current_epoch", read.currentEpoch.map(String.init) ?? "null"))
        lines.append(("epoch_current", read.epoch != nil && read.epoch == read.currentEpoch ? "true" : "false"))
        lines.append(("ttl_ms", ttl.map { $0 >= 0 ? String($0) : "null" } ?? "null"))
        for (key, reply) in fences {
            var text = "none"
            if case .array(let parts) = reply, parts.count == 2, let lsn = parts[0].text.flatMap({ LSN(sortableString: $0) }) {
                let epoch = parts[1].text ?? "?"
                text = "\(lsn) (epoch \(epoch)\(epoch == read.currentEpoch.map(String.init) ? "" : ", not current"))"
            }
            lines.append(("fence", "\(key) \(text)"))
        }
        lines.append(("max_fence", read.maxFence.map(\.description) ?? "null"))
        lines.append(("checkpoint", read.checkpoint.map(\.description) ?? "null"))
        lines.append(("read_accepts", read.isValid ? "true" : "false"))
        return lines
    }

    static func escape(_ text: String) -> String {
        CanonicalJSON.render(.string(text)).dropFirst().dropLast().description
    }
}
