import Foundation
import PostgresReplication

/// The local stack's settings, read from the environment that `deploy/local/stack.sh env` prints.
/// A missing variable fails the test (a thrown error naming the command to run), never skips it.
public enum StackEnvironment {
    /// The value of `name`; throws an error naming the command that sets it when missing.
    public static func require(_ name: String) throws -> String {
        guard let value = ProcessInfo.processInfo.environment[name], !value.isEmpty else {
            throw MissingEnvironment(name: name)
        }
        return value
    }

    /// The writer's connection string.
    public static func writer() throws -> ConnectionString {
        ConnectionString(try require("DB_WRITER_URL"))
    }

    /// The reader's connection string.
    public static func reader() throws -> ConnectionString {
        ConnectionString(try require("DB_READER_URL"))
    }

    /// A new connection to the writer.
    public static func writerConnection() throws -> PostgresConnection {
        try PostgresConnection(try writer())
    }

    /// A name unique to this test run, for slots, tables and key prefixes.
    public static func uniqueName(_ prefix: String) -> String {
        "\(prefix)_\(UUID().uuidString.prefix(8).lowercased())"
    }

    /// Runs `deploy/local/stack.sh` with `arguments` (e.g. `restart primary`); returns its exit status.
    @discardableResult
    public static func stack(_ arguments: String...) throws -> Int32 {
        try run([try require("STACK_SCRIPT")] + arguments)
    }

    /// Runs a program with `posix_spawn` and waits for it with `waitpid` (Foundation's `Process`
    /// can miss the child's exit inside the test runner); returns its exit status.
    @discardableResult
    public static func run(_ arguments: [String]) throws -> Int32 {
        waitForExit(try spawn(arguments))
    }

    /// Starts a program; its output goes to `output` (default /dev/null: a server it starts must
    /// not hold the test runner's pipes). Returns its process id.
    ///
    /// The child starts with no signal blocked and the usual signals at their default action:
    /// the test runner's threads block most signals, and a server started from here (Redis,
    /// after `stack.sh restart redis`) would otherwise never see `SIGTERM`.
    public static func spawn(_ arguments: [String], output: String = "/dev/null") throws -> pid_t {
        var pid: pid_t = 0
        let argv = arguments.map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, output, O_WRONLY | O_CREAT | O_APPEND, 0o644)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var unblocked = sigset_t()
        sigemptyset(&unblocked)
        posix_spawnattr_setsigmask(&attributes, &unblocked)
        var defaults = sigset_t()
        sigemptyset(&defaults)
        for signal in [SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGPIPE, SIGCHLD, SIGUSR1, SIGUSR2] {
            sigaddset(&defaults, signal)
        }
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        let spawned = posix_spawn(&pid, arguments[0], &actions, &attributes, argv, environ)
        guard spawned == 0 else { throw SpawnError(program: arguments[0], code: spawned) }
        return pid
    }

    /// Waits at most `seconds` for a spawned process; past that it is killed (SIGKILL) and nil is
    /// returned, so a process that ignores a signal fails the test instead of hanging it.
    public static func waitForExit(_ pid: pid_t, within seconds: Double) -> Int32? {
        let deadline = Date().addingTimeInterval(seconds)
        var status: Int32 = 0
        while Date() < deadline {
            let reaped = waitpid(pid, &status, WNOHANG)
            if reaped == pid {
                let signal = status & 0x7F
                return signal == 0 ? (status >> 8) & 0xFF : 128 + signal
            }
            if reaped == -1 && errno != EINTR { return nil }
            usleep(20_000)
        }
        kill(pid, SIGKILL)
        _ = waitForExit(pid)
        return nil
    }

    /// Waits for a spawned process; returns its exit status, or 128 + the signal that ended it.
    public static func waitForExit(_ pid: pid_t) -> Int32 {
        var status: Int32 = 0
        while waitpid(pid, &status, 0) == -1 && errno == EINTR {}
        let signal = status & 0x7F
        return signal == 0 ? (status >> 8) & 0xFF : 128 + signal
    }

    /// A program could not be started.
    public struct SpawnError: Error, CustomStringConvertible {
        /// The program's path.
        public var program: String
        /// The `posix_spawn` error number.
        public var code: Int32

        public var description: String { "cannot start \(program): \(String(cString: strerror(code)))" }
    }

    /// A stack setting is missing from the environment.
    public struct MissingEnvironment: Error, CustomStringConvertible {
        /// The variable's name.
        public var name: String

        public var description: String {
            "\(name) is not set: start the local stack and load its settings with `deploy/local/stack.sh up && eval \"$(deploy/local/stack.sh env)\"` (or run `make test`)"
        }
    }
}

/// Polls `condition` every 50 ms until it holds or `seconds` pass; returns whether it held.
public func eventually(within seconds: Double = 20, _ condition: () throws -> Bool) async throws -> Bool {
    let deadline = Date().addingTimeInterval(seconds)
    while Date() < deadline {
        if try condition() { return true }
        try await Task.sleep(for: .milliseconds(50))
    }
    return try condition()
}

/// Runs blocking work (a loop of libpq statements) on a thread of its own, so it never holds
/// one of the few cooperative threads that every concurrently running test needs.
public func onOwnThread<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        Thread { continuation.resume(with: Result { try body() }) }.start()
    }
}
