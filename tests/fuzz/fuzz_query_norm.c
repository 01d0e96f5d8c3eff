/* fuzz-sources: proxy/query_norm.c */
/*
 * fuzz_query_norm.c — libFuzzer target for the statement normalizer
 * (proxy/query_norm.c), which reads the text of every statement a client
 * sends when query statistics are on.
 *
 * The first byte picks the dialect and the output size; the rest is the
 * SQL text, copied into a buffer of exactly its size (ASan catches a read
 * past len). Contracts checked with abort(): the output is NUL-terminated
 * at r.len < cap; a cut output ends in "…"; the hash is not 0, and is the
 * same for the same input whatever the output size (it covers the whole
 * normalized text); normalizing is deterministic; normalizing the
 * (uncut) output again gives no longer text.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proxy/query_norm.h"

#define FUZZ_MAX_INPUT 8192u

static void check(int ok)
{
	if (!ok)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1 || size > FUZZ_MAX_INPUT)
		return 0;
	enum qn_dialect d = (data[0] & 1) ? QN_MYSQL : QN_PG;
	size_t cap = 8 + (size_t)(data[0] >> 1) * 4; /* 8 .. 516 */
	size_t n = size - 1;
	char *in = malloc(n ? n : 1);
	if (!in)
		return 0;
	memcpy(in, data + 1, n);
	char *out = malloc(cap);
	char big[QN_MAX];
	if (!out) {
		free(in);
		return 0;
	}
	struct qn_result r = query_norm(d, in, n, out, cap);
	check(r.len < cap);
	check(out[r.len] == '\0');
	check(r.hash != 0);
	if (r.truncated)
		check(r.len >= 3 && memcmp(out + r.len - 3, "\xe2\x80\xa6", 3) == 0);
	struct qn_result r2 = query_norm(d, in, n, big, sizeof(big));
	check(r2.hash == r.hash);
	check(r2.len < sizeof(big) && big[r2.len] == '\0');
	struct qn_result r3 = query_norm(d, in, n, out, cap);
	check(r3.hash == r.hash && r3.len == r.len);
	if (!r2.truncated) {
		char again[QN_MAX];
		struct qn_result r4 = query_norm(d, big, r2.len, again, sizeof(again));
		check(r4.len <= r2.len + 4); /* "IN(?)" may become "IN (?)" */
	}
	free(out);
	free(in);
	return 0;
}
