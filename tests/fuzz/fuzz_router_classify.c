/* fuzz-sources: router/classify.c router/position.c */
/*
 * fuzz_router_classify.c — libFuzzer target for the router's statement
 * classifier (router/classify.c), which reads the text of every statement
 * a client sends when read/write splitting is on, and for the replication
 * position parsers (router/position.c), which read what servers report.
 *
 * The input is arbitrary bytes, copied into a buffer of exactly its size
 * (so ASan catches a read one past `len`), classified in both dialects,
 * whole and as every prefix (a sample for long inputs). Contracts are
 * checked with abort(): enum fields hold known values; the reason is set,
 * and is "read" exactly for reads; a key points inside the text; the
 * result is deterministic; trailing whitespace and a leading comment
 * change nothing. Each position parser that accepts the bytes must print a
 * canonical form that parses back to the same position, which covers
 * itself and is unchanged by merging with itself.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "router/classify.h"
#include "router/position.h"

#define FUZZ_MAX_INPUT 4096u

static void check(int ok)
{
	if (!ok)
		abort();
}

static char *copy_of(const char *p, size_t n, const char *before, const char *after)
{
	size_t b = strlen(before), a = strlen(after);
	char *q = malloc(b + n + a ? b + n + a : 1);
	if (!q)
		abort();
	memcpy(q, before, b);
	memcpy(q + b, p, n);
	memcpy(q + b + n, after, a);
	return q;
}

static const char *names_items[] = { "audit", "bump" };
static const struct cfg_strlist names = { (char **)names_items, 2 };

static void classify_checked(const char *p, size_t n, enum route_dialect d, struct route_stmt *st)
{
	memset(st, 0x5a, sizeof(*st));
	route_classify(p, n, d, &names, st);
	check(st->cls == ROUTE_CLASS_READ || st->cls == ROUTE_CLASS_WRITE);
	check(st->txn == ROUTE_TXN_NONE || st->txn == ROUTE_TXN_BEGIN || st->txn == ROUTE_TXN_END);
	check(st->hint == CFG_TARGET_NONE || st->hint == CFG_TARGET_PRIMARY || st->hint == CFG_TARGET_REPLICA);
	check(st->reason != NULL && st->reason[0] != '\0');
	check((st->cls == ROUTE_CLASS_READ) == (strcmp(st->reason, "read") == 0));
	check(!st->tx_read_only || st->txn == ROUTE_TXN_BEGIN);
	if (st->sets_route)
		check(st->session_route == CFG_TARGET_NONE || st->session_route == CFG_TARGET_PRIMARY ||
		      st->session_route == CFG_TARGET_REPLICA || st->session_route == CFG_TARGET_ANY);
	if (st->sets_key && st->key)
		check(st->key >= p && st->key_len <= n && st->key <= p + n - st->key_len);
	if (st->sets_key && !st->key)
		check(st->key_len == 0);
	check(strcmp(route_target_name(st->hint), "?") != 0);
}

static int same_decision(const struct route_stmt *a, const struct route_stmt *b)
{
	return a->cls == b->cls && a->reason == b->reason && a->txn == b->txn && a->tx_read_only == b->tx_read_only &&
	       a->sets_route == b->sets_route && (!a->sets_route || a->session_route == b->session_route) &&
	       a->sets_key == b->sets_key;
}

static void classify_all(const char *p, size_t n, enum route_dialect d)
{
	struct route_stmt whole, again;
	classify_checked(p, n, d, &whole);
	classify_checked(p, n, d, &again);
	check(same_decision(&whole, &again) && whole.hint == again.hint && whole.key == again.key &&
	      whole.key_len == again.key_len);

	/* Trailing whitespace decides nothing. */
	char *q = copy_of(p, n, "", "\n \t");
	struct route_stmt st;
	classify_checked(q, n + 3, d, &st);
	check(same_decision(&whole, &st) && whole.hint == st.hint);
	free(q);

	/* Nor does a leading comment (the text's own hint still counts). */
	q = copy_of(p, n, "/* c */ ", "");
	classify_checked(q, n + 8, d, &st);
	check(same_decision(&whole, &st) && whole.hint == st.hint);
	free(q);

	/* Prefixes: a cut-off text is judged without reading past its end. */
	size_t step = n <= 256 ? 1 : n / 64;
	for (size_t k = 0; k < n; k += step) {
		q = copy_of(p, k, "", "");
		classify_checked(q, k, d, &st);
		free(q);
	}
}

typedef int (*parse_fn)(const char *, size_t, struct position *);

static void position_roundtrip(const char *p, size_t n, parse_fn parse)
{
	struct position a, b, m;
	if (parse(p, n, &a) != 0) {
		check(a.kind == POS_NONE);
		return;
	}
	check(a.kind != POS_NONE && a.n >= 0 && a.n <= POS_MAX_DOMAINS && !a.overflow);
	char text[8192];
	pos_format(&a, text, sizeof(text));
	check(parse(text, strlen(text), &b) == 0);
	check(memcmp(&a, &b, sizeof(a)) == 0);
	check(pos_covers(&a, &a));
	m = a;
	pos_merge(&m, &a);
	check(pos_covers(&m, &a) && pos_covers(&a, &m));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > FUZZ_MAX_INPUT)
		return 0;
	char *p = copy_of((const char *)data, size, "", "");
	classify_all(p, size, ROUTE_DIALECT_PG);
	classify_all(p, size, ROUTE_DIALECT_MYSQL);
	position_roundtrip(p, size, pos_parse_lsn);
	position_roundtrip(p, size, pos_parse_mariadb);
	position_roundtrip(p, size, pos_parse_mysql);
	free(p);
	return 0;
}
