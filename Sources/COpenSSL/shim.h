#ifndef COPENSSL_SHIM_H
#define COPENSSL_SHIM_H
#include <openssl/ssl.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>

/* OpenSSL macros that Swift cannot import, as functions. */

/* SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION): refuse TLS 1.0 and 1.1. */
static inline int cw_ssl_ctx_require_tls12(SSL_CTX *ctx) {
    return (int)SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
}

/* SSL_set_tlsext_host_name: the SNI name sent in the ClientHello. */
static inline int cw_ssl_set_server_name(SSL *ssl, const char *name) {
    return (int)SSL_set_tlsext_host_name(ssl, name);
}

#endif
