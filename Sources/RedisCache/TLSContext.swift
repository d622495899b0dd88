import COpenSSL

/// An OpenSSL client context (`SSL_CTX`): TLS 1.2 or later, the trusted CA certificates and the
/// verification mode. It owns the handle and frees it on deinit.
final class TLSContext {
    let handle: OpaquePointer
    /// True when the peer's certificate and host name are verified.
    let verifies: Bool

    /// A context trusting `caFile` (PEM) or, when nil, the system's CA paths; `verify` false
    /// accepts any certificate.
    init(caFile: String?, verify: Bool) throws(RedisError) {
        ERR_clear_error()
        guard let handle = SSL_CTX_new(TLS_client_method()) else {
            throw RedisError(code: .tlsHandshakeFailed, message: "cannot create a TLS context: \(TLSContext.drainErrors())")
        }
        self.handle = handle
        self.verifies = verify
        // From here on a thrown error runs deinit, which frees the context.
        guard cw_ssl_ctx_require_tls12(handle) == 1 else {
            throw RedisError(code: .tlsHandshakeFailed, message: "cannot require TLS 1.2: \(TLSContext.drainErrors())")
        }
        if let caFile {
            guard SSL_CTX_load_verify_locations(handle, caFile, nil) == 1 else {
                throw RedisError(code: .tlsHandshakeFailed, message: "cannot load the CA file \(caFile): \(TLSContext.drainErrors())")
            }
        } else if SSL_CTX_set_default_verify_paths(handle) != 1 {
            throw RedisError(code: .tlsHandshakeFailed, message: "cannot load the system CA certificates: \(TLSContext.drainErrors())")
        }
        SSL_CTX_set_verify(handle, verify ? SSL_VERIFY_PEER : SSL_VERIFY_NONE, nil)
    }

    deinit {
        SSL_CTX_free(handle)
    }

    /// Empties this thread's OpenSSL error queue and returns its messages ("" when empty).
    static func drainErrors() -> String {
        var messages: [String] = []
        while case let code = ERR_get_error(), code != 0 {
            var buffer = [CChar](repeating: 0, count: 256)
            ERR_error_string_n(code, &buffer, buffer.count)
            messages.append(String(decoding: buffer.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self))
        }
        return messages.joined(separator: "; ")
    }
}
