/*
 * myauth.c — mysql_native_password and caching_sha2_password math with
 * OpenSSL EVP. See myauth.h for the formulas and conventions.
 */
#include "proxy/mysql/myauth.h"

#include <ctype.h>
#include <stdint.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>

struct myauth_rsa {
	EVP_PKEY *pkey;
};

static void sha1(const void *p, size_t n, uint8_t out[MYAUTH_SHA1_LEN])
{
	unsigned int len = 0;
	if (EVP_Digest(n ? p : "", n, out, &len, EVP_sha1(), NULL) != 1)
		memset(out, 0, MYAUTH_SHA1_LEN);
}

static void sha1_2(const void *a, size_t an, const void *b, size_t bn,
		   uint8_t out[MYAUTH_SHA1_LEN])
{
	unsigned int len = 0;
	EVP_MD_CTX *c = EVP_MD_CTX_new();
	if (!c || EVP_DigestInit_ex(c, EVP_sha1(), NULL) != 1 || EVP_DigestUpdate(c, a, an) != 1 ||
	    EVP_DigestUpdate(c, b, bn) != 1 || EVP_DigestFinal_ex(c, out, &len) != 1)
		memset(out, 0, MYAUTH_SHA1_LEN);
	EVP_MD_CTX_free(c);
}

static void sha256(const void *p, size_t n, uint8_t out[MYAUTH_SHA256_LEN])
{
	unsigned int len = 0;
	if (EVP_Digest(n ? p : "", n, out, &len, EVP_sha256(), NULL) != 1)
		memset(out, 0, MYAUTH_SHA256_LEN);
}

static void sha256_2(const void *a, size_t an, const void *b, size_t bn,
		     uint8_t out[MYAUTH_SHA256_LEN])
{
	unsigned int len = 0;
	EVP_MD_CTX *c = EVP_MD_CTX_new();
	if (!c || EVP_DigestInit_ex(c, EVP_sha256(), NULL) != 1 ||
	    EVP_DigestUpdate(c, a, an) != 1 || EVP_DigestUpdate(c, b, bn) != 1 ||
	    EVP_DigestFinal_ex(c, out, &len) != 1)
		memset(out, 0, MYAUTH_SHA256_LEN);
	EVP_MD_CTX_free(c);
}

int myauth_nonce(uint8_t nonce[MYAUTH_NONCE_LEN])
{
	if (RAND_bytes(nonce, MYAUTH_NONCE_LEN) != 1)
		return -1;
	for (size_t i = 0; i < MYAUTH_NONCE_LEN; i++) {
		nonce[i] &= 0x7f;
		if (nonce[i] == 0 || nonce[i] == '$')
			nonce[i]++;
	}
	return 0;
}

/* ---- mysql_native_password ---- */

void myauth_native_scramble_stage1(const uint8_t stage1[MYAUTH_SHA1_LEN],
				   const uint8_t nonce[MYAUTH_NONCE_LEN],
				   uint8_t out[MYAUTH_SHA1_LEN])
{
	uint8_t stage2[MYAUTH_SHA1_LEN], mask[MYAUTH_SHA1_LEN];
	sha1(stage1, MYAUTH_SHA1_LEN, stage2);
	sha1_2(nonce, MYAUTH_NONCE_LEN, stage2, MYAUTH_SHA1_LEN, mask);
	for (size_t i = 0; i < MYAUTH_SHA1_LEN; i++)
		out[i] = stage1[i] ^ mask[i];
	OPENSSL_cleanse(mask, sizeof(mask));
}

size_t myauth_native_scramble(const char *password, size_t len,
			      const uint8_t nonce[MYAUTH_NONCE_LEN], uint8_t out[MYAUTH_SHA1_LEN])
{
	if (len == 0)
		return 0;
	uint8_t stage1[MYAUTH_SHA1_LEN];
	sha1(password, len, stage1);
	myauth_native_scramble_stage1(stage1, nonce, out);
	OPENSSL_cleanse(stage1, sizeof(stage1));
	return MYAUTH_SHA1_LEN;
}

void myauth_native_stage2(const char *password, size_t len, uint8_t out[MYAUTH_SHA1_LEN])
{
	uint8_t stage1[MYAUTH_SHA1_LEN];
	sha1(password, len, stage1);
	sha1(stage1, MYAUTH_SHA1_LEN, out);
	OPENSSL_cleanse(stage1, sizeof(stage1));
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = (char)tolower((unsigned char)c);
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

int myauth_native_parse_hash(const char *s, uint8_t stage2[MYAUTH_SHA1_LEN])
{
	if (!s || s[0] != '*' || strlen(s) != 1 + 2 * MYAUTH_SHA1_LEN)
		return -1;
	for (size_t i = 0; i < MYAUTH_SHA1_LEN; i++) {
		int hi = hexval(s[1 + 2 * i]), lo = hexval(s[2 + 2 * i]);
		if (hi < 0 || lo < 0)
			return -1;
		stage2[i] = (uint8_t)(hi << 4 | lo);
	}
	return 0;
}

void myauth_native_format_hash(const uint8_t stage2[MYAUTH_SHA1_LEN], char out[42])
{
	static const char hex[] = "0123456789ABCDEF";
	out[0] = '*';
	for (size_t i = 0; i < MYAUTH_SHA1_LEN; i++) {
		out[1 + 2 * i] = hex[stage2[i] >> 4];
		out[2 + 2 * i] = hex[stage2[i] & 15];
	}
	out[41] = '\0';
}

bool myauth_native_check(const uint8_t *resp, size_t resp_len,
			 const uint8_t nonce[MYAUTH_NONCE_LEN],
			 const uint8_t stage2[MYAUTH_SHA1_LEN], uint8_t stage1_out[MYAUTH_SHA1_LEN])
{
	if (resp_len != MYAUTH_SHA1_LEN)
		return false;
	uint8_t mask[MYAUTH_SHA1_LEN], stage1[MYAUTH_SHA1_LEN], check[MYAUTH_SHA1_LEN];
	sha1_2(nonce, MYAUTH_NONCE_LEN, stage2, MYAUTH_SHA1_LEN, mask);
	for (size_t i = 0; i < MYAUTH_SHA1_LEN; i++)
		stage1[i] = resp[i] ^ mask[i];
	sha1(stage1, MYAUTH_SHA1_LEN, check);
	bool ok = CRYPTO_memcmp(check, stage2, MYAUTH_SHA1_LEN) == 0;
	if (ok && stage1_out)
		memcpy(stage1_out, stage1, MYAUTH_SHA1_LEN);
	OPENSSL_cleanse(stage1, sizeof(stage1));
	OPENSSL_cleanse(mask, sizeof(mask));
	return ok;
}

bool myauth_native_check_password(const uint8_t *resp, size_t resp_len,
				  const uint8_t nonce[MYAUTH_NONCE_LEN], const char *password,
				  size_t len)
{
	if (len == 0)
		return resp_len == 0;
	uint8_t stage2[MYAUTH_SHA1_LEN];
	myauth_native_stage2(password, len, stage2);
	bool ok = myauth_native_check(resp, resp_len, nonce, stage2, NULL);
	OPENSSL_cleanse(stage2, sizeof(stage2));
	return ok;
}

/* ---- caching_sha2_password ---- */

size_t myauth_sha2_scramble(const char *password, size_t len,
			    const uint8_t nonce[MYAUTH_NONCE_LEN], uint8_t out[MYAUTH_SHA256_LEN])
{
	if (len == 0)
		return 0;
	uint8_t d1[MYAUTH_SHA256_LEN], d2[MYAUTH_SHA256_LEN], d3[MYAUTH_SHA256_LEN];
	sha256(password, len, d1);
	sha256(d1, sizeof(d1), d2);
	sha256_2(d2, sizeof(d2), nonce, MYAUTH_NONCE_LEN, d3);
	for (size_t i = 0; i < MYAUTH_SHA256_LEN; i++)
		out[i] = d1[i] ^ d3[i];
	OPENSSL_cleanse(d1, sizeof(d1));
	OPENSSL_cleanse(d2, sizeof(d2));
	return MYAUTH_SHA256_LEN;
}

bool myauth_sha2_check_cached(const uint8_t *resp, size_t resp_len,
			      const uint8_t nonce[MYAUTH_NONCE_LEN],
			      const uint8_t cached[MYAUTH_SHA256_LEN])
{
	if (resp_len != MYAUTH_SHA256_LEN)
		return false;
	uint8_t mask[MYAUTH_SHA256_LEN], d1[MYAUTH_SHA256_LEN], check[MYAUTH_SHA256_LEN];
	sha256_2(cached, MYAUTH_SHA256_LEN, nonce, MYAUTH_NONCE_LEN, mask);
	for (size_t i = 0; i < MYAUTH_SHA256_LEN; i++)
		d1[i] = resp[i] ^ mask[i];
	sha256(d1, sizeof(d1), check);
	bool ok = CRYPTO_memcmp(check, cached, MYAUTH_SHA256_LEN) == 0;
	OPENSSL_cleanse(d1, sizeof(d1));
	return ok;
}

void myauth_sha2_stage2(const char *password, size_t len, uint8_t out[MYAUTH_SHA256_LEN])
{
	uint8_t d1[MYAUTH_SHA256_LEN];
	sha256(password, len, d1);
	sha256(d1, sizeof(d1), out);
	OPENSSL_cleanse(d1, sizeof(d1));
}

bool myauth_sha2_check_password(const uint8_t *resp, size_t resp_len,
				const uint8_t nonce[MYAUTH_NONCE_LEN], const char *password,
				size_t len)
{
	if (len == 0)
		return resp_len == 0;
	uint8_t d1[MYAUTH_SHA256_LEN], d2[MYAUTH_SHA256_LEN];
	sha256(password, len, d1);
	sha256(d1, sizeof(d1), d2);
	bool ok = myauth_sha2_check_cached(resp, resp_len, nonce, d2);
	OPENSSL_cleanse(d1, sizeof(d1));
	return ok;
}

/* ---- caching_sha2 stored hashes: SHA-crypt ---- */

static const char crypt_b64[] = "./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

#define SHA2_HASH_RAW_LEN (7 + MYAUTH_SHA2_SALT_LEN + MYAUTH_SHA2_DIGEST_LEN)

int myauth_sha2_parse_hash(const char *s, struct myauth_sha2_hash *h)
{
	uint8_t raw[SHA2_HASH_RAW_LEN];
	size_t n = s ? strlen(s) : 0;
	if (n == 2 + 2 * SHA2_HASH_RAW_LEN && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		for (size_t i = 0; i < SHA2_HASH_RAW_LEN; i++) {
			int hi = hexval(s[2 + 2 * i]), lo = hexval(s[3 + 2 * i]);
			if (hi < 0 || lo < 0)
				return -1;
			raw[i] = (uint8_t)(hi << 4 | lo);
		}
	} else if (n == SHA2_HASH_RAW_LEN) {
		memcpy(raw, s, n);
	} else {
		return -1;
	}
	if (memcmp(raw, "$A$", 3) != 0 || raw[6] != '$')
		return -1;
	unsigned rounds = 0;
	for (size_t i = 3; i < 6; i++) {
		int v = hexval((char)raw[i]);
		if (v < 0)
			return -1;
		rounds = rounds << 4 | (unsigned)v;
	}
	if (rounds == 0)
		return -1;
	h->rounds = rounds * 1000;
	memcpy(h->salt, raw + 7, MYAUTH_SHA2_SALT_LEN);
	const uint8_t *d = raw + 7 + MYAUTH_SHA2_SALT_LEN;
	for (size_t i = 0; i < MYAUTH_SHA2_DIGEST_LEN; i++) {
		if (!d[i] || !strchr(crypt_b64, d[i]))
			return -1;
		h->digest[i] = (char)d[i];
	}
	h->digest[MYAUTH_SHA2_DIGEST_LEN] = 0;
	return 0;
}

/* Feed `total` bytes of the 32-byte block d repeated (SHA-crypt's P and S
 * sequences). */
static bool update_repeated(EVP_MD_CTX *c, const uint8_t d[MYAUTH_SHA256_LEN], size_t total)
{
	for (; total > MYAUTH_SHA256_LEN; total -= MYAUTH_SHA256_LEN)
		if (EVP_DigestUpdate(c, d, MYAUTH_SHA256_LEN) != 1)
			return false;
	return EVP_DigestUpdate(c, d, total) == 1;
}

static bool digest_init(EVP_MD_CTX *c)
{
	return EVP_DigestInit_ex(c, EVP_sha256(), NULL) == 1;
}

static bool digest_final(EVP_MD_CTX *c, uint8_t out[MYAUTH_SHA256_LEN])
{
	unsigned int n = 0;
	return EVP_DigestFinal_ex(c, out, &n) == 1;
}

/* The steps are numbered as in Drepper's "Unix crypt using SHA-256 and
 * SHA-512" (https://www.akkadia.org/drepper/SHA-crypt.txt). */
void myauth_sha256_crypt(const char *pw, size_t len, const uint8_t *salt, size_t slen,
			 unsigned rounds, char out[MYAUTH_SHA2_DIGEST_LEN + 1])
{
	uint8_t a[MYAUTH_SHA256_LEN], b[MYAUTH_SHA256_LEN], dp[MYAUTH_SHA256_LEN], ds[MYAUTH_SHA256_LEN];
	memset(out, 0, MYAUTH_SHA2_DIGEST_LEN + 1);
	EVP_MD_CTX *c = EVP_MD_CTX_new();
	bool ok = c != NULL && slen <= 64;
	/* 4-8: B = SHA256(password salt password). */
	ok = ok && digest_init(c) && EVP_DigestUpdate(c, pw, len) == 1 &&
	     EVP_DigestUpdate(c, salt, slen) == 1 && EVP_DigestUpdate(c, pw, len) == 1 &&
	     digest_final(c, b);
	/* 1-3, 9-12: A = SHA256(password salt B-repeated-to-len, then per bit
	 * of len from the lowest: B for a 1, the password for a 0). */
	ok = ok && digest_init(c) && EVP_DigestUpdate(c, pw, len) == 1 &&
	     EVP_DigestUpdate(c, salt, slen) == 1 && update_repeated(c, b, len);
	for (size_t k = len; ok && k; k >>= 1)
		ok = (k & 1) ? EVP_DigestUpdate(c, b, sizeof(b)) == 1 : EVP_DigestUpdate(c, pw, len) == 1;
	ok = ok && digest_final(c, a);
	/* 13-16: P = SHA256(password, len times), repeated to len bytes. */
	ok = ok && digest_init(c);
	for (size_t i = 0; ok && i < len; i++)
		ok = EVP_DigestUpdate(c, pw, len) == 1;
	ok = ok && digest_final(c, dp);
	/* 17-20: S = SHA256(salt, 16 + A[0] times), repeated to slen bytes. */
	ok = ok && digest_init(c);
	for (unsigned i = 0; ok && i < 16u + a[0]; i++)
		ok = EVP_DigestUpdate(c, salt, slen) == 1;
	ok = ok && digest_final(c, ds);
	/* 21: the rounds. */
	for (unsigned r = 0; ok && r < rounds; r++) {
		ok = digest_init(c) && ((r & 1) ? update_repeated(c, dp, len) : EVP_DigestUpdate(c, a, sizeof(a)) == 1);
		ok = ok && (r % 3 == 0 || update_repeated(c, ds, slen));
		ok = ok && (r % 7 == 0 || update_repeated(c, dp, len));
		ok = ok && ((r & 1) ? EVP_DigestUpdate(c, a, sizeof(a)) == 1 : update_repeated(c, dp, len));
		ok = ok && digest_final(c, a);
	}
	/* 22: base 64, in SHA-crypt's byte order. */
	static const uint8_t order[10][3] = { { 0, 10, 20 }, { 21, 1, 11 }, { 12, 22, 2 }, { 3, 13, 23 },
					      { 24, 4, 14 }, { 15, 25, 5 }, { 6, 16, 26 }, { 27, 7, 17 },
					      { 18, 28, 8 }, { 9, 19, 29 } };
	if (ok) {
		char *o = out;
		for (size_t i = 0; i < 10; i++) {
			uint32_t w = (uint32_t)a[order[i][0]] << 16 | (uint32_t)a[order[i][1]] << 8 | a[order[i][2]];
			for (int j = 0; j < 4; j++, w >>= 6)
				*o++ = crypt_b64[w & 63];
		}
		uint32_t w = (uint32_t)a[31] << 8 | a[30];
		for (int j = 0; j < 3; j++, w >>= 6)
			*o++ = crypt_b64[w & 63];
	}
	EVP_MD_CTX_free(c);
	OPENSSL_cleanse(a, sizeof(a));
	OPENSSL_cleanse(b, sizeof(b));
	OPENSSL_cleanse(dp, sizeof(dp));
	OPENSSL_cleanse(ds, sizeof(ds));
}

bool myauth_sha2_check_hash(const char *password, size_t len, const struct myauth_sha2_hash *h)
{
	char d[MYAUTH_SHA2_DIGEST_LEN + 1];
	myauth_sha256_crypt(password, len, h->salt, sizeof(h->salt), h->rounds, d);
	bool ok = d[0] && CRYPTO_memcmp(d, h->digest, MYAUTH_SHA2_DIGEST_LEN) == 0;
	OPENSSL_cleanse(d, sizeof(d));
	return ok;
}

/* ---- RSA ---- */

int myauth_rsa_encrypt_password(const uint8_t *pem, size_t pem_len, const char *password,
				size_t len, const uint8_t *nonce, size_t nonce_len, struct buf *out)
{
	int rc = -1;
	EVP_PKEY *pkey = NULL;
	EVP_PKEY_CTX *ctx = NULL;
	uint8_t *plain = NULL;
	if (!nonce_len || pem_len > 1u << 20 || len > 1024)
		return -1;
	BIO *bio = BIO_new_mem_buf(pem, (int)pem_len);
	if (!bio)
		return -1;
	pkey = PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL);
	BIO_free(bio);
	if (!pkey || EVP_PKEY_get_base_id(pkey) != EVP_PKEY_RSA)
		goto fail;
	/* OAEP (SHA-1) takes at most modulus - 42 bytes. */
	if ((size_t)EVP_PKEY_get_size(pkey) < len + 1 + 42)
		goto fail;
	plain = OPENSSL_malloc(len + 1);
	if (!plain)
		goto fail;
	memcpy(plain, password, len);
	plain[len] = 0;
	for (size_t i = 0; i <= len; i++)
		plain[i] ^= nonce[i % nonce_len];
	ctx = EVP_PKEY_CTX_new(pkey, NULL);
	size_t ct_len = 0;
	if (!ctx || EVP_PKEY_encrypt_init(ctx) != 1 ||
	    EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_OAEP_PADDING) != 1 ||
	    EVP_PKEY_encrypt(ctx, NULL, &ct_len, plain, len + 1) != 1)
		goto fail;
	if (!buf_reserve(out, ct_len))
		goto fail;
	if (EVP_PKEY_encrypt(ctx, out->data + out->len, &ct_len, plain, len + 1) != 1)
		goto fail;
	out->len += ct_len;
	rc = 0;
fail:
	if (plain) {
		OPENSSL_cleanse(plain, len + 1);
		OPENSSL_free(plain);
	}
	EVP_PKEY_CTX_free(ctx);
	EVP_PKEY_free(pkey);
	return rc;
}

struct myauth_rsa *myauth_rsa_generate(int bits)
{
	struct myauth_rsa *k = OPENSSL_zalloc(sizeof(*k));
	if (!k)
		return NULL;
	k->pkey = EVP_RSA_gen((unsigned int)bits);
	if (!k->pkey) {
		OPENSSL_free(k);
		return NULL;
	}
	return k;
}

struct myauth_rsa *myauth_rsa_load(const uint8_t *pem, size_t pem_len)
{
	if (pem_len > 1u << 20)
		return NULL;
	BIO *bio = BIO_new_mem_buf(pem, (int)pem_len);
	if (!bio)
		return NULL;
	EVP_PKEY *pkey = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
	BIO_free(bio);
	if (!pkey || EVP_PKEY_get_base_id(pkey) != EVP_PKEY_RSA) {
		EVP_PKEY_free(pkey);
		return NULL;
	}
	struct myauth_rsa *k = OPENSSL_zalloc(sizeof(*k));
	if (!k) {
		EVP_PKEY_free(pkey);
		return NULL;
	}
	k->pkey = pkey;
	return k;
}

void myauth_rsa_free(struct myauth_rsa *k)
{
	if (!k)
		return;
	EVP_PKEY_free(k->pkey);
	OPENSSL_free(k);
}

int myauth_rsa_public_pem(const struct myauth_rsa *k, struct buf *out)
{
	BIO *bio = BIO_new(BIO_s_mem());
	if (!bio)
		return -1;
	int rc = -1;
	if (PEM_write_bio_PUBKEY(bio, k->pkey) == 1) {
		char *p = NULL;
		long n = BIO_get_mem_data(bio, &p);
		if (n > 0) {
			buf_put(out, p, (size_t)n);
			rc = out->oom ? -1 : 0;
		}
	}
	BIO_free(bio);
	return rc;
}

int myauth_rsa_decrypt_password(const struct myauth_rsa *k, const uint8_t *ct, size_t ct_len,
				const uint8_t *nonce, size_t nonce_len, char *out, size_t cap)
{
	int rc = -1;
	uint8_t *plain = NULL;
	size_t plen = 0;
	if (!nonce_len || !ct_len || cap == 0)
		return -1;
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new(k->pkey, NULL);
	if (!ctx || EVP_PKEY_decrypt_init(ctx) != 1 ||
	    EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_OAEP_PADDING) != 1 ||
	    EVP_PKEY_decrypt(ctx, NULL, &plen, ct, ct_len) != 1)
		goto fail;
	plain = OPENSSL_malloc(plen ? plen : 1);
	if (!plain || EVP_PKEY_decrypt(ctx, plain, &plen, ct, ct_len) != 1)
		goto fail;
	for (size_t i = 0; i < plen; i++)
		plain[i] ^= nonce[i % nonce_len];
	/* password || NUL; the password itself holds no NUL. */
	if (plen == 0 || plain[plen - 1] != 0 || memchr(plain, 0, plen - 1) || plen > cap)
		goto fail;
	memcpy(out, plain, plen);
	rc = (int)(plen - 1);
fail:
	if (plain) {
		OPENSSL_cleanse(plain, plen);
		OPENSSL_free(plain);
	}
	EVP_PKEY_CTX_free(ctx);
	return rc;
}
