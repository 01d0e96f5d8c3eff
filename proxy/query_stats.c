/*
 * query_stats.c — the per-worker statement table (see query_stats.h for
 * the eviction rule and who may touch what).
 */
#include "proxy/query_stats.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

int query_stats_init(struct query_stats *qs)
{
	memset(qs, 0, sizeof(*qs));
#ifdef SWITCHYARD_NO_QUERY_STATS
	return 0; /* a build for measuring the overhead: no table, every call a no-op */
#endif
	qs->slots = calloc(QS_CAPACITY, sizeof(*qs->slots));
	return qs->slots ? 0 : -1;
}

void query_stats_free(struct query_stats *qs)
{
	free(qs->slots);
	qs->slots = NULL;
}

int64_t query_stats_now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static uint64_t target_hash(const char *node, bool primary)
{
	uint64_t h = qn_fnv(QN_FNV_INIT, node ? node : "", node ? strlen(node) : 0);
	return qn_fnv(h, primary ? "P" : "R", 1);
}

static uint64_t mix(uint64_t a, uint64_t b)
{
	uint64_t k = a ^ (b * 0x9E3779B97F4A7C15ULL);
	k ^= k >> 33;
	k *= 0xff51afd7ed558ccdULL;
	k ^= k >> 33;
	return k ? k : 1;
}

static struct qs_entry *find(const struct query_stats *qs, uint64_t key)
{
	size_t i0 = (size_t)key & (QS_CAPACITY - 1);
	for (size_t p = 0; p < QS_PROBE; p++) {
		struct qs_entry *e = &qs->slots[(i0 + p) & (QS_CAPACITY - 1)];
		if (e->key == key)
			return e;
		if (e->key == 0)
			return NULL;
	}
	return NULL;
}

/* The slot for a new key: the first empty one in the window, else the
 * entry with the fewest calls there (then the least time), evicted. */
static struct qs_entry *claim(struct query_stats *qs, uint64_t key)
{
	size_t i0 = (size_t)key & (QS_CAPACITY - 1);
	struct qs_entry *victim = NULL;
	for (size_t p = 0; p < QS_PROBE; p++) {
		struct qs_entry *e = &qs->slots[(i0 + p) & (QS_CAPACITY - 1)];
		if (e->key == 0) {
			qs->used++;
			return e;
		}
		if (!victim || e->calls < victim->calls ||
		    (e->calls == victim->calls && e->total_us < victim->total_us))
			victim = e;
	}
	qs->evicted++;
	return victim;
}

static uint64_t enter(struct query_stats *qs, enum qn_dialect d, const char *text, size_t len, const char *node,
		      bool primary, uint64_t th)
{
	char norm[QN_MAX];
	struct qn_result r = query_norm(d, text, len, norm, sizeof(norm));
	uint64_t key = mix(r.hash, th);
	if (find(qs, key))
		return key;
	struct qs_entry *e = claim(qs, key);
	memset(e, 0, offsetof(struct qs_entry, node));
	e->key = key;
	e->primary = primary;
	size_t nl = node ? strnlen(node, QS_NODE_MAX - 1) : 0;
	memcpy(e->node, node ? node : "", nl);
	e->node[nl] = '\0';
	memcpy(e->query, norm, r.len + 1);
	return key;
}

uint64_t query_stats_enter(struct query_stats *qs, enum qn_dialect d, const char *text, size_t len,
			   const char *node, bool primary)
{
	if (!qs || !qs->slots)
		return 0;
	return enter(qs, d, text, len, node, primary, target_hash(node, primary));
}

uint64_t query_stats_enter_cached(struct query_stats *qs, uint64_t id, enum qn_dialect d, const char *text,
				  size_t len, const char *node, bool primary)
{
	if (!qs || !qs->slots)
		return 0;
	uint64_t th = target_hash(node, primary);
	uint64_t cid = mix(id, th);
	size_t ci = (size_t)cid & (QS_STMT_CACHE - 1);
	if (qs->cache[ci].id == cid && find(qs, qs->cache[ci].key))
		return qs->cache[ci].key;
	uint64_t key = enter(qs, d, text, len, node, primary, th);
	qs->cache[ci].id = cid;
	qs->cache[ci].key = key;
	return key;
}

uint64_t query_stats_begin(struct query_stats *qs, struct qs_call *call, enum qn_dialect d, const char *text,
			   size_t len, const char *node, bool primary)
{
	uint64_t key = query_stats_enter(qs, d, text, len, node, primary);
	query_stats_start(call, key);
	return key;
}

static void record(struct query_stats *qs, struct qs_call *call, int64_t now)
{
	struct qs_entry *e = qs && qs->slots ? find(qs, call->key) : NULL;
	if (!e) {
		if (qs)
			qs->untracked++;
		return;
	}
	uint64_t us = now > call->start_us ? (uint64_t)(now - call->start_us) : 0;
	e->calls++;
	e->total_us += us;
	if (us > e->max_us)
		e->max_us = us;
	e->rows += call->rows;
	if (call->error)
		e->errors++;
}

void query_stats_end(struct query_stats *qs, struct qs_call *call)
{
	if (!call->key)
		return;
	record(qs, call, query_stats_now_us());
	memset(call, 0, sizeof(*call));
}

void query_stats_end_one(struct query_stats *qs, struct qs_call *call)
{
	if (!call->key)
		return;
	if (call->pending <= 1) {
		query_stats_end(qs, call);
		return;
	}
	int64_t now = query_stats_now_us();
	record(qs, call, now);
	call->pending--;
	call->start_us = now;
	call->rows = 0;
	call->error = false;
}

bool query_stats_quick(const struct query_stats *qs, uint64_t key, uint64_t min_calls, uint64_t max_mean_us)
{
	if (!qs->slots || !key)
		return false;
	const struct qs_entry *e = find(qs, key);
	return e && e->calls >= min_calls && e->calls > 0 && e->total_us <= max_mean_us * e->calls;
}

uint64_t query_stats_tag_rows(const char *tag, size_t len)
{
	static const char *const counted[] = { "SELECT ", "INSERT ", "UPDATE ", "DELETE ", "MERGE ",
					       "FETCH ",  "MOVE ",   "COPY " };
	bool ok = false;
	for (size_t i = 0; i < sizeof(counted) / sizeof(counted[0]); i++) {
		size_t n = strlen(counted[i]);
		if (len > n && memcmp(tag, counted[i], n) == 0) {
			ok = true;
			break;
		}
	}
	if (!ok)
		return 0;
	while (len > 0 && tag[len - 1] == '\0')
		len--;
	size_t end = len, i = len;
	while (i > 0 && tag[i - 1] >= '0' && tag[i - 1] <= '9')
		i--;
	if (i == end || i == 0 || tag[i - 1] != ' ')
		return 0;
	uint64_t v = 0;
	for (; i < end; i++)
		v = v * 10 + (uint64_t)(tag[i] - '0');
	return v;
}

static int by_total_desc(const void *a, const void *b)
{
	const struct qs_entry *x = *(const struct qs_entry *const *)a, *y = *(const struct qs_entry *const *)b;
	if (x->total_us != y->total_us)
		return x->total_us < y->total_us ? 1 : -1;
	if (x->calls != y->calls)
		return x->calls < y->calls ? 1 : -1;
	return x->key < y->key ? -1 : x->key > y->key;
}

size_t query_stats_top(const struct query_stats *qs, struct qs_entry *rows, size_t max)
{
	if (!qs || !qs->slots || max == 0)
		return 0;
	const struct qs_entry **p = malloc(QS_CAPACITY * sizeof(*p));
	if (!p)
		return 0;
	size_t n = 0;
	for (size_t i = 0; i < QS_CAPACITY; i++)
		if (qs->slots[i].key && qs->slots[i].calls)
			p[n++] = &qs->slots[i];
	qsort(p, n, sizeof(*p), by_total_desc);
	if (n > max)
		n = max;
	for (size_t i = 0; i < n; i++)
		rows[i] = *p[i];
	free(p);
	return n;
}

static int by_key(const void *a, const void *b)
{
	const struct qs_entry *x = a, *y = b;
	return x->key < y->key ? -1 : x->key > y->key;
}

static int rows_by_total_desc(const void *a, const void *b)
{
	const struct qs_entry *x = a, *y = b;
	return by_total_desc(&x, &y);
}

size_t query_stats_merge(struct qs_entry *rows, size_t n)
{
	if (n == 0)
		return 0;
	qsort(rows, n, sizeof(*rows), by_key);
	size_t o = 0;
	for (size_t i = 1; i < n; i++) {
		struct qs_entry *m = &rows[o];
		const struct qs_entry *r = &rows[i];
		if (r->key == m->key) {
			m->calls += r->calls;
			m->total_us += r->total_us;
			if (r->max_us > m->max_us)
				m->max_us = r->max_us;
			m->rows += r->rows;
			m->errors += r->errors;
		} else if (++o != i) {
			rows[o] = *r;
		}
	}
	n = o + 1;
	qsort(rows, n, sizeof(*rows), rows_by_total_desc);
	return n;
}
