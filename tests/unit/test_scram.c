/*
 * test_scram.c — unit tests for proxy/pg/scram.c (SCRAM-SHA-256, both
 * roles) and proxy/pg/pgmd5.c (PostgreSQL md5): RFC 7677 vectors, full
 * exchanges, ClientKey pass-through, and malformed input.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "proxy/pg/pgmd5.h"
#include "proxy/pg/scram.h"

/* RFC 7677 section 3 */
#define V_CLIENT_NONCE "rOprNGfwEbeRWgbNEkqO"
#define V_SERVER_NONCE "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0"
#define V_SALT "W22ZaJ0SNY7soEsUEjb6gQ=="
#define V_CLIENT_FIRST "n,,n=user,r=" V_CLIENT_NONCE
#define V_SERVER_FIRST "r=" V_CLIENT_NONCE V_SERVER_NONCE ",s=" V_SALT ",i=4096"
#define V_CLIENT_FINAL                                                   \
	"c=biws,r=" V_CLIENT_NONCE V_SERVER_NONCE                         \
	",p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="
#define V_SERVER_FINAL "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="
/* computed independently (Python hashlib) from "pencil" and V_SALT */
#define V_VERIFIER                                                       \
	"SCRAM-SHA-256$4096:" V_SALT "$WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=:" \
	"wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU="
#define V_CLIENT_KEY_B64 "pg/JI9Z+hkSpLRa5btpe9GVrDHJcSEN0viVTVXaZbos="

#define BUF 1024

/* A heap copy of exactly strlen(s) bytes, no NUL: ASan flags any overread. */
static char *exact(const char *s)
{
	size_t n = strlen(s);
	char *p = malloc(n ? n : 1);
	assert_non_null(p);
	memcpy(p, s, n);
	return p;
}

static void vector_verifier(struct scram_verifier *v)
{
	assert_int_equal(scram_parse_verifier(V_VERIFIER, v), 0);
}

/* Feed a string (as exact bytes) to scram_server_first. */
static int srv_first(struct scram_server *s, const struct scram_verifier *v, const char *msg,
		     char *out, const char **err)
{
	char *p = exact(msg);
	int rc = scram_server_first(s, v, p, strlen(msg), out, BUF, err);
	free(p);
	return rc;
}

static int srv_final(struct scram_server *s, const char *msg, char *out, const char **err)
{
	char *p = exact(msg);
	int rc = scram_server_final(s, p, strlen(msg), out, BUF, err);
	free(p);
	return rc;
}

static int cli_final(struct scram_client *c, const char *msg, char *out, const char **err)
{
	char *p = exact(msg);
	int rc = scram_client_final(c, p, strlen(msg), out, BUF, err);
	free(p);
	return rc;
}

static int cli_verify(struct scram_client *c, const char *msg, const char **err)
{
	char *p = exact(msg);
	int rc = scram_client_verify(c, p, strlen(msg), err);
	free(p);
	return rc;
}

/* A server at FIRST_SENT state after the RFC client-first-message. */
static void vector_server(struct scram_server *s)
{
	struct scram_verifier v;
	char out[BUF];
	const char *err = NULL;
	vector_verifier(&v);
	scram_server_init(s);
	assert_int_equal(scram_server_set_nonce(s, V_SERVER_NONCE, strlen(V_SERVER_NONCE)), 0);
	assert_int_equal(srv_first(s, &v, V_CLIENT_FIRST, out, &err), 0);
	assert_string_equal(out, V_SERVER_FIRST);
}

/* A password client at FIRST_SENT state with the RFC nonce and user. */
static void vector_client(struct scram_client *c, const char *password)
{
	char out[BUF];
	assert_int_equal(scram_client_init(c, password, NULL, NULL), 0);
	assert_int_equal(scram_client_set_nonce(c, V_CLIENT_NONCE, strlen(V_CLIENT_NONCE)), 0);
	assert_int_equal(scram_client_set_user(c, "user"), 0);
	assert_int_equal(scram_client_first(c, out, sizeof(out)), 0);
	assert_string_equal(out, V_CLIENT_FIRST);
}

/* ---- base64 ---- */

static void test_b64_roundtrip(void **state)
{
	static const struct {
		const char *raw, *enc;
	} cases[] = {
		{ "", "" },          { "f", "Zg==" },         { "fo", "Zm8=" },
		{ "foo", "Zm9v" },   { "foob", "Zm9vYg==" },  { "fooba", "Zm9vYmE=" },
		{ "foobar", "Zm9vYmFy" }, { "n,,", "biws" }, { "y,,", "eSws" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char enc[64];
		uint8_t dec[64];
		size_t n = strlen(cases[i].raw);
		assert_int_equal(scram_b64_encoded_len(n), strlen(cases[i].enc));
		assert_int_equal(scram_b64_encode((const uint8_t *)cases[i].raw, n, enc, sizeof(enc)),
				 (ssize_t)strlen(cases[i].enc));
		assert_string_equal(enc, cases[i].enc);
		assert_int_equal(scram_b64_decode(cases[i].enc, strlen(cases[i].enc), dec, sizeof(dec)),
				 (ssize_t)n);
		assert_memory_equal(dec, cases[i].raw, n);
	}
	/* all byte values */
	uint8_t raw[256], dec[256];
	char enc[400];
	for (int i = 0; i < 256; i++)
		raw[i] = (uint8_t)i;
	assert_int_equal(scram_b64_encode(raw, 256, enc, sizeof(enc)), 344);
	assert_int_equal(scram_b64_decode(enc, 344, dec, sizeof(dec)), 256);
	assert_memory_equal(raw, dec, 256);
}

static void test_b64_strict(void **state)
{
	uint8_t out[64];
	const char *bad[] = { "Zg=", "Zg", "Z===", "====", "Zg==Zg==", "Zm9v\n", "Zm 9",
			      "Zh==", /* non-zero unused bits */
			      "Zm9=", /* non-zero unused bits */
			      "Zm=v", "Zm9*", "=Zm9" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(scram_b64_decode(bad[i], strlen(bad[i]), out, sizeof(out)), -1);
	/* NUL inside */
	assert_int_equal(scram_b64_decode("Zm\0v", 4, out, sizeof(out)), -1);
	/* output too small */
	assert_int_equal(scram_b64_decode("Zm9vYmFy", 8, out, 5), -1);
	assert_int_equal(scram_b64_decode("Zm9vYmFy", 8, out, 6), 6);
	/* encode buffer too small: needs room for the NUL */
	char enc[8];
	assert_int_equal(scram_b64_encode((const uint8_t *)"foobar", 6, enc, 8), -1);
	char enc9[9];
	assert_int_equal(scram_b64_encode((const uint8_t *)"foobar", 6, enc9, 9), 8);
	assert_int_equal(scram_b64_encode((const uint8_t *)"", 0, enc9, 0), -1);
}

/* ---- verifiers ---- */

static void test_verifier_from_password_vector(void **state)
{
	uint8_t salt[32];
	struct scram_verifier v, p;
	char s[SCRAM_VERIFIER_MAX];
	ssize_t n = scram_b64_decode(V_SALT, strlen(V_SALT), salt, sizeof(salt));
	assert_int_equal(n, 16);
	assert_int_equal(scram_verifier_from_password("pencil", salt, (size_t)n, 4096, &v), 0);
	assert_int_equal(scram_verifier_format(&v, s, sizeof(s)), 0);
	assert_string_equal(s, V_VERIFIER);
	assert_int_equal(scram_parse_verifier(V_VERIFIER, &p), 0);
	assert_int_equal(p.iterations, 4096);
	assert_int_equal(p.salt_len, 16);
	assert_memory_equal(p.salt, v.salt, 16);
	assert_memory_equal(p.stored_key, v.stored_key, SCRAM_KEY_LEN);
	assert_memory_equal(p.server_key, v.server_key, SCRAM_KEY_LEN);

	uint8_t ck[SCRAM_KEY_LEN], sk[SCRAM_KEY_LEN], want[SCRAM_KEY_LEN];
	assert_int_equal(scram_client_key_from_password("pencil", salt, 16, 4096, ck, sk), 0);
	assert_int_equal(scram_b64_decode(V_CLIENT_KEY_B64, strlen(V_CLIENT_KEY_B64), want,
					  sizeof(want)),
			 SCRAM_KEY_LEN);
	assert_memory_equal(ck, want, SCRAM_KEY_LEN);
	assert_memory_equal(sk, v.server_key, SCRAM_KEY_LEN);
}

static void test_verifier_random_salt(void **state)
{
	struct scram_verifier a, b;
	assert_int_equal(scram_verifier_from_password("secret", NULL, 0, SCRAM_DEFAULT_ITERATIONS, &a), 0);
	assert_int_equal(scram_verifier_from_password("secret", NULL, 0, SCRAM_DEFAULT_ITERATIONS, &b), 0);
	assert_int_equal(a.salt_len, SCRAM_DEFAULT_SALT_LEN);
	assert_int_equal(a.iterations, 4096);
	assert_memory_not_equal(a.salt, b.salt, a.salt_len);
	assert_memory_not_equal(a.stored_key, b.stored_key, SCRAM_KEY_LEN);
	/* round trip through the text form */
	char s[SCRAM_VERIFIER_MAX];
	struct scram_verifier c;
	assert_int_equal(scram_verifier_format(&a, s, sizeof(s)), 0);
	assert_int_equal(scram_parse_verifier(s, &c), 0);
	assert_memory_equal(&a.salt, &c.salt, a.salt_len);
	assert_memory_equal(a.stored_key, c.stored_key, SCRAM_KEY_LEN);
	/* too small a buffer */
	assert_int_equal(scram_verifier_format(&a, s, 20), -1);
	/* bad arguments */
	assert_int_equal(scram_verifier_from_password("x", NULL, 0, 0, &a), -1);
	assert_int_equal(scram_verifier_from_password("x", NULL, 0, SCRAM_MAX_ITERATIONS + 1, &a), -1);
	assert_int_equal(scram_verifier_from_password("x", (const uint8_t *)"s", 0, 1, &a), -1);
	uint8_t big[SCRAM_SALT_MAX + 1] = { 0 };
	assert_int_equal(scram_verifier_from_password("x", big, sizeof(big), 1, &a), -1);
	assert_int_equal(scram_verifier_from_password(NULL, NULL, 0, 1, &a), -1);
}

static void test_verifier_parse_bad(void **state)
{
	struct scram_verifier v;
	const char *sk = "WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=";
	char buf[512];
	const char *bad[] = {
		"",
		"SCRAM-SHA-256",
		"SCRAM-SHA-256$",
		"SCRAM-SHA-1$4096:" V_SALT "$%s:%s",
		"scram-sha-256$4096:" V_SALT "$%s:%s",
		"SCRAM-SHA-256$0:" V_SALT "$%s:%s",
		"SCRAM-SHA-256$-1:" V_SALT "$%s:%s",
		"SCRAM-SHA-256$04096:" V_SALT "$%s:%s",
		"SCRAM-SHA-256$4096x:" V_SALT "$%s:%s",
		"SCRAM-SHA-256$99999999999:" V_SALT "$%s:%s",
		"SCRAM-SHA-256$:" V_SALT "$%s:%s",
		"SCRAM-SHA-256$4096:$%s:%s",
		"SCRAM-SHA-256$4096:W22ZaJ0SNY7soEsUEjb6gQ=$%s:%s",
		"SCRAM-SHA-256$4096" V_SALT "$%s:%s",
		"SCRAM-SHA-256$4096:" V_SALT "%s:%s",
		"SCRAM-SHA-256$4096:" V_SALT "$%s%s",
		"SCRAM-SHA-256$4096:" V_SALT "$%s:%s:",
		"SCRAM-SHA-256$4096:" V_SALT "$%s:%s$",
		"SCRAM-SHA-256$4096:" V_SALT "$%s:%sAAAA",
		"SCRAM-SHA-256$4096:" V_SALT "$%s:%.40s",
		"SCRAM-SHA-256$4096:" V_SALT "$%s:%s ",
		"SCRAM-SHA-256$4096:" V_SALT "$$%s:%s",
		"md5c0b5c0b5c0b5c0b5c0b5c0b5c0b5c0b5",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(buf, sizeof(buf), bad[i], sk, sk);
		assert_int_equal(scram_parse_verifier(buf, &v), -1);
	}
	/* good with the same template */
	snprintf(buf, sizeof(buf), "SCRAM-SHA-256$4096:" V_SALT "$%s:%s", sk, sk);
	assert_int_equal(scram_parse_verifier(buf, &v), 0);
	/* the length-bounded form: no NUL, a NUL inside, truncated */
	size_t n = strlen(buf);
	char *p = exact(buf);
	assert_int_equal(scram_parse_verifier_len(p, n, &v), 0);
	assert_int_equal(scram_parse_verifier_len(p, n - 1, &v), -1);
	assert_int_equal(scram_parse_verifier_len(p, 20, &v), -1);
	p[30] = '\0';
	assert_int_equal(scram_parse_verifier_len(p, n, &v), -1);
	free(p);
	assert_int_equal(scram_parse_verifier(NULL, &v), -1);
}

/* ---- RFC 7677 vector, both sides ---- */

static void test_rfc7677_server(void **state)
{
	struct scram_server s;
	char out[BUF];
	const char *err = NULL;
	uint8_t want[SCRAM_KEY_LEN];

	vector_server(&s);
	assert_null(scram_server_client_key(&s));
	assert_int_equal(srv_final(&s, V_CLIENT_FINAL, out, &err), 0);
	assert_string_equal(out, V_SERVER_FINAL);
	assert_int_equal(s.state, SCRAM_SERVER_DONE);
	assert_int_equal(scram_b64_decode(V_CLIENT_KEY_B64, strlen(V_CLIENT_KEY_B64), want,
					  sizeof(want)),
			 SCRAM_KEY_LEN);
	assert_non_null(scram_server_client_key(&s));
	assert_memory_equal(scram_server_client_key(&s), want, SCRAM_KEY_LEN);
	/* anything more is out of sequence */
	assert_int_equal(srv_final(&s, V_CLIENT_FINAL, out, &err), -1);
	scram_server_clear(&s);
	assert_int_equal(s.state, SCRAM_SERVER_INIT);
}

static void test_rfc7677_client_password(void **state)
{
	struct scram_client c;
	char out[BUF];
	const char *err = NULL;

	vector_client(&c, "pencil");
	assert_int_equal(cli_final(&c, V_SERVER_FIRST, out, &err), 0);
	assert_string_equal(out, V_CLIENT_FINAL);
	assert_int_equal(cli_verify(&c, V_SERVER_FINAL, &err), 0);
	assert_int_equal(c.state, SCRAM_CLIENT_DONE);
	scram_client_clear(&c);
}

static void test_rfc7677_client_key(void **state)
{
	struct scram_client c;
	struct scram_verifier v;
	uint8_t ck[SCRAM_KEY_LEN];
	char out[BUF];
	const char *err = NULL;

	vector_verifier(&v);
	assert_int_equal(scram_b64_decode(V_CLIENT_KEY_B64, strlen(V_CLIENT_KEY_B64), ck,
					  sizeof(ck)),
			 SCRAM_KEY_LEN);
	/* with the ServerKey: verified */
	assert_int_equal(scram_client_init(&c, NULL, ck, v.server_key), 0);
	assert_int_equal(scram_client_set_nonce(&c, V_CLIENT_NONCE, strlen(V_CLIENT_NONCE)), 0);
	assert_int_equal(scram_client_set_user(&c, "user"), 0);
	assert_int_equal(scram_client_first(&c, out, sizeof(out)), 0);
	assert_int_equal(cli_final(&c, V_SERVER_FIRST, out, &err), 0);
	assert_string_equal(out, V_CLIENT_FINAL);
	assert_int_equal(cli_verify(&c, V_SERVER_FINAL, &err), 0);
	assert_int_equal(c.state, SCRAM_CLIENT_DONE);

	/* with the ServerKey, a forged server signature is rejected */
	assert_int_equal(scram_client_init(&c, NULL, ck, v.server_key), 0);
	assert_int_equal(scram_client_set_nonce(&c, V_CLIENT_NONCE, strlen(V_CLIENT_NONCE)), 0);
	assert_int_equal(scram_client_set_user(&c, "user"), 0);
	assert_int_equal(scram_client_first(&c, out, sizeof(out)), 0);
	assert_int_equal(cli_final(&c, V_SERVER_FIRST, out, &err), 0);
	assert_int_equal(cli_verify(&c, "v=7rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=", &err), -1);
	assert_int_equal(c.state, SCRAM_CLIENT_FAILED);

	/* without the ServerKey: accepted, marked unverified */
	assert_int_equal(scram_client_init(&c, NULL, ck, NULL), 0);
	assert_int_equal(scram_client_set_nonce(&c, V_CLIENT_NONCE, strlen(V_CLIENT_NONCE)), 0);
	assert_int_equal(scram_client_set_user(&c, "user"), 0);
	assert_int_equal(scram_client_first(&c, out, sizeof(out)), 0);
	assert_int_equal(cli_final(&c, V_SERVER_FIRST, out, &err), 0);
	assert_string_equal(out, V_CLIENT_FINAL);
	assert_int_equal(cli_verify(&c, V_SERVER_FINAL, &err), 0);
	assert_int_equal(c.state, SCRAM_CLIENT_DONE_UNVERIFIED);
	scram_client_clear(&c);
}

/* ---- full exchanges ---- */

/* Run client c against a server holding v; returns 0 if both sides accept. */
static int exchange(struct scram_client *c, const struct scram_verifier *v,
		    struct scram_server *s, const char **err)
{
	char m1[BUF], m2[BUF], m3[BUF], m4[BUF];
	scram_server_init(s);
	if (scram_client_first(c, m1, sizeof(m1)) != 0)
		return -1;
	if (scram_server_first(s, v, m1, strlen(m1), m2, sizeof(m2), err) != 0)
		return -1;
	if (scram_client_final(c, m2, strlen(m2), m3, sizeof(m3), err) != 0)
		return -1;
	if (scram_server_final(s, m3, strlen(m3), m4, sizeof(m4), err) != 0)
		return -1;
	return scram_client_verify(c, m4, strlen(m4), err);
}

static void test_full_exchange_random(void **state)
{
	struct scram_verifier v;
	struct scram_client c;
	struct scram_server s;
	char m1[BUF];
	const char *err = NULL;

	assert_int_equal(scram_verifier_from_password("correct horse", NULL, 0, 4096, &v), 0);
	assert_int_equal(scram_client_init(&c, "correct horse", NULL, NULL), 0);
	assert_int_equal(exchange(&c, &v, &s, &err), 0);
	assert_int_equal(c.state, SCRAM_CLIENT_DONE);
	assert_int_equal(s.state, SCRAM_SERVER_DONE);
	/* libpq's shape: empty user, 24-char nonce of 18 random bytes */
	assert_int_equal(strlen(c.client_nonce), 24);
	assert_int_equal(strlen(s.server_nonce), 24);

	/* nonces differ between runs */
	struct scram_client c2;
	assert_int_equal(scram_client_init(&c2, "x", NULL, NULL), 0);
	assert_int_equal(scram_client_first(&c2, m1, sizeof(m1)), 0);
	assert_true(strncmp(m1, "n,,n=,r=", 8) == 0);
	assert_int_equal(strlen(m1), 8 + 24);
	assert_string_not_equal(c2.client_nonce, c.client_nonce);
	scram_client_clear(&c2);
	scram_client_clear(&c);
	scram_server_clear(&s);
}

static void test_client_key_passthrough(void **state)
{
	struct scram_verifier v;
	struct scram_client c, proxy;
	struct scram_server front, back;
	const char *err = NULL;
	uint8_t ck[SCRAM_KEY_LEN];

	/* the client logs in to the proxy with its password */
	assert_int_equal(scram_verifier_from_password("s3cret!", NULL, 0, 4096, &v), 0);
	assert_int_equal(scram_client_init(&c, "s3cret!", NULL, NULL), 0);
	assert_int_equal(exchange(&c, &v, &front, &err), 0);
	assert_non_null(scram_server_client_key(&front));
	memcpy(ck, scram_server_client_key(&front), SCRAM_KEY_LEN);

	/* the proxy logs in to a server with the same verifier, with ClientKey only */
	assert_int_equal(scram_client_init(&proxy, NULL, ck, v.server_key), 0);
	assert_int_equal(exchange(&proxy, &v, &back, &err), 0);
	assert_int_equal(proxy.state, SCRAM_CLIENT_DONE);
	assert_int_equal(back.state, SCRAM_SERVER_DONE);
	assert_memory_equal(scram_server_client_key(&back), ck, SCRAM_KEY_LEN);

	/* and without the ServerKey */
	assert_int_equal(scram_client_init(&proxy, NULL, ck, NULL), 0);
	assert_int_equal(exchange(&proxy, &v, &back, &err), 0);
	assert_int_equal(proxy.state, SCRAM_CLIENT_DONE_UNVERIFIED);

	/* a wrong ClientKey fails */
	ck[0] ^= 1;
	assert_int_equal(scram_client_init(&proxy, NULL, ck, v.server_key), 0);
	assert_int_equal(exchange(&proxy, &v, &back, &err), -1);
	assert_int_equal(back.state, SCRAM_SERVER_FAILED);
	assert_null(scram_server_client_key(&back));

	/* a different verifier (same password, other salt) fails too: ClientKey depends on salt */
	struct scram_verifier v2;
	ck[0] ^= 1;
	assert_int_equal(scram_verifier_from_password("s3cret!", NULL, 0, 4096, &v2), 0);
	assert_int_equal(scram_client_init(&proxy, NULL, ck, v.server_key), 0);
	assert_int_equal(exchange(&proxy, &v2, &back, &err), -1);
}

static void test_wrong_password(void **state)
{
	struct scram_verifier v;
	struct scram_client c;
	struct scram_server s;
	const char *err = NULL;

	assert_int_equal(scram_verifier_from_password("right", NULL, 0, 4096, &v), 0);
	assert_int_equal(scram_client_init(&c, "wrong", NULL, NULL), 0);
	assert_int_equal(exchange(&c, &v, &s, &err), -1);
	assert_non_null(err);
	assert_string_equal(err, "SCRAM authentication failed: invalid proof");
	assert_int_equal(s.state, SCRAM_SERVER_FAILED);
	assert_null(scram_server_client_key(&s));

	/* the RFC vector with a wrong password on the client side: different proof */
	char out[BUF];
	vector_client(&c, "pencil2");
	assert_int_equal(cli_final(&c, V_SERVER_FIRST, out, &err), 0);
	assert_string_not_equal(out, V_CLIENT_FINAL);
	assert_int_equal(cli_verify(&c, V_SERVER_FINAL, &err), -1);
}

/* ---- server side: malformed messages ---- */

static void test_server_first_malformed(void **state)
{
	struct scram_verifier v;
	struct scram_server s;
	char out[BUF];
	const char *err;
	const char *bad[] = {
		"",
		"n",
		"n,",
		"n,,",
		"n,,n=",
		"n,,n=user",
		"n,,n=user,",
		"n,,n=user,r=",
		"n,,r=abc",
		"n,,n=user,r=abc,",
		"n,,n=user,r=abc,=x",
		"n,,n=user,r=abc,1=x",
		"n,,n=user,r=abc,xx",
		"n,,n=user,r=ab c",
		"n,,n=user,r=ab\x7f",
		"n,,n=user,r=ab\x80",
		"x,,n=user,r=abc",
		"N,,n=user,r=abc",
		"p=tls-server-end-point,,n=user,r=abc",
		"n,a=admin,n=user,r=abc",
		"n,,m=ext,n=user,r=abc",
		"n,n=user,r=abc",
		"n ,,n=user,r=abc",
		"y,,,n=user,r=abc",
		"n,,r=abc,n=user",
	};
	vector_verifier(&v);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		scram_server_init(&s);
		err = NULL;
		assert_int_equal(srv_first(&s, &v, bad[i], out, &err), -1);
		assert_non_null(err);
		assert_int_equal(s.state, SCRAM_SERVER_FAILED);
	}
	/* NUL bytes inside */
	scram_server_init(&s);
	assert_int_equal(scram_server_first(&s, &v, "n,,n=us\0er,r=abc", 16, out, BUF, &err), -1);
	scram_server_init(&s);
	assert_int_equal(scram_server_first(&s, &v, "n,,n=user,r=ab\0c", 16, out, BUF, &err), -1);
	/* a long nonce */
	char big[SCRAM_NONCE_MAX + 32];
	snprintf(big, sizeof(big), "n,,n=,r=");
	memset(big + 8, 'A', SCRAM_NONCE_MAX + 1);
	big[8 + SCRAM_NONCE_MAX + 1] = '\0';
	scram_server_init(&s);
	assert_int_equal(srv_first(&s, &v, big, out, &err), -1);
	/* a long user name */
	char huge[SCRAM_MSG_MAX + 64];
	memcpy(huge, "n,,n=", 5);
	memset(huge + 5, 'u', SCRAM_MSG_MAX);
	memcpy(huge + 5 + SCRAM_MSG_MAX, ",r=abc", 7);
	scram_server_init(&s);
	assert_int_equal(srv_first(&s, &v, huge, out, &err), -1);
	/* accepted variants: empty user, extension, 'y' flag */
	const char *good[] = { "n,,n=,r=abc", "n,,n=*,r=abc,x=ext", "y,,n=user,r=abc",
			       "n,,n=a=2Cb,r=!\"#$%&'()*+-./:;<=>?@[]^_`{|}~" };
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		scram_server_init(&s);
		assert_int_equal(srv_first(&s, &v, good[i], out, &err), 0);
	}
	/* output buffer too small */
	scram_server_init(&s);
	assert_int_equal(scram_server_first(&s, &v, "n,,n=,r=abc", 11, out, 10, &err), -1);
	/* out of sequence */
	scram_server_init(&s);
	assert_int_equal(srv_first(&s, &v, "n,,n=,r=abc", out, &err), 0);
	assert_int_equal(srv_first(&s, &v, "n,,n=,r=abc", out, &err), -1);
	scram_server_init(&s);
	assert_int_equal(srv_final(&s, V_CLIENT_FINAL, out, &err), -1);
	/* bad verifier */
	struct scram_verifier bv = v;
	bv.iterations = 0;
	scram_server_init(&s);
	assert_int_equal(srv_first(&s, &bv, "n,,n=,r=abc", out, &err), -1);
	/* bad injected nonce */
	scram_server_init(&s);
	assert_int_equal(scram_server_set_nonce(&s, "a,b", 3), -1);
	assert_int_equal(scram_server_set_nonce(&s, "", 0), -1);
}

static void test_server_final_malformed(void **state)
{
	struct scram_server s;
	char out[BUF];
	const char *err;
#define NONCE V_CLIENT_NONCE V_SERVER_NONCE
#define PROOF "p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="
	const char *bad[] = {
		"",
		"c",
		"c=biws",
		"c=biws,",
		"c=biws,r=" NONCE,
		"c=biws,r=" NONCE ",",
		"c=biws,r=" NONCE ",p=",
		"c=biws,r=" NONCE ",p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ",
		"c=biws,r=" NONCE ",p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ==",
		"c=biws,r=" NONCE ",p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7And*Q=",
		"c=biws,r=" NONCE ",p=dHzbZapW",
		"c=biws,r=" NONCE "," PROOF ",x=1",
		"c=biws,r=" NONCE "," PROOF ",",
		/* wrong proof */
		"c=biws,r=" NONCE ",p=eHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
		/* channel binding */
		"c=eSws,r=" NONCE "," PROOF,
		"c=cD10bHMtc2VydmVyLWVuZC1wb2ludCws,r=" NONCE "," PROOF,
		"c=biw,r=" NONCE "," PROOF,
		"c=,r=" NONCE "," PROOF,
		"c=biws=,r=" NONCE "," PROOF,
		/* nonce */
		"c=biws,r=" V_CLIENT_NONCE "," PROOF,
		"c=biws,r=" NONCE "x," PROOF,
		"c=biws,r=x" NONCE "," PROOF,
		"c=biws,r=" V_CLIENT_NONCE "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k1," PROOF,
		"c=biws,r=," PROOF,
		/* order */
		"r=" NONCE ",c=biws," PROOF,
		PROOF ",c=biws,r=" NONCE,
		"c=biws," PROOF ",r=" NONCE,
		"c=biws,r=" NONCE ",1=x," PROOF,
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		vector_server(&s);
		err = NULL;
		assert_int_equal(srv_final(&s, bad[i], out, &err), -1);
		assert_non_null(err);
		assert_int_equal(s.state, SCRAM_SERVER_FAILED);
		assert_null(scram_server_client_key(&s));
	}
	/* every truncation of the good message fails */
	for (size_t n = 0; n < strlen(V_CLIENT_FINAL); n++) {
		vector_server(&s);
		char *p = exact(V_CLIENT_FINAL);
		assert_int_equal(scram_server_final(&s, p, n, out, BUF, &err), -1);
		free(p);
	}
	/* trailing bytes beyond len are ignored: the message is not NUL-terminated */
	vector_server(&s);
	char padded[BUF];
	memset(padded, 'Z', sizeof(padded));
	memcpy(padded, V_CLIENT_FINAL, strlen(V_CLIENT_FINAL));
	assert_int_equal(scram_server_final(&s, padded, strlen(V_CLIENT_FINAL), out, BUF, &err), 0);
	assert_string_equal(out, V_SERVER_FINAL);
	/* a NUL inside */
	vector_server(&s);
	memcpy(padded, V_CLIENT_FINAL, strlen(V_CLIENT_FINAL));
	padded[5] = '\0';
	assert_int_equal(scram_server_final(&s, padded, strlen(V_CLIENT_FINAL), out, BUF, &err), -1);
	/* an extension before the proof is accepted and counted in AuthMessage:
	 * the RFC proof no longer matches */
	vector_server(&s);
	assert_int_equal(srv_final(&s, "c=biws,r=" NONCE ",x=ext," PROOF, out, &err), -1);
	assert_string_equal(err, "SCRAM authentication failed: invalid proof");
	/* output buffer too small */
	vector_server(&s);
	assert_int_equal(scram_server_final(&s, V_CLIENT_FINAL, strlen(V_CLIENT_FINAL), out, 10, &err),
			 -1);
	assert_null(scram_server_client_key(&s));
#undef NONCE
#undef PROOF
}

/* A client that sends "y,," (it could bind, we do not offer -PLUS): its c=
 * must be base64("y,,") = "eSws". Our client only sends "n,,", so the proof
 * is computed here from the RFC ClientKey. */
static void y_final(const struct scram_server *s, const char *cbind, char *out, size_t cap)
{
	struct scram_verifier v;
	uint8_t ck[SCRAM_KEY_LEN], sig[SCRAM_KEY_LEN], proof[SCRAM_KEY_LEN];
	char auth[3 * BUF];
	unsigned int len = 0;

	vector_verifier(&v);
	assert_int_equal(scram_b64_decode(V_CLIENT_KEY_B64, strlen(V_CLIENT_KEY_B64), ck,
					  sizeof(ck)),
			 SCRAM_KEY_LEN);
	snprintf(out, cap, "c=%s,r=%s%s", cbind, s->client_nonce, s->server_nonce);
	snprintf(auth, sizeof(auth), "n=,r=%s,%s,%s", s->client_nonce, s->server_first, out);
	assert_non_null(HMAC(EVP_sha256(), v.stored_key, SCRAM_KEY_LEN, (const uint8_t *)auth,
			     strlen(auth), sig, &len));
	for (size_t i = 0; i < SCRAM_KEY_LEN; i++)
		proof[i] = ck[i] ^ sig[i];
	size_t o = strlen(out);
	memcpy(out + o, ",p=", 3);
	assert_true(scram_b64_encode(proof, SCRAM_KEY_LEN, out + o + 3, cap - o - 3) > 0);
}

static void test_server_gs2_y(void **state)
{
	struct scram_verifier v;
	struct scram_server s;
	char m2[BUF], m3[BUF], m4[BUF];
	const char *err = NULL;
	const char *first = "y,,n=,r=abcdef";

	vector_verifier(&v);
	/* "y,," with c=eSws: accepted */
	scram_server_init(&s);
	assert_int_equal(srv_first(&s, &v, first, m2, &err), 0);
	y_final(&s, "eSws", m3, sizeof(m3));
	assert_int_equal(srv_final(&s, m3, m4, &err), 0);
	assert_true(strncmp(m4, "v=", 2) == 0);

	/* "y,," with c=biws (a valid proof over it): binding mismatch */
	scram_server_init(&s);
	assert_int_equal(srv_first(&s, &v, first, m2, &err), 0);
	y_final(&s, "biws", m3, sizeof(m3));
	assert_int_equal(srv_final(&s, m3, m4, &err), -1);
	assert_string_equal(err, "SCRAM channel binding check failed");

	/* "n,," with c=eSws: mismatch too */
	scram_server_init(&s);
	assert_int_equal(srv_first(&s, &v, "n,,n=,r=abcdef", m2, &err), 0);
	y_final(&s, "eSws", m3, sizeof(m3));
	assert_int_equal(srv_final(&s, m3, m4, &err), -1);
	assert_string_equal(err, "SCRAM channel binding check failed");
}

/* ---- client side: malformed messages ---- */

static void test_client_final_malformed(void **state)
{
	struct scram_client c;
	char out[BUF];
	const char *err;
#define R "r=" V_CLIENT_NONCE V_SERVER_NONCE
	const char *bad[] = {
		"",
		"r=",
		R,
		R ",",
		R ",s=" V_SALT,
		R ",s=" V_SALT ",",
		R ",s=" V_SALT ",i=",
		R ",s=" V_SALT ",i=0",
		R ",s=" V_SALT ",i=-1",
		R ",s=" V_SALT ",i=+4096",
		R ",s=" V_SALT ",i=04096",
		R ",s=" V_SALT ",i=4096x",
		R ",s=" V_SALT ",i=1000001",
		R ",s=" V_SALT ",i=2147483647",
		R ",s=" V_SALT ",i=2147483648",
		R ",s=" V_SALT ",i=99999999999999999999",
		R ",s=" V_SALT ",i=4096,",
		R ",s=" V_SALT ",i=4096,1=x",
		R ",s=,i=4096",
		R ",s=W22ZaJ0SNY7soEsUEjb6gQ=,i=4096",
		R ",s=W22ZaJ0SNY7soEsUEjb6g!==,i=4096",
		R ",i=4096,s=" V_SALT,
		"s=" V_SALT "," R ",i=4096",
		"m=ext," R ",s=" V_SALT ",i=4096",
		"e=other-error",
		/* nonce must extend ours */
		"r=" V_CLIENT_NONCE ",s=" V_SALT ",i=4096",
		"r=rOprNGfwEbeRWgbNEkqX" V_SERVER_NONCE ",s=" V_SALT ",i=4096",
		"r=rOprNGfwEbeRWgbNEkq,s=" V_SALT ",i=4096",
		"r=" V_CLIENT_NONCE "ab cd,s=" V_SALT ",i=4096",
		"r=,s=" V_SALT ",i=4096",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		vector_client(&c, "pencil");
		err = NULL;
		assert_int_equal(cli_final(&c, bad[i], out, &err), -1);
		assert_non_null(err);
		assert_int_equal(c.state, SCRAM_CLIENT_FAILED);
	}
	/* salt longer than SCRAM_SALT_MAX */
	char big[BUF];
	uint8_t salt[SCRAM_SALT_MAX + 1] = { 0 };
	char sb64[128];
	assert_true(scram_b64_encode(salt, sizeof(salt), sb64, sizeof(sb64)) > 0);
	snprintf(big, sizeof(big), "%s,s=%s,i=4096", R, sb64);
	vector_client(&c, "pencil");
	assert_int_equal(cli_final(&c, big, out, &err), -1);
	/* every truncation of the good message fails */
	for (size_t n = 0; n < strlen(V_SERVER_FIRST); n++) {
		/* "i=4096" truncated to "i=409", "i=40", "i=4" are valid counts but
		 * give a different proof; only check no crash for those */
		vector_client(&c, "pencil");
		char *p = exact(V_SERVER_FIRST);
		int rc = scram_client_final(&c, p, n, out, BUF, &err);
		free(p);
		if (n < strlen(V_SERVER_FIRST) - 3)
			assert_int_equal(rc, -1);
		else if (rc == 0)
			assert_string_not_equal(out, V_CLIENT_FINAL);
	}
	/* a lowered max_iterations applies to password clients */
	vector_client(&c, "pencil");
	c.max_iterations = 1000;
	assert_int_equal(cli_final(&c, V_SERVER_FIRST, out, &err), -1);
	assert_string_equal(err, "SCRAM iteration count too large");
	/* ClientKey clients do no PBKDF2: a large count is harmless */
	uint8_t ck[SCRAM_KEY_LEN] = { 1 };
	assert_int_equal(scram_client_init(&c, NULL, ck, NULL), 0);
	assert_int_equal(scram_client_set_nonce(&c, V_CLIENT_NONCE, strlen(V_CLIENT_NONCE)), 0);
	assert_int_equal(scram_client_first(&c, out, BUF), 0);
	assert_int_equal(cli_final(&c, R ",s=" V_SALT ",i=2147483647", out, &err), 0);
	/* server extensions are accepted */
	vector_client(&c, "pencil");
	assert_int_equal(cli_final(&c, V_SERVER_FIRST ",x=ext", out, &err), 0);
	/* output buffer too small */
	vector_client(&c, "pencil");
	assert_int_equal(scram_client_final(&c, V_SERVER_FIRST, strlen(V_SERVER_FIRST), out, 30, &err),
			 -1);
	/* out of sequence */
	assert_int_equal(scram_client_init(&c, "pencil", NULL, NULL), 0);
	assert_int_equal(cli_final(&c, V_SERVER_FIRST, out, &err), -1);
#undef R
}

static void test_client_verify_malformed(void **state)
{
	struct scram_client c;
	char out[BUF];
	const char *err;
	const char *bad[] = {
		"",
		"v",
		"v=",
		"e=invalid-proof",
		"e=",
		"e",
		"v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4",
		"v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4==",
		"v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G=",
		"v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=,",
		"v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4= ",
		"v=AAAATRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=",
		"x=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		vector_client(&c, "pencil");
		assert_int_equal(cli_final(&c, V_SERVER_FIRST, out, &err), 0);
		err = NULL;
		assert_int_equal(cli_verify(&c, bad[i], &err), -1);
		assert_non_null(err);
		assert_int_equal(c.state, SCRAM_CLIENT_FAILED);
	}
	vector_client(&c, "pencil");
	assert_int_equal(cli_final(&c, V_SERVER_FIRST, out, &err), 0);
	assert_int_equal(cli_verify(&c, "e=invalid-proof", &err), -1);
	assert_string_equal(err, "SCRAM server reported an error");
	/* an extension after v= is accepted */
	vector_client(&c, "pencil");
	assert_int_equal(cli_final(&c, V_SERVER_FIRST, out, &err), 0);
	assert_int_equal(cli_verify(&c, V_SERVER_FINAL ",x=1", &err), 0);
	/* out of sequence */
	vector_client(&c, "pencil");
	assert_int_equal(cli_verify(&c, V_SERVER_FINAL, &err), -1);
}

static void test_client_init_args(void **state)
{
	struct scram_client c;
	uint8_t k[SCRAM_KEY_LEN] = { 0 };
	char out[BUF];
	assert_int_equal(scram_client_init(&c, NULL, NULL, NULL), -1);
	assert_int_equal(scram_client_init(&c, "pw", k, NULL), -1);
	char longpw[SCRAM_PASSWORD_MAX + 2];
	memset(longpw, 'p', sizeof(longpw) - 1);
	longpw[sizeof(longpw) - 1] = '\0';
	assert_int_equal(scram_client_init(&c, longpw, NULL, NULL), -1);
	longpw[SCRAM_PASSWORD_MAX] = '\0';
	assert_int_equal(scram_client_init(&c, longpw, NULL, NULL), 0);
	/* user escaping */
	assert_int_equal(scram_client_init(&c, "pw", NULL, NULL), 0);
	assert_int_equal(scram_client_set_nonce(&c, "abc", 3), 0);
	assert_int_equal(scram_client_set_user(&c, "a,b=c"), 0);
	assert_int_equal(scram_client_first(&c, out, sizeof(out)), 0);
	assert_string_equal(out, "n,,n=a=2Cb=3Dc,r=abc");
	/* output too small, bad nonce */
	assert_int_equal(scram_client_init(&c, "pw", NULL, NULL), 0);
	assert_int_equal(scram_client_set_nonce(&c, "a b", 3), -1);
	assert_int_equal(scram_client_first(&c, out, 10), -1);
	assert_int_equal(c.state, SCRAM_CLIENT_FAILED);
}

/* ---- md5 ---- */

static void test_md5(void **state)
{
	char stored[PG_MD5_BUF], resp[PG_MD5_BUF];
	const uint8_t salt[4] = { 1, 2, 3, 4 };
	const uint8_t salt2[4] = { 1, 2, 3, 5 };

	/* printf '%s' 'md5passmd5user' | md5sum */
	assert_int_equal(pg_md5_stored("md5pass", "md5user", stored), 0);
	assert_string_equal(stored, "md57541d4e65fae11bd07f18dc6fe2b02bc");
	assert_true(pg_md5_is_stored(stored, strlen(stored)));
	/* md5("7541d4e65fae11bd07f18dc6fe2b02bc" || 01 02 03 04), by Python hashlib */
	assert_int_equal(pg_md5_response(stored, salt, resp), 0);
	assert_string_equal(resp, "md5b5dfd8fbdd6fc9174cc8e85dfa598fa2");

	char *p = exact(resp);
	assert_true(pg_md5_check(stored, salt, p, PG_MD5_LEN));
	assert_false(pg_md5_check(stored, salt2, p, PG_MD5_LEN));
	assert_false(pg_md5_check(stored, salt, p, PG_MD5_LEN - 1));
	assert_false(pg_md5_check(stored, salt, p, 0));
	p[10] ^= 1;
	assert_false(pg_md5_check(stored, salt, p, PG_MD5_LEN));
	free(p);
	assert_false(pg_md5_check(stored, salt, "md5b5dfd8fbdd6fc9174cc8e85dfa598fa2x", 36));
	assert_false(pg_md5_check(stored, salt, NULL, 0));

	/* malformed stored secrets */
	assert_int_equal(pg_md5_response("md5", salt, resp), -1);
	assert_string_equal(resp, "");
	assert_int_equal(pg_md5_response("plain-password-that-is-35-chars-xyz", salt, resp), -1);
	assert_int_equal(pg_md5_response("md57541D4E65FAE11BD07F18DC6FE2B02BC", salt, resp), -1);
	assert_int_equal(pg_md5_response("md57541d4e65fae11bd07f18dc6fe2b02bcc", salt, resp), -1);
	assert_false(pg_md5_check("md5", salt, "md5b5dfd8fbdd6fc9174cc8e85dfa598fa2", 35));
	assert_false(pg_md5_is_stored("md5g541d4e65fae11bd07f18dc6fe2b02bc", 35));
	assert_false(pg_md5_is_stored(NULL, 35));

	/* empty password and user */
	assert_int_equal(pg_md5_stored("", "", stored), 0);
	assert_string_equal(stored, "md5d41d8cd98f00b204e9800998ecf8427e");
	assert_int_equal(pg_md5_stored(NULL, "u", stored), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_b64_roundtrip),
		cmocka_unit_test(test_b64_strict),
		cmocka_unit_test(test_verifier_from_password_vector),
		cmocka_unit_test(test_verifier_random_salt),
		cmocka_unit_test(test_verifier_parse_bad),
		cmocka_unit_test(test_rfc7677_server),
		cmocka_unit_test(test_rfc7677_client_password),
		cmocka_unit_test(test_rfc7677_client_key),
		cmocka_unit_test(test_full_exchange_random),
		cmocka_unit_test(test_client_key_passthrough),
		cmocka_unit_test(test_wrong_password),
		cmocka_unit_test(test_server_first_malformed),
		cmocka_unit_test(test_server_final_malformed),
		cmocka_unit_test(test_server_gs2_y),
		cmocka_unit_test(test_client_final_malformed),
		cmocka_unit_test(test_client_verify_malformed),
		cmocka_unit_test(test_client_init_args),
		cmocka_unit_test(test_md5),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
