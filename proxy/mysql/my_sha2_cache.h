/*
 * my_sha2_cache.h — caching_sha2_password's cache, as a MySQL 8 server
 * keeps one: after a user's full authentication against a hashed secret,
 * SHA256(SHA256(password)) is remembered so that the user's next logins
 * take the fast path (no RSA decryption, no 5000 SHA-crypt rounds: a
 * burst of logins costs what it costs with a plain password). The password
 * itself is kept with it, since logging in to servers needs it.
 *
 * One cache per process, shared by the workers (a mutex; logins only).
 * An entry is for (user, secret): a reload that changes the user's secret
 * makes the old entry unusable, and the next full authentication replaces
 * it. Memory is wiped when an entry goes.
 */
#ifndef SWITCHYARD_MY_SHA2_CACHE_H
#define SWITCHYARD_MY_SHA2_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MY_SHA2_CACHE_MAX 10000

/* Remember `password` (len bytes) for (user, secret). Silently nothing
 * when out of memory or full (MY_SHA2_CACHE_MAX users). */
void my_sha2_cache_put(const char *user, const char *secret, const char *password, size_t len);

/* A fast-path answer: true when (user, secret) has an entry and resp is
 * the answer for its password to nonce; then *password_out gets a copy of
 * the password (malloc'd, NUL-terminated; the caller wipes and frees it;
 * NULL when out of memory). */
bool my_sha2_cache_check(const char *user, const char *secret, const uint8_t *resp, size_t resp_len,
			 const uint8_t nonce[20], char **password_out);

/* Forget everything (exit, tests). */
void my_sha2_cache_clear(void);

#endif
