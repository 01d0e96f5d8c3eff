/*
 * pg_route.c — read/write routing for PostgreSQL sessions.
 *
 * Between transactions a pooled client holds no server. When its next
 * request arrives this file finds the request's first statement in the
 * client's input (a Query's text, a Parse's query, or the statement a
 * Bind names), asks route_pick() which node serves it, and points the
 * client at that node's pool. When a transaction that may have written
 * on the primary ends, and read_your_writes = lsn, it asks that same
 * server `SELECT pg_current_wal_insert_lsn()` before the server goes back to the
 * pool (the client already has its ReadyForQuery; its next request waits
 * the sub-millisecond this takes) and records the position for the
 * client's later reads.
 */
#include "proxy/pg/pg_route.h"

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <stdlib.h>
#include <string.h>

#include "pool/pg_server.h"
#include "proxy/pg/pg_evbuf.h"
#include "proxy/pg/pg_prepared.h"
#include "proxy/pg/pgc.h"
#include "proxy/proxy.h"
#include "util/log.h"

#define ROUTE_SCAN 4096         /* statement bytes looked at */
#define ROUTE_RETRY_MS 2        /* a read waiting for a replica looks again */

/* The insert position, not pg_current_wal_lsn() (the write position):
 * with synchronous_commit = off the commit record may not be written yet. */
static const char lsn_query[] = "SELECT pg_current_wal_insert_lsn()";

bool pg_route_enabled(const struct pg_client *c) { return c->route != NULL; }

int pg_route_init(struct pg_client *c)
{
	if (c->route)
		return 0;
	bool oom;
	c->route = route_session_new(c->cl, c->addr, &oom);
	if (!c->route)
		return oom ? -1 : 0;
	/* The application key (consistency_scope = key) from the startup:
	 * `options=-c switchyard.key=K`, else the application_name. */
	const char *key = NULL, *app = NULL;
	size_t pos = 0;
	const char *k, *v;
	while (kvpack_next(c->want, &pos, &k, &v)) {
		if (strcmp(k, "switchyard.key") == 0)
			key = v;
		else if (strcmp(k, "application_name") == 0)
			app = v;
	}
	if (!key && app && *app)
		key = app;
	if (key)
		route_session_set_key(c->route, key, strlen(key));
	return 0;
}

void pg_route_free(struct pg_client *c)
{
	route_session_destroy(c->route);
	c->route = NULL;
	if (c->route_retry) {
		event_free(c->route_retry);
		c->route_retry = NULL;
	}
}

/* Copy up to cap bytes of the client's buffered input from `off`. */
static size_t peek(struct pg_client *c, size_t off, char *out, size_t cap)
{
	struct evbuffer *in = bufferevent_get_input(c->bev);
	size_t have = evbuffer_get_length(in);
	if (have <= off)
		return 0;
	if (have - off < cap)
		cap = have - off;
	struct evbuffer_ptr pos;
	if (evbuffer_ptr_set(in, &pos, off, EVBUFFER_PTR_SET) < 0)
		return 0;
	ev_ssize_t got = evbuffer_copyout_from(in, &pos, out, cap);
	return got > 0 ? (size_t)got : 0;
}

/* The first statement of the request at the head of the client's input:
 * its text (up to ROUTE_SCAN bytes) in buf, and, for a prepared
 * statement, its classification made once at Parse. */
static const char *request_sql(struct pg_client *c, char *buf, size_t *len, const struct route_stmt **cached)
{
	*cached = NULL;
	*len = 0;
	uint8_t hdr[PGC_HEADER_LEN];
	if (peek(c, 0, (char *)hdr, sizeof(hdr)) < sizeof(hdr))
		return NULL;
	size_t body_len = ((size_t)hdr[1] << 24 | (size_t)hdr[2] << 16 | (size_t)hdr[3] << 8 | hdr[4]);
	if (body_len < 4)
		return NULL;
	body_len -= 4;
	size_t want = body_len < ROUTE_SCAN - 1 ? body_len : ROUTE_SCAN - 1;
	size_t got = peek(c, PGC_HEADER_LEN, buf, want);
	buf[got] = '\0';
	switch (hdr[0]) {
	case 'Q':
		*len = strnlen(buf, got);
		return buf;
	case 'P': {
		size_t name = strnlen(buf, got);
		if (name >= got)
			return NULL;
		*len = strnlen(buf + name + 1, got - name - 1);
		return buf + name + 1;
	}
	case 'B': {
		size_t portal = strnlen(buf, got);
		if (portal >= got)
			return NULL;
		const char *name = buf + portal + 1;
		if (strnlen(name, got - portal - 1) >= got - portal - 1)
			return NULL;
		struct pg_pstmt *ps = strmap_get(&c->prepared, name);
		if (!ps)
			return NULL; /* unnamed or unknown: the server will say */
		const char *text = pg_pstmt_query(ps);
		*len = strlen(text);
		if (!ps->classified) {
			route_classify(text, *len, ROUTE_DIALECT_PG, &c->cl->settings.write_functions, &ps->route);
			ps->classified = true;
		}
		*cached = &ps->route;
		return text;
	}
	default:
		return NULL;
	}
}

static void retry_cb(evutil_socket_t fd, short what, void *arg)
{
	struct pg_client *c = arg;
	if (c->state != CL_WAIT_SERVER)
		return;
	int r = pg_route_request(c);
	if (r == 0)
		pool_acquire(c->pool, &c->waiter);
}

int pg_route_request(struct pg_client *c)
{
	if (!c->route)
		return 0;
	char buf[ROUTE_SCAN];
	size_t len;
	const struct route_stmt *cached;
	const char *sql = c->logged_in ? request_sql(c, buf, &len, &cached) : NULL;
	if (!sql) {
		len = 0;
		cached = NULL;
	}
	struct route_request rq = {
		.cfg = c->cfg, .cl = c->cl, .user = c->user, .u = c->u, .database = c->database,
		.dialect = ROUTE_DIALECT_PG, .sql = sql, .sql_len = len, .stmt = cached,
		.pools = c->w->pools, .now_ms = worker_now_ms(c->w),
	};
	struct route_decision d;
	route_pick(c->route, &rq, &d);
	if (d.outcome == ROUTE_WAIT) {
		if (!c->route_retry)
			c->route_retry = evtimer_new(c->w->base, retry_cb, c);
		if (c->route_retry) {
			int ms = d.retry_ms > 0 ? d.retry_ms : ROUTE_RETRY_MS;
			struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };
			evtimer_add(c->route_retry, &tv);
			return 1;
		}
		d.outcome = ROUTE_GO; /* out of memory: the primary serves it */
		d.node = 0;
	}
	if (d.outcome == ROUTE_REFUSE) {
		pg_client_close(c, "57P03", "%s", d.refuse_msg);
		return -1;
	}
	c->route_node = d.node;
	/* The login's server ran nothing of the client's. */
	c->route_wrote = d.wrote && d.primary && c->logged_in;
	log_debug("client %u: route to %s (%s%s%s)", c->id, c->cl->nodes[d.node].addr.text,
		  route_reason_name(d.reason), d.rule ? " " : "", d.rule ? d.rule : "");
	if (pg_client_use_node(c, d.node) < 0) {
		pg_client_close(c, "08006", "no server configured for database \"%s\"", c->database);
		return -1;
	}
	return 0;
}

/* `SET switchyard.route = …` / `SET switchyard.key = …` alone in a Query:
 * the proxy's own settings, answered here and never sent to a server. */
bool pg_route_intercept(struct pg_client *c, struct buf *reply)
{
	if (!c->route)
		return false;
	char buf[512];
	uint8_t hdr[PGC_HEADER_LEN];
	if (peek(c, 0, (char *)hdr, sizeof(hdr)) < sizeof(hdr) || hdr[0] != 'Q')
		return false;
	size_t body_len = ((size_t)hdr[1] << 24 | (size_t)hdr[2] << 16 | (size_t)hdr[3] << 8 | hdr[4]);
	if (body_len < 5 || body_len - 4 >= sizeof(buf))
		return false;
	size_t got = peek(c, PGC_HEADER_LEN, buf, body_len - 4);
	if (got != body_len - 4)
		return false;
	size_t tl = strnlen(buf, got);
	struct route_stmt st;
	route_classify(buf, tl, ROUTE_DIALECT_PG, NULL, &st);
	if (!st.sets_route && !st.sets_key)
		return false;
	if (st.sets_route)
		c->route->session_route = st.session_route;
	else
		route_session_set_key(c->route, st.key, st.key_len);
	evbuffer_drain(bufferevent_get_input(c->bev), PGC_HEADER_LEN + body_len - 4);
	size_t s = pgc_begin(reply, 'C');
	buf_put_cstr(reply, "SET");
	pgc_end(reply, s);
	return true;
}

/* ---- read-your-writes: the commit's WAL position ---- */

bool pg_route_txn_end(struct pg_client *c)
{
	if (!c->route || !c->route_wrote || !c->server)
		return false;
	c->route_wrote = false;
	const struct cfg_pool_settings *st = &c->cl->settings;
	struct position none;
	memset(&none, 0, sizeof(none));
	if (st->read_your_writes == CFG_RYW_LSN && !c->pinned) {
		/* Other connections of the same scope may read before the
		 * answer: until then the write counts as one of unknown
		 * position (ryw_window). This connection itself waits. */
		if (st->consistency_scope != CFG_SCOPE_CONNECTION)
			route_note_write(c->route, c->cl, c->user, &none, worker_now_ms(c->w));
		struct pg_op *op = pg_opq_push(&c->opq, PG_OP_LSN);
		if (op) {
			struct buf b;
			buf_init(&b);
			size_t s = pgc_begin(&b, 'Q');
			buf_put_cstr(&b, lsn_query);
			pgc_end(&b, s);
			if (!b.oom && pg_bev_send(c->server->bev, &b) == 0) {
				buf_free(&b);
				c->lsn_wait = true;
				c->server->tx_status = 'T'; /* busy until its ReadyForQuery */
				return true;
			}
			buf_free(&b);
		}
		/* Could not ask: the window rule covers this write. */
	}
	route_note_write(c->route, c->cl, c->user, &none, worker_now_ms(c->w));
	return false;
}

void pg_route_lsn_message(struct pg_client *c, const struct pgc_msg *m)
{
	switch (m->type) {
	case 'D': {
		struct pgc_reader rd;
		pgc_reader_init(&rd, m->body, m->body_len);
		if (pgc_read_u16(&rd) != 1)
			break;
		uint32_t n = pgc_read_u32(&rd);
		const uint8_t *v = pgc_read_bytes(&rd, n);
		if (!rd.bad && n < 64 && v) {
			struct position p;
			if (pos_parse_lsn((const char *)v, n, &p) == 0) {
				c->route_lsn = p.lsn;
				c->route_lsn_ok = true;
			}
		}
		break;
	}
	case 'Z': {
		struct position p;
		memset(&p, 0, sizeof(p));
		if (c->route_lsn_ok) {
			p.kind = POS_LSN;
			p.lsn = c->route_lsn;
		}
		route_note_write(c->route, c->cl, c->user, &p, worker_now_ms(c->w));
		if (log_enabled(LOG_DEBUG)) {
			char txt[64];
			log_debug("client %u: its write is at %s", c->id, pos_format(&p, txt, sizeof(txt)));
		}
		c->server->tx_status = m->body_len ? (char)m->body[0] : 'I';
		c->route_lsn_ok = false;
		c->lsn_wait = false;
		break;
	}
	case 'E': {
		struct pgc_error_fields ef;
		const char *why = pgc_parse_error(m->body, m->body_len, &ef) == 0 && ef.message ? ef.message : "?";
		log_warning("client %u: could not read the WAL position after a write: %s (read-your-writes falls "
			    "back to ryw_window for it)",
			    c->id, why);
		break;
	}
	default:
		break; /* RowDescription, CommandComplete, notices */
	}
}
