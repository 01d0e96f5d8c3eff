/*
 * scram.c — SCRAM-SHA-256 math and message codecs for both roles of the
 * proxy (see scram.h for the contract and the trust boundary).
 *
 * Parsing walks a cursor over (pointer, length); every attribute is read by
 * cur_attr(), which stops at ',' or the end and refuses NUL bytes, so no
 * read goes past the length given. Secrets on the stack are wiped with
 * OPENSSL_cleanse() before returning.
 */
#include "proxy/pg/scram.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

/* ---- base64 ---- */

static const char b64_alphabet[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

size_t scram_b64_encoded_len(size_t n)
{
	return (n / 3 + (n % 3 != 0)) * 4;
}

ssize_t scram_b64_encode(const uint8_t *src, size_t n, char *out, size_t cap)
{
	if (n > (SIZE_MAX / 4) * 3 - 3)
		return -1;
	size_t need = scram_b64_encoded_len(n);
	if (cap == 0 || need > cap - 1 || need > (size_t)SSIZE_MAX)
		return -1;
	size_t o = 0;
	size_t i = 0;
	for (; i + 3 <= n; i += 3) {
		uint32_t w = ((uint32_t)src[i] << 16) | ((uint32_t)src[i + 1] << 8) | src[i + 2];
		out[o++] = b64_alphabet[(w >> 18) & 63];
		out[o++] = b64_alphabet[(w >> 12) & 63];
		out[o++] = b64_alphabet[(w >> 6) & 63];
		out[o++] = b64_alphabet[w & 63];
	}
	if (n - i == 1) {
		uint32_t w = (uint32_t)src[i] << 16;
		out[o++] = b64_alphabet[(w >> 18) & 63];
		out[o++] = b64_alphabet[(w >> 12) & 63];
		out[o++] = '=';
		out[o++] = '=';
	} else if (n - i == 2) {
		uint32_t w = ((uint32_t)src[i] << 16) | ((uint32_t)src[i + 1] << 8);
		out[o++] = b64_alphabet[(w >> 18) & 63];
		out[o++] = b64_alphabet[(w >> 12) & 63];
		out[o++] = b64_alphabet[(w >> 6) & 63];
		out[o++] = '=';
	}
	out[o] = '\0';
	return (ssize_t)o;
}

static int b64_value(char ch)
{
	if (ch >= 'A' && ch <= 'Z')
		return ch - 'A';
	if (ch >= 'a' && ch <= 'z')
		return ch - 'a' + 26;
	if (ch >= '0' && ch <= '9')
		return ch - '0' + 52;
	if (ch == '+')
		return 62;
	if (ch == '/')
		return 63;
	return -1;
}

ssize_t scram_b64_decode(const char *src, size_t n, uint8_t *out, size_t cap)
{
	if (n % 4 != 0)
		return -1;
	size_t o = 0;
	for (size_t i = 0; i < n; i += 4) {
		bool last = i + 4 == n;
		int v[4];
		size_t pad = 0;
		for (size_t k = 0; k < 4; k++) {
			char ch = src[i + k];
			if (ch == '=' && last && k >= 2) {
				v[k] = 0;
				pad++;
				continue;
			}
			if (pad > 0)
				return -1; /* data after padding */
			v[k] = b64_value(ch);
			if (v[k] < 0)
				return -1;
		}
		uint32_t w = ((uint32_t)v[0] << 18) | ((uint32_t)v[1] << 12) |
			     ((uint32_t)v[2] << 6) | (uint32_t)v[3];
		size_t bytes = 3 - pad;
		/* canonical: the bits the padding hides are zero */
		if ((pad == 1 && (w & 0xff) != 0) || (pad == 2 && (w & 0xffff) != 0))
			return -1;
		if (bytes > cap - o)
			return -1;
		out[o++] = (uint8_t)(w >> 16);
		if (bytes > 1)
			out[o++] = (uint8_t)(w >> 8);
		if (bytes > 2)
			out[o++] = (uint8_t)w;
	}
	if (o > (size_t)SSIZE_MAX)
		return -1;
	return (ssize_t)o;
}

/* ---- primitives ---- */

static int sha256(const uint8_t *p, size_t n, uint8_t out[SCRAM_KEY_LEN])
{
	unsigned int len = 0;
	if (EVP_Digest(p, n, out, &len, EVP_sha256(), NULL) != 1 || len != SCRAM_KEY_LEN)
		return -1;
	return 0;
}

static int hmac256(const uint8_t key[SCRAM_KEY_LEN], const void *p, size_t n,
		   uint8_t out[SCRAM_KEY_LEN])
{
	unsigned int len = 0;
	/* HMAC() rejects a NULL data pointer on some versions even for n == 0 */
	static const uint8_t empty[1] = { 0 };
	if (HMAC(EVP_sha256(), key, SCRAM_KEY_LEN, n ? p : empty, n, out, &len) == NULL ||
	    len != SCRAM_KEY_LEN)
		return -1;
	return 0;
}

/* HMAC over "a,b,c" (the AuthMessage), assembled in a stack buffer. */
static int hmac256_auth(const uint8_t key[SCRAM_KEY_LEN], const char *a, size_t an, const char *b,
			size_t bn, const char *c, size_t cn, uint8_t out[SCRAM_KEY_LEN])
{
	char msg[3 * SCRAM_MSG_MAX + 2];
	if (an > SCRAM_MSG_MAX || bn > SCRAM_MSG_MAX || cn > SCRAM_MSG_MAX)
		return -1;
	size_t o = 0;
	memcpy(msg + o, a, an);
	o += an;
	msg[o++] = ',';
	memcpy(msg + o, b, bn);
	o += bn;
	msg[o++] = ',';
	memcpy(msg + o, c, cn);
	o += cn;
	return hmac256(key, msg, o, out);
}

static bool valid_iterations(int iterations)
{
	return iterations >= 1 && iterations <= SCRAM_MAX_ITERATIONS;
}

/* SaltedPassword, then ClientKey / StoredKey / ServerKey (any may be NULL). */
static int derive_keys(const char *password, size_t password_len, const uint8_t *salt,
		       size_t salt_len, int iterations, uint8_t client_key[SCRAM_KEY_LEN],
		       uint8_t stored_key[SCRAM_KEY_LEN], uint8_t server_key[SCRAM_KEY_LEN])
{
	uint8_t salted[SCRAM_KEY_LEN];
	uint8_t ck[SCRAM_KEY_LEN];
	int rc = -1;

	if (password_len > INT_MAX || salt_len == 0 || salt_len > SCRAM_SALT_MAX ||
	    iterations < 1)
		return -1;
	if (PKCS5_PBKDF2_HMAC(password, (int)password_len, salt, (int)salt_len, iterations,
			      EVP_sha256(), SCRAM_KEY_LEN, salted) != 1)
		goto out;
	if (hmac256(salted, "Client Key", 10, ck) != 0)
		goto out;
	if (client_key)
		memcpy(client_key, ck, SCRAM_KEY_LEN);
	if (stored_key && sha256(ck, SCRAM_KEY_LEN, stored_key) != 0)
		goto out;
	if (server_key && hmac256(salted, "Server Key", 10, server_key) != 0)
		goto out;
	rc = 0;
out:
	OPENSSL_cleanse(salted, sizeof(salted));
	OPENSSL_cleanse(ck, sizeof(ck));
	return rc;
}

/* A random nonce: SCRAM_RAW_NONCE_LEN bytes, base64 (24 chars). */
static int random_nonce(char *out, size_t cap, size_t *len)
{
	uint8_t raw[SCRAM_RAW_NONCE_LEN];
	if (RAND_bytes(raw, sizeof(raw)) != 1)
		return -1;
	ssize_t n = scram_b64_encode(raw, sizeof(raw), out, cap);
	if (n < 0)
		return -1;
	*len = (size_t)n;
	return 0;
}

/* printable = %x21-2B / %x2D-7E (RFC 5802) */
static bool nonce_chars_ok(const char *p, size_t n)
{
	if (n == 0)
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)p[i];
		if (ch < 0x21 || ch > 0x7e || ch == ',')
			return false;
	}
	return true;
}

/* ---- cursor over a message ---- */

struct cur {
	const char *p;
	size_t n;
	size_t i;
};

struct slice {
	const char *p;
	size_t n;
};

/* Read "<attr>=<value>" where value runs to the next ',' or the end; the
 * cursor stops on the ',' (or the end). NUL bytes are malformed. */
static int cur_attr(struct cur *c, char attr, struct slice *val)
{
	if (c->n - c->i < 2 || c->p[c->i] != attr || c->p[c->i + 1] != '=')
		return -1;
	size_t start = c->i + 2;
	size_t j = start;
	while (j < c->n && c->p[j] != ',') {
		if (c->p[j] == '\0')
			return -1;
		j++;
	}
	val->p = c->p + start;
	val->n = j - start;
	c->i = j;
	return 0;
}

/* Read any "<letter>=<value>" (an extension). */
static int cur_any_attr(struct cur *c, char *attr, struct slice *val)
{
	if (c->i >= c->n)
		return -1;
	char a = c->p[c->i];
	if (!((a >= 'a' && a <= 'z') || (a >= 'A' && a <= 'Z')))
		return -1;
	*attr = a;
	return cur_attr(c, a, val);
}

static bool cur_comma(struct cur *c)
{
	if (c->i < c->n && c->p[c->i] == ',') {
		c->i++;
		return true;
	}
	return false;
}

static bool cur_at(const struct cur *c, char ch)
{
	return c->i < c->n && c->p[c->i] == ch;
}

static bool cur_end(const struct cur *c)
{
	return c->i == c->n;
}

/* Append into a bounded output; sets *ok false on overflow. */
struct out {
	char *p;
	size_t cap;
	size_t len;
	bool ok;
};

static void out_init(struct out *o, char *p, size_t cap)
{
	o->p = p;
	o->cap = cap;
	o->len = 0;
	o->ok = cap > 0;
	if (o->ok)
		p[0] = '\0';
}

static void out_put(struct out *o, const char *s, size_t n)
{
	if (!o->ok)
		return;
	if (n > o->cap - 1 - o->len) {
		o->ok = false;
		return;
	}
	memcpy(o->p + o->len, s, n);
	o->len += n;
	o->p[o->len] = '\0';
}

static void out_str(struct out *o, const char *s)
{
	out_put(o, s, strlen(s));
}

static void out_b64(struct out *o, const uint8_t *src, size_t n)
{
	if (!o->ok)
		return;
	ssize_t r = scram_b64_encode(src, n, o->p + o->len, o->cap - o->len);
	if (r < 0) {
		o->ok = false;
		o->p[o->len] = '\0';
		return;
	}
	o->len += (size_t)r;
}

static void out_int(struct out *o, int v)
{
	char tmp[16];
	int n = snprintf(tmp, sizeof(tmp), "%d", v);
	if (n < 0 || (size_t)n >= sizeof(tmp)) {
		o->ok = false;
		return;
	}
	out_put(o, tmp, (size_t)n);
}

/* A positive decimal int without sign or leading zeros, at most max. */
static int parse_int(const char *p, size_t n, int max, int *v)
{
	if (n == 0 || n > 10 || (p[0] == '0' && n > 1))
		return -1;
	long long acc = 0;
	for (size_t i = 0; i < n; i++) {
		if (p[i] < '0' || p[i] > '9')
			return -1;
		acc = acc * 10 + (p[i] - '0');
	}
	if (acc < 1 || acc > max)
		return -1;
	*v = (int)acc;
	return 0;
}

/* ---- verifiers ---- */

static const char verifier_prefix[] = "SCRAM-SHA-256$";

int scram_parse_verifier(const char *s, struct scram_verifier *v)
{
	if (s == NULL)
		return -1;
	return scram_parse_verifier_len(s, strlen(s), v);
}

/* Index of the first `ch` in p[from..n), or n. */
static size_t find_char(const char *p, size_t n, size_t from, char ch)
{
	for (size_t i = from; i < n; i++)
		if (p[i] == ch)
			return i;
	return n;
}

int scram_parse_verifier_len(const char *s, size_t len, struct scram_verifier *v)
{
	size_t plen = sizeof(verifier_prefix) - 1;
	if (s == NULL || v == NULL || len < plen || memcmp(s, verifier_prefix, plen) != 0)
		return -1;
	if (memchr(s, '\0', len) != NULL)
		return -1;
	memset(v, 0, sizeof(*v));
	size_t colon1 = find_char(s, len, plen, ':');
	size_t dollar = find_char(s, len, plen, '$');
	if (colon1 >= dollar || dollar == len)
		return -1;
	size_t colon2 = find_char(s, len, dollar + 1, ':');
	if (colon2 == len || find_char(s, len, colon2 + 1, ':') != len ||
	    find_char(s, len, dollar + 1, '$') != len)
		return -1;
	if (parse_int(s + plen, colon1 - plen, INT_MAX, &v->iterations) != 0)
		return -1;
	ssize_t n = scram_b64_decode(s + colon1 + 1, dollar - colon1 - 1, v->salt, sizeof(v->salt));
	if (n <= 0)
		return -1;
	v->salt_len = (size_t)n;
	n = scram_b64_decode(s + dollar + 1, colon2 - dollar - 1, v->stored_key, SCRAM_KEY_LEN);
	if (n != SCRAM_KEY_LEN)
		return -1;
	n = scram_b64_decode(s + colon2 + 1, len - colon2 - 1, v->server_key, SCRAM_KEY_LEN);
	if (n != SCRAM_KEY_LEN)
		return -1;
	return 0;
}

int scram_verifier_format(const struct scram_verifier *v, char *out, size_t cap)
{
	if (v == NULL || out == NULL || v->iterations < 1 || v->salt_len == 0 ||
	    v->salt_len > SCRAM_SALT_MAX)
		return -1;
	struct out o;
	out_init(&o, out, cap);
	out_str(&o, verifier_prefix);
	out_int(&o, v->iterations);
	out_put(&o, ":", 1);
	out_b64(&o, v->salt, v->salt_len);
	out_put(&o, "$", 1);
	out_b64(&o, v->stored_key, SCRAM_KEY_LEN);
	out_put(&o, ":", 1);
	out_b64(&o, v->server_key, SCRAM_KEY_LEN);
	if (!o.ok) {
		if (cap > 0)
			out[0] = '\0';
		return -1;
	}
	return 0;
}

int scram_verifier_from_password(const char *password, const uint8_t *salt, size_t salt_len,
				 int iterations, struct scram_verifier *v)
{
	if (password == NULL || v == NULL || !valid_iterations(iterations))
		return -1;
	memset(v, 0, sizeof(*v));
	if (salt == NULL) {
		salt_len = SCRAM_DEFAULT_SALT_LEN;
		if (RAND_bytes(v->salt, (int)salt_len) != 1)
			return -1;
	} else {
		if (salt_len == 0 || salt_len > SCRAM_SALT_MAX)
			return -1;
		memcpy(v->salt, salt, salt_len);
	}
	v->salt_len = salt_len;
	v->iterations = iterations;
	if (derive_keys(password, strlen(password), v->salt, v->salt_len, iterations, NULL,
			v->stored_key, v->server_key) != 0) {
		OPENSSL_cleanse(v, sizeof(*v));
		return -1;
	}
	return 0;
}

int scram_client_key_from_password(const char *password, const uint8_t *salt, size_t salt_len,
				   int iterations, uint8_t client_key[SCRAM_KEY_LEN],
				   uint8_t server_key[SCRAM_KEY_LEN])
{
	if (password == NULL || salt == NULL || client_key == NULL || !valid_iterations(iterations))
		return -1;
	return derive_keys(password, strlen(password), salt, salt_len, iterations, client_key,
			   NULL, server_key);
}

/* ---- server side ---- */

void scram_server_init(struct scram_server *s)
{
	OPENSSL_cleanse(s, sizeof(*s));
	memset(s, 0, sizeof(*s));
	s->state = SCRAM_SERVER_INIT;
}

void scram_server_clear(struct scram_server *s)
{
	scram_server_init(s);
}

int scram_server_set_nonce(struct scram_server *s, const char *nonce, size_t len)
{
	if (s->state != SCRAM_SERVER_INIT || nonce == NULL || len > SCRAM_NONCE_MAX ||
	    !nonce_chars_ok(nonce, len))
		return -1;
	memcpy(s->server_nonce, nonce, len);
	s->server_nonce[len] = '\0';
	s->server_nonce_len = len;
	return 0;
}

static int server_fail(struct scram_server *s, const char **err, const char *msg)
{
	OPENSSL_cleanse(s->client_key, sizeof(s->client_key));
	s->state = SCRAM_SERVER_FAILED;
	if (err)
		*err = msg;
	return -1;
}

int scram_server_first(struct scram_server *s, const struct scram_verifier *v,
		       const char *client_first, size_t len, char *out, size_t cap,
		       const char **err)
{
	struct cur c = { client_first, len, 0 };
	struct slice val;

	if (s->state != SCRAM_SERVER_INIT)
		return server_fail(s, err, "SCRAM exchange out of sequence");
	if (v == NULL || v->iterations < 1 || v->salt_len == 0 || v->salt_len > SCRAM_SALT_MAX)
		return server_fail(s, err, "invalid SCRAM verifier");
	if (client_first == NULL || out == NULL)
		return server_fail(s, err, "malformed SCRAM message");
	s->verifier = *v;

	/* gs2-header: gs2-cbind-flag "," [authzid] "," */
	if (cur_at(&c, 'p'))
		return server_fail(s, err, "SCRAM channel binding is not supported");
	if (cur_at(&c, 'n') || cur_at(&c, 'y'))
		s->gs2_flag = c.p[c.i++];
	else
		return server_fail(s, err, "malformed SCRAM message: invalid channel binding flag");
	if (!cur_comma(&c))
		return server_fail(s, err, "malformed SCRAM message: expected ','");
	if (cur_at(&c, 'a'))
		return server_fail(s, err, "SCRAM authorization identity is not supported");
	if (!cur_comma(&c))
		return server_fail(s, err, "malformed SCRAM message: expected ','");

	/* client-first-message-bare */
	size_t bare = c.i;
	if (cur_at(&c, 'm'))
		return server_fail(s, err, "SCRAM client requires an unsupported extension");
	if (cur_attr(&c, 'n', &val) != 0 || !cur_comma(&c))
		return server_fail(s, err, "malformed SCRAM message: expected user name");
	if (cur_attr(&c, 'r', &val) != 0)
		return server_fail(s, err, "malformed SCRAM message: expected nonce");
	if (val.n > SCRAM_NONCE_MAX || !nonce_chars_ok(val.p, val.n))
		return server_fail(s, err, "malformed SCRAM message: invalid nonce");
	memcpy(s->client_nonce, val.p, val.n);
	s->client_nonce[val.n] = '\0';
	s->client_nonce_len = val.n;
	while (cur_comma(&c)) {
		char attr;
		if (cur_any_attr(&c, &attr, &val) != 0)
			return server_fail(s, err, "malformed SCRAM message: invalid attribute");
	}
	if (!cur_end(&c))
		return server_fail(s, err, "malformed SCRAM message: garbage at end");
	if (len - bare > SCRAM_MSG_MAX)
		return server_fail(s, err, "SCRAM message too long");
	memcpy(s->client_first_bare, client_first + bare, len - bare);
	s->client_first_bare_len = len - bare;

	if (s->server_nonce_len == 0 &&
	    random_nonce(s->server_nonce, sizeof(s->server_nonce), &s->server_nonce_len) != 0)
		return server_fail(s, err, "could not generate SCRAM nonce");

	struct out o;
	out_init(&o, s->server_first, sizeof(s->server_first));
	out_str(&o, "r=");
	out_put(&o, s->client_nonce, s->client_nonce_len);
	out_put(&o, s->server_nonce, s->server_nonce_len);
	out_str(&o, ",s=");
	out_b64(&o, v->salt, v->salt_len);
	out_str(&o, ",i=");
	out_int(&o, v->iterations);
	if (!o.ok)
		return server_fail(s, err, "SCRAM message too long");
	s->server_first_len = o.len;
	if (o.len + 1 > cap)
		return server_fail(s, err, "SCRAM output buffer too small");
	memcpy(out, s->server_first, o.len + 1);
	s->state = SCRAM_SERVER_FIRST_SENT;
	return 0;
}

int scram_server_final(struct scram_server *s, const char *client_final, size_t len, char *out,
		       size_t cap, const char **err)
{
	struct cur c = { client_final, len, 0 };
	struct slice val;
	uint8_t cbind[8];
	uint8_t proof[SCRAM_KEY_LEN];
	uint8_t sig[SCRAM_KEY_LEN];
	uint8_t key[SCRAM_KEY_LEN];
	uint8_t h[SCRAM_KEY_LEN];
	const char *msg = NULL;

	if (s->state != SCRAM_SERVER_FIRST_SENT)
		return server_fail(s, err, "SCRAM exchange out of sequence");
	if (client_final == NULL || out == NULL)
		return server_fail(s, err, "malformed SCRAM message");

	/* channel-binding: "c=" base64(gs2-header) */
	if (cur_attr(&c, 'c', &val) != 0 || !cur_comma(&c))
		return server_fail(s, err, "malformed SCRAM message: expected channel binding");
	ssize_t n = scram_b64_decode(val.p, val.n, cbind, sizeof(cbind));
	if (n != 3 || cbind[0] != (uint8_t)s->gs2_flag || cbind[1] != ',' || cbind[2] != ',')
		return server_fail(s, err, "SCRAM channel binding check failed");

	/* nonce: the combined nonce, exactly */
	if (cur_attr(&c, 'r', &val) != 0)
		return server_fail(s, err, "malformed SCRAM message: expected nonce");
	if (val.n != s->client_nonce_len + s->server_nonce_len ||
	    memcmp(val.p, s->client_nonce, s->client_nonce_len) != 0 ||
	    memcmp(val.p + s->client_nonce_len, s->server_nonce, s->server_nonce_len) != 0)
		return server_fail(s, err, "SCRAM nonce mismatch");

	/* [extensions] then proof, which is last */
	size_t without_proof;
	for (;;) {
		if (!cur_comma(&c))
			return server_fail(s, err, "malformed SCRAM message: expected proof");
		without_proof = c.i - 1;
		if (cur_at(&c, 'p'))
			break;
		char attr;
		if (cur_any_attr(&c, &attr, &val) != 0)
			return server_fail(s, err, "malformed SCRAM message: invalid attribute");
	}
	if (cur_attr(&c, 'p', &val) != 0 || !cur_end(&c))
		return server_fail(s, err, "malformed SCRAM message: invalid proof");
	n = scram_b64_decode(val.p, val.n, proof, sizeof(proof));
	if (n != SCRAM_KEY_LEN)
		return server_fail(s, err, "malformed SCRAM message: invalid proof");
	if (without_proof > SCRAM_MSG_MAX)
		return server_fail(s, err, "SCRAM message too long");

	/* ClientKey = ClientProof XOR HMAC(StoredKey, AuthMessage); H(ClientKey) == StoredKey */
	if (hmac256_auth(s->verifier.stored_key, s->client_first_bare, s->client_first_bare_len,
			 s->server_first, s->server_first_len, client_final, without_proof,
			 sig) != 0) {
		msg = "SCRAM computation failed";
		goto fail;
	}
	for (size_t i = 0; i < SCRAM_KEY_LEN; i++)
		key[i] = proof[i] ^ sig[i];
	if (sha256(key, SCRAM_KEY_LEN, h) != 0) {
		msg = "SCRAM computation failed";
		goto fail;
	}
	if (CRYPTO_memcmp(h, s->verifier.stored_key, SCRAM_KEY_LEN) != 0) {
		msg = "SCRAM authentication failed: invalid proof";
		goto fail;
	}

	/* server-final-message: "v=" base64(HMAC(ServerKey, AuthMessage)) */
	if (hmac256_auth(s->verifier.server_key, s->client_first_bare, s->client_first_bare_len,
			 s->server_first, s->server_first_len, client_final, without_proof,
			 sig) != 0) {
		msg = "SCRAM computation failed";
		goto fail;
	}
	struct out o;
	out_init(&o, out, cap);
	out_str(&o, "v=");
	out_b64(&o, sig, SCRAM_KEY_LEN);
	if (!o.ok) {
		msg = "SCRAM output buffer too small";
		goto fail;
	}
	memcpy(s->client_key, key, SCRAM_KEY_LEN);
	s->state = SCRAM_SERVER_DONE;
	OPENSSL_cleanse(key, sizeof(key));
	OPENSSL_cleanse(proof, sizeof(proof));
	return 0;

fail:
	OPENSSL_cleanse(key, sizeof(key));
	OPENSSL_cleanse(proof, sizeof(proof));
	if (cap > 0 && out)
		out[0] = '\0';
	return server_fail(s, err, msg);
}

const uint8_t *scram_server_client_key(const struct scram_server *s)
{
	return s->state == SCRAM_SERVER_DONE ? s->client_key : NULL;
}

/* ---- client side ---- */

void scram_client_clear(struct scram_client *c)
{
	OPENSSL_cleanse(c, sizeof(*c));
	memset(c, 0, sizeof(*c));
	c->state = SCRAM_CLIENT_FAILED;
}

int scram_client_init(struct scram_client *c, const char *password, const uint8_t *client_key,
		      const uint8_t *server_key)
{
	OPENSSL_cleanse(c, sizeof(*c));
	memset(c, 0, sizeof(*c));
	c->state = SCRAM_CLIENT_FAILED;
	c->max_iterations = SCRAM_MAX_ITERATIONS;
	if ((password == NULL) == (client_key == NULL))
		return -1;
	if (password) {
		size_t n = strlen(password);
		if (n > SCRAM_PASSWORD_MAX)
			return -1;
		memcpy(c->password, password, n + 1);
		c->password_len = n;
		c->cred = SCRAM_CRED_PASSWORD;
	} else {
		memcpy(c->client_key, client_key, SCRAM_KEY_LEN);
		if (server_key) {
			memcpy(c->server_key, server_key, SCRAM_KEY_LEN);
			c->have_server_key = true;
		}
		c->cred = SCRAM_CRED_CLIENT_KEY;
	}
	c->state = SCRAM_CLIENT_INIT;
	return 0;
}

int scram_client_set_nonce(struct scram_client *c, const char *nonce, size_t len)
{
	if (c->state != SCRAM_CLIENT_INIT || nonce == NULL || len > SCRAM_NONCE_MAX ||
	    !nonce_chars_ok(nonce, len))
		return -1;
	memcpy(c->client_nonce, nonce, len);
	c->client_nonce[len] = '\0';
	c->client_nonce_len = len;
	return 0;
}

int scram_client_set_user(struct scram_client *c, const char *user)
{
	if (c->state != SCRAM_CLIENT_INIT || user == NULL)
		return -1;
	size_t o = 0;
	for (const char *p = user; *p; p++) {
		const char *esc = *p == ',' ? "=2C" : *p == '=' ? "=3D" : NULL;
		size_t k = esc ? 3 : 1;
		if (k > SCRAM_USER_MAX - o)
			return -1;
		if (esc)
			memcpy(c->user + o, esc, 3);
		else
			c->user[o] = *p;
		o += k;
	}
	c->user[o] = '\0';
	c->user_len = o;
	return 0;
}

static int client_fail(struct scram_client *c, const char **err, const char *msg)
{
	c->state = SCRAM_CLIENT_FAILED;
	if (err)
		*err = msg;
	return -1;
}

int scram_client_first(struct scram_client *c, char *out, size_t cap)
{
	if (c->state != SCRAM_CLIENT_INIT || out == NULL)
		return client_fail(c, NULL, NULL);
	if (c->client_nonce_len == 0 &&
	    random_nonce(c->client_nonce, sizeof(c->client_nonce), &c->client_nonce_len) != 0)
		return client_fail(c, NULL, NULL);
	struct out o;
	out_init(&o, c->client_first_bare, sizeof(c->client_first_bare));
	out_str(&o, "n=");
	out_put(&o, c->user, c->user_len);
	out_str(&o, ",r=");
	out_put(&o, c->client_nonce, c->client_nonce_len);
	if (!o.ok)
		return client_fail(c, NULL, NULL);
	c->client_first_bare_len = o.len;
	out_init(&o, out, cap);
	out_str(&o, "n,,");
	out_put(&o, c->client_first_bare, c->client_first_bare_len);
	if (!o.ok)
		return client_fail(c, NULL, NULL);
	c->state = SCRAM_CLIENT_FIRST_SENT;
	return 0;
}

int scram_client_final(struct scram_client *c, const char *server_first, size_t len, char *out,
		       size_t cap, const char **err)
{
	struct cur cu = { server_first, len, 0 };
	struct slice nonce, salt_b64, iter;
	uint8_t salt[SCRAM_SALT_MAX];
	uint8_t client_key[SCRAM_KEY_LEN];
	uint8_t stored_key[SCRAM_KEY_LEN];
	uint8_t server_key[SCRAM_KEY_LEN];
	uint8_t sig[SCRAM_KEY_LEN];
	uint8_t proof[SCRAM_KEY_LEN];
	const char *msg = NULL;
	int iterations = 0;

	if (c->state != SCRAM_CLIENT_FIRST_SENT)
		return client_fail(c, err, "SCRAM exchange out of sequence");
	if (server_first == NULL || out == NULL)
		return client_fail(c, err, "malformed SCRAM message");
	if (len > SCRAM_MSG_MAX)
		return client_fail(c, err, "SCRAM message too long");

	if (cur_at(&cu, 'm'))
		return client_fail(c, err, "SCRAM server requires an unsupported extension");
	if (cur_attr(&cu, 'r', &nonce) != 0 || !cur_comma(&cu))
		return client_fail(c, err, "malformed SCRAM message: expected nonce");
	if (nonce.n <= c->client_nonce_len || nonce.n > 2 * SCRAM_NONCE_MAX ||
	    memcmp(nonce.p, c->client_nonce, c->client_nonce_len) != 0 ||
	    !nonce_chars_ok(nonce.p, nonce.n))
		return client_fail(c, err, "SCRAM nonce mismatch");
	if (cur_attr(&cu, 's', &salt_b64) != 0 || !cur_comma(&cu))
		return client_fail(c, err, "malformed SCRAM message: expected salt");
	ssize_t n = scram_b64_decode(salt_b64.p, salt_b64.n, salt, sizeof(salt));
	if (n <= 0)
		return client_fail(c, err, "malformed SCRAM message: invalid salt");
	size_t salt_len = (size_t)n;
	if (cur_attr(&cu, 'i', &iter) != 0 || parse_int(iter.p, iter.n, INT_MAX, &iterations) != 0)
		return client_fail(c, err, "malformed SCRAM message: invalid iteration count");
	while (cur_comma(&cu)) {
		char attr;
		struct slice val;
		if (cur_any_attr(&cu, &attr, &val) != 0)
			return client_fail(c, err, "malformed SCRAM message: invalid attribute");
	}
	if (!cur_end(&cu))
		return client_fail(c, err, "malformed SCRAM message: garbage at end");

	if (c->cred == SCRAM_CRED_PASSWORD) {
		if (iterations > c->max_iterations || iterations > SCRAM_MAX_ITERATIONS)
			return client_fail(c, err, "SCRAM iteration count too large");
		if (derive_keys(c->password, c->password_len, salt, salt_len, iterations,
				client_key, stored_key, server_key) != 0) {
			msg = "SCRAM computation failed";
			goto fail;
		}
	} else {
		memcpy(client_key, c->client_key, SCRAM_KEY_LEN);
		memcpy(server_key, c->server_key, SCRAM_KEY_LEN);
		if (sha256(client_key, SCRAM_KEY_LEN, stored_key) != 0) {
			msg = "SCRAM computation failed";
			goto fail;
		}
	}

	/* client-final-message-without-proof, then ",p=" proof */
	struct out o;
	out_init(&o, out, cap);
	out_str(&o, "c=biws,r=");
	out_put(&o, nonce.p, nonce.n);
	if (!o.ok || o.len > SCRAM_MSG_MAX) {
		msg = "SCRAM output buffer too small";
		goto fail;
	}
	size_t without_proof = o.len;
	if (hmac256_auth(stored_key, c->client_first_bare, c->client_first_bare_len, server_first,
			 len, out, without_proof, sig) != 0) {
		msg = "SCRAM computation failed";
		goto fail;
	}
	for (size_t i = 0; i < SCRAM_KEY_LEN; i++)
		proof[i] = client_key[i] ^ sig[i];
	if (c->cred == SCRAM_CRED_PASSWORD || c->have_server_key) {
		if (hmac256_auth(server_key, c->client_first_bare, c->client_first_bare_len,
				 server_first, len, out, without_proof,
				 c->server_signature) != 0) {
			msg = "SCRAM computation failed";
			goto fail;
		}
		c->have_server_key = true;
	}
	out_str(&o, ",p=");
	out_b64(&o, proof, SCRAM_KEY_LEN);
	if (!o.ok) {
		msg = "SCRAM output buffer too small";
		goto fail;
	}
	c->state = SCRAM_CLIENT_FINAL_SENT;
	OPENSSL_cleanse(client_key, sizeof(client_key));
	OPENSSL_cleanse(server_key, sizeof(server_key));
	OPENSSL_cleanse(stored_key, sizeof(stored_key));
	return 0;

fail:
	OPENSSL_cleanse(client_key, sizeof(client_key));
	OPENSSL_cleanse(server_key, sizeof(server_key));
	OPENSSL_cleanse(stored_key, sizeof(stored_key));
	if (cap > 0)
		out[0] = '\0';
	return client_fail(c, err, msg);
}

int scram_client_verify(struct scram_client *c, const char *server_final, size_t len,
			const char **err)
{
	struct cur cu = { server_final, len, 0 };
	struct slice val;
	uint8_t sig[SCRAM_KEY_LEN];

	if (c->state != SCRAM_CLIENT_FINAL_SENT)
		return client_fail(c, err, "SCRAM exchange out of sequence");
	if (server_final == NULL)
		return client_fail(c, err, "malformed SCRAM message");
	if (cur_at(&cu, 'e')) {
		if (cur_attr(&cu, 'e', &val) != 0)
			return client_fail(c, err, "malformed SCRAM message");
		return client_fail(c, err, "SCRAM server reported an error");
	}
	if (cur_attr(&cu, 'v', &val) != 0)
		return client_fail(c, err, "malformed SCRAM message: expected server signature");
	ssize_t n = scram_b64_decode(val.p, val.n, sig, sizeof(sig));
	if (n != SCRAM_KEY_LEN)
		return client_fail(c, err, "malformed SCRAM message: invalid server signature");
	while (cur_comma(&cu)) {
		char attr;
		if (cur_any_attr(&cu, &attr, &val) != 0)
			return client_fail(c, err, "malformed SCRAM message: invalid attribute");
	}
	if (!cur_end(&cu))
		return client_fail(c, err, "malformed SCRAM message: garbage at end");
	if (!c->have_server_key) {
		c->state = SCRAM_CLIENT_DONE_UNVERIFIED;
		return 0;
	}
	if (CRYPTO_memcmp(sig, c->server_signature, SCRAM_KEY_LEN) != 0)
		return client_fail(c, err, "SCRAM server signature mismatch");
	c->state = SCRAM_CLIENT_DONE;
	return 0;
}
