/*
 * pgmd5.h — PostgreSQL's legacy md5 password authentication, pure.
 *
 * The stored secret is "md5" + hex(md5(password || user)); the wire
 * response to AuthenticationMD5Password (4-byte salt) is
 * "md5" + hex(md5(hex_part_of_stored || salt)). Knowing the stored secret
 * is enough to answer, so the proxy can log in to servers with it alone.
 * No sockets, no globals, no logging, no allocation; OpenSSL's EVP
 * provides md5 (unavailable in FIPS mode: the functions then fail).
 *
 * Lengths: a stored secret or a response is PG_MD5_LEN (35) characters;
 * output buffers are PG_MD5_BUF (36) bytes and receive a NUL-terminated
 * string with lowercase hex, as PostgreSQL writes it.
 */
#ifndef SWITCHYARD_PGMD5_H
#define SWITCHYARD_PGMD5_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PG_MD5_LEN 35   /* "md5" + 32 hex digits */
#define PG_MD5_BUF 36   /* with the NUL */

/* Compute the stored secret for NUL-terminated password and user into out.
 * Returns 0, or -1 if md5 is unavailable (out is then "").
 * The caller owns all buffers. */
__attribute__((warn_unused_result))
int pg_md5_stored(const char *password, const char *user, char out[PG_MD5_BUF]);

/* True if s (len bytes, no NUL needed) has the shape of a stored secret:
 * "md5" followed by 32 lowercase hex digits. */
bool pg_md5_is_stored(const char *s, size_t len);

/* Compute the response to AuthenticationMD5Password from the stored secret
 * (NUL-terminated, "md5" + 32 hex) and the server's 4-byte salt into out.
 * Returns 0, or -1 if stored is malformed or md5 is unavailable (out is
 * then ""). */
__attribute__((warn_unused_result))
int pg_md5_response(const char *stored, const uint8_t salt[4], char out[PG_MD5_BUF]);

/* Check a client's response (the PasswordMessage payload, len bytes, its
 * terminating NUL excluded) against the stored secret and the salt we
 * sent, in constant time over the 35 characters. False on any mismatch,
 * a wrong length, a malformed stored secret or an md5 failure. */
bool pg_md5_check(const char *stored, const uint8_t salt[4], const char *response, size_t len);

#endif
