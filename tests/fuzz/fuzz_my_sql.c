/* fuzz-sources: proxy/mysql/my_sql.c */
/*
 * fuzz_my_sql.c — libFuzzer target for the MySQL statement scanner
 * (proxy/mysql/my_sql.c), which reads the text of every COM_QUERY and
 * COM_STMT_PREPARE in transaction pooling, and for the CONNECTION_ID()
 * rewrite built on it.
 *
 * The input is arbitrary bytes taken as SQL text, copied into a buffer of
 * exactly its size (so ASan catches a read one past `len`), scanned whole
 * and as prefixes. Contracts checked with abort(): only known flags; a pin
 * comes with a reason and no reason without one; slices (USE, SET values,
 * calls) lie inside the text; the scan is deterministic; the calls found
 * by my_sql_connection_ids() agree with the scan's and are in order and
 * apart; my_sql_mentions_connection_id() never says no when there is a
 * call; the rewrite's length is what it reports, whatever the cap, and
 * the rewritten text has no call of CONNECTION_ID() left.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proxy/mysql/my_sql.h"

#define FUZZ_MAX_INPUT 4096u
#define KNOWN_FLAGS (MY_SQL_PIN | MY_SQL_USE | MY_SQL_SET | MY_SQL_TRUNCATED | MY_SQL_KILL | \
		     MY_SQL_LOCAL_INFILE | MY_SQL_CONNECTION_ID | MY_SQL_INSERT_ID)

static void check(int ok)
{
	if (!ok)
		abort();
}

static int inside(const char *base, size_t n, const char *p, size_t len)
{
	return p >= base && len <= n && (size_t)(p - base) <= n - len;
}

static void scan_checked(const char *p, size_t n, struct my_sql_scan *out)
{
	my_sql_scan(p, n, out);
	check((out->flags & ~(unsigned)KNOWN_FLAGS) == 0);
	if (out->flags & MY_SQL_PIN)
		check(out->pin_reason != NULL && out->pin_reason[0] != '\0');
	if (out->flags & MY_SQL_USE)
		check(inside(p, n, out->use, out->use_len));
	check(out->n_sets >= 0 && out->n_sets <= MY_SQL_MAX_SETS);
	/* every statement has at least one byte of its own */
	check(out->statements >= 0 && (size_t)out->statements <= n);
	for (int i = 0; i < out->n_sets; i++) {
		check(out->sets[i].name != NULL);
		check(inside(p, n, out->sets[i].value, out->sets[i].value_len));
	}
	size_t shown = out->n_calls < MY_SQL_MAX_CALLS ? out->n_calls : MY_SQL_MAX_CALLS;
	for (size_t i = 0; i < shown; i++)
		check(out->calls[i].len > 0 && out->calls[i].off <= n && out->calls[i].len <= n - out->calls[i].off);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > FUZZ_MAX_INPUT)
		return 0;
	char *p = malloc(size ? size : 1);
	if (!p)
		abort();
	memcpy(p, data, size);

	struct my_sql_scan whole, again;
	scan_checked(p, size, &whole);
	scan_checked(p, size, &again);
	check(whole.flags == again.flags && whole.n_sets == again.n_sets && whole.n_calls == again.n_calls);

	struct my_sql_call calls[32];
	size_t n = my_sql_connection_ids(p, size, calls, 32);
	check(n == whole.n_calls);
	if (n > 0)
		check(my_sql_mentions_connection_id(p, size));
	size_t shown = n < 32 ? n : 32;
	for (size_t i = 0; i < shown; i++) {
		check(calls[i].len > 0 && calls[i].off <= size && calls[i].len <= size - calls[i].off);
		if (i > 0)
			check(calls[i].off >= calls[i - 1].off + calls[i - 1].len);
		if (i < MY_SQL_MAX_CALLS)
			check(calls[i].off == whole.calls[i].off && calls[i].len == whole.calls[i].len);
	}
	if (n > 0 && n <= 32) {
		size_t need = my_sql_rewrite_connection_id(p, size, calls, n, 4294967295u, NULL, 0);
		char *out = malloc(need ? need : 1);
		if (!out)
			abort();
		check(my_sql_rewrite_connection_id(p, size, calls, n, 4294967295u, out, need) == need);
		/* A short cap writes a prefix of the same text. */
		char small[16];
		size_t got = my_sql_rewrite_connection_id(p, size, calls, n, 4294967295u, small, sizeof(small));
		check(got == need);
		check(memcmp(small, out, need < sizeof(small) ? need : sizeof(small)) == 0);
		struct my_sql_call left[4];
		check(my_sql_connection_ids(out, need, left, 4) == 0);
		free(out);
	}

	/* Prefixes: a cut-off text is scanned without reading past its end. */
	size_t step = size <= 256 ? 1 : size / 64;
	for (size_t k = 0; k < size; k += step) {
		struct my_sql_scan pre;
		char *q = malloc(k ? k : 1);
		if (!q)
			abort();
		memcpy(q, p, k);
		scan_checked(q, k, &pre);
		free(q);
	}
	(void)my_sql_tracked_var(p, size);
	free(p);
	return 0;
}
