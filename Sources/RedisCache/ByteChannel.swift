import Glibc

/// The byte stream to one server: a non-blocking TCP socket, with TLS on top for `rediss://`.
/// Callers queue plaintext, then loop: ``flushSome()``, ``wait(until:)`` for the socket to
/// take more or to have input, ``receiveSome(_:)``; so sending a large batch never stalls on
/// replies that fill the socket's buffers.
///
/// It owns its socket, TLS session and buffers, and frees them on deinit.
final class ByteChannel {
    private let socket: TCPSocket
    private let tls: TLSSession?
    /// Bytes to send (ciphertext with TLS) and how many of them went out already.
    private var pending: [UInt8] = []
    private var pendingOffset = 0
    private let receiveBuffer: UnsafeMutableRawBufferPointer
    private let plaintextBuffer: UnsafeMutableRawBufferPointer

    private static let bufferSize = 64 * 1024

    private init(socket: TCPSocket, tls: TLSSession?) {
        self.socket = socket
        self.tls = tls
        receiveBuffer = .allocate(byteCount: ByteChannel.bufferSize, alignment: 16)
        plaintextBuffer = .allocate(byteCount: tls == nil ? 0 : ByteChannel.bufferSize, alignment: 16)
    }

    deinit {
        receiveBuffer.deallocate()
        plaintextBuffer.deallocate()
    }

    /// Connects to `host:port` and, with a TLS context, completes the handshake, all within
    /// `timeout` seconds.
    static func open(host: String, port: Int, tls context: TLSContext?, timeout: Double) throws(RedisError) -> ByteChannel {
        let deadline = Deadline(after: timeout)
        let socket = try TCPSocket.open(host: host, port: port, timeout: timeout)
        guard let context else { return ByteChannel(socket: socket, tls: nil) }
        let channel = ByteChannel(socket: socket, tls: try TLSSession(context: context, host: host))
        try channel.handshake(until: deadline, timeout: timeout)
        return channel
    }

    private func handshake(until deadline: Deadline, timeout: Double) throws(RedisError) {
        guard let tls else { return }
        while true {
            let done: Bool
            do {
                done = try tls.handshake()
            } catch {
                // Best effort: let the server see the alert, then report the real failure.
                tls.takeCiphertext(into: &pending)
                _ = try? flushSome()
                throw error
            }
            tls.takeCiphertext(into: &pending)
            while hasPendingOutput {
                if try !flushSome(), try !socket.wait(events: Int16(POLLOUT), until: deadline) {
                    throw RedisError(code: .timeout, message: "TLS handshake: the server accepted no data within \(timeout) s")
                }
            }
            if done { return }
            guard try socket.wait(events: Int16(POLLIN), until: deadline) else {
                throw RedisError(code: .timeout, message: "TLS handshake: no answer within \(timeout) s (is this a TLS port?)")
            }
            guard let count = try socket.receiveSome(into: receiveBuffer) else { continue }
            guard count > 0 else {
                throw RedisError(code: .tlsHandshakeFailed, message: "the server closed the connection during the TLS handshake (is this a TLS port?)")
            }
            try tls.receiveCiphertext(UnsafeRawBufferPointer(rebasing: receiveBuffer[..<count]))
        }
    }

    /// Queues `plaintext` for sending (encrypted at once with TLS).
    func enqueue(_ plaintext: UnsafeRawBufferPointer) throws(RedisError) {
        if let tls {
            try tls.encrypt(plaintext)
            tls.takeCiphertext(into: &pending)
        } else {
            pending.append(contentsOf: plaintext)
        }
    }

    /// True while queued bytes have not all been handed to the kernel.
    var hasPendingOutput: Bool {
        pendingOffset < pending.count
    }

    /// Sends what the socket takes now; true when some bytes went out.
    func flushSome() throws(RedisError) -> Bool {
        guard hasPendingOutput else { return false }
        let offset = pendingOffset
        let sent: Int
        do {
            sent = try pending.withUnsafeBytes { bytes in
                try socket.sendSome(UnsafeRawBufferPointer(rebasing: bytes[offset...]))
            }
        } catch let error as RedisError {
            throw error
        } catch {
            throw RedisError(code: .connectionLost, message: "send failed: \(error)")
        }
        pendingOffset += sent
        if pendingOffset == pending.count {
            pending.removeAll(keepingCapacity: true)
            pendingOffset = 0
        }
        return sent > 0
    }

    /// Receives what is available and hands the plaintext to `deliver`; true when bytes
    /// arrived. Throws ``RedisError/Code-swift.enum/connectionLost`` when the server closed.
    func receiveSome(_ deliver: (UnsafeRawBufferPointer) throws(RedisError) -> Void) throws(RedisError) -> Bool {
        guard let count = try socket.receiveSome(into: receiveBuffer) else { return false }
        guard count > 0 else {
            throw RedisError(code: .connectionLost, message: "the server closed the connection")
        }
        let received = UnsafeRawBufferPointer(rebasing: receiveBuffer[..<count])
        guard let tls else {
            try deliver(received)
            return true
        }
        try tls.receiveCiphertext(received)
        while case let decrypted = try tls.decrypt(into: plaintextBuffer), decrypted > 0 {
            try deliver(UnsafeRawBufferPointer(rebasing: plaintextBuffer[..<decrypted]))
        }
        tls.takeCiphertext(into: &pending)
        return true
    }

    /// Waits until bytes can be received, or sent while output is pending; false when
    /// `deadline` passed first.
    func wait(until deadline: Deadline) throws(RedisError) -> Bool {
        let events = Int16(POLLIN) | (hasPendingOutput ? Int16(POLLOUT) : 0)
        return try socket.wait(events: events, until: deadline)
    }
}
