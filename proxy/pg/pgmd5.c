/*
 * pgmd5.c — PostgreSQL md5 password secrets and responses (see pgmd5.h).
 */
#include "proxy/pg/pgmd5.h"

#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

static const char hex_digits[] = "0123456789abcdef";

/* out = "md5" + hex(md5(a || b)), NUL-terminated. */
static int md5_hex2(const void *a, size_t an, const void *b, size_t bn, char out[PG_MD5_BUF])
{
	uint8_t digest[EVP_MAX_MD_SIZE];
	unsigned int dlen = 0;
	int rc = -1;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();

	out[0] = '\0';
	if (ctx == NULL)
		return -1;
	if (EVP_DigestInit_ex(ctx, EVP_md5(), NULL) != 1 || EVP_DigestUpdate(ctx, a, an) != 1 ||
	    EVP_DigestUpdate(ctx, b, bn) != 1 || EVP_DigestFinal_ex(ctx, digest, &dlen) != 1 ||
	    dlen != 16)
		goto out;
	memcpy(out, "md5", 3);
	for (size_t i = 0; i < 16; i++) {
		out[3 + 2 * i] = hex_digits[digest[i] >> 4];
		out[4 + 2 * i] = hex_digits[digest[i] & 15];
	}
	out[PG_MD5_LEN] = '\0';
	rc = 0;
out:
	EVP_MD_CTX_free(ctx);
	OPENSSL_cleanse(digest, sizeof(digest));
	return rc;
}

int pg_md5_stored(const char *password, const char *user, char out[PG_MD5_BUF])
{
	if (password == NULL || user == NULL) {
		out[0] = '\0';
		return -1;
	}
	return md5_hex2(password, strlen(password), user, strlen(user), out);
}

bool pg_md5_is_stored(const char *s, size_t len)
{
	if (s == NULL || len != PG_MD5_LEN || memcmp(s, "md5", 3) != 0)
		return false;
	for (size_t i = 3; i < PG_MD5_LEN; i++) {
		char ch = s[i];
		if (!((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f')))
			return false;
	}
	return true;
}

int pg_md5_response(const char *stored, const uint8_t salt[4], char out[PG_MD5_BUF])
{
	out[0] = '\0';
	if (stored == NULL || salt == NULL || strnlen(stored, PG_MD5_BUF) != PG_MD5_LEN ||
	    !pg_md5_is_stored(stored, PG_MD5_LEN))
		return -1;
	return md5_hex2(stored + 3, PG_MD5_LEN - 3, salt, 4, out);
}

bool pg_md5_check(const char *stored, const uint8_t salt[4], const char *response, size_t len)
{
	char expect[PG_MD5_BUF];
	bool ok = false;

	if (response == NULL || len != PG_MD5_LEN)
		return false;
	if (pg_md5_response(stored, salt, expect) != 0)
		return false;
	ok = CRYPTO_memcmp(expect, response, PG_MD5_LEN) == 0;
	OPENSSL_cleanse(expect, sizeof(expect));
	return ok;
}
