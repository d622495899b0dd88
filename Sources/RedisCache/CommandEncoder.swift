import CHiredis

/// Formats commands as RESP with hiredis' `redisFormatCommandArgv` and appends them to a
/// buffer. Reuses its scratch storage between commands, so a batch allocates little.
struct CommandEncoder: Sendable {
    private var storage: [UInt8] = []
    private var offsets: [Int] = []
    private var lengths: [Int] = []

    /// Appends `arguments` (text, sent as UTF-8) as one command.
    mutating func append(_ arguments: [String], to output: inout [UInt8]) throws(RedisError) {
        reset()
        for argument in arguments {
            add(argument.utf8)
        }
        try format(to: &output, name: arguments.first)
    }

    /// Appends `arguments` (raw bytes) as one command.
    mutating func append(_ arguments: [[UInt8]], to output: inout [UInt8]) throws(RedisError) {
        reset()
        for argument in arguments {
            add(argument)
        }
        try format(to: &output, name: arguments.first.map { String(decoding: $0, as: UTF8.self) })
    }

    private mutating func reset() {
        storage.removeAll(keepingCapacity: true)
        offsets.removeAll(keepingCapacity: true)
        lengths.removeAll(keepingCapacity: true)
    }

    private mutating func add(_ bytes: some Collection<UInt8>) {
        offsets.append(storage.count)
        storage.append(contentsOf: bytes)
        lengths.append(storage.count - offsets[offsets.count - 1])
    }

    private mutating func format(to output: inout [UInt8], name: String?) throws(RedisError) {
        guard !lengths.isEmpty else {
            throw RedisError(code: .invalidCommand, message: "a command needs at least one argument (its name)")
        }
        // A NUL keeps the storage non-empty (all arguments may be empty strings).
        storage.append(0)
        let count = lengths.count
        let formatted: Int = storage.withUnsafeBytes { bytes in
            lengths.withUnsafeBufferPointer { lengths in
                withUnsafeTemporaryAllocation(of: UnsafePointer<CChar>?.self, capacity: count) { pointers in
                    for index in 0..<count {
                        pointers[index] = bytes.baseAddress.map { ($0 + offsets[index]).assumingMemoryBound(to: CChar.self) }
                    }
                    var command: UnsafeMutablePointer<CChar>?
                    let length = redisFormatCommandArgv(&command, Int32(count), pointers.baseAddress, lengths.baseAddress)
                    guard length > 0, let command else { return -1 }
                    defer { redisFreeCommand(command) }
                    output.append(contentsOf: UnsafeRawBufferPointer(start: command, count: Int(length)))
                    return Int(length)
                }
            }
        }
        guard formatted > 0 else {
            throw RedisError(code: .invalidCommand, message: "hiredis could not format \(name ?? "a command") (out of memory)")
        }
    }
}
