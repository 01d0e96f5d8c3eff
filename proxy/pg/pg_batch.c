/*
 * pg_batch.c — server pipelining (pipeline_depth): waiting clients'
 * single-statement reads sent behind another client's on one server
 * connection, answered in order. See pg_batch.h for the rules.
 */
#include "proxy/pg/pg_batch.h"

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <string.h>

#include "pool/batch.h"
#include "pool/pool.h"
#include "proxy/pg/pg_evbuf.h"
#include "proxy/pg/pg_pooled.h"
#include "proxy/pg/pg_relay.h"
#include "proxy/proxy.h"
#include "router/classify.h"
#include "util/log.h"

/* A statement shape counts as quick after this many calls. */
#define BATCH_MIN_CALLS 16
/* Queries longer than this are never queued behind others. */
#define BATCH_TEXT_MAX 4096

bool pg_batch_text_ok(const struct pg_client *c, const char *text, size_t tl, const struct pg_sql_scan *sc)
{
	if (sc->flags != 0 || sc->statements != 1)
		return false; /* pins, transaction control, DISCARD, cut off, or several */
	struct route_stmt rs;
	route_classify(text, tl, ROUTE_DIALECT_PG, &c->cl->settings.write_functions, &rs);
	return rs.cls == ROUTE_CLASS_READ && rs.txn == ROUTE_TXN_NONE && !rs.sets_route && !rs.sets_key;
}

bool pg_batch_query_ok(const struct pg_client *c, const char *text, size_t tl)
{
	struct pg_sql_scan sc;
	pg_sql_scan(text, tl, &sc);
	return pg_batch_text_ok(c, text, tl, &sc);
}

bool pg_batch_pstmt_ok(const struct pg_client *c, struct pg_pstmt *ps)
{
	if (c->cl->settings.pipeline_depth <= 1)
		return false;
	if (ps->batch_verdict == 0) {
		const char *text = pg_pstmt_query(ps);
		ps->batch_verdict = pg_batch_query_ok(c, text, strlen(text)) ? 1 : 2;
	}
	return ps->batch_verdict == 1;
}

void pg_batch_ext_step(struct pg_client *c, uint8_t type, bool read)
{
	enum pg_ext_step st = c->ext_step;
	switch (type) {
	case 'P':
		st = st == PG_EXT_START && read ? PG_EXT_PARSED : PG_EXT_OTHER;
		break;
	case 'B':
		st = (st == PG_EXT_START || st == PG_EXT_PARSED) && read ? PG_EXT_BOUND : PG_EXT_OTHER;
		break;
	case 'D':
		st = st == PG_EXT_BOUND ? PG_EXT_DESCRIBED : PG_EXT_OTHER;
		break;
	case 'E':
		st = st == PG_EXT_BOUND || st == PG_EXT_DESCRIBED ? PG_EXT_EXECUTED : PG_EXT_OTHER;
		break;
	case 'S':
		c->batchable = c->cl->settings.pipeline_depth > 1 && st == PG_EXT_EXECUTED;
		c->ext_step = PG_EXT_START;
		return;
	default:
		st = PG_EXT_OTHER;
		break;
	}
	c->ext_step = (uint8_t)st;
	c->batchable = false; /* a request in the making leads no batch */
}

static bool quick(struct pg_client *c, uint64_t key)
{
	uint64_t max_us = (uint64_t)c->cl->settings.pipeline_max_query_time_ms * 1000;
	return query_stats_quick(&c->w->stats.qs, key, BATCH_MIN_CALLS, max_us);
}

/* r's buffered input, at most BATCH_TEXT_MAX bytes of it: *n bytes
 * copied into b. False when there is more (a rider sends all it has). */
static bool rider_input(struct pg_client *r, uint8_t *b, size_t *n)
{
	struct evbuffer *in = bufferevent_get_input(r->bev);
	size_t avail = evbuffer_get_length(in);
	if (avail < PGC_HEADER_LEN + 1 || avail > PGC_HEADER_LEN + BATCH_TEXT_MAX)
		return false;
	if (evbuffer_copyout(in, b, avail) != (ev_ssize_t)avail)
		return false;
	*n = avail;
	return true;
}

/* One simple Query, whole and alone: its text, NUL-terminated. */
static const char *rider_simple(const uint8_t *b, size_t n, const struct pgc_limits *lim)
{
	struct pgc_msg m;
	if (pgc_frame_next(b, n, lim, &m) != (ssize_t)n || m.type != 'Q' || m.body_len == 0 ||
	    m.body[m.body_len - 1] != '\0')
		return NULL; /* incomplete, more behind it, or not NUL-terminated (the relay reports it) */
	return (const char *)m.body;
}

/* Is the Parse of srvname on s possibly still unanswered? The linked
 * client's may be (a hidden Parse before its Bind): if it failed, a Bind
 * queued behind it would find no statement. A departed client's answer
 * is dropped unread, so behind one nothing named is queued. */
static bool parse_unsure(const struct server *s, const char *srvname)
{
	if (s->link == s)
		return true;
	const struct pg_client *h = s->link;
	for (size_t i = 0; i < h->opq.len; i++) {
		const struct pg_op *op = pg_opq_at(&h->opq, i);
		if ((op->kind == PG_OP_PARSE || op->kind == PG_OP_PARSE_HIDDEN) && strcmp(op->srvname, srvname) == 0)
			return true;
	}
	return false;
}

/* One extended-protocol request of the one shape that may ride:
 * [Parse ""] Bind [Describe] Execute Sync, all of it and nothing after.
 * Its statement's text in *text, or its named statement in *ps, which
 * must be prepared on s already: nothing is prepared on a server while
 * others' statements are queued on it (pg_batch.h). */
static bool rider_extended(struct pg_client *r, struct server *s, const uint8_t *b, size_t n,
			   const struct pgc_limits *lim, const char **text, struct pg_pstmt **ps)
{
	enum pg_ext_step st = PG_EXT_START;
	const char *bound = NULL;
	*text = NULL;
	*ps = NULL;
	for (size_t off = 0; off < n;) {
		struct pgc_msg m;
		ssize_t got = pgc_frame_next(b + off, n - off, lim, &m);
		if (got <= 0)
			return false;
		off += (size_t)got;
		struct pgc_reader rd;
		pgc_reader_init(&rd, m.body, m.body_len);
		switch (m.type) {
		case 'P': {
			struct pg_parse_body pb;
			if (st != PG_EXT_START || pg_parse_body_split(m.body, m.body_len, &pb) < 0 || pb.name[0])
				return false;
			*text = pb.query;
			st = PG_EXT_PARSED;
			break;
		}
		case 'B': {
			const char *portal = pgc_read_cstr(&rd);
			bound = pgc_read_cstr(&rd);
			if (rd.bad || portal[0] || (st != PG_EXT_START && st != PG_EXT_PARSED))
				return false;
			if (bound[0]) {
				if (st == PG_EXT_PARSED || !(*ps = strmap_get(&r->prepared, bound)) ||
				    !pg_stmt_cache_touch(&s->stmts, (*ps)->srvname) || parse_unsure(s, (*ps)->srvname))
					return false;
			} else if (st != PG_EXT_PARSED) {
				return false; /* the unnamed statement of another request */
			}
			st = PG_EXT_BOUND;
			break;
		}
		case 'D': {
			uint8_t what = pgc_read_u8(&rd);
			const char *name = pgc_read_cstr(&rd);
			if (rd.bad || st != PG_EXT_BOUND || (what == 'P' ? name[0] != '\0' : strcmp(name, bound) != 0))
				return false;
			st = PG_EXT_DESCRIBED;
			break;
		}
		case 'E': {
			const char *portal = pgc_read_cstr(&rd);
			if (rd.bad || portal[0] || (st != PG_EXT_BOUND && st != PG_EXT_DESCRIBED))
				return false;
			st = PG_EXT_EXECUTED;
			break;
		}
		case 'S':
			return st == PG_EXT_EXECUTED && off == n;
		default:
			return false;
		}
	}
	return false; /* no Sync yet */
}

/* Is r's buffered input exactly one request that may ride behind
 * others on s? Sets *key to its statistics key. */
static bool rider_request(struct pg_client *r, struct server *s, uint64_t *key)
{
	uint8_t b[PGC_HEADER_LEN + BATCH_TEXT_MAX];
	size_t n;
	if (!rider_input(r, b, &n))
		return false;
	struct pgc_limits lim = { .max_packet_size = r->cfg->global.max_packet_size };
	const char *text = rider_simple(b, n, &lim);
	bool simple = text != NULL;
	struct pg_pstmt *ps = NULL;
	if (!simple && !rider_extended(r, s, b, n, &lim, &text, &ps))
		return false;
	if (ps) {
		if (!pg_batch_pstmt_ok(r, ps))
			return false;
		*key = pg_pooled_named_key(r, ps);
		return quick(r, *key);
	}
	size_t tl = strlen(text);
	if (!pg_batch_query_ok(r, text, tl))
		return false;
	if (simple) {
		bool primary = r->route ? r->cl->nodes[r->route_node].is_primary : true;
		*key = query_stats_enter(&r->w->stats.qs, QN_PG, text, tl, r->pool->addr.text, primary);
	} else {
		*key = pg_pooled_unnamed_key(r, text, tl);
	}
	return quick(r, *key);
}

/* Is c's request in flight one that others may queue behind: one Query,
 * or one extended-protocol request up to its Sync, batchable? */
static bool one_request(const struct pg_client *c)
{
	const struct pg_op *tail = pg_opq_tail(&c->opq);
	if (!c->batchable || c->outstanding != 1 || c->c2s_left != 0 || !tail)
		return false;
	return tail->kind == PG_OP_QUERY ? c->opq.len == 1 : tail->kind == PG_OP_SYNC;
}

/* May one more statement be queued on s? Its linked client (or the
 * departed one whose answer is being dropped) must have one quick read
 * in flight and nothing else, and the batch must have room. */
static bool accepts(const struct server *s, int depth)
{
	if (s->state != SV_ACTIVE || s->n_riders + 1 >= depth || s->tx_status != 'I')
		return false;
	if (s->link == s)
		return true; /* a departed client's statement: one of a batch */
	if (s->link_ops != &pg_relay_link_ops)
		return false;
	struct pg_client *h = s->link;
	return h->state == CL_ACTIVE && one_request(h) && !h->pinned && !h->route_wrote && !h->lsn_wait &&
	       !h->discard_wait && h->bev &&
	       (s->n_riders > 0 || evbuffer_get_length(bufferevent_get_input(h->bev)) == 0) &&
	       /* a client slow to read its answer holds up the server */
	       evbuffer_get_length(bufferevent_get_output(h->bev)) < PG_RELAY_LOW &&
	       quick(h, h->qs.key);
}

bool pg_batch_ride(struct pool_waiter *wt, struct server *s)
{
	struct pg_client *r = container_of(wt, struct pg_client, waiter);
	int depth = r->cl->settings.pipeline_depth;
	if (depth <= 1 || !accepts(s, depth) || r->state != CL_WAIT_SERVER || r->held || !r->logged_in || !r->bev || r->pool != s->pool ||
	    r->pool_mode == CFG_POOL_SESSION || r->pinned || r->lsn_wait || r->route_wrote || r->opq.len ||
	    r->outstanding || r->c2s_left || r->discard_wait || r->discarding || !pg_relay_in_step(r, s) ||
	    evbuffer_get_length(bufferevent_get_output(s->bev)) + BATCH_TEXT_MAX >= PG_RELAY_HIGH)
		return false;
	uint64_t key;
	if (!rider_request(r, s, &key))
		return false;
	pool_cancel_wait(r->pool, &r->waiter);
	evtimer_del(r->timer);
	stats_observe_wait(r->w, STATS_PROTO_PG, worker_now_ms(r->w) - r->wait_start_ms);
	r->server = s;
	r->batch_key = key; /* a named statement's is found by its name */
	/* Sent as the relay sends any request (counted, timed, in its
	 * queue); it fits in the server's output whole (checked above). */
	pg_pooled_c2s(r);
	r->batch_key = 0;
	if (r->state == CL_CLOSED)
		return true;
	if (!one_request(r) || evbuffer_get_length(bufferevent_get_input(r->bev)) != 0) {
		/* Cannot happen for a lone read; never leave it half-sent. */
		r->server = NULL;
		pg_client_close(r, "08P01", "internal error queuing a statement on a server");
		return true;
	}
	batch_push(s, r);
	client_set_state(r, CL_RIDING);
	r->w->counters[STATS_PROTO_PG].pipelined++;
	log_debug("client %u: statement queued on server %llu behind %d other(s)", r->id,
		  (unsigned long long)s->id, s->n_riders);
	return true;
}

void pg_batch_fill(struct pg_client *c)
{
	struct server *s = c->server;
	struct pool *p = c->pool;
	int depth = c->cl->settings.pipeline_depth;
	if (depth <= 1 || !s || !p || p->n_waiters == 0 || s->link != c || !accepts(s, depth))
		return;
	batch_fill(p, s, depth);
}

bool pg_batch_ride_busy(struct pg_client *c)
{
	struct server *s = c->pool ? batch_pick(c->pool, c->cl->settings.pipeline_depth, accepts) : NULL;
	return s && pg_batch_ride(&c->waiter, s);
}

/* ---- the answer of a client that left: read and dropped ---- */

static void ghost_readable(void *link, struct server *s);

static void ghost_failed(void *link, struct server *s, const char *why)
{
	(void)link;
	pg_batch_fail(s, why);
}

static const struct server_link_ops ghost_ops = {
	.readable = ghost_readable,
	.failed = ghost_failed,
	.writable = NULL,
};

/* Drop the rest of an answer: `ready` ReadyForQuery still to come,
 * `left` bytes of the message in progress. With nobody queued behind
 * it, the statement is stopped and the connection closed instead, as
 * for any client gone mid-statement (pool_release): nobody waits for
 * the answer, and the statement may hold locks or run for long. */
static void become_ghost(struct server *s, int ready, size_t left)
{
	if (ready > 0 && !batch_live(s)) {
		batch_clear(s);
		pool_release(s, false, false);
		return;
	}
	s->ghost_ready = ready;
	s->ghost_left = left;
	server_link(s, s, &ghost_ops);
	bufferevent_enable(s->bev, EV_READ);
	ghost_readable(s, s);
}

static void ghost_readable(void *link, struct server *s)
{
	(void)link;
	struct evbuffer *in = bufferevent_get_input(s->bev);
	struct pgc_limits lim = { .max_packet_size = s->pool->st.max_packet_size };
	for (;;) {
		if (s->ghost_left > 0) {
			size_t have = evbuffer_get_length(in);
			size_t n = have < s->ghost_left ? have : s->ghost_left;
			evbuffer_drain(in, n);
			s->ghost_left -= n;
			if (s->ghost_left > 0)
				return;
		}
		if (s->ghost_ready == 0) {
			pg_batch_pass_on(s);
			return;
		}
		struct pgc_header h;
		ssize_t r = pg_evbuf_peek_header(in, &lim, &h);
		if (r == 0)
			return;
		if (r < 0) {
			pg_batch_fail(s, "server sent an invalid message");
			server_close(s, "invalid message while discarding a departed client's answer");
			return;
		}
		size_t total = (size_t)h.len + 1;
		if (h.type != 'Z' && h.type != 'S') {
			s->ghost_left = total;
			continue;
		}
		struct pgc_msg m;
		r = pg_evbuf_next(in, &lim, &m);
		if (r == 0)
			return;
		if (r < 0) {
			pg_batch_fail(s, "server sent an invalid message");
			server_close(s, "invalid message while discarding a departed client's answer");
			return;
		}
		if (h.type == 'S') {
			const char *k, *v;
			if (pgc_parse_param_status(m.body, m.body_len, &k, &v))
				server_param_set(s, k, v);
			evbuffer_drain(in, total);
			continue;
		}
		s->tx_status = m.body_len ? (char)m.body[0] : 'I';
		evbuffer_drain(in, total);
		if (s->tx_status != 'I') {
			pg_batch_fail(s, "a queued statement left a transaction open");
			server_close(s, "a queued statement left a transaction open");
			return;
		}
		s->ghost_ready--;
	}
}

void pg_batch_pass_on(struct server *s)
{
	if (s->n_riders == 0) {
		pool_release(s, true, false);
		return;
	}
	struct pg_client *r = batch_pop(s);
	if (!r) {
		become_ghost(s, 1, 0);
		return;
	}
	client_set_state(r, CL_ACTIVE);
	server_link(s, r, &pg_relay_link_ops);
	bufferevent_enable(s->bev, EV_READ);
	if (evbuffer_get_length(bufferevent_get_input(s->bev)) > 0)
		pg_relay_link_ops.readable(r, s); /* its answer may be here already */
}

/* c no longer waits for its answer on s. When a departed client's
 * answer is being dropped and nobody else waits, s is closed (above). */
static void forget_rider(struct server *s, const struct pg_client *c)
{
	batch_forget(s, c);
	if (s->link == s && s->ghost_ready > 0 && !batch_live(s)) {
		batch_clear(s);
		pool_release(s, false, false);
	}
}

bool pg_batch_client_gone(struct pg_client *c)
{
	struct server *s = c->server;
	if (!s)
		return false;
	if (c->state == CL_RIDING) {
		forget_rider(s, c);
		c->server = NULL;
		return true;
	}
	if (s->link != c || s->n_riders == 0)
		return false;
	c->server = NULL;
	become_ghost(s, c->outstanding > 0 ? 1 : 0, c->s2c_left);
	return true;
}

/* Tell c its statement was cancelled and forget the request. */
static void answer_canceled(struct pg_client *c)
{
	struct buf b;
	buf_init(&b);
	pgc_put_error(&b, "ERROR", "57014", "canceling statement due to user request");
	pgc_put_ready(&b, 'I');
	if (b.oom || pg_bev_send(c->bev, &b) < 0) {
		buf_free(&b);
		pg_client_close(c, "53200", "out of memory");
		return;
	}
	buf_free(&b);
	while (c->opq.len)
		pg_opq_pop(&c->opq);
	c->qs.error = true;
	query_stats_end(&c->w->stats.qs, &c->qs);
	c->s2c_left = 0;
	c->batch_cancel = false;
	pg_client_request_ends(c, worker_now_ms(c->w));
	client_set_state(c, CL_IDLE);
	log_debug("client %u: cancel answered by the proxy (its statement was queued with others)", c->id);
}

/* After a local cancel: what c sent meanwhile goes on. */
static void resume(struct pg_client *c)
{
	if (c->state != CL_IDLE)
		return;
	if (evbuffer_get_length(bufferevent_get_input(c->bev)) > 0)
		pg_relay_idle_input(c);
	pg_relay_flush(c);
}

bool pg_batch_cancel(struct pg_client *c)
{
	struct server *s = c->server;
	if (!s)
		return false;
	if (c->state == CL_RIDING) {
		forget_rider(s, c);
		c->server = NULL;
		answer_canceled(c);
		resume(c);
		return true;
	}
	if (s->link != c || s->n_riders == 0)
		return false;
	c->batch_cancel = true;
	if (c->s2c_left == 0)
		pg_batch_cancel_head(c);
	return true; /* else at the end of the message being passed (pg_pooled_s2c) */
}

void pg_batch_cancel_head(struct pg_client *c)
{
	struct server *s = c->server;
	int ready = c->outstanding > 0 ? 1 : 0;
	c->server = NULL;
	answer_canceled(c);
	become_ghost(s, ready, 0); /* may hand s on to the next client at once */
	if (c->state != CL_CLOSED)
		resume(c);
}

void pg_batch_fail(struct server *s, const char *why)
{
	while (s->n_riders > 0) {
		struct pg_client *r = s->riders[--s->n_riders];
		s->riders[s->n_riders] = NULL;
		if (!r)
			continue;
		r->server = NULL;
		pg_client_close(r, "08006", "server connection lost: %s", why);
	}
}
