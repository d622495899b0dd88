import COpenSSL
import Glibc

/// One TLS client session (`SSL`) that only transforms bytes: ciphertext goes in and out
/// through memory BIOs, and ``ByteChannel`` moves it over the socket. It owns the `SSL` (which
/// owns both BIOs) and frees it on deinit.
///
/// Keeping the socket out of OpenSSL means one I/O path for plain and TLS connections, and no
/// SIGPIPE from OpenSSL writing to a closed socket.
final class TLSSession {
    private let context: TLSContext
    private let ssl: OpaquePointer
    private let incoming: OpaquePointer
    private let outgoing: OpaquePointer
    private let host: String

    /// A session for `host`: SNI when it is a name, and, when the context verifies, the
    /// certificate must match it (DNS name, or IP address for an address literal).
    init(context: TLSContext, host: String) throws(RedisError) {
        ERR_clear_error()
        guard let ssl = SSL_new(context.handle) else {
            throw RedisError(code: .tlsHandshakeFailed, message: "cannot create a TLS session: \(TLSContext.drainErrors())")
        }
        guard let incoming = BIO_new(BIO_s_mem()) else {
            SSL_free(ssl)
            throw RedisError(code: .tlsHandshakeFailed, message: "cannot allocate a TLS buffer")
        }
        guard let outgoing = BIO_new(BIO_s_mem()) else {
            BIO_free(incoming)
            SSL_free(ssl)
            throw RedisError(code: .tlsHandshakeFailed, message: "cannot allocate a TLS buffer")
        }
        SSL_set_bio(ssl, incoming, outgoing)
        self.context = context
        self.ssl = ssl
        self.incoming = incoming
        self.outgoing = outgoing
        self.host = host
        // From here on a thrown error runs deinit, which frees the session and its BIOs.
        SSL_set_connect_state(ssl)
        let isAddress = TLSSession.isAddressLiteral(host)
        if !isAddress, cw_ssl_set_server_name(ssl, host) != 1 {
            throw RedisError(code: .tlsHandshakeFailed, message: "cannot set the TLS server name '\(host)': \(TLSContext.drainErrors())")
        }
        if context.verifies {
            let set = isAddress ? X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), host) : SSL_set1_host(ssl, host)
            guard set == 1 else {
                throw RedisError(code: .tlsHandshakeFailed, message: "cannot set the expected host '\(host)': \(TLSContext.drainErrors())")
            }
        }
    }

    deinit {
        SSL_free(ssl)
    }

    /// Advances the handshake with the ciphertext received so far; true once it is complete.
    /// Throws ``RedisError/Code-swift.enum/tlsCertificateRejected`` when verification failed.
    func handshake() throws(RedisError) -> Bool {
        ERR_clear_error()
        let result = SSL_do_handshake(ssl)
        if result == 1 { return true }
        let error = SSL_get_error(ssl, result)
        if error == SSL_ERROR_WANT_READ || error == SSL_ERROR_WANT_WRITE { return false }
        let verification = SSL_get_verify_result(ssl)
        if verification != Int(X509_V_OK) {
            _ = TLSContext.drainErrors()
            let reason = X509_verify_cert_error_string(verification).map { String(cString: $0) } ?? "error \(verification)"
            let mismatch = verification == Int(X509_V_ERR_HOSTNAME_MISMATCH) || verification == Int(X509_V_ERR_IP_ADDRESS_MISMATCH)
            let hint = mismatch
                ? "the certificate does not name '\(host)'; connect with a name it lists"
                : "trust the server's CA with ?ca=/path/ca.pem; insecure=true skips verification"
            throw RedisError(code: .tlsCertificateRejected, message: "TLS certificate verification failed: \(reason) (\(hint))")
        }
        let reason = TLSContext.drainErrors()
        throw RedisError(
            code: .tlsHandshakeFailed,
            message: "TLS handshake failed: \(reason.isEmpty ? "SSL error \(error)" : reason) (is this a TLS port?)")
    }

    /// Encrypts `plaintext`; the ciphertext waits for ``takeCiphertext(into:)``.
    func encrypt(_ plaintext: UnsafeRawBufferPointer) throws(RedisError) {
        guard let base = plaintext.baseAddress else { return }
        var offset = 0
        while offset < plaintext.count {
            ERR_clear_error()
            let written = SSL_write(ssl, base + offset, Int32(min(plaintext.count - offset, 1 << 30)))
            guard written > 0 else {
                throw RedisError(code: .connectionLost, message: "TLS write failed: \(TLSSession.describe(SSL_get_error(ssl, written)))")
            }
            offset += Int(written)
        }
    }

    /// Adds ciphertext received from the socket.
    func receiveCiphertext(_ bytes: UnsafeRawBufferPointer) throws(RedisError) {
        guard let base = bytes.baseAddress, !bytes.isEmpty else { return }
        guard BIO_write(incoming, base, Int32(bytes.count)) == Int32(bytes.count) else {
            throw RedisError(code: .connectionLost, message: "cannot buffer TLS input")
        }
    }

    /// Decrypts into `buffer`: the plaintext byte count, or 0 when more ciphertext is needed.
    /// Throws when the server closed the session or sent something undecryptable.
    func decrypt(into buffer: UnsafeMutableRawBufferPointer) throws(RedisError) -> Int {
        guard let base = buffer.baseAddress else { return 0 }
        ERR_clear_error()
        let read = SSL_read(ssl, base, Int32(min(buffer.count, 1 << 30)))
        if read > 0 { return Int(read) }
        let error = SSL_get_error(ssl, read)
        switch error {
        case SSL_ERROR_WANT_READ, SSL_ERROR_WANT_WRITE:
            return 0
        case SSL_ERROR_ZERO_RETURN:
            throw RedisError(code: .connectionLost, message: "the server closed the TLS session")
        default:
            throw RedisError(code: .connectionLost, message: "TLS read failed: \(TLSSession.describe(error))")
        }
    }

    /// Appends the ciphertext waiting to be sent (handshake, records, alerts) to `bytes`.
    func takeCiphertext(into bytes: inout [UInt8]) {
        let pending = Int(BIO_ctrl_pending(outgoing))
        guard pending > 0 else { return }
        let start = bytes.count
        bytes.append(contentsOf: repeatElement(0, count: pending))
        let read = bytes.withUnsafeMutableBytes { buffer in
            BIO_read(outgoing, buffer.baseAddress.map { $0 + start }, Int32(pending))
        }
        bytes.removeLast(pending - Int(max(0, read)))
    }

    private static func describe(_ error: Int32) -> String {
        let queued = TLSContext.drainErrors()
        return queued.isEmpty ? "SSL error \(error)" : queued
    }

    private static func isAddressLiteral(_ host: String) -> Bool {
        var address = in6_addr()
        return inet_pton(AF_INET, host, &address) == 1 || inet_pton(AF_INET6, host, &address) == 1
    }
}
