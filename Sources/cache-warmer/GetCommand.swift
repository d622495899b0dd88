import ArgumentParser
import CacheContract
import CacheReads
import Foundation

/// `cache-warmer get`: reads one entity row or cached query result through the cache, as a
/// service using the `CacheReads` library would, and prints it with its source, LSN and the
/// reader's lag.
struct GetCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "get",
        abstract: "Read an entity row or a cached query through the cache.",
        discussion: """
            Entities take their key values in key order: `get order 42`.
            Queries take name=value parameters; a value that is a JSON number, true, false or null
            is bound as such, anything else as a string: `get catalog-page category=books offset=0`.
            """
    )

    @OptionGroup var common: CommonOptions

    @Argument(help: "An entity or query name from the configuration.")
    var name: String

    @Argument(help: "Key values (entity) or name=value parameters (query).")
    var arguments: [String] = []

    @Option(help: "eventual, ryw:<lsn>, bounded:<seconds> or strong.")
    var consistency: String = "eventual"

    @Flag(help: "Print one JSON object instead of lines.")
    var json = false

    func run() async throws {
        let logger = common.bootstrapLogging()
        guard let level = Consistency(parsing: consistency) else {
            throw ValidationError("--consistency must be eventual, ryw:<lsn>, bounded:<seconds> or strong, not '\(consistency)'")
        }
        let result: ReadResult
        let readers: [ReaderStatus]
        do {
            let configuration = CacheReadsConfiguration(worker: try common.load())
            let reads = try CacheReads(configuration: configuration, logger: logger)
            let isEntity = configuration.worker.entities.contains { $0.name == name }
            guard isEntity || configuration.worker.queries.contains(where: { $0.name == name }) else {
                let names = (configuration.worker.entities.map(\.name) + configuration.worker.queries.map(\.name)).sorted()
                throw ValidationError("'\(name)' is no configured entity or query (\(names.joined(separator: ", ")))")
            }
            let parameters = try isEntity ? [:] : Self.parameters(arguments)
            (result, readers) = try await withThrowingTaskGroup(of: (ReadResult, [ReaderStatus])?.self) { group in
                group.addTask {
                    try await reads.run()
                    return nil
                }
                defer { group.cancelAll() }
                try await Task.sleep(for: .milliseconds(20))  // let the pools start before the first lease
                await reads.probeReaders()
                let result = isEntity
                    ? try await reads.row(entity: name, key: arguments.map { KeyPart($0) }, consistency: level)
                    : try await reads.query(name, parameters: parameters, consistency: level)
                return (result, reads.readerStatus)
            }
        } catch let error as ValidationError {
            throw error
        } catch {
            throw ExitCodes.fail(error)
        }
        print(json ? Self.json(result, readers) : Self.lines(result, readers))
    }

    static func parameters(_ arguments: [String]) throws -> [String: JSONValue] {
        var parameters: [String: JSONValue] = [:]
        for argument in arguments {
            guard let equals = argument.firstIndex(of: "=") else {
                throw ValidationError("query parameters are name=value, not '\(argument)'")
            }
            let text = String(argument[argument.index(after: equals)...])
            var value = JSONValue.string(text)
            if let parsed = try? CanonicalJSON.parse(text) {
                switch parsed {
                case .number, .bool, .null: value = parsed
                default: break
                }
            }
            parameters[String(argument[..<equals])] = value
        }
        return parameters
    }

    /// The lag of the reader that answered, else of the least lagging healthy reader.
    static func lag(_ result: ReadResult, _ readers: [ReaderStatus]) -> Double? {
        result.readerLag ?? readers.filter(\.isHealthy).compactMap(\.lag).min()
    }

    static func lines(_ result: ReadResult, _ readers: [ReaderStatus]) -> String {
        var lines = ["value:  \(result.value ?? "(not found)")", "source: \(result.source.rawValue)", "lsn:    \(result.lsn.map(\.description) ?? "(unknown)")"]
        lines.append("lag:    " + (lag(result, readers).map { "\($0) s" } ?? "(no healthy reader)"))
        for reader in readers where !reader.isHealthy {
            lines.append("reader: \(reader.server) unhealthy: \(reader.problem ?? "?")")
        }
        if let fill = result.fill { lines.append("fill:   \(fill)") }
        return lines.joined(separator: "\n")
    }

    static func json(_ result: ReadResult, _ readers: [ReaderStatus]) -> String {
        let lsn = result.lsn.map { "\"\($0)\"" } ?? "null"
        let lag = lag(result, readers).map { String($0) } ?? "null"
        return "{\"value\": \(result.value ?? "null"), \"source\": \"\(result.source.rawValue)\", \"lsn\": \(lsn), \"reader_lag_s\": \(lag)}"
    }
}
