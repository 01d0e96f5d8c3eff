/*
 * pg_auth.c — client authentication methods at the proxy: trust,
 * cleartext password, md5 and SCRAM-SHA-256, against a plain password, an
 * md5 hash or a SCRAM verifier from the config.
 *
 * Which method runs: the user's auth_type, except where the stored secret
 * cannot serve it (an md5 hash cannot check SCRAM, a SCRAM verifier
 * cannot check md5); then the method the secret supports is used, as
 * PostgreSQL itself falls back from md5 to SCRAM.
 */
#include "proxy/pg/pg_auth.h"

#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <string.h>

#include "proxy/pg/pgmd5.h"

#define SQLSTATE_BAD_PASSWORD "28P01"
#define SQLSTATE_PROTOCOL "08P01"

static enum pg_auth_result fail(const char **sqlstate, const char **err, const char *code,
				const char *msg)
{
	*sqlstate = code;
	*err = msg;
	return PGA_RES_FAIL;
}

enum pg_auth_result pg_auth_begin(struct pg_auth *a, const struct cfg_user *u, struct buf *out,
				  const char **sqlstate, const char **err)
{
	memset(a, 0, sizeof(*a));
	scram_server_init(&a->scram);
	enum cfg_auth_type t = u->auth_type;
	if (t == CFG_AUTH_TRUST) {
		a->step = PGA_DONE;
		return PGA_RES_OK;
	}
	if (u->secret_kind == CFG_SECRET_NONE || !u->password)
		return fail(sqlstate, err, SQLSTATE_BAD_PASSWORD, "password authentication failed");
	if (t == CFG_AUTH_MD5 && u->secret_kind == CFG_SECRET_SCRAM)
		t = CFG_AUTH_SCRAM;
	if (t == CFG_AUTH_SCRAM && u->secret_kind == CFG_SECRET_MD5)
		t = CFG_AUTH_MD5;

	switch (t) {
	case CFG_AUTH_PASSWORD:
		pgc_put_auth(out, PGC_AUTH_CLEARTEXT, NULL, 0);
		a->step = PGA_WAIT_PASSWORD;
		return PGA_RES_CONTINUE;
	case CFG_AUTH_MD5:
		if (RAND_bytes(a->md5_salt, sizeof(a->md5_salt)) != 1)
			return fail(sqlstate, err, "XX000", "could not generate a random salt");
		pgc_put_auth(out, PGC_AUTH_MD5, a->md5_salt, sizeof(a->md5_salt));
		a->step = PGA_WAIT_MD5;
		return PGA_RES_CONTINUE;
	default: {
		int rc = u->secret_kind == CFG_SECRET_SCRAM
				 ? scram_parse_verifier(u->password, &a->verifier)
				 : scram_verifier_from_password(u->password, NULL, 0,
								SCRAM_DEFAULT_ITERATIONS, &a->verifier);
		if (rc < 0)
			return fail(sqlstate, err, "XX000", "could not prepare the SCRAM verifier");
		pgc_put_auth_sasl(out, "SCRAM-SHA-256");
		a->step = PGA_WAIT_SASL_INITIAL;
		return PGA_RES_CONTINUE;
	}
	}
}

/* Does a cleartext password match the configured secret? */
static bool password_matches(const struct cfg_user *u, const char *pw)
{
	switch (u->secret_kind) {
	case CFG_SECRET_PLAIN: {
		size_t a = strlen(pw), b = strlen(u->password);
		return a == b && CRYPTO_memcmp(pw, u->password, a) == 0;
	}
	case CFG_SECRET_MD5: {
		char stored[PG_MD5_BUF];
		if (pg_md5_stored(pw, u->name, stored) < 0)
			return false;
		return CRYPTO_memcmp(stored, u->password, 35) == 0;
	}
	case CFG_SECRET_SCRAM: {
		struct scram_verifier v, mine;
		if (scram_parse_verifier(u->password, &v) < 0)
			return false;
		if (scram_verifier_from_password(pw, v.salt, v.salt_len, v.iterations, &mine) < 0)
			return false;
		bool ok = CRYPTO_memcmp(v.stored_key, mine.stored_key, SCRAM_KEY_LEN) == 0;
		OPENSSL_cleanse(&mine, sizeof(mine));
		return ok;
	}
	default:
		return false;
	}
}

enum pg_auth_result pg_auth_step(struct pg_auth *a, const struct cfg_user *u,
				 const uint8_t *body, size_t len, struct buf *out,
				 const char **sqlstate, const char **err)
{
	struct pgc_reader r;
	pgc_reader_init(&r, body, len);
	char reply[1024];
	const char *serr = NULL;

	switch (a->step) {
	case PGA_WAIT_PASSWORD: {
		const char *pw = pgc_read_cstr(&r);
		if (r.bad)
			return fail(sqlstate, err, SQLSTATE_PROTOCOL, "malformed password message");
		if (!password_matches(u, pw))
			return fail(sqlstate, err, SQLSTATE_BAD_PASSWORD, "password authentication failed");
		a->step = PGA_DONE;
		return PGA_RES_OK;
	}
	case PGA_WAIT_MD5: {
		const char *resp = pgc_read_cstr(&r);
		if (r.bad)
			return fail(sqlstate, err, SQLSTATE_PROTOCOL, "malformed password message");
		char stored[PG_MD5_BUF];
		const char *st = u->password;
		if (u->secret_kind == CFG_SECRET_PLAIN) {
			if (pg_md5_stored(u->password, u->name, stored) < 0)
				return fail(sqlstate, err, "XX000", "md5 failed");
			st = stored;
		}
		if (!pg_md5_check(st, a->md5_salt, resp, strlen(resp)))
			return fail(sqlstate, err, SQLSTATE_BAD_PASSWORD, "password authentication failed");
		a->step = PGA_DONE;
		return PGA_RES_OK;
	}
	case PGA_WAIT_SASL_INITIAL: {
		const char *mech = pgc_read_cstr(&r);
		uint32_t dlen = pgc_read_u32(&r);
		if (r.bad || strcmp(mech, "SCRAM-SHA-256") != 0)
			return fail(sqlstate, err, SQLSTATE_PROTOCOL,
				    "client selected an invalid SASL authentication mechanism");
		if (dlen == UINT32_MAX || dlen != pgc_reader_left(&r))
			return fail(sqlstate, err, SQLSTATE_PROTOCOL, "malformed SASL message");
		const char *data = (const char *)pgc_read_bytes(&r, dlen);
		if (scram_server_first(&a->scram, &a->verifier, data, dlen, reply, sizeof(reply),
				       &serr) < 0)
			return fail(sqlstate, err, SQLSTATE_PROTOCOL, serr ? serr : "malformed SCRAM message");
		pgc_put_auth(out, PGC_AUTH_SASL_CONTINUE, (const uint8_t *)reply, strlen(reply));
		a->step = PGA_WAIT_SASL_RESPONSE;
		return PGA_RES_CONTINUE;
	}
	case PGA_WAIT_SASL_RESPONSE: {
		if (scram_server_final(&a->scram, (const char *)body, len, reply, sizeof(reply),
				       &serr) < 0)
			return fail(sqlstate, err, SQLSTATE_BAD_PASSWORD, "password authentication failed");
		pgc_put_auth(out, PGC_AUTH_SASL_FINAL, (const uint8_t *)reply, strlen(reply));
		const uint8_t *ck = scram_server_client_key(&a->scram);
		if (ck) {
			memcpy(a->client_key, ck, SCRAM_KEY_LEN);
			a->have_client_key = true;
		}
		a->step = PGA_DONE;
		return PGA_RES_OK;
	}
	default:
		return fail(sqlstate, err, SQLSTATE_PROTOCOL, "unexpected authentication message");
	}
}

void pg_auth_clear(struct pg_auth *a)
{
	scram_server_clear(&a->scram);
	OPENSSL_cleanse(a, sizeof(*a));
}
