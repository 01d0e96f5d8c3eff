/*
 * rules.c — the [route.CLUSTER.NAME] rules of a config snapshot, compiled
 * with pcre2 and matched per statement.
 *
 * A compiled table copies what it needs from the snapshot (names, the
 * conditions, the target), so it does not borrow the snapshot's memory.
 * Patterns are compiled caseless and DOTALL (so `.*` spans the lines of a
 * multi-line statement), JIT-compiled when the platform allows (a JIT
 * failure only costs speed). A rule without `match` matches every
 * statement and is decided by its conditions alone.
 *
 * Threads: every worker matches against the same table. The table is
 * read-only after compile except the hit counters, which are atomic. pcre2
 * needs a match_data block per concurrent match: each thread keeps one
 * (created on first use, freed by the thread-exit destructor of a pthread
 * key); a one-slot ovector is enough since only "did it match" is asked.
 */
#include "router/rules.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <arpa/inet.h>
#include <pcre2.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct net {
	int family; /* 0: no condition, AF_INET or AF_INET6 */
	uint8_t addr[16];
	int prefix; /* bits */
};

struct rule {
	pcre2_code *re; /* NULL: no pattern, matches every statement */
	char *cluster, *name, *user, *database;
	struct net net;
	enum cfg_target target;
	struct cfg_addr node;
	_Atomic uint64_t hits;
};

struct route_rules {
	size_t n;
	struct rule *rules;
};

/* ---- per-thread match data ---- */

static pthread_key_t md_key;
static pthread_once_t md_once = PTHREAD_ONCE_INIT;
static bool md_key_ok;

static void md_free(void *md)
{
	pcre2_match_data_free(md);
}

static void md_key_init(void)
{
	md_key_ok = pthread_key_create(&md_key, md_free) == 0;
}

/* This thread's match data, or a fresh one the caller frees (*owned). */
static pcre2_match_data *md_get(bool *owned)
{
	pthread_once(&md_once, md_key_init);
	*owned = false;
	pcre2_match_data *md = md_key_ok ? pthread_getspecific(md_key) : NULL;
	if (md)
		return md;
	md = pcre2_match_data_create(1, NULL);
	if (md && (!md_key_ok || pthread_setspecific(md_key, md) != 0))
		*owned = true;
	return md;
}

/* ---- addresses ---- */

/* "10.0.0.0/8", "127.0.0.1", "::1", "fd00::/8"; 0 or -1. */
static int parse_net(const char *s, struct net *out)
{
	char host[64];
	const char *slash = strchr(s, '/');
	size_t hl = slash ? (size_t)(slash - s) : strlen(s);
	memset(out, 0, sizeof(*out));
	if (hl == 0 || hl >= sizeof(host))
		return -1;
	memcpy(host, s, hl);
	host[hl] = '\0';
	int max;
	if (inet_pton(AF_INET, host, out->addr) == 1) {
		out->family = AF_INET;
		max = 32;
	} else if (inet_pton(AF_INET6, host, out->addr) == 1) {
		out->family = AF_INET6;
		max = 128;
	} else {
		return -1;
	}
	out->prefix = max;
	if (slash) {
		char *end;
		long v = strtol(slash + 1, &end, 10);
		if (slash[1] == '\0' || *end != '\0' || v < 0 || v > max)
			return -1;
		out->prefix = (int)v;
	}
	return 0;
}

static bool prefix_equal(const uint8_t *a, const uint8_t *b, int bits)
{
	int whole = bits / 8, rest = bits % 8;
	if (memcmp(a, b, (size_t)whole) != 0)
		return false;
	if (rest == 0)
		return true;
	uint8_t mask = (uint8_t)(0xff << (8 - rest));
	return (a[whole] & mask) == (b[whole] & mask);
}

static bool net_match(const struct net *n, const char *client)
{
	if (n->family == 0)
		return true;
	if (!client)
		return false; /* unix socket: no address to compare */
	uint8_t a[16];
	if (inet_pton(AF_INET, client, a) == 1) {
		if (n->family == AF_INET)
			return prefix_equal(a, n->addr, n->prefix);
		/* an IPv4 client against an IPv6 rule: as ::ffff:a.b.c.d */
		uint8_t m[16] = { [10] = 0xff, [11] = 0xff };
		memcpy(m + 12, a, 4);
		return prefix_equal(m, n->addr, n->prefix);
	}
	if (inet_pton(AF_INET6, client, a) != 1)
		return false;
	if (n->family == AF_INET6)
		return prefix_equal(a, n->addr, n->prefix);
	static const uint8_t mapped[12] = { [10] = 0xff, [11] = 0xff };
	return memcmp(a, mapped, 12) == 0 && prefix_equal(a + 12, n->addr, n->prefix);
}

/* ---- compile ---- */

static pcre2_code *compile(const char *pattern, int *code, size_t *off)
{
	PCRE2_SIZE eoff = 0;
	pcre2_code *re = pcre2_compile((PCRE2_SPTR)pattern, PCRE2_ZERO_TERMINATED, PCRE2_CASELESS | PCRE2_DOTALL,
				       code, &eoff, NULL);
	*off = (size_t)eoff;
	return re;
}

static void pattern_error(int code, size_t off, char *err, size_t errlen, const char *prefix)
{
	PCRE2_UCHAR msg[256];
	if (pcre2_get_error_message(code, msg, sizeof(msg)) < 0)
		snprintf((char *)msg, sizeof(msg), "error %d", code);
	snprintf(err, errlen, "%spattern error at offset %zu: %s", prefix, off, (char *)msg);
}

int route_pattern_check(const char *pattern, char *err, size_t errlen)
{
	int code;
	size_t off;
	pcre2_code *re = compile(pattern ? pattern : "", &code, &off);
	if (!re) {
		pattern_error(code, off, err, errlen, "");
		return -1;
	}
	pcre2_code_free(re);
	return 0;
}

static char *dup_or_null(const char *s)
{
	return s ? strdup(s) : NULL;
}

void route_rules_free(struct route_rules *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->n; i++) {
		struct rule *x = &r->rules[i];
		pcre2_code_free(x->re);
		free(x->cluster);
		free(x->name);
		free(x->user);
		free(x->database);
	}
	free(r->rules);
	free(r);
}

struct route_rules *route_rules_compile(const struct cfg *c, char *err, size_t errlen)
{
	struct route_rules *r = calloc(1, sizeof(*r));
	if (!r)
		goto oom;
	if (c->n_routes > 0) {
		r->rules = calloc(c->n_routes, sizeof(*r->rules));
		if (!r->rules)
			goto oom;
	}
	for (size_t i = 0; i < c->n_routes; i++) {
		const struct cfg_route *cr = &c->routes[i];
		struct rule *x = &r->rules[i];
		r->n = i + 1; /* so route_rules_free sees what is filled */
		atomic_init(&x->hits, 0);
		x->cluster = dup_or_null(cr->cluster ? cr->cluster : "");
		x->name = dup_or_null(cr->name ? cr->name : "");
		x->user = dup_or_null(cr->user);
		x->database = dup_or_null(cr->database);
		if (!x->cluster || !x->name || (cr->user && !x->user) || (cr->database && !x->database))
			goto oom;
		x->target = cr->target;
		x->node = cr->target_node;
		if (cr->client_addr && parse_net(cr->client_addr, &x->net) < 0) {
			snprintf(err, errlen, "route.%s.%s: bad client_addr '%s' (expected an IP address or CIDR)",
				 x->cluster, x->name, cr->client_addr);
			goto fail;
		}
		if (cr->match) {
			int code;
			size_t off;
			x->re = compile(cr->match, &code, &off);
			if (!x->re) {
				char prefix[300];
				snprintf(prefix, sizeof(prefix), "route.%s.%s: ", x->cluster, x->name);
				pattern_error(code, off, err, errlen, prefix);
				goto fail;
			}
			(void)pcre2_jit_compile(x->re, PCRE2_JIT_COMPLETE); /* interpreted when JIT is unavailable */
		}
	}
	return r;
oom:
	snprintf(err, errlen, "out of memory compiling route rules");
fail:
	route_rules_free(r);
	return NULL;
}

/* ---- match ---- */

static bool str_cond(const char *want, const char *have)
{
	return !want || (have && strcmp(want, have) == 0);
}

bool route_rules_match(struct route_rules *r, const char *cluster, const char *sql, size_t len,
		       const char *user, const char *database, const char *client_addr,
		       struct route_rule_hit *hit)
{
	hit->index = -1;
	hit->name = NULL;
	hit->target = CFG_TARGET_NONE;
	hit->node = NULL;
	if (!r || !cluster)
		return false;
	if (!sql) {
		sql = "";
		len = 0;
	}
	pcre2_match_data *md = NULL;
	bool owned = false;
	bool found = false;
	for (size_t i = 0; i < r->n && !found; i++) {
		struct rule *x = &r->rules[i];
		if (strcmp(x->cluster, cluster) != 0 || !str_cond(x->user, user) || !str_cond(x->database, database) ||
		    !net_match(&x->net, client_addr))
			continue;
		if (x->re) {
			if (!md && !(md = md_get(&owned)))
				break; /* no memory: no rule applies */
			int rc = pcre2_match(x->re, (PCRE2_SPTR)sql, len, 0, 0, md, NULL);
			/* 0: matched, the one-slot ovector was too small (fine) */
			if (rc < 0)
				continue;
		}
		atomic_fetch_add_explicit(&x->hits, 1, memory_order_relaxed);
		hit->index = (int)i;
		hit->name = x->name;
		hit->target = x->target;
		hit->node = x->target == CFG_TARGET_NODE ? &x->node : NULL;
		found = true;
	}
	if (owned)
		pcre2_match_data_free(md);
	return found;
}

uint64_t route_rules_hits(const struct route_rules *r, size_t index)
{
	if (!r || index >= r->n)
		return 0;
	return atomic_load_explicit(&r->rules[index].hits, memory_order_relaxed);
}
