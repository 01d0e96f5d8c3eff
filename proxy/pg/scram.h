/*
 * scram.h — SCRAM-SHA-256 as PostgreSQL uses it (RFC 5802, RFC 7677), pure.
 *
 * The authentication math of both roles of the proxy, over byte arrays:
 * no sockets, no globals, no logging, no allocation. OpenSSL supplies the
 * primitives (SHA-256, HMAC, PBKDF2, RAND_bytes).
 *
 *   server side  the proxy authenticates a client against a stored
 *                verifier (scram_server_*); on success it recovers the
 *                client's ClientKey, which is enough to log in to a
 *                PostgreSQL server holding the same verifier, without
 *                ever knowing the password.
 *   client side  the proxy authenticates to a PostgreSQL server with a
 *                plain password or with a recovered ClientKey
 *                (scram_client_*).
 *
 * Channel binding is not offered: the gs2 header is "n,," (we send it;
 * clients may also send "y,,", meaning "I could bind but you do not offer
 * it"). "p=" (SCRAM-SHA-256-PLUS) is rejected. If the proxy ever offers
 * SCRAM-SHA-256-PLUS, "y,," must be rejected too (downgrade attack).
 *
 * Trust boundary: every message handed to these functions comes from a
 * peer that may be hostile. Inputs are (pointer, length) pairs that need
 * not be NUL-terminated; nothing is read past the length; a NUL byte inside
 * a message makes it malformed. Attributes are parsed strictly in the
 * order the RFC fixes; nonces must be printable ASCII without ','; base64
 * must be canonical; decoded lengths are checked.
 *
 * Outputs are written into caller buffers (`out`, `cap` bytes) as
 * NUL-terminated strings (the message length is strlen(out)); a buffer too
 * small is an error, never a truncation. Error strings (`*err`) are static
 * and may be sent to the peer or logged.
 *
 * The state structs are plain values owned by the caller (stack, embedded
 * in a connection); they hold secrets, so call scram_server_clear() /
 * scram_client_clear() when done. Not thread-safe per struct; distinct
 * structs are independent.
 *
 * Limitation: passwords are used as given. PostgreSQL applies SASLprep to
 * passwords, which is the identity for pure-ASCII passwords; a non-ASCII
 * password that NFKC normalisation would change does not match here.
 */
#ifndef SWITCHYARD_SCRAM_H
#define SWITCHYARD_SCRAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define SCRAM_KEY_LEN 32                /* SHA-256 output */
#define SCRAM_SALT_MAX 64               /* largest salt accepted, bytes */
#define SCRAM_DEFAULT_SALT_LEN 16       /* as PostgreSQL */
#define SCRAM_DEFAULT_ITERATIONS 4096   /* as PostgreSQL */
#define SCRAM_MAX_ITERATIONS 1000000    /* client side: refuse more PBKDF2 work */
#define SCRAM_RAW_NONCE_LEN 18          /* random bytes in a nonce, as PostgreSQL */
#define SCRAM_NONCE_MAX 256             /* longest nonce part (chars) accepted */
#define SCRAM_MSG_MAX 1024              /* longest message kept for AuthMessage */
#define SCRAM_PASSWORD_MAX 1024         /* longest plain password, bytes */
#define SCRAM_USER_MAX 256              /* longest escaped user name sent by a client */
#define SCRAM_VERIFIER_MAX 256          /* formatted verifier, NUL included */

#ifndef SCRAM_WUR
#define SCRAM_WUR __attribute__((warn_unused_result))
#endif

/* ---- base64 (RFC 4648, standard alphabet, with padding) ---- */

/* Characters needed to encode n bytes, without the NUL: 4 * ceil(n / 3). */
size_t scram_b64_encoded_len(size_t n);

/* Encode n bytes of src into out (cap bytes, NUL written).
 * Returns the encoded length (NUL excluded), or -1 if cap is too small.
 * src may be NULL when n is 0. */
SCRAM_WUR ssize_t scram_b64_encode(const uint8_t *src, size_t n, char *out, size_t cap);

/* Decode n characters of src (not NUL-terminated necessarily) into out (cap
 * bytes). Strict: length a multiple of 4, '=' only as final padding, unused
 * bits zero, no whitespace. Returns the decoded length, or -1 if the input
 * is not canonical base64 or does not fit in cap. */
SCRAM_WUR ssize_t scram_b64_decode(const char *src, size_t n, uint8_t *out, size_t cap);

/* ---- verifiers (pg_authid.rolpassword) ---- */

struct scram_verifier {
	int iterations;                 /* >= 1 */
	uint8_t salt[SCRAM_SALT_MAX];
	size_t salt_len;                /* 1..SCRAM_SALT_MAX */
	uint8_t stored_key[SCRAM_KEY_LEN];  /* H(ClientKey) */
	uint8_t server_key[SCRAM_KEY_LEN];  /* HMAC(SaltedPassword, "Server Key") */
};

/* Parse the NUL-terminated string
 * "SCRAM-SHA-256$<iterations>:<b64 salt>$<b64 StoredKey>:<b64 ServerKey>".
 * Returns 0 and fills *v, or -1 if s is malformed (*v is then undefined). */
SCRAM_WUR int scram_parse_verifier(const char *s, struct scram_verifier *v);

/* As scram_parse_verifier(), over len bytes of s (no NUL needed; a NUL
 * inside makes it malformed). */
SCRAM_WUR int scram_parse_verifier_len(const char *s, size_t len, struct scram_verifier *v);

/* Write v in the format above into out (cap bytes, NUL written;
 * SCRAM_VERIFIER_MAX always suffices). Returns 0, or -1 if cap is too small
 * or v is invalid. */
SCRAM_WUR int scram_verifier_format(const struct scram_verifier *v, char *out, size_t cap);

/* Build a verifier from a plain NUL-terminated password. salt NULL: a
 * random salt of SCRAM_DEFAULT_SALT_LEN bytes (salt_len ignored); else
 * salt_len must be 1..SCRAM_SALT_MAX. iterations: 1..SCRAM_MAX_ITERATIONS
 * (SCRAM_DEFAULT_ITERATIONS as PostgreSQL). Returns 0, or -1 on bad
 * arguments or an OpenSSL failure. */
SCRAM_WUR int scram_verifier_from_password(const char *password, const uint8_t *salt,
					   size_t salt_len, int iterations,
					   struct scram_verifier *v);

/* ClientKey = HMAC(PBKDF2-SHA-256(password, salt, iterations), "Client Key"),
 * into client_key; if server_key is not NULL, ServerKey too. Same argument
 * rules as scram_verifier_from_password() except that salt is required.
 * Returns 0 or -1. */
SCRAM_WUR int scram_client_key_from_password(const char *password, const uint8_t *salt,
					     size_t salt_len, int iterations,
					     uint8_t client_key[SCRAM_KEY_LEN],
					     uint8_t server_key[SCRAM_KEY_LEN]);

/* ---- server side: the proxy authenticates a client ---- */

enum scram_server_state {
	SCRAM_SERVER_INIT = 0,          /* waiting for client-first-message */
	SCRAM_SERVER_FIRST_SENT,        /* server-first-message produced */
	SCRAM_SERVER_DONE,              /* proof verified, client_key valid */
	SCRAM_SERVER_FAILED,            /* any error; the exchange is over */
};

struct scram_server {
	enum scram_server_state state;
	struct scram_verifier verifier;         /* copied from the caller */
	char gs2_flag;                          /* 'n' or 'y' */
	char client_nonce[SCRAM_NONCE_MAX + 1];
	size_t client_nonce_len;
	char server_nonce[SCRAM_NONCE_MAX + 1]; /* random unless set beforehand */
	size_t server_nonce_len;
	char client_first_bare[SCRAM_MSG_MAX];
	size_t client_first_bare_len;
	char server_first[SCRAM_MSG_MAX];
	size_t server_first_len;
	uint8_t client_key[SCRAM_KEY_LEN];      /* valid only in SCRAM_SERVER_DONE */
};

/* Reset s to SCRAM_SERVER_INIT with no nonce set. Call before first use. */
void scram_server_init(struct scram_server *s);

/* Use `nonce` (len printable chars other than ',', 1..SCRAM_NONCE_MAX) as
 * the server nonce part instead of a random one: for test vectors only.
 * Call after scram_server_init() and before scram_server_first().
 * Returns 0 or -1. */
SCRAM_WUR int scram_server_set_nonce(struct scram_server *s, const char *nonce, size_t len);

/* Parse the client-first-message (the SASLInitialResponse data, len bytes)
 * and write the server-first-message "r=<nonce>,s=<salt>,i=<iterations>"
 * into out (cap bytes, NUL-terminated). v is copied; the caller keeps
 * ownership. Returns 0, or -1 with *err set (s is then SCRAM_SERVER_FAILED).
 * An authzid ("a="), channel binding ("p=") or mandatory extension ("m=")
 * is rejected; the user name ("n=") is ignored, as PostgreSQL does. */
SCRAM_WUR int scram_server_first(struct scram_server *s, const struct scram_verifier *v,
				 const char *client_first, size_t len, char *out, size_t cap,
				 const char **err);

/* Verify the client-final-message (the SASLResponse data, len bytes): the
 * channel binding must be the base64 of the client's gs2 header, the nonce
 * must be the combined nonce, and H(ClientProof XOR ClientSignature) must
 * equal StoredKey (compared in constant time). On success writes the
 * server-final-message "v=<ServerSignature>" into out (cap bytes,
 * NUL-terminated), stores the recovered ClientKey in s->client_key and
 * returns 0. On a bad proof or a malformed message returns -1 with *err
 * set (s is then SCRAM_SERVER_FAILED; client_key is zero). */
SCRAM_WUR int scram_server_final(struct scram_server *s, const char *client_final, size_t len,
				 char *out, size_t cap, const char **err);

/* The recovered ClientKey (SCRAM_KEY_LEN bytes, owned by s), or NULL unless
 * s is SCRAM_SERVER_DONE. */
const uint8_t *scram_server_client_key(const struct scram_server *s);

/* Wipe all state, secrets included; s is back to SCRAM_SERVER_INIT. */
void scram_server_clear(struct scram_server *s);

/* ---- client side: the proxy authenticates to a server ---- */

enum scram_client_state {
	SCRAM_CLIENT_INIT = 0,          /* credentials set, nothing sent */
	SCRAM_CLIENT_FIRST_SENT,        /* client-first-message produced */
	SCRAM_CLIENT_FINAL_SENT,        /* client-final-message produced */
	SCRAM_CLIENT_DONE,              /* server signature verified */
	SCRAM_CLIENT_DONE_UNVERIFIED,   /* server accepted; no ServerKey to check it */
	SCRAM_CLIENT_FAILED,            /* any error; the exchange is over */
};

enum scram_client_cred {
	SCRAM_CRED_PASSWORD,            /* plain password: PBKDF2 with the server's salt */
	SCRAM_CRED_CLIENT_KEY,          /* recovered ClientKey (+ ServerKey if known) */
};

struct scram_client {
	enum scram_client_state state;
	enum scram_client_cred cred;
	int max_iterations;             /* SCRAM_MAX_ITERATIONS after init; may be lowered */
	char password[SCRAM_PASSWORD_MAX + 1];
	size_t password_len;
	uint8_t client_key[SCRAM_KEY_LEN];
	uint8_t server_key[SCRAM_KEY_LEN];
	bool have_server_key;           /* given, or derived from the password */
	char user[SCRAM_USER_MAX + 1];  /* escaped saslname sent as n=; empty by default */
	size_t user_len;
	char client_nonce[SCRAM_NONCE_MAX + 1];  /* random unless set beforehand */
	size_t client_nonce_len;
	char client_first_bare[SCRAM_MSG_MAX];
	size_t client_first_bare_len;
	uint8_t server_signature[SCRAM_KEY_LEN]; /* expected, after client_final */
};

/* Set the credentials: exactly one of password (NUL-terminated, at most
 * SCRAM_PASSWORD_MAX bytes) or client_key (SCRAM_KEY_LEN bytes) must be
 * given. server_key (SCRAM_KEY_LEN bytes, or NULL) is used only with a
 * client_key, to verify the server's signature; with a password it is
 * derived. All are copied. Returns 0, or -1 on bad arguments. */
SCRAM_WUR int scram_client_init(struct scram_client *c, const char *password,
				const uint8_t *client_key, const uint8_t *server_key);

/* Use `nonce` (printable chars other than ',', 1..SCRAM_NONCE_MAX) as the
 * client nonce instead of a random one: for test vectors only. Call after
 * scram_client_init() and before scram_client_first(). Returns 0 or -1. */
SCRAM_WUR int scram_client_set_nonce(struct scram_client *c, const char *nonce, size_t len);

/* Send `user` (NUL-terminated, escaped here: ',' as "=2C", '=' as "=3D")
 * as n= instead of the empty name libpq sends (PostgreSQL ignores it). For
 * test vectors and non-PostgreSQL servers. Returns 0 or -1 if too long. */
SCRAM_WUR int scram_client_set_user(struct scram_client *c, const char *user);

/* Write the client-first-message "n,,n=<user>,r=<nonce>" into out (cap
 * bytes, NUL-terminated). Returns 0, or -1 (wrong state, cap too small,
 * random generator failure). */
SCRAM_WUR int scram_client_first(struct scram_client *c, char *out, size_t cap);

/* Given the server-first-message (len bytes), write the client-final-message
 * "c=biws,r=<nonce>,p=<ClientProof>" into out (cap bytes, NUL-terminated).
 * Checks that the server nonce extends ours, the salt is base64 of 1..
 * SCRAM_SALT_MAX bytes and 1 <= iterations <= c->max_iterations (only
 * relevant with a password). Returns 0, or -1 with *err set. */
SCRAM_WUR int scram_client_final(struct scram_client *c, const char *server_first, size_t len,
				 char *out, size_t cap, const char **err);

/* Check the server-final-message (len bytes): "v=<ServerSignature>" must
 * match (constant-time) when the ServerKey is known; "e=<error>" is a
 * failure. Returns 0 (state SCRAM_CLIENT_DONE, or
 * SCRAM_CLIENT_DONE_UNVERIFIED when no ServerKey was available), or -1
 * with *err set. */
SCRAM_WUR int scram_client_verify(struct scram_client *c, const char *server_final, size_t len,
				  const char **err);

/* Wipe all state, secrets included. */
void scram_client_clear(struct scram_client *c);

#endif
