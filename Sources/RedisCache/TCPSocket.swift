import CPoll
import Glibc

/// One non-blocking TCP socket. It owns the file descriptor and closes it on deinit.
///
/// Errors carry no server name; ``RedisConnection`` adds it.
final class TCPSocket {
    private let descriptor: Int32

    private init(descriptor: Int32) {
        self.descriptor = descriptor
    }

    deinit {
        close(descriptor)
    }

    /// Resolves `host` and connects to the first address that answers within `timeout` seconds
    /// in total; sets `TCP_NODELAY` (commands go out at once) and `SO_KEEPALIVE`.
    static func open(host: String, port: Int, timeout: Double) throws(RedisError) -> TCPSocket {
        let deadline = Deadline(after: timeout)
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = socketStream
        hints.ai_flags = AI_ADDRCONFIG
        var list: UnsafeMutablePointer<addrinfo>?
        let resolved = getaddrinfo(host, String(port), &hints, &list)
        guard resolved == 0, let list else {
            throw RedisError(code: .connectionFailed, message: "cannot resolve host '\(host)': \(String(cString: gai_strerror(resolved)))")
        }
        defer { freeaddrinfo(list) }
        var failures: [String] = []
        var entry: UnsafeMutablePointer<addrinfo>? = list
        while let address = entry {
            entry = address.pointee.ai_next
            guard let socket = try attempt(address.pointee, deadline: deadline, timeout: timeout, failures: &failures) else { continue }
            return socket
        }
        throw RedisError(code: .connectionFailed, message: "cannot connect: \(failures.joined(separator: "; "))")
    }

    /// One address: nil (with the reason appended) when it refused or failed.
    private static func attempt(_ address: addrinfo, deadline: Deadline, timeout: Double, failures: inout [String]) throws(RedisError) -> TCPSocket? {
        let text = describe(address)
        let descriptor = socket(address.ai_family, address.ai_socktype | socketFlags, address.ai_protocol)
        guard descriptor >= 0 else {
            failures.append("\(text): socket: \(errorText(errno))")
            return nil
        }
        let candidate = TCPSocket(descriptor: descriptor)
        if connect(descriptor, address.ai_addr, address.ai_addrlen) != 0 {
            guard errno == EINPROGRESS else {
                failures.append("\(text): \(errorText(errno))")
                return nil
            }
            guard try candidate.wait(events: Int16(POLLOUT), until: deadline) else {
                throw RedisError(code: .timeout, message: "cannot connect: no answer from \(text) within \(timeout) s")
            }
            var error: Int32 = 0
            var length = socklen_t(MemoryLayout<Int32>.size)
            getsockopt(descriptor, SOL_SOCKET, SO_ERROR, &error, &length)
            guard error == 0 else {
                failures.append("\(text): \(errorText(error))")
                return nil
            }
        }
        var on: Int32 = 1
        setsockopt(descriptor, Int32(IPPROTO_TCP), TCP_NODELAY, &on, socklen_t(MemoryLayout<Int32>.size))
        setsockopt(descriptor, SOL_SOCKET, SO_KEEPALIVE, &on, socklen_t(MemoryLayout<Int32>.size))
        return candidate
    }

    /// Sends what the kernel takes now; returns the byte count (0 when it would block).
    func sendSome(_ bytes: UnsafeRawBufferPointer) throws(RedisError) -> Int {
        guard let base = bytes.baseAddress, !bytes.isEmpty else { return 0 }
        while true {
            let sent = send(descriptor, base, bytes.count, sendFlags)
            if sent >= 0 { return sent }
            switch errno {
            case EINTR: continue
            case EAGAIN, EWOULDBLOCK: return 0
            default: throw RedisError(code: .connectionLost, message: "send failed: \(TCPSocket.errorText(errno))")
            }
        }
    }

    /// Receives what is available into `buffer`: the byte count, 0 when the server closed the
    /// connection, nil when nothing is available yet.
    func receiveSome(into buffer: UnsafeMutableRawBufferPointer) throws(RedisError) -> Int? {
        guard let base = buffer.baseAddress, !buffer.isEmpty else { return nil }
        while true {
            let received = recv(descriptor, base, buffer.count, 0)
            if received >= 0 { return received }
            switch errno {
            case EINTR: continue
            case EAGAIN, EWOULDBLOCK: return nil
            default: throw RedisError(code: .connectionLost, message: "receive failed: \(TCPSocket.errorText(errno))")
            }
        }
    }

    /// Waits until one of `events` (`POLLIN`, `POLLOUT`) is ready, or an error or hang-up is
    /// pending; false when `deadline` passed first.
    func wait(events: Int16, until deadline: Deadline) throws(RedisError) -> Bool {
        var entry = pollfd(fd: descriptor, events: events, revents: 0)
        while true {
            var timeout = deadline.remaining
            let ready = ppoll(&entry, 1, &timeout, nil)
            if ready > 0 { return true }
            if ready == 0 { return false }
            guard errno == EINTR else {
                throw RedisError(code: .connectionLost, message: "poll failed: \(TCPSocket.errorText(errno))")
            }
        }
    }

    private static func describe(_ address: addrinfo) -> String {
        var host = [CChar](repeating: 0, count: Int(NI_MAXHOST))
        var service = [CChar](repeating: 0, count: Int(NI_MAXSERV))
        guard getnameinfo(address.ai_addr, address.ai_addrlen, &host, socklen_t(host.count), &service, socklen_t(service.count), NI_NUMERICHOST | NI_NUMERICSERV) == 0 else {
            return "?"
        }
        let name = String(decoding: host.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self)
        let port = String(decoding: service.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return address.ai_family == AF_INET6 ? "[\(name)]:\(port)" : "\(name):\(port)"
    }

    static func errorText(_ code: Int32) -> String {
        String(cString: strerror(code))
    }
}

private let socketStream = Int32(SOCK_STREAM.rawValue)
private let socketFlags = Int32(SOCK_NONBLOCK.rawValue | SOCK_CLOEXEC.rawValue)
/// No SIGPIPE when the server has closed the connection: the error comes back as EPIPE.
private let sendFlags = Int32(MSG_NOSIGNAL)
