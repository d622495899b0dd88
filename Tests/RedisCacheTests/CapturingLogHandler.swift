import Logging
import Synchronization

/// A log handler that keeps the messages, to check what a component logged.
struct CapturingLogHandler: LogHandler {
    /// The messages logged so far, shared by copies of the handler.
    final class Messages: Sendable {
        private let storage = Mutex<[String]>([])

        func append(_ message: String) {
            storage.withLock { $0.append(message) }
        }

        var all: [String] {
            storage.withLock { $0 }
        }
    }

    let messages: Messages
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .trace

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        messages.append(event.message.description)
    }

    /// A logger whose messages end up in the returned list.
    static func logger() -> (Logger, Messages) {
        let messages = Messages()
        return (Logger(label: "test") { _ in CapturingLogHandler(messages: messages) }, messages)
    }
}
