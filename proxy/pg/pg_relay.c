/*
 * pg_relay.c — the established part of a PostgreSQL session: parameter
 * sync on a newly linked server, message relay in both directions with
 * backpressure, and (transaction pooling) detaching the server at
 * ReadyForQuery 'I'. See pg_relay.h for what is inspected and why.
 */
#include "proxy/pg/pg_relay.h"

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <stdio.h>
#include <string.h>

#include "pool/pool.h"
#include "proxy/pg/pg_batch.h"
#include "proxy/pg/pg_evbuf.h"
#include "proxy/pg/pg_pooled.h"
#include "proxy/pg/pg_route.h"
#include "proxy/pg/pg_sql.h"
#include "proxy/proxy.h"
#include "util/log.h"

/* Messages we read whole to look inside (ParameterStatus, ReadyForQuery);
 * a ParameterStatus larger than this is forwarded without tracking. */
#define RELAY_INSPECT_MAX 65536

static void relay_s2c(struct pg_client *c);
static void detach(struct pg_client *c);

/* ---- query statistics, session pooling: simple Query only ---- */

#define QS_TEXT_MAX 4096 /* of a Query's text, normalized */

/* A Query about to stream to the server: its text so far (at most
 * QS_TEXT_MAX bytes) is one call until ReadyForQuery. */
static void qs_session_query(struct pg_client *c, struct evbuffer *in, size_t total)
{
	struct query_stats *qs = &c->w->stats.qs;
	if (c->qs.key) {
		qs->untracked++;
		return;
	}
	char text[QS_TEXT_MAX];
	size_t want = total - PGC_HEADER_LEN;
	size_t have = evbuffer_get_length(in) - PGC_HEADER_LEN;
	if (want > sizeof(text))
		want = sizeof(text);
	if (have > want)
		have = want;
	struct evbuffer_ptr pos;
	evbuffer_ptr_set(in, &pos, PGC_HEADER_LEN, EVBUFFER_PTR_SET);
	ev_ssize_t got = evbuffer_copyout_from(in, &pos, text, have);
	size_t tl = got > 0 ? strnlen(text, (size_t)got) : 0;
	bool primary = c->route ? c->cl->nodes[c->route_node].is_primary : true;
	query_stats_begin(qs, &c->qs, QN_PG, text, tl, c->pool ? c->pool->addr.text : "", primary);
}

/* CommandComplete / ErrorResponse of the Query in progress. Returns
 * false when the CommandComplete is not all buffered yet. */
static bool qs_session_result(struct pg_client *c, struct evbuffer *in, uint8_t type, size_t total)
{
	if (type == 'E') {
		c->qs.error = true;
		return true;
	}
	if (total > PGC_HEADER_LEN + 64)
		return true;
	if (evbuffer_get_length(in) < total)
		return false;
	char tag[64];
	struct evbuffer_ptr pos;
	evbuffer_ptr_set(in, &pos, PGC_HEADER_LEN, EVBUFFER_PTR_SET);
	ev_ssize_t got = evbuffer_copyout_from(in, &pos, tag, total - PGC_HEADER_LEN);
	if (got > 0)
		c->qs.rows += query_stats_tag_rows(tag, strnlen(tag, (size_t)got));
	return true;
}

void pg_relay_set_watermarks(struct bufferevent *bev)
{
	/* Read: stop pulling from the socket once this much is unprocessed.
	 * Write: wake the writer's peer when the output drains below LOW. */
	pg_io_set_read_high(bev, PG_RELAY_HIGH);
	bufferevent_setwatermark(bev, EV_WRITE, PG_RELAY_LOW, 0);
}

static struct pgc_limits client_limits(const struct pg_client *c)
{
	struct pgc_limits lim = { .max_packet_size = c->cfg->global.max_packet_size };
	return lim;
}

/* Append "SET name TO 'value';" with both parts quoted. */
static void append_set(struct buf *q, const char *name, const char *value)
{
	buf_put(q, "SET \"", 5);
	for (const char *p = name; *p; p++) {
		if (*p == '"')
			buf_put_u8(q, '"');
		buf_put_u8(q, (uint8_t)*p);
	}
	buf_put(q, "\" TO '", 6);
	for (const char *p = value; *p; p++) {
		if (*p == '\'')
			buf_put_u8(q, '\'');
		buf_put_u8(q, (uint8_t)*p);
	}
	buf_put(q, "';", 2);
}

/* Tell the client about parameters whose value it has not seen. */
static void report_params(struct pg_client *c, struct buf *out)
{
	struct server *s = c->server;
	for (int i = 0; i < s->n_params; i++) {
		const char *k = s->params[i].key;
		/* At login the client hears everything; afterwards only what can
		 * differ between servers of one pool (the tracked parameters). */
		bool tracked = pg_sql_is_tracked_param(k, strlen(k));
		if (c->logged_in && !tracked)
			continue;
		const char *seen = pg_client_seen(c, k);
		if (seen && strcmp(seen, s->params[i].value) == 0)
			continue;
		pgc_put_param_status(out, s->params[i].key, s->params[i].value);
		pg_client_mark_seen(c, s->params[i].key, s->params[i].value);
	}
}

/* The server is linked and in step with the client: first time, finish
 * the login; afterwards, carry on with what the client sent. */
static void finish_attach(struct pg_client *c, bool in_step)
{
	struct buf b;
	buf_init(&b);
	struct server *s = c->server;
	if (!in_step || !c->logged_in) {
		report_params(c, &b);
		/* Sessions of one application hold the same lists: share them. */
		kvpack_share(&c->w->params, &c->seen);
		kvpack_share(&c->w->params, &c->want);
		/* The server is now in line with these two lists. */
		kvpack_free(s->synced_want);
		kvpack_free(s->synced_seen);
		s->synced_want = kvpack_ref(c->want);
		s->synced_seen = kvpack_ref(c->seen);
		s->synced_gen = s->params_gen;
	}
	bool first_login = !c->logged_in;
	if (first_login) {
		pgc_put_backend_key(&b, c->cancel_pid, c->cancel_key);
		pgc_put_ready(&b, 'I');
		c->logged_in = true;
		/* On a server, RESET and DISCARD ALL go back to the values of
		 * the startup packet: remember them (a shared block). */
		c->startup = kvpack_ref(c->want);
		evtimer_del(c->timer);
	}
	int rc = pg_bev_send(c->bev, &b);
	buf_free(&b);
	if (rc < 0) {
		pg_client_close(c, "53200", "out of memory");
		return;
	}
	client_set_state(c, CL_ACTIVE);
	if (first_login)
		c->last_activity_ms = worker_now_ms(c->w);
	bufferevent_enable(c->bev, EV_READ);
	if (first_login && evbuffer_get_length(bufferevent_get_input(c->bev)) == 0 &&
	    pg_relay_maybe_detach(c)) {
		/* The server only served the login; a pooled client holds none
		 * while it has nothing to run, nor buffers (pg_client.h). */
		pg_client_park_soon(c);
		return;
	}
	pg_relay_c2s(c);
	if (c->state == CL_ACTIVE)
		pg_batch_fill(c); /* others waiting may ride along (pipeline_depth) */
	pg_relay_flush(c);
}

/* Is server s already in line with c's parameters? True when it was last
 * synced to the very blocks c holds (sessions share equal lists, so this
 * is the common case) and no reported parameter changed since; a client
 * with no parameters at all (both lists empty) never takes this path, as
 * NULL blocks say nothing about the server. */
bool pg_relay_in_step(const struct pg_client *c, const struct server *s)
{
	return c->seen && s->synced_seen == c->seen && s->synced_want == c->want &&
	       s->synced_gen == s->params_gen;
}

void pg_relay_start_sync(struct pg_client *c)
{
	struct server *s = c->server;
	if (pg_relay_in_step(c, s)) {
		s->synced_for = c->id;
		finish_attach(c, true);
		return;
	}
	struct buf q;
	buf_init(&q);
	/* Reported parameters are compared with what the server says; the
	 * others cannot be seen, so they are set unless this client was the
	 * last to set them on this server and nothing reset it since. */
	size_t pos = 0;
	const char *wk, *wv;
	while (kvpack_next(c->want, &pos, &wk, &wv)) {
		const char *cur = server_param(s, wk);
		if (cur ? strcmp(cur, wv) == 0 : s->synced_for == c->id)
			continue;
		append_set(&q, wk, wv);
	}
	/* Tracked parameters the client never set must still read as it was
	 * told, not as the server's last client left them (TimeZone, ...). */
	for (int i = 0; i < s->n_params; i++) {
		const char *k = s->params[i].key;
		if (!pg_sql_is_tracked_param(k, strlen(k)) || pg_client_wants(c, k))
			continue;
		const char *seen = pg_client_seen(c, k);
		if (!seen)
			seen = pool_param_default(s->pool, k); /* a new client: the defaults */
		if (seen && strcmp(seen, s->params[i].value) != 0)
			append_set(&q, k, seen);
	}
	s->synced_for = c->id;
	if (q.len == 0) {
		buf_free(&q);
		finish_attach(c, false);
		return;
	}
	buf_put_u8(&q, 0);
	struct buf m;
	buf_init(&m);
	pgc_put_query(&m, (const char *)q.data);
	buf_free(&q);
	c->sync_pending = 1;
	pg_client_set_sync_error(c, NULL);
	client_set_state(c, CL_SYNC);
	if (pg_bev_send(s->bev, &m) < 0)
		pg_client_close(c, "53200", "out of memory");
	buf_free(&m);
}

/* Answers to our SETs: swallowed, but errors end the session as they
 * would have at login on a real server. */
static void handle_sync_reply(struct pg_client *c)
{
	struct server *s = c->server;
	struct evbuffer *in = bufferevent_get_input(s->bev);
	struct pgc_limits lim = client_limits(c);
	char sqlstate[6] = "";
	for (;;) {
		struct pgc_msg m;
		ssize_t r = pg_evbuf_next(in, &lim, &m);
		if (r == 0)
			return;
		if (r < 0) {
			pg_client_close(c, "08P01", "malformed message from server");
			return;
		}
		if (m.type == 'S') {
			const char *k, *v;
			if (pgc_parse_param_status(m.body, m.body_len, &k, &v))
				server_param_set(s, k, v);
		} else if (m.type == 'E') {
			struct pgc_error_fields ef;
			if (pgc_parse_error(m.body, m.body_len, &ef) == 0) {
				pg_client_set_sync_error(c, ef.message);
				snprintf(sqlstate, sizeof(sqlstate), "%s", ef.code);
			}
		} else if (m.type == 'Z') {
			s->tx_status = m.body_len ? (char)m.body[0] : 'I';
			evbuffer_drain(in, (size_t)r);
			if (c->sync_error) {
				c->server = NULL;
				pool_release(s, true, true);
				pg_client_close(c, sqlstate[0] ? sqlstate : "22023", "%s", c->sync_error);
				return;
			}
			finish_attach(c, false);
			return;
		}
		evbuffer_drain(in, (size_t)r);
	}
}

/* Transaction pooling: give the server back at a transaction boundary. */
static void detach(struct pg_client *c)
{
	struct server *s = c->server;
	c->server = NULL;
	client_set_state(c, CL_IDLE);
	if (s->n_riders > 0)
		pg_batch_pass_on(s); /* the next client's answer follows */
	else
		pool_release(s, true, false);
}

void pg_relay_c2s(struct pg_client *c)
{
	if (c->pool_mode != CFG_POOL_SESSION) {
		pg_pooled_c2s(c);
		return;
	}
	struct server *s = c->server;
	struct evbuffer *in = bufferevent_get_input(c->bev);
	struct evbuffer *out = bufferevent_get_output(s->bev);
	struct pgc_limits lim = client_limits(c);
	for (;;) {
		if (evbuffer_get_length(out) >= PG_RELAY_HIGH) {
			bufferevent_disable(c->bev, EV_READ);
			return;
		}
		if (c->c2s_left > 0) {
			if (!pg_evbuf_pass(in, out, &c->c2s_left, false))
				return;
			continue;
		}
		struct pgc_header h;
		ssize_t r = pg_evbuf_peek_header(in, &lim, &h);
		if (r == 0)
			return;
		if (r < 0) {
			pg_client_close(c, "08P01", "invalid message from client: %s", pgc_err_str(r));
			return;
		}
		switch (h.type) {
		case 'X':
			evbuffer_drain(in, evbuffer_get_length(in));
			pg_client_close(c, NULL, "client sent Terminate");
			return;
		case 'Q':
			/* The text the statistics read, all there first. */
			if (evbuffer_get_length(in) < ((size_t)h.len + 1 < PGC_HEADER_LEN + QS_TEXT_MAX
							       ? (size_t)h.len + 1 : PGC_HEADER_LEN + QS_TEXT_MAX))
				return;
			c->queries++;
			c->w->counters[STATS_PROTO_PG].queries++;
			pg_client_request_begins(c, worker_now_ms(c->w));
			qs_session_query(c, in, (size_t)h.len + 1);
			break;
		case 'S':
		case 'F':
			pg_client_request_begins(c, worker_now_ms(c->w));
			break;
		default:
			break;
		}
		c->c2s_left = (size_t)h.len + 1;
	}
}

void pg_relay_idle_input(struct pg_client *c)
{
	struct evbuffer *in = bufferevent_get_input(c->bev);
	struct pgc_limits lim = client_limits(c);
	struct pgc_header h;
	ssize_t r = pg_evbuf_peek_header(in, &lim, &h);
	if (r == 0)
		return;
	if (r < 0) {
		pg_client_close(c, "08P01", "invalid message from client: %s", pgc_err_str(r));
		return;
	}
	if (h.type == 'X') {
		evbuffer_drain(in, evbuffer_get_length(in));
		pg_client_close(c, NULL, "client sent Terminate");
		return;
	}
	/* Preparing statements needs no server: they go to one when used. */
	while ((h.type == 'P' || h.type == 'C') && pg_pooled_answer_locally(c)) {
		if (c->state == CL_CLOSED || pg_evbuf_peek_header(in, &lim, &h) <= 0)
			return;
	}
	if (h.type == 'X') {
		evbuffer_drain(in, evbuffer_get_length(in));
		pg_client_close(c, NULL, "client sent Terminate");
		return;
	}
	/* SET switchyard.route / switchyard.key: the proxy's own settings. */
	if (h.type == 'Q' && pg_route_enabled(c)) {
		struct buf b;
		buf_init(&b);
		bool any = false;
		while (h.type == 'Q' && pg_route_intercept(c, &b)) {
			pgc_put_ready(&b, 'I');
			any = true;
			if (pg_evbuf_peek_header(in, &lim, &h) <= 0)
				break;
		}
		if (any) {
			pg_bev_send(c->bev, &b);
			buf_free(&b);
			if (evbuffer_get_length(in) == 0)
				return;
			pg_relay_idle_input(c);
			return;
		}
		buf_free(&b);
	}
	pg_client_request_server(c);
}

bool pg_relay_maybe_detach(struct pg_client *c)
{
	struct server *s = c->server;
	if (!s || c->pool_mode == CFG_POOL_SESSION || c->pinned || c->outstanding != 0 ||
	    c->opq.len != 0 || c->c2s_left != 0 || s->tx_status != 'I' ||
	    (s->n_riders == 0 && evbuffer_get_length(bufferevent_get_input(s->bev)) != 0))
		return false; /* with others queued, what follows is their answers */
	detach(c);
	/* The client may already have sent its next transaction. */
	pg_relay_idle_input(c);
	return true;
}

static void relay_s2c(struct pg_client *c)
{
	if (c->pool_mode != CFG_POOL_SESSION) {
		pg_pooled_s2c(c);
		return;
	}
	struct server *s = c->server;
	struct evbuffer *in = bufferevent_get_input(s->bev);
	struct evbuffer *out = bufferevent_get_output(c->bev);
	struct pgc_limits lim = client_limits(c);
	for (;;) {
		if (evbuffer_get_length(out) >= PG_RELAY_HIGH) {
			bufferevent_disable(s->bev, EV_READ);
			return;
		}
		if (c->s2c_left > 0) {
			if (!pg_evbuf_pass(in, out, &c->s2c_left, false))
				return;
			continue;
		}
		struct pgc_header h;
		ssize_t r = pg_evbuf_peek_header(in, &lim, &h);
		if (r == 0)
			return;
		if (r < 0) {
			pg_client_close(c, "08P01", "server sent an invalid message: %s", pgc_err_str(r));
			return;
		}
		size_t total = (size_t)h.len + 1;
		if (c->qs.key && (h.type == 'C' || h.type == 'E') && !qs_session_result(c, in, h.type, total))
			return; /* the rest of the CommandComplete first */
		if (h.type != 'Z' && !(h.type == 'S' && total <= RELAY_INSPECT_MAX)) {
			c->s2c_left = total;
			continue;
		}
		struct pgc_msg m;
		r = pg_evbuf_next(in, &lim, &m);
		if (r == 0)
			return;
		if (h.type == 'S') {
			const char *k, *v;
			if (pgc_parse_param_status(m.body, m.body_len, &k, &v)) {
				server_param_set(s, k, v);
				pg_client_mark_seen(c, k, v);
			}
			evbuffer_remove_buffer(in, out, total);
			continue;
		}
		char status = m.body_len ? (char)m.body[0] : 'I';
		s->tx_status = status;
		query_stats_end(&c->w->stats.qs, &c->qs);
		pg_client_request_ends(c, worker_now_ms(c->w));
		evbuffer_remove_buffer(in, out, total);
		if (status == 'I')
			c->w->counters[STATS_PROTO_PG].transactions++;
	}
}

void pg_relay_flush(struct pg_client *c)
{
	if (c->state == CL_CLOSED)
		return;
	if (c->server)
		pg_io_flush(c->server->bev);
	pg_io_flush(c->bev);
}

void pg_relay_client_drained(struct pg_client *c)
{
	if (c->state != CL_ACTIVE || !c->server)
		return;
	bufferevent_enable(c->server->bev, EV_READ);
	relay_s2c(c);
	pg_relay_flush(c);
}

static void link_readable(void *link, struct server *s)
{
	struct pg_client *c = link;
	if (c->state == CL_SYNC)
		handle_sync_reply(c);
	else if (c->state == CL_ACTIVE)
		relay_s2c(c);
	pg_relay_flush(c);
}

static void link_failed(void *link, struct server *s, const char *why)
{
	struct pg_client *c = link;
	pg_batch_fail(s, why);
	c->server = NULL;
	pg_client_close(c, "08006", "server connection lost: %s", why);
}

static void link_writable(void *link, struct server *s)
{
	struct pg_client *c = link;
	if (c->state != CL_ACTIVE)
		return;
	pg_io_drained(s->bev, s->tls);
	bufferevent_enable(c->bev, EV_READ);
	pg_relay_c2s(c);
	pg_relay_flush(c);
}

const struct server_link_ops pg_relay_link_ops = {
	.readable = link_readable,
	.failed = link_failed,
	.writable = link_writable,
};
