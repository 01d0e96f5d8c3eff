/* tls.c — building the OpenSSL contexts for both sides from the config. */
#include "proxy/tls.h"

#include <arpa/inet.h>
#include <openssl/err.h>
#include <openssl/crypto.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>

#include "proxy/mysql/myauth.h"

static void ssl_err(char *err, size_t errlen, const char *what, const char *file)
{
	unsigned long e = ERR_get_error();
	char reason[256] = "";
	if (e)
		ERR_error_string_n(e, reason, sizeof(reason));
	snprintf(err, errlen, "%s %s: %s", what, file ? file : "", reason);
	ERR_clear_error();
}

/* A context for accepting TLS (we are the server) from a certificate
 * chain, its key and an optional CA that clients' certificates must be
 * signed by (`require_cert`: a client without a certificate is refused
 * too). `prefix` names the keys in messages ("client_tls", "stats_tls"). */
static SSL_CTX *build_accept_ctx(const char *prefix, const char *cert, const char *key, const char *ca,
				 bool require_cert, char *err, size_t errlen)
{
	char what[96];
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
	if (!ctx) {
		ssl_err(err, errlen, "SSL_CTX_new", NULL);
		return NULL;
	}
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
	if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1) {
		snprintf(what, sizeof(what), "cannot load %s_cert_file", prefix);
		ssl_err(err, errlen, what, cert);
		goto fail;
	}
	if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1) {
		snprintf(what, sizeof(what), "cannot load %s_key_file", prefix);
		ssl_err(err, errlen, what, key);
		goto fail;
	}
	if (SSL_CTX_check_private_key(ctx) != 1) {
		snprintf(what, sizeof(what), "%s_key_file does not match the certificate", prefix);
		ssl_err(err, errlen, what, key);
		goto fail;
	}
	if (ca) {
		/* A CA file means: ask clients for certificates signed by it. */
		if (SSL_CTX_load_verify_locations(ctx, ca, NULL) != 1) {
			snprintf(what, sizeof(what), "cannot load %s_ca_file", prefix);
			ssl_err(err, errlen, what, ca);
			goto fail;
		}
		SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | (require_cert ? SSL_VERIFY_FAIL_IF_NO_PEER_CERT : 0),
				   NULL);
	}
	return ctx;
fail:
	SSL_CTX_free(ctx);
	return NULL;
}

static SSL_CTX *build_connect_ctx(const struct cfg_global *g, char *err, size_t errlen)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	if (!ctx) {
		ssl_err(err, errlen, "SSL_CTX_new", NULL);
		return NULL;
	}
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	if (g->server_tls_cert_file && g->server_tls_key_file) {
		if (SSL_CTX_use_certificate_chain_file(ctx, g->server_tls_cert_file) != 1) {
			ssl_err(err, errlen, "cannot load server_tls_cert_file", g->server_tls_cert_file);
			goto fail;
		}
		if (SSL_CTX_use_PrivateKey_file(ctx, g->server_tls_key_file, SSL_FILETYPE_PEM) != 1) {
			ssl_err(err, errlen, "cannot load server_tls_key_file", g->server_tls_key_file);
			goto fail;
		}
	}
	if (g->server_tls_mode >= CFG_STLS_VERIFY_CA) {
		int ok = g->server_tls_ca_file
				 ? SSL_CTX_load_verify_locations(ctx, g->server_tls_ca_file, NULL)
				 : SSL_CTX_set_default_verify_paths(ctx);
		if (ok != 1) {
			ssl_err(err, errlen, "cannot load server_tls_ca_file", g->server_tls_ca_file);
			goto fail;
		}
		SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	} else {
		SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
	}
	return ctx;
fail:
	SSL_CTX_free(ctx);
	return NULL;
}

/* The PEM RSA private key of client_rsa_key_file. */
static struct myauth_rsa *load_rsa_key(const char *file, char *err, size_t errlen)
{
	FILE *f = fopen(file, "r");
	if (!f) {
		snprintf(err, errlen, "client_rsa_key_file %s: cannot open", file);
		return NULL;
	}
	uint8_t pem[16384];
	size_t n = fread(pem, 1, sizeof(pem), f);
	bool whole = feof(f) && !ferror(f);
	fclose(f);
	struct myauth_rsa *k = whole ? myauth_rsa_load(pem, n) : NULL;
	OPENSSL_cleanse(pem, sizeof(pem));
	if (!k)
		snprintf(err, errlen, "client_rsa_key_file %s: not a PEM RSA private key%s", file,
			 whole ? "" : " (over 16 kB)");
	return k;
}

struct tls_contexts *tls_contexts_new(const struct cfg *c, char *err, size_t errlen)
{
	struct tls_contexts *t = calloc(1, sizeof(*t));
	if (!t) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	atomic_init(&t->refs, 1);
	t->client_mode = c->global.client_tls_mode;
	t->server_mode = c->global.server_tls_mode;
	if (t->client_mode != CFG_CTLS_DISABLE) {
		const struct cfg_global *g = &c->global;
		t->accept_ctx = build_accept_ctx("client_tls", g->client_tls_cert_file, g->client_tls_key_file,
						 g->client_tls_ca_file, false, err, errlen);
		if (!t->accept_ctx)
			goto fail;
	}
	if (c->global.stats_tls_cert_file && c->global.stats_tls_key_file) {
		const struct cfg_global *g = &c->global;
		t->stats_ctx = build_accept_ctx("stats_tls", g->stats_tls_cert_file, g->stats_tls_key_file,
						g->stats_tls_ca_file, true, err, errlen);
		if (!t->stats_ctx)
			goto fail;
	}
	if (c->global.client_rsa_key_file) {
		t->rsa = load_rsa_key(c->global.client_rsa_key_file, err, errlen);
		if (!t->rsa)
			goto fail;
	}
	if (t->server_mode != CFG_STLS_DISABLE) {
		t->connect_ctx = build_connect_ctx(&c->global, err, errlen);
		if (!t->connect_ctx)
			goto fail;
	}
	return t;
fail:
	tls_contexts_unref(t);
	return NULL;
}

struct tls_contexts *tls_contexts_ref(struct tls_contexts *t)
{
	if (t)
		atomic_fetch_add(&t->refs, 1);
	return t;
}

void tls_contexts_unref(struct tls_contexts *t)
{
	if (!t || atomic_fetch_sub(&t->refs, 1) != 1)
		return;
	SSL_CTX_free(t->accept_ctx);
	SSL_CTX_free(t->connect_ctx);
	SSL_CTX_free(t->stats_ctx);
	myauth_rsa_free(t->rsa);
	free(t);
}

SSL *tls_new_server_ssl(struct tls_contexts *t, const char *host)
{
	if (!t || !t->connect_ctx)
		return NULL;
	SSL *ssl = SSL_new(t->connect_ctx);
	if (!ssl)
		return NULL;
	struct in6_addr a6;
	struct in_addr a4;
	bool literal = inet_pton(AF_INET, host, &a4) == 1 || inet_pton(AF_INET6, host, &a6) == 1;
	if (!literal)
		SSL_set_tlsext_host_name(ssl, host);
	if (t->server_mode == CFG_STLS_VERIFY_FULL) {
		X509_VERIFY_PARAM *vp = SSL_get0_param(ssl);
		int ok = literal ? X509_VERIFY_PARAM_set1_ip_asc(vp, host)
				 : X509_VERIFY_PARAM_set1_host(vp, host, 0);
		if (ok != 1) {
			SSL_free(ssl);
			return NULL;
		}
	}
	return ssl;
}
