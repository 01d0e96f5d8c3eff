/*
 * myauth.h — MySQL/MariaDB authentication math: mysql_native_password and
 * caching_sha2_password (fast path and RSA full authentication).
 *
 * Pure except for the RSA key object: no sockets, no globals, no logging.
 * OpenSSL (EVP) supplies SHA-1, SHA-256, RSA-OAEP and the random nonce.
 *
 *   mysql_native_password
 *     stage1 = SHA1(password), stage2 = SHA1(stage1) (what mysql.user keeps,
 *     as "*" + 40 upper-case hex digits);
 *     response = stage1 XOR SHA1(nonce || stage2).
 *     The server side recovers stage1 from a correct response, which is
 *     enough to log in to a server storing the same stage2, without the
 *     password (myauth_native_scramble_stage1()).
 *   caching_sha2_password
 *     response = SHA256(password) XOR SHA256(SHA256(SHA256(password)) || nonce).
 *     Full authentication without TLS: the client asks for the server's
 *     public key (or has it), sends RSA-OAEP(password || NUL XOR nonce).
 *
 * Empty passwords: native and caching_sha2 both send an empty response.
 * Nonces are MYC_SCRAMBLE_LEN (20) bytes. Secrets in caller buffers are the
 * caller's to clear (OPENSSL_cleanse). Comparisons are constant-time.
 */
#ifndef SWITCHYARD_MYAUTH_H
#define SWITCHYARD_MYAUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"

#define MYAUTH_NONCE_LEN 20
#define MYAUTH_SHA1_LEN 20
#define MYAUTH_SHA256_LEN 32

/* Fill a 20-byte nonce for a handshake: random printable bytes, never
 * NUL or '$' (as servers do, since clients treat the nonce as a C string).
 * 0, or -1 when the RNG fails. */
int myauth_nonce(uint8_t nonce[MYAUTH_NONCE_LEN]) __attribute__((warn_unused_result));

/* ---- mysql_native_password ---- */

/* The response for `password` (len bytes) to `nonce`; returns its length:
 * 0 for an empty password, else 20. */
size_t myauth_native_scramble(const char *password, size_t len,
			      const uint8_t nonce[MYAUTH_NONCE_LEN], uint8_t out[MYAUTH_SHA1_LEN]);
/* The same from stage1 = SHA1(password). */
void myauth_native_scramble_stage1(const uint8_t stage1[MYAUTH_SHA1_LEN],
				   const uint8_t nonce[MYAUTH_NONCE_LEN],
				   uint8_t out[MYAUTH_SHA1_LEN]);
/* stage2 = SHA1(SHA1(password)). */
void myauth_native_stage2(const char *password, size_t len, uint8_t out[MYAUTH_SHA1_LEN]);
/* Parse a mysql.user authentication_string "*<40 hex>" (either case).
 * 0, or -1 when malformed. */
int myauth_native_parse_hash(const char *s, uint8_t stage2[MYAUTH_SHA1_LEN]);
/* Format stage2 as "*<40 upper-case hex>" (42 bytes with the NUL). */
void myauth_native_format_hash(const uint8_t stage2[MYAUTH_SHA1_LEN], char out[42]);

/* Check a client's response against a stored stage2. True when it
 * matches; then stage1_out (may be NULL) receives SHA1(password). An empty
 * response never matches (an account with no password has no stage2). */
bool myauth_native_check(const uint8_t *resp, size_t resp_len,
			 const uint8_t nonce[MYAUTH_NONCE_LEN],
			 const uint8_t stage2[MYAUTH_SHA1_LEN], uint8_t stage1_out[MYAUTH_SHA1_LEN]);
/* Check against a plain password ("" matches only an empty response). */
bool myauth_native_check_password(const uint8_t *resp, size_t resp_len,
				  const uint8_t nonce[MYAUTH_NONCE_LEN], const char *password,
				  size_t len);

/* ---- caching_sha2_password ---- */

/* The fast-path response; returns 0 for an empty password, else 32. */
size_t myauth_sha2_scramble(const char *password, size_t len,
			    const uint8_t nonce[MYAUTH_NONCE_LEN], uint8_t out[MYAUTH_SHA256_LEN]);
/* Check a fast-path response against a plain password. */
bool myauth_sha2_check_password(const uint8_t *resp, size_t resp_len,
				const uint8_t nonce[MYAUTH_NONCE_LEN], const char *password,
				size_t len);
/* SHA256(SHA256(password)): what a server's cache keeps. */
void myauth_sha2_stage2(const char *password, size_t len, uint8_t out[MYAUTH_SHA256_LEN]);
/* Check against the server's cached SHA256(SHA256(password)). */
bool myauth_sha2_check_cached(const uint8_t *resp, size_t resp_len,
			      const uint8_t nonce[MYAUTH_NONCE_LEN],
			      const uint8_t cached[MYAUTH_SHA256_LEN]);

/* ---- caching_sha2_password stored hashes (MySQL 8's mysql.user) ----
 *
 * authentication_string = "$A$" <rounds / 1000 as 3 hex digits> "$"
 * <20-byte salt> <43-character digest>, the digest being SHA-crypt
 * (Drepper's SHA-256 crypt, its base-64 alphabet and byte order) of the
 * password over the whole 20-byte salt (MySQL's variant: glibc's crypt
 * stops at 16 salt bytes). The salt is 7-bit but may hold control
 * characters, so MySQL prints it in hex (SHOW CREATE USER ... AS 0x2441...);
 * both forms are taken. Such a hash cannot check a fast-path answer (that
 * needs SHA256(SHA256(password))): the client is asked for its password
 * (full authentication) and the password is checked against the hash. */

#define MYAUTH_SHA2_SALT_LEN 20
#define MYAUTH_SHA2_DIGEST_LEN 43
#define MYAUTH_SHA2_MAX_ROUNDS (0xFFFu * 1000u)

struct myauth_sha2_hash {
	unsigned rounds;
	uint8_t salt[MYAUTH_SHA2_SALT_LEN];
	char digest[MYAUTH_SHA2_DIGEST_LEN + 1];
};

/* Parse "$A$005$..." (70 bytes) or "0x" + its 140 hex digits. 0, or -1
 * when malformed (wrong length, type other than A, rounds 0). */
int myauth_sha2_parse_hash(const char *s, struct myauth_sha2_hash *h);
/* SHA-crypt of password over salt_len (<= 64) salt bytes, `rounds` rounds:
 * the 43-character digest, NUL-terminated. */
void myauth_sha256_crypt(const char *password, size_t len, const uint8_t *salt, size_t salt_len,
			 unsigned rounds, char out[MYAUTH_SHA2_DIGEST_LEN + 1]);
/* True when password hashes to h (constant-time comparison). */
bool myauth_sha2_check_hash(const char *password, size_t len, const struct myauth_sha2_hash *h);

/* ---- RSA for caching_sha2 full authentication ---- */

/* Client side: encrypt (password || NUL) XOR nonce (repeated) with the
 * server's PEM public key (RSA_PKCS1_OAEP_PADDING, as MySQL 8.0.5+ and its
 * clients). Appends the ciphertext to out. 0, or -1 (bad key, password
 * too long for the key, OpenSSL error). */
int myauth_rsa_encrypt_password(const uint8_t *pem, size_t pem_len, const char *password,
				size_t len, const uint8_t *nonce, size_t nonce_len, struct buf *out)
	__attribute__((warn_unused_result));

/* Server side: the proxy's key pair, opaque; one per process, read-only
 * after creation, so usable from several threads. */
struct myauth_rsa;

/* Generate a key of `bits` (2048), or load a PEM private key. NULL on failure. */
struct myauth_rsa *myauth_rsa_generate(int bits);
struct myauth_rsa *myauth_rsa_load(const uint8_t *pem, size_t pem_len);
void myauth_rsa_free(struct myauth_rsa *k);
/* The public key, PEM (SubjectPublicKeyInfo, "-----BEGIN PUBLIC KEY-----"),
 * as sent to clients in AuthMoreData. Appended to out. 0 or -1. */
int myauth_rsa_public_pem(const struct myauth_rsa *k, struct buf *out)
	__attribute__((warn_unused_result));
/* Decrypt a client's ciphertext and undo the nonce XOR: the password (the
 * trailing NUL removed) into out (cap bytes, NUL-terminated). Returns the
 * password length, or -1 (bad ciphertext, missing NUL, too long). */
int myauth_rsa_decrypt_password(const struct myauth_rsa *k, const uint8_t *ct, size_t ct_len,
				const uint8_t *nonce, size_t nonce_len, char *out, size_t cap)
	__attribute__((warn_unused_result));

#endif
