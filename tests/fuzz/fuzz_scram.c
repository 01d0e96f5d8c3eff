/* fuzz-sources: proxy/pg/scram.c proxy/pg/pgmd5.c */
/* fuzz-pkgs: openssl */
/*
 * fuzz_scram.c — libFuzzer target for the SCRAM-SHA-256 and md5 codecs.
 *
 * The input is split on '\n' into up to five parts, each handed over as a
 * (pointer, length) pair without NUL terminator:
 *   0  a verifier "SCRAM-SHA-256$..." (used by the server if it parses,
 *      else the RFC 7677 verifier for "pencil")
 *   1  client-first-message  -> scram_server_first (fixed server nonce)
 *   2  client-final-message  -> scram_server_final
 *   3  server-first-message  -> scram_client_final (ClientKey client, and a
 *      password client limited to a few PBKDF2 iterations)
 *   4  server-final-message  -> scram_client_verify
 * Every part also goes through scram_b64_decode and pg_md5_check. The
 * seed corpus holds the RFC 7677 exchange in this layout.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proxy/pg/pgmd5.h"
#include "proxy/pg/scram.h"

#define CLIENT_NONCE "rOprNGfwEbeRWgbNEkqO"
#define SERVER_NONCE "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0"
#define VERIFIER                                                                       \
	"SCRAM-SHA-256$4096:W22ZaJ0SNY7soEsUEjb6gQ==$WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=:" \
	"wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU="
#define NPARTS 5

/* Copy a part to its own heap block of exactly n bytes: ASan then catches
 * any read past the length. */
static char *dup_exact(const uint8_t *p, size_t n)
{
	char *d = malloc(n ? n : 1);
	if (d && n)
		memcpy(d, p, n);
	return d;
}

static void run_client(struct scram_client *c, const char *sf, size_t sfn, const char *fin,
		       size_t finn)
{
	char out[2048];
	const char *err = NULL;
	if (scram_client_set_nonce(c, CLIENT_NONCE, strlen(CLIENT_NONCE)) != 0 ||
	    scram_client_first(c, out, sizeof(out)) != 0)
		abort();
	if (scram_client_final(c, sf, sfn, out, sizeof(out), &err) == 0) {
		if (strlen(out) >= sizeof(out))
			abort();
		(void)scram_client_verify(c, fin, finn, &err);
	} else if (err == NULL) {
		abort();
	}
	scram_client_clear(c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *part[NPARTS];
	size_t len[NPARTS];
	char *buf[NPARTS];
	size_t k = 0, start = 0;

	for (size_t i = 0; i <= size && k < NPARTS; i++) {
		if (i == size || (data[i] == '\n' && k < NPARTS - 1)) {
			part[k] = data + start;
			len[k] = i - start;
			k++;
			start = i + 1;
		}
	}
	for (; k < NPARTS; k++) {
		part[k] = data + size;
		len[k] = 0;
	}
	for (k = 0; k < NPARTS; k++) {
		buf[k] = dup_exact(part[k], len[k]);
		if (buf[k] == NULL)
			goto out;
	}

	/* base64 and md5 over every part */
	for (k = 0; k < NPARTS; k++) {
		uint8_t dec[256];
		ssize_t n = scram_b64_decode(buf[k], len[k], dec, sizeof(dec));
		if (n > (ssize_t)sizeof(dec))
			abort();
		static const uint8_t salt[4] = { 1, 2, 3, 4 };
		(void)pg_md5_check("md57541d4e65fae11bd07f18dc6fe2b02bc", salt, buf[k], len[k]);
		(void)pg_md5_is_stored(buf[k], len[k]);
	}

	/* verifier */
	struct scram_verifier v;
	if (scram_parse_verifier_len(buf[0], len[0], &v) == 0) {
		char s[SCRAM_VERIFIER_MAX];
		struct scram_verifier w;
		if (scram_verifier_format(&v, s, sizeof(s)) != 0 || scram_parse_verifier(s, &w) != 0 ||
		    memcmp(&v, &w, sizeof(v)) != 0)
			abort();
	} else if (scram_parse_verifier(VERIFIER, &v) != 0) {
		abort();
	}

	/* server side */
	struct scram_server srv;
	char out[2048];
	const char *err = NULL;
	scram_server_init(&srv);
	if (scram_server_set_nonce(&srv, SERVER_NONCE, strlen(SERVER_NONCE)) != 0)
		abort();
	if (scram_server_first(&srv, &v, buf[1], len[1], out, sizeof(out), &err) == 0) {
		err = NULL;
		if (scram_server_final(&srv, buf[2], len[2], out, sizeof(out), &err) == 0) {
			if (scram_server_client_key(&srv) == NULL || strncmp(out, "v=", 2) != 0)
				abort();
		} else if (err == NULL || scram_server_client_key(&srv) != NULL) {
			abort();
		}
	} else if (err == NULL) {
		abort();
	}
	scram_server_clear(&srv);

	/* client side: with a ClientKey (no PBKDF2), then a cheap password client */
	struct scram_client cli;
	static const uint8_t ck[SCRAM_KEY_LEN] = { 1, 2, 3 };
	if (scram_client_init(&cli, NULL, ck, v.server_key) != 0)
		abort();
	run_client(&cli, buf[3], len[3], buf[4], len[4]);
	if (scram_client_init(&cli, "pencil", NULL, NULL) != 0)
		abort();
	cli.max_iterations = 16;
	run_client(&cli, buf[3], len[3], buf[4], len[4]);

out:
	for (size_t j = 0; j < k && j < NPARTS; j++)
		free(buf[j]);
	return 0;
}
