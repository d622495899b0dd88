import RedisCache

/// Removes a benchmark's keys afterwards (SCAN + UNLINK in batches), so runs leave Redis as
/// they found it.
enum RedisNamespace {
    static func remove(_ namespace: String, url: RedisURL) throws {
        let connection = try RedisConnection(url: url)
        var cursor = "0"
        repeat {
            guard case .array(let parts) = try connection.command(["SCAN", cursor, "MATCH", namespace + ":*", "COUNT", "5000"]),
                parts.count == 2, let next = parts[0].text, case .array(let keys) = parts[1]
            else { return }
            let names = keys.compactMap(\.text)
            if !names.isEmpty { _ = try connection.command(["UNLINK"] + names) }
            cursor = next
        } while cursor != "0"
    }
}
