/*
 * pg_auth.h — authenticating a PostgreSQL client at the proxy.
 *
 * Chooses the method from the user's auth_type and the kind of secret
 * the config holds, writes the Authentication requests, and checks the
 * client's answers (cleartext, md5, SCRAM-SHA-256). Pure with respect to
 * I/O: it reads message bodies and appends replies to a struct buf; the
 * client session sends them.
 */
#ifndef SWITCHYARD_PG_AUTH_H
#define SWITCHYARD_PG_AUTH_H

#include <stdbool.h>
#include <stdint.h>

#include "config/config.h"
#include "proxy/pg/pgc.h"
#include "proxy/pg/scram.h"

enum pg_auth_step {
	PGA_START = 0,
	PGA_WAIT_PASSWORD,            /* AuthenticationCleartextPassword sent */
	PGA_WAIT_MD5,                 /* AuthenticationMD5Password sent */
	PGA_WAIT_SASL_INITIAL,        /* AuthenticationSASL sent */
	PGA_WAIT_SASL_RESPONSE,       /* AuthenticationSASLContinue sent */
	PGA_DONE,
};

struct pg_auth {
	enum pg_auth_step step;
	uint8_t md5_salt[4];
	struct scram_verifier verifier;
	struct scram_server scram;
	/* After a SCRAM login: the client's ClientKey, which lets the proxy
	 * log in to servers holding the same verifier. */
	bool have_client_key;
	uint8_t client_key[SCRAM_KEY_LEN];
};

enum pg_auth_result {
	PGA_RES_FAIL = -1,            /* wrong password or bad message: 28P01 / 08P01 */
	PGA_RES_CONTINUE = 0,         /* a request was appended to out; wait for 'p' */
	PGA_RES_OK = 1,               /* authenticated; caller sends AuthenticationOk */
};

/* Begin for user `u`. On failure, sqlstate and err are set. */
enum pg_auth_result pg_auth_begin(struct pg_auth *a, const struct cfg_user *u, struct buf *out,
				  const char **sqlstate, const char **err);

/* Handle the body of a client's 'p' message. */
enum pg_auth_result pg_auth_step(struct pg_auth *a, const struct cfg_user *u,
				 const uint8_t *body, size_t len, struct buf *out,
				 const char **sqlstate, const char **err);

/* Wipe secrets. */
void pg_auth_clear(struct pg_auth *a);

#endif
