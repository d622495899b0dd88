import ArgumentParser

/// The `cache-warmer` command line: parses arguments and hands off to the library modules.
@main
struct CacheWarmerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cache-warmer",
        abstract: "Keeps Redis fresh from a Postgres logical replication slot.",
        subcommands: [RunCommand.self, ReplayCommand.self, SetupCommand.self, TeardownCommand.self, StatusCommand.self, CheckCommand.self, GetCommand.self, ResyncCommand.self, VerifyCommand.self, InspectCommand.self, PeekCommand.self]
    )
}
