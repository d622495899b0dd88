import CacheContract
import Foundation
import Testing

/// docs/cache-protocol.md carries the exact script sources and SHA-1s for other languages:
/// they must stay byte for byte what the Swift side sends.
@Suite struct ProtocolDocumentTests {
    private func document() throws -> String {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        return try String(contentsOf: root.appendingPathComponent("docs/cache-protocol.md"), encoding: .utf8)
    }

    @Test func documentHasEveryScriptVerbatim() throws {
        let text = try document()
        #expect(text.contains("```lua\n" + CacheScripts.prelude + "```"), "prelude")
        for script in CacheScripts.all {
            let body = String(script.source.dropFirst(CacheScripts.prelude.count))
            #expect(script.source.hasPrefix(CacheScripts.prelude))
            #expect(text.contains("```lua\n" + body + "\n```"), "\(script.name) body")
            #expect(text.contains("`\(script.name)` | `\(script.sha1)`"), "\(script.name) sha1")
        }
    }
}
