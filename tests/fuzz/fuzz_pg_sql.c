/* fuzz-sources: proxy/pg/pg_sql.c */
/*
 * fuzz_pg_sql.c — libFuzzer target for the SQL statement scanner
 * (proxy/pg/pg_sql.c), which reads the text of every Query and Parse a
 * client sends in transaction pooling.
 *
 * The input is arbitrary bytes taken as SQL text. It is copied into a
 * buffer of exactly its size (so ASan catches a read one past `len`) and
 * scanned whole and as every prefix the proxy could see when a statement
 * is cut off. Contracts are checked with abort(): only known flags are
 * set, PG_SQL_PIN comes with a reason and no reason without it, the scan
 * is deterministic, and appending text never loses a pin that a complete
 * statement (one ending in ';' outside quotes, so not TRUNCATED) already
 * had. pg_sql_is_tracked_param is called on the same bytes.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proxy/pg/pg_sql.h"

#define FUZZ_MAX_INPUT 4096u
#define KNOWN_FLAGS (PG_SQL_PIN | PG_SQL_DISCARD_ALL | PG_SQL_DEALLOCATE_ALL | PG_SQL_BEGIN | PG_SQL_TRUNCATED)

static void check(int ok)
{
	if (!ok)
		abort();
}

static void scan_checked(const char *p, size_t n, struct pg_sql_scan *out)
{
	pg_sql_scan(p, n, out);
	check((out->flags & ~(unsigned)KNOWN_FLAGS) == 0);
	check(out->statements >= 0 && (size_t)out->statements <= n); /* a byte each at least */
	if (out->flags & PG_SQL_PIN)
		check(out->pin_reason != NULL && out->pin_reason[0] != '\0');
	else
		check(out->pin_reason == NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > FUZZ_MAX_INPUT)
		return 0;
	char *p = malloc(size ? size : 1);
	if (!p)
		abort();
	memcpy(p, data, size);

	struct pg_sql_scan whole, again;
	scan_checked(p, size, &whole);
	scan_checked(p, size, &again);
	check(whole.flags == again.flags && whole.pin_reason == again.pin_reason);

	/* Prefixes: a cut-off text is scanned without reading past its end.
	 * Every prefix is tried for short inputs, a sample for long ones. */
	size_t step = size <= 256 ? 1 : size / 64;
	for (size_t n = 0; n < size; n += step) {
		struct pg_sql_scan pre;
		char *q = malloc(n ? n : 1);
		if (!q)
			abort();
		memcpy(q, p, n);
		scan_checked(q, n, &pre);
		/* A prefix that ends right after a ';' and was not truncated holds
		 * complete statements: the whole text pins at least as much. */
		if (n > 0 && p[n - 1] == ';' && !(pre.flags & PG_SQL_TRUNCATED) && (pre.flags & PG_SQL_PIN))
			check(whole.flags & PG_SQL_PIN);
		free(q);
	}

	(void)pg_sql_is_tracked_param(p, size);
	free(p);
	return 0;
}
