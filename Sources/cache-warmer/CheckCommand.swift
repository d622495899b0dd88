import ArgumentParser
import CacheWarmer
import Foundation

/// `cache-warmer check`: verifies that the writer, the reader and Redis are reachable and set up
/// the way the worker and docs/operations.md need, one line per finding with what to change.
struct CheckCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check",
        abstract: "Check the configuration, writer, reader and Redis; one line per finding (exit 1 when a requirement fails).",
        discussion: """
            Writer: wal_level (rds.logical_replication on RDS), max_slot_wal_keep_size set, the role's
            REPLICATION or rds_replication, SELECT on the configured tables, TLS when not loopback.
            Reader: a standby, TLS. Redis: PING, maxmemory-policy (allkeys-* refused, noeviction
            warned), TLS when not loopback. Lines start with ok, WARN or FAIL.
            """
    )

    @OptionGroup var common: CommonOptions

    func run() throws {
        var findings: [DeploymentFinding] = []
        let environment = ProcessInfo.processInfo.environment
        var writerURL = common.writerURL ?? environment["DB_WRITER_URL"].flatMap { $0.isEmpty ? nil : $0 }
        var readerURL = common.readerURL ?? environment["DB_READER_URL"].flatMap { $0.isEmpty ? nil : $0 }
        var redisURL = common.redisURL ?? environment["REDIS_URL"].flatMap { $0.isEmpty ? nil : $0 }
        var tables: [TableName] = []
        var namespace = WorkerConfiguration().namespace
        do {
            let configuration = try common.load()
            (writerURL, readerURL, redisURL, tables) = (configuration.writerURL, configuration.readerURL, configuration.redisURL, configuration.tables)
            namespace = configuration.namespace
            findings.append(DeploymentFinding(.ok, "config", "\(configuration.entities.count) entities, \(configuration.queries.count) queries, slot \(configuration.slot), publication \(configuration.publication)"))
        } catch let error as ConfigurationError {
            findings += error.problems.map { DeploymentFinding(.fail, "config", "\(error.file): \($0)") }
        } catch {
            findings.append(DeploymentFinding(.fail, "config", "\(error)"))
        }
        if let writerURL {
            findings += DeploymentCheck.writer(writerURL, tables: tables)
        } else {
            findings.append(DeploymentFinding(.fail, "writer", "set DB_WRITER_URL, writer_url or --writer-url"))
        }
        if let readerURL {
            findings += DeploymentCheck.reader(readerURL)
        } else {
            findings.append(DeploymentFinding(.warn, "reader", "no reader configured (DB_READER_URL): re-warming and CacheReads need one"))
        }
        if let redisURL {
            findings += DeploymentCheck.redis(redisURL, namespace: namespace)
        } else {
            findings.append(DeploymentFinding(.fail, "redis", "set REDIS_URL, redis_url or --redis-url"))
        }
        for finding in findings { print(finding) }
        if findings.contains(where: { $0.verdict == .fail }) { throw ExitCode.failure }
    }
}
