/*
 * position.c — parsing, comparing, merging and printing replication
 * positions (PostgreSQL LSNs, MariaDB GTID lists, MySQL GTID sets).
 *
 * Everything works on the fixed-size struct position: no allocation, no
 * globals, so positions can be copied under a lock and compared on the hot
 * path. Parsers are strict (a malformed position is "unknown" to the
 * caller, which is always the safe answer) and never read past `len`.
 *
 * Direction of errors: a replica's position (`have`) may be understated
 * (it then looks behind, and the primary serves the read); a client's
 * position (`need`) may only be overstated. pos_merge keeps to that: when
 * a MySQL UUID has more than POS_MAX_INTERVALS intervals after merging,
 * the smallest gap between two neighbours is filled (the set grows, never
 * shrinks), and when domains do not fit the result is marked `overflow`,
 * which no replica covers.
 */
#include "router/position.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* ---- small scanning helpers ---- */

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

static int hex_val(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static void skip_space(const char *s, size_t len, size_t *i)
{
	while (*i < len && is_space(s[*i]))
		(*i)++;
}

/* Decimal number of at most 20 digits that fits in `max`; -1 otherwise. */
static int parse_dec(const char *s, size_t len, size_t *i, uint64_t max, uint64_t *out)
{
	size_t start = *i;
	uint64_t v = 0;
	while (*i < len && s[*i] >= '0' && s[*i] <= '9') {
		uint64_t d = (uint64_t)(s[*i] - '0');
		if (v > (max - d) / 10)
			return -1;
		v = v * 10 + d;
		(*i)++;
	}
	if (*i == start)
		return -1;
	*out = v;
	return 0;
}

static void pos_clear(struct position *p, enum pos_kind kind)
{
	memset(p, 0, sizeof(*p));
	p->kind = kind;
}

/* ---- PostgreSQL LSN ---- */

int pos_parse_lsn(const char *s, size_t len, struct position *out)
{
	size_t i = 0;
	uint64_t part[2] = { 0, 0 };
	pos_clear(out, POS_NONE);
	skip_space(s, len, &i);
	for (int k = 0; k < 2; k++) {
		size_t start = i;
		while (i < len && hex_val(s[i]) >= 0) {
			if (i - start == 8)
				return -1; /* each half is a 32-bit number */
			part[k] = (part[k] << 4) | (uint64_t)hex_val(s[i]);
			i++;
		}
		if (i == start)
			return -1;
		if (k == 0) {
			if (i >= len || s[i] != '/')
				return -1;
			i++;
		}
	}
	skip_space(s, len, &i);
	if (i != len)
		return -1;
	out->kind = POS_LSN;
	out->lsn = (part[0] << 32) | part[1];
	return 0;
}

/* ---- MariaDB GTID list: D-S-N[,D-S-N]* ---- */

static struct pos_mariadb *md_find(struct position *p, uint32_t domain)
{
	for (int i = 0; i < p->n; i++)
		if (p->u.md[i].domain == domain)
			return &p->u.md[i];
	return NULL;
}

int pos_parse_mariadb(const char *s, size_t len, struct position *out)
{
	size_t i = 0;
	pos_clear(out, POS_MARIADB_GTID);
	skip_space(s, len, &i);
	if (i == len)
		return 0; /* empty list: nothing replicated yet */
	for (;;) {
		uint64_t d, sv, seq;
		if (parse_dec(s, len, &i, UINT32_MAX, &d) < 0 || i >= len || s[i++] != '-' ||
		    parse_dec(s, len, &i, UINT32_MAX, &sv) < 0 || i >= len || s[i++] != '-' ||
		    parse_dec(s, len, &i, UINT64_MAX, &seq) < 0)
			goto fail;
		struct pos_mariadb *e = md_find(out, (uint32_t)d);
		if (e) {
			/* the same domain twice: keep the later */
			if (seq > e->seq) {
				e->seq = seq;
				e->server = (uint32_t)sv;
			}
		} else {
			if (out->n == POS_MAX_DOMAINS)
				goto fail;
			out->u.md[out->n++] = (struct pos_mariadb){ (uint32_t)d, (uint32_t)sv, seq };
		}
		skip_space(s, len, &i);
		if (i == len)
			return 0;
		if (s[i] != ',')
			goto fail;
		i++;
		skip_space(s, len, &i);
	}
fail:
	pos_clear(out, POS_NONE);
	return -1;
}

/* ---- MySQL GTID set: uuid:iv[:iv]*[,uuid:...]* ---- */

struct iv_buf {
	int n;
	struct { uint64_t lo, hi; } iv[POS_MAX_INTERVALS + 1];
};

/* The union of a UUID's intervals and [lo, hi], sorted, disjoint and not
 * adjacent, into buf (which holds one more interval than the struct). */
static void my_union(const struct pos_mysql *m, uint64_t lo, uint64_t hi, struct iv_buf *buf)
{
	buf->n = 0;
	bool placed = false;
	int k = 0;
	while (k < m->n || !placed) {
		uint64_t a, b;
		if (k < m->n && (placed || m->iv[k].lo <= lo)) {
			a = m->iv[k].lo;
			b = m->iv[k].hi;
			k++;
		} else {
			a = lo;
			b = hi;
			placed = true;
		}
		struct iv_buf *o = buf;
		if (o->n > 0 && (o->iv[o->n - 1].hi == UINT64_MAX || a <= o->iv[o->n - 1].hi + 1)) {
			if (b > o->iv[o->n - 1].hi)
				o->iv[o->n - 1].hi = b;
		} else {
			o->iv[o->n].lo = a;
			o->iv[o->n].hi = b;
			o->n++;
		}
	}
}

static void my_store(struct pos_mysql *m, const struct iv_buf *buf)
{
	m->n = buf->n;
	for (int k = 0; k < buf->n; k++) {
		m->iv[k].lo = buf->iv[k].lo;
		m->iv[k].hi = buf->iv[k].hi;
	}
}

/* Add [lo, hi] to a UUID's intervals. When they no longer fit, the
 * smallest gap between two neighbours is filled: the set only grows, which
 * is safe for a client's position (see the top comment). */
static void my_add(struct pos_mysql *m, uint64_t lo, uint64_t hi)
{
	struct iv_buf buf;
	my_union(m, lo, hi, &buf);
	if (buf.n > POS_MAX_INTERVALS) {
		int best = 0;
		for (int k = 1; k < buf.n - 1; k++)
			if (buf.iv[k + 1].lo - buf.iv[k].hi < buf.iv[best + 1].lo - buf.iv[best].hi)
				best = k;
		buf.iv[best].hi = buf.iv[best + 1].hi;
		for (int k = best + 1; k < buf.n - 1; k++)
			buf.iv[k] = buf.iv[k + 1];
		buf.n--;
	}
	my_store(m, &buf);
}

static struct pos_mysql *my_find(struct position *p, const uint8_t uuid[16])
{
	for (int i = 0; i < p->n; i++)
		if (memcmp(p->u.my[i].uuid, uuid, 16) == 0)
			return &p->u.my[i];
	return NULL;
}

/* 8-4-4-4-12 hex digits with dashes. */
static int parse_uuid(const char *s, size_t len, size_t *i, uint8_t uuid[16])
{
	static const int group[5] = { 8, 4, 4, 4, 12 };
	int nib = 0;
	memset(uuid, 0, 16);
	for (int g = 0; g < 5; g++) {
		if (g > 0) {
			if (*i >= len || s[*i] != '-')
				return -1;
			(*i)++;
		}
		for (int k = 0; k < group[g]; k++) {
			int v = *i < len ? hex_val(s[*i]) : -1;
			if (v < 0)
				return -1;
			uuid[nib / 2] |= (uint8_t)(nib % 2 ? v : v << 4);
			nib++;
			(*i)++;
		}
	}
	return 0;
}

int pos_parse_mysql(const char *s, size_t len, struct position *out)
{
	size_t i = 0;
	pos_clear(out, POS_MYSQL_GTID);
	skip_space(s, len, &i);
	if (i == len)
		return 0;
	for (;;) {
		uint8_t uuid[16];
		if (parse_uuid(s, len, &i, uuid) < 0)
			goto fail;
		struct pos_mysql *m = my_find(out, uuid);
		if (!m) {
			if (out->n == POS_MAX_DOMAINS)
				goto fail;
			m = &out->u.my[out->n++];
			memset(m, 0, sizeof(*m));
			memcpy(m->uuid, uuid, 16);
		}
		int n_iv = 0;
		while (i < len && s[i] == ':') {
			uint64_t lo, hi;
			i++;
			if (parse_dec(s, len, &i, UINT64_MAX, &lo) < 0 || lo == 0)
				goto fail; /* transaction numbers start at 1 */
			hi = lo;
			if (i < len && s[i] == '-') {
				i++;
				if (parse_dec(s, len, &i, UINT64_MAX, &hi) < 0 || hi < lo)
					goto fail;
			}
			/* Parsing must not overstate a replica's set: a set with more
			 * intervals than fit is refused, not rounded up. */
			struct iv_buf buf;
			my_union(m, lo, hi, &buf);
			if (buf.n > POS_MAX_INTERVALS)
				goto fail;
			my_store(m, &buf);
			n_iv++;
		}
		if (n_iv == 0)
			goto fail;
		skip_space(s, len, &i);
		if (i == len)
			return 0;
		if (s[i] != ',')
			goto fail;
		i++;
		skip_space(s, len, &i);
	}
fail:
	pos_clear(out, POS_NONE);
	return -1;
}

/* ---- comparison ---- */

static bool my_contains(const struct pos_mysql *m, uint64_t lo, uint64_t hi)
{
	/* Intervals are kept disjoint and non-adjacent, so one must hold all. */
	for (int k = 0; k < m->n; k++)
		if (m->iv[k].lo <= lo && hi <= m->iv[k].hi)
			return true;
	return false;
}

bool pos_covers(const struct position *have, const struct position *need)
{
	if (!need || need->kind == POS_NONE)
		return true;
	if (!have || have->kind != need->kind || need->overflow)
		return false;
	switch (need->kind) {
	case POS_LSN:
		return have->lsn >= need->lsn;
	case POS_MARIADB_GTID:
		for (int i = 0; i < need->n; i++) {
			const struct pos_mariadb *e = &need->u.md[i];
			bool ok = false;
			for (int j = 0; j < have->n && !ok; j++)
				ok = have->u.md[j].domain == e->domain && have->u.md[j].seq >= e->seq;
			if (!ok)
				return false;
		}
		return true;
	case POS_MYSQL_GTID:
		for (int i = 0; i < need->n; i++) {
			const struct pos_mysql *m = &need->u.my[i];
			const struct pos_mysql *h = NULL;
			for (int j = 0; j < have->n && !h; j++)
				if (memcmp(have->u.my[j].uuid, m->uuid, 16) == 0)
					h = &have->u.my[j];
			for (int k = 0; k < m->n; k++)
				if (!h || !my_contains(h, m->iv[k].lo, m->iv[k].hi))
					return false;
		}
		return true;
	case POS_NONE:
		break;
	}
	return false;
}

/* ---- merge ---- */

void pos_merge(struct position *a, const struct position *b)
{
	if (!b || b->kind == POS_NONE)
		return;
	if (a->kind != b->kind) {
		/* Nothing to merge with (a unknown, or the cluster changed kind):
		 * what was seen last is b. */
		*a = *b;
		return;
	}
	if (b->overflow)
		a->overflow = true;
	switch (b->kind) {
	case POS_LSN:
		if (b->lsn > a->lsn)
			a->lsn = b->lsn;
		break;
	case POS_MARIADB_GTID:
		for (int i = 0; i < b->n; i++) {
			const struct pos_mariadb *e = &b->u.md[i];
			struct pos_mariadb *mine = md_find(a, e->domain);
			if (mine) {
				if (e->seq > mine->seq) {
					mine->seq = e->seq;
					mine->server = e->server;
				}
			} else if (a->n < POS_MAX_DOMAINS) {
				a->u.md[a->n++] = *e;
			} else {
				a->overflow = true;
			}
		}
		break;
	case POS_MYSQL_GTID:
		for (int i = 0; i < b->n; i++) {
			const struct pos_mysql *m = &b->u.my[i];
			struct pos_mysql *mine = my_find(a, m->uuid);
			if (!mine) {
				if (a->n == POS_MAX_DOMAINS) {
					a->overflow = true;
					continue;
				}
				mine = &a->u.my[a->n++];
				memset(mine, 0, sizeof(*mine));
				memcpy(mine->uuid, m->uuid, 16);
			}
			for (int k = 0; k < m->n; k++)
				my_add(mine, m->iv[k].lo, m->iv[k].hi);
		}
		break;
	case POS_NONE:
		break;
	}
}

/* ---- format ---- */

/* Append with snprintf semantics; *used may exceed cap (then out is
 * truncated but still NUL-terminated). */
static void put(char *out, size_t cap, size_t *used, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void put(char *out, size_t cap, size_t *used, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int r = vsnprintf(*used < cap ? out + *used : NULL, *used < cap ? cap - *used : 0, fmt, ap);
	va_end(ap);
	if (r > 0)
		*used += (size_t)r;
}

char *pos_format(const struct position *p, char *out, size_t cap)
{
	size_t used = 0;
	if (cap == 0)
		return out;
	out[0] = '\0';
	switch (p->kind) {
	case POS_NONE:
		put(out, cap, &used, "none");
		break;
	case POS_LSN:
		put(out, cap, &used, "%X/%X", (unsigned)(p->lsn >> 32), (unsigned)(p->lsn & 0xffffffffu));
		break;
	case POS_MARIADB_GTID:
		for (int i = 0; i < p->n; i++)
			put(out, cap, &used, "%s%u-%u-%llu", i ? "," : "", (unsigned)p->u.md[i].domain,
			    (unsigned)p->u.md[i].server, (unsigned long long)p->u.md[i].seq);
		break;
	case POS_MYSQL_GTID:
		for (int i = 0; i < p->n; i++) {
			const struct pos_mysql *m = &p->u.my[i];
			const uint8_t *u = m->uuid;
			put(out, cap, &used,
			    "%s%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", i ? "," : "",
			    u[0], u[1], u[2], u[3], u[4], u[5], u[6], u[7], u[8], u[9], u[10], u[11], u[12], u[13],
			    u[14], u[15]);
			for (int k = 0; k < m->n; k++) {
				if (m->iv[k].lo == m->iv[k].hi)
					put(out, cap, &used, ":%llu", (unsigned long long)m->iv[k].lo);
				else
					put(out, cap, &used, ":%llu-%llu", (unsigned long long)m->iv[k].lo,
					    (unsigned long long)m->iv[k].hi);
			}
		}
		break;
	}
	if (p->overflow)
		put(out, cap, &used, " (overflow)");
	return out;
}
