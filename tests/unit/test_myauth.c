/*
 * test_myauth.c — unit tests for proxy/mysql/myauth.c.
 *
 * Known answers computed with Python's hashlib (formulas in myauth.h):
 *   nonce = b"0123456789abcdefghij", password = b"secret"
 *   native:  s1 = sha1(pw); s2 = sha1(s1); resp = s1 XOR sha1(nonce + s2)
 *            -> f5cac3f3b3df2133feb57db682c71e6ed433a988
 *            stage2 "*14E65567ABDB5135D0CFD9A70B3032C179A49EE7"
 *            (MariaDB 10.11: SELECT PASSWORD('secret') gives the same)
 *   sha2:    d1 = sha256(pw); d2 = sha256(d1);
 *            resp = d1 XOR sha256(d2 + nonce)
 *            -> 7e4adda2f2d5ef09b4147518becb0cee2939376203650a8c2bb2815959364bd0
 *            cached d2 = 3881219d087dd9c634373fd33dfa33a2cb6bfc6c520b64b8bb60ef2ceb534ae7
 * and the mariadb CLI's real login (captured, password "app", stored
 * "*5BCB3E6AC345B435C7C2E6B7949A04CE6F6563D3"). RSA: a ciphertext made by
 * the openssl command line tool (OAEP) is decrypted, and encrypt/decrypt
 * round-trip with a generated key.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "proxy/mysql/myauth.h"
#include "proxy/mysql/myc.h"
#include "util/buf.h"

static const uint8_t nonce[20] = "0123456789abcdefghij";

static void hex(const char *h, uint8_t *out, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned v;
		assert_int_equal(sscanf(h + 2 * i, "%2x", &v), 1);
		out[i] = (uint8_t)v;
	}
}

/* captured: MariaDB's handshake and the mariadb CLI's answer (password "app") */
static const char cli_handshake[] =
	"h\x00\x00\x00\n5.5.5-10.11.19-MariaDB-0+deb12u1-log\x00\x1b\x00\x00\x00sYB~wX22\x00"
	"\xfe\xff\x08\x02\x00\xff\x81\x15\x00\x00\x00\x00\x00\x00\x1d\x00\x00\x00""A1nYTy$"
	"CcM6d\x00mysql_native_password\x00";

static const char cli_response[] =
	"\xd3\x00\x00\x01\x8c\xa2\xbf\x00\x00\x00\x10\x00!\x00\x00\x00\x00\x00\x00\x00\x00"
	"\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x1d\x00\x00\x00""app\x00\x14\x08\x9c"
	"o\xc3\xd8\x91""f\xa2{t\x06\xb3(\xa0""8\x81\xa3I\xb4\x01shop\x00mysql_native_passw"
	"ord\x00~\x03_os\x05Linux\x0c_client_name\nlibmariadb\x04_pid\x04""1059\x0f_client"
	"_version\x06""3.3.20\t_platform\x06x86_64\x0cprogram_name\x05mysql\x0c_server_hos"
	"t\t127.0.0.1";

/* A 1024-bit RSA key made for this test only (openssl genrsa 1024). */
static const char test_key_pem[] =
	"-----BEGIN PRIVATE KEY-----\n"
	"MIICdwIBADANBgkqhkiG9w0BAQEFAASCAmEwggJdAgEAAoGBAM2/3bUxrWgi3Ui0\n"
	"hCv8/uRP5mSMTCVmcQw/6NGsdcm3oOKrKptpAauRVmKUpXHYKVZ5iI4ychrUnWUq\n"
	"4uEbLg6C4dBh5tKFn9Twr/lTQjM5UPjvTUEN9cNai+YYGldMZV9HOTCCBalGKYcd\n"
	"UCOHNHnRTUHJRuTGKW7tcNYdW12BAgMBAAECgYAgTteOo01ag9cBmq8ChUi1K0K/\n"
	"WTR/zvVDeimh+xXH5hjSXxRisPt9KGZLNpJALTRYit8BjTRTuD067KARvwXdIzIU\n"
	"ltEOF+orJ9YgRAHRBeTgvcqNCdj3rIq5UJBMf+mc5YtGIn6OvJA2kkXAC1k4a4wo\n"
	"/yIyhRbKRoLetIWXkQJBAPd3a9bZDmQL3qGcLJTXRZlfaI59N9T6aW1SQjJbH1/4\n"
	"DdOK4NNqusWE6UEHhKCKk7DzbawnncwKj0/jJwNTuSUCQQDU2C0lixG+0DXXo+Ew\n"
	"TGeMveFoat6AGjwDTiRGn8YCtpVCnvh/P64rfk3YywNsRELLrt3O4crJ1A/eGnPW\n"
	"SOotAkEAi5cplX/KxlSLuM3HuA3WjLVs3TN1EwZOAgSsoosUH6Zk5jcoqxlBUbmv\n"
	"eacsAQMqXF50NvAB6t7qCD4x+4Z2oQJAQab4rgbqj1f786sKD/LRUflT6Phl70+o\n"
	"SUC2Mc6grj+RZL5SWjXTTHkmHAPq519a1yb2JhVBjuXJizHPnz5YdQJBALIYyT7M\n"
	"Yga0nBjw/YJdnGEng27VfcAmWXzMMRB0RWYgzwfa3JjKFLL/ZiBG/EGdZHZw0Ho8\n"
	"nPPm+e+S2hP20gE=\n"
	"-----END PRIVATE KEY-----\n"
;

/* openssl pkeyutl -encrypt -pubin -inkey <public part of test_key_pem>
 * -pkeyopt rsa_padding_mode:oaep of ("secret" NUL) XOR "0123456789abcdefghij" */
static const char openssl_ct[] =
	"p\n~z\xa5R'\xb5\xaa\xcf""b\x14\xd5*C\xec\xb1\xe2\x99\xb9\xcdM7/.\x0d""B\x83\xd8\xd7"
	"\xfdT\x07\x17|8\xcb\xe1\xaa\x9e\x11\xb8\x05\x97y\xf3\xda\"0\xbc \xa8p\x98\xf3\xd8"
	"X\xe9\xd0""8\xa6\xa6`x\xb5\xd5\xfb\x9b\xd8\xa2\xb7)]\xcd\xe8\xad; p3\x0b""B\x92&\x8e"
	"\xf2\x06\x08q\xa0\\\n\xca\x05\xacu\x08:\xe3)\xc5#\xa5\xda""D&\x9em#M5\xd1\x14\xab"
	"Us\x82\xef\xb4\x04/]2\x85\xbb\x98\xab\x1d";


static void test_native_known(void **state)
{
	uint8_t want[20], got[20];
	hex("f5cac3f3b3df2133feb57db682c71e6ed433a988", want, 20);
	assert_int_equal(myauth_native_scramble("secret", 6, nonce, got), 20);
	assert_memory_equal(got, want, 20);
	assert_int_equal(myauth_native_scramble("", 0, nonce, got), 0);

	uint8_t s2[20], parsed[20];
	char txt[42];
	myauth_native_stage2("secret", 6, s2);
	myauth_native_format_hash(s2, txt);
	assert_string_equal(txt, "*14E65567ABDB5135D0CFD9A70B3032C179A49EE7");
	assert_int_equal(myauth_native_parse_hash("*14e65567abdb5135d0cfd9a70b3032c179a49ee7", parsed), 0);
	assert_memory_equal(parsed, s2, 20);
	assert_int_equal(myauth_native_parse_hash("14E65567ABDB5135D0CFD9A70B3032C179A49EE7", parsed), -1);
	assert_int_equal(myauth_native_parse_hash("*14E65567ABDB5135D0CFD9A70B3032C179A49EE", parsed), -1);
	assert_int_equal(myauth_native_parse_hash("*14E65567ABDB5135D0CFD9A70B3032C179A49EEG", parsed), -1);
	assert_int_equal(myauth_native_parse_hash("", parsed), -1);
	assert_int_equal(myauth_native_parse_hash(NULL, parsed), -1);

	uint8_t s1[20];
	assert_true(myauth_native_check(want, 20, nonce, s2, s1));
	assert_true(myauth_native_check_password(want, 20, nonce, "secret", 6));
	assert_false(myauth_native_check_password(want, 20, nonce, "secreT", 6));
	assert_false(myauth_native_check(want, 19, nonce, s2, NULL));
	assert_false(myauth_native_check(want, 0, nonce, s2, NULL));
	want[7] ^= 1;
	assert_false(myauth_native_check(want, 20, nonce, s2, NULL));
	/* empty password: only an empty response */
	assert_true(myauth_native_check_password((const uint8_t *)"", 0, nonce, "", 0));
	assert_false(myauth_native_check_password(got, 20, nonce, "", 0));
	/* the recovered stage1 answers another nonce like the password does */
	uint8_t nonce2[20], a[20], b[20];
	assert_int_equal(myauth_nonce(nonce2), 0);
	myauth_native_scramble_stage1(s1, nonce2, a);
	myauth_native_scramble("secret", 6, nonce2, b);
	assert_memory_equal(a, b, 20);
}

static void test_native_captured_login(void **state)
{
	struct myc_handshake h;
	struct myc_handshake_response r;
	assert_int_equal(myc_parse_handshake((const uint8_t *)cli_handshake + 4,
					     sizeof(cli_handshake) - 1 - 4, &h), 0);
	assert_int_equal(myc_parse_handshake_response((const uint8_t *)cli_response + 4,
						      sizeof(cli_response) - 1 - 4, &r), 0);
	assert_int_equal(h.auth_data_len, 20);
	assert_true(myauth_native_check_password(r.auth.p, r.auth.len, h.auth_data, "app", 3));
	assert_false(myauth_native_check_password(r.auth.p, r.auth.len, h.auth_data, "app2", 4));
	uint8_t s2[20], s1[20];
	assert_int_equal(myauth_native_parse_hash("*5BCB3E6AC345B435C7C2E6B7949A04CE6F6563D3", s2), 0);
	assert_true(myauth_native_check(r.auth.p, r.auth.len, h.auth_data, s2, s1));
	/* and the proxy would have computed the same response */
	uint8_t mine[20];
	myauth_native_scramble("app", 3, h.auth_data, mine);
	assert_memory_equal(mine, r.auth.p, 20);
}

static void test_nonce(void **state)
{
	uint8_t n1[20], n2[20];
	assert_int_equal(myauth_nonce(n1), 0);
	assert_int_equal(myauth_nonce(n2), 0);
	assert_memory_not_equal(n1, n2, 20);
	for (int i = 0; i < 20; i++) {
		assert_true(n1[i] > 0 && n1[i] < 128);
		assert_true(n1[i] != '$');
	}
}

static void test_sha2_known(void **state)
{
	uint8_t want[32], got[32], cached[32];
	hex("7e4adda2f2d5ef09b4147518becb0cee2939376203650a8c2bb2815959364bd0", want, 32);
	hex("3881219d087dd9c634373fd33dfa33a2cb6bfc6c520b64b8bb60ef2ceb534ae7", cached, 32);
	assert_int_equal(myauth_sha2_scramble("secret", 6, nonce, got), 32);
	assert_memory_equal(got, want, 32);
	assert_int_equal(myauth_sha2_scramble("", 0, nonce, got), 0);
	assert_true(myauth_sha2_check_password(want, 32, nonce, "secret", 6));
	assert_false(myauth_sha2_check_password(want, 32, nonce, "Secret", 6));
	assert_false(myauth_sha2_check_password(want, 31, nonce, "secret", 6));
	assert_true(myauth_sha2_check_cached(want, 32, nonce, cached));
	want[31] ^= 0x80;
	assert_false(myauth_sha2_check_cached(want, 32, nonce, cached));
	assert_true(myauth_sha2_check_password((const uint8_t *)"", 0, nonce, "", 0));
}

static void test_rsa_openssl_ciphertext(void **state)
{
	struct myauth_rsa *k = myauth_rsa_load((const uint8_t *)test_key_pem, sizeof(test_key_pem) - 1);
	assert_non_null(k);
	char pw[64];
	assert_int_equal(myauth_rsa_decrypt_password(k, (const uint8_t *)openssl_ct,
						     sizeof(openssl_ct) - 1, nonce, 20, pw, sizeof(pw)), 6);
	assert_string_equal(pw, "secret");
	/* a wrong nonce leaves no NUL at the end */
	uint8_t other[20];
	memset(other, 'x', 20);
	assert_int_equal(myauth_rsa_decrypt_password(k, (const uint8_t *)openssl_ct,
						     sizeof(openssl_ct) - 1, other, 20, pw, sizeof(pw)), -1);
	/* too small an output buffer is an error, not a truncation */
	assert_int_equal(myauth_rsa_decrypt_password(k, (const uint8_t *)openssl_ct,
						     sizeof(openssl_ct) - 1, nonce, 20, pw, 6), -1);
	/* damaged ciphertext */
	uint8_t ct[sizeof(openssl_ct) - 1];
	memcpy(ct, openssl_ct, sizeof(ct));
	ct[5] ^= 1;
	assert_int_equal(myauth_rsa_decrypt_password(k, ct, sizeof(ct), nonce, 20, pw, sizeof(pw)), -1);
	assert_int_equal(myauth_rsa_decrypt_password(k, ct, 10, nonce, 20, pw, sizeof(pw)), -1);
	myauth_rsa_free(k);
	assert_null(myauth_rsa_load((const uint8_t *)"-----BEGIN PRIVATE KEY-----\nxx\n", 31));
}

static void test_rsa_roundtrip(void **state)
{
	struct myauth_rsa *k = myauth_rsa_generate(2048);
	assert_non_null(k);
	struct buf pem, ct;
	buf_init(&pem);
	buf_init(&ct);
	assert_int_equal(myauth_rsa_public_pem(k, &pem), 0);
	assert_true(pem.len > 400);
	assert_memory_equal(pem.data, "-----BEGIN PUBLIC KEY-----", 26);
	assert_int_equal(myauth_rsa_encrypt_password(pem.data, pem.len, "p@ss w0rd", 9, nonce, 20, &ct), 0);
	assert_int_equal(ct.len, 256);
	char pw[300];
	assert_int_equal(myauth_rsa_decrypt_password(k, ct.data, ct.len, nonce, 20, pw, sizeof(pw)), 9);
	assert_string_equal(pw, "p@ss w0rd");
	/* empty password: just the NUL */
	buf_reset(&ct);
	assert_int_equal(myauth_rsa_encrypt_password(pem.data, pem.len, "", 0, nonce, 20, &ct), 0);
	assert_int_equal(myauth_rsa_decrypt_password(k, ct.data, ct.len, nonce, 20, pw, sizeof(pw)), 0);
	assert_string_equal(pw, "");
	/* longer than OAEP allows for the key */
	char longpw[256];
	memset(longpw, 'a', sizeof(longpw));
	buf_reset(&ct);
	assert_int_equal(myauth_rsa_encrypt_password(pem.data, pem.len, longpw, 250, nonce, 20, &ct), -1);
	/* not a key */
	assert_int_equal(myauth_rsa_encrypt_password((const uint8_t *)"junk", 4, "x", 1, nonce, 20, &ct), -1);
	buf_free(&pem);
	buf_free(&ct);
	myauth_rsa_free(k);
	myauth_rsa_free(NULL);
}

/* SHA-crypt vectors: glibc's crypt("$5$...") for salts of up to 16 bytes
 * (python3 -c 'import crypt; print(crypt.crypt(pw, "$5$rounds=1000$salt"))'),
 * and hashcat's example for its mode 7401 (MySQL $A$, a 20-byte binary
 * salt), password "hashcat". */
static void test_sha2_stored_hash(void **state)
{
	(void)state;
	char d[MYAUTH_SHA2_DIGEST_LEN + 1];
	myauth_sha256_crypt("Hello world!", 12, (const uint8_t *)"saltstring", 10, 5000, d);
	assert_string_equal(d, "5B8vYYiY.CVt1RlTTf8KbXBH3hsxY/GNooZaBBGWEc5");
	const char *longpw = "a password longer than thirty-two bytes!!";
	myauth_sha256_crypt(longpw, strlen(longpw), (const uint8_t *)"0123456789abcdef", 16, 1000, d);
	assert_string_equal(d, "gua5SADMQlaugECqID.PEI7EJeO7QyPtRbbqHU1h4r6");
	myauth_sha256_crypt("", 0, (const uint8_t *)"xy", 2, 1000, d);
	assert_string_equal(d, "/cO6kptZb4yP879uPUnyMK3if5zBCL92eS3OMQKV2c.");

	const char *hashcat = "0x24412430303524F9CC98CE08892924F50A213B6BC571A2C11778C5625479393559393965414D4531"
			      "6477456B484F41316E64484742577A2E3162785353526B7554584647562F";
	struct myauth_sha2_hash h;
	assert_int_equal(myauth_sha2_parse_hash(hashcat, &h), 0);
	assert_int_equal(h.rounds, 5000);
	assert_string_equal(h.digest, "bTy95Y99eAME1dwEkHOA1ndHGBWz.1bxSSRkuTXFGV/");
	assert_true(myauth_sha2_check_hash("hashcat", 7, &h));
	assert_false(myauth_sha2_check_hash("hashcaT", 7, &h));
	assert_false(myauth_sha2_check_hash("", 0, &h));

	/* The raw form: a printable salt. */
	char raw[71];
	myauth_sha256_crypt("app", 3, (const uint8_t *)"abcdefghijklmnopqrst", 20, 5000, d);
	snprintf(raw, sizeof(raw), "$A$005$abcdefghijklmnopqrst%s", d);
	assert_int_equal(myauth_sha2_parse_hash(raw, &h), 0);
	assert_true(myauth_sha2_check_hash("app", 3, &h));
	assert_false(myauth_sha2_check_hash("ap", 2, &h));

	/* Malformed: length, type, rounds, digest alphabet, hex. */
	assert_int_equal(myauth_sha2_parse_hash("$A$005$short", &h), -1);
	raw[1] = 'B';
	assert_int_equal(myauth_sha2_parse_hash(raw, &h), -1);
	raw[1] = 'A';
	memcpy(raw + 3, "000", 3);
	assert_int_equal(myauth_sha2_parse_hash(raw, &h), -1);
	memcpy(raw + 3, "00G", 3);
	assert_int_equal(myauth_sha2_parse_hash(raw, &h), -1);
	memcpy(raw + 3, "005", 3);
	raw[69] = '!';
	assert_int_equal(myauth_sha2_parse_hash(raw, &h), -1);
	char bad[200];
	snprintf(bad, sizeof(bad), "%s", hashcat);
	bad[10] = 'z';
	assert_int_equal(myauth_sha2_parse_hash(bad, &h), -1);
	assert_int_equal(myauth_sha2_parse_hash(NULL, &h), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_native_known),
		cmocka_unit_test(test_native_captured_login),
		cmocka_unit_test(test_nonce),
		cmocka_unit_test(test_sha2_known),
		cmocka_unit_test(test_sha2_stored_hash),
		cmocka_unit_test(test_rsa_openssl_ciphertext),
		cmocka_unit_test(test_rsa_roundtrip),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
