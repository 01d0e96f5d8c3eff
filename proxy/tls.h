/*
 * tls.h — OpenSSL contexts built from the config.
 *
 * One refcounted set per config snapshot: `accept_ctx` for clients that
 * ask for TLS (we are the TLS server), `connect_ctx` for connections to
 * database servers (we are the TLS client), `stats_ctx` for the stats
 * port's HTTPS; and the RSA key of client_rsa_key_file (MySQL
 * caching_sha2 full authentication). SSL_CTX is safe to share
 * between threads once built; each connection gets its own SSL.
 */
#ifndef SWITCHYARD_TLS_H
#define SWITCHYARD_TLS_H

#include <openssl/ssl.h>
#include <stdatomic.h>
#include <stddef.h>

#include "config/config.h"

struct myauth_rsa;

struct tls_contexts {
	atomic_int refs;
	SSL_CTX *accept_ctx;               /* NULL when client_tls_mode = disable */
	SSL_CTX *connect_ctx;              /* NULL when server_tls_mode = disable */
	SSL_CTX *stats_ctx;                /* HTTPS on the stats port; NULL: no stats_tls_cert_file */
	struct myauth_rsa *rsa;            /* client_rsa_key_file; NULL when unset */
	enum cfg_client_tls client_mode;
	enum cfg_server_tls server_mode;
};

/* Build the contexts for `c`. Returns NULL with a message in err on
 * failure (unreadable or mismatched cert/key, bad CA file). */
struct tls_contexts *tls_contexts_new(const struct cfg *c, char *err, size_t errlen);
struct tls_contexts *tls_contexts_ref(struct tls_contexts *t);
void tls_contexts_unref(struct tls_contexts *t);

/* A new SSL for a server connection to `host` (used for SNI and, in
 * verify-full mode, for the certificate's name check). */
SSL *tls_new_server_ssl(struct tls_contexts *t, const char *host);

#endif
