import ArgumentParser
import CacheWarmer
import Foundation
import Logging

/// Options every subcommand shares: where the configuration is, connection overrides, logging.
struct CommonOptions: ParsableArguments {
    @Option(name: .long, help: "Configuration file (YAML). Default: $CACHE_WARMER_CONFIG or deploy/cache-warmer.yaml.")
    var config: String?

    @Option(help: "Writer (primary) URL; overrides DB_WRITER_URL and the file.")
    var writerURL: String?

    @Option(help: "Reader (replica) URL; overrides DB_READER_URL and the file.")
    var readerURL: String?

    @Option(help: "Redis URL; overrides REDIS_URL and the file.")
    var redisURL: String?

    @Option(help: "Log format: human or json.")
    var logFormat: LogFormat = .human

    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical.")
    var logLevel: String = "info"

    enum LogFormat: String, ExpressibleByArgument {
        case human, json
    }

    /// The configuration: file, then environment, then flags.
    func load() throws -> WorkerConfiguration {
        let environment = ProcessInfo.processInfo.environment
        let path = config ?? environment["CACHE_WARMER_CONFIG"] ?? "deploy/cache-warmer.yaml"
        var configuration = try WorkerConfiguration.load(path: path, environment: environment)
        if let writerURL { configuration.writerURL = writerURL }
        if let readerURL { configuration.readerURL = readerURL }
        if let redisURL { configuration.redisURL = redisURL }
        return configuration
    }

    /// Sets up logging once per process, to standard error.
    func bootstrapLogging() -> Logger {
        let level = Logger.Level(rawValue: logLevel) ?? .info
        let format = logFormat
        LoggingSystem.bootstrap { label in
            var handler: any LogHandler = format == .json ? JSONLogHandler(label: label) : StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        return Logger(label: "cache-warmer")
    }
}
