import Logging
import Synchronization

/// A log handler that keeps the messages, to check what a component logged.
struct CapturingLogHandler: LogHandler {
    /// One logged message and its metadata as text.
    struct Entry: Sendable {
        var message: String
        var metadata: [String: String]
    }

    /// The messages logged so far, shared by copies of the handler.
    final class Messages: Sendable {
        private let storage = Mutex<[Entry]>([])

        func append(_ entry: Entry) {
            storage.withLock { $0.append(entry) }
        }

        var all: [Entry] {
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
        let metadata = (event.metadata ?? [:]).mapValues { "\($0)" }
        messages.append(Entry(message: event.message.description, metadata: metadata))
    }

    /// A logger whose messages end up in the returned list.
    static func logger() -> (Logger, Messages) {
        let messages = Messages()
        return (Logger(label: "test") { _ in CapturingLogHandler(messages: messages) }, messages)
    }
}
