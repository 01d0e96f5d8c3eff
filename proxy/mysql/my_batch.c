/*
 * my_batch.c — server pipelining for MySQL/MariaDB (pipeline_depth):
 * waiting clients' single-statement reads sent behind another client's
 * on one server connection, answered in order. See my_batch.h.
 */
#include "proxy/mysql/my_batch.h"

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <string.h>

#include "pool/batch.h"
#include "proxy/mysql/my_client.h"
#include "proxy/mysql/myle.h"
#include "proxy/proxy.h"
#include "router/classify.h"
#include "util/log.h"

/* A statement shape counts as quick after this many calls. */
#define BATCH_MIN_CALLS 16
/* Room a queued command needs in the server's output. */
#define BATCH_ROOM 65536

#define BATCH_OPEN_STATUS (SERVER_STATUS_IN_TRANS | SERVER_MORE_RESULTS_EXISTS | SERVER_STATUS_CURSOR_EXISTS)

bool my_batch_text_ok(const struct my_client *c, const char *text, size_t len, const struct my_sql_scan *sc)
{
	if (sc->flags != 0 || sc->statements != 1)
		return false; /* tracked, pinning, rewritten, cut off, or several */
	struct route_stmt rs;
	route_classify(text, len, ROUTE_DIALECT_MYSQL, &c->cl->settings.write_functions, &rs);
	return rs.cls == ROUTE_CLASS_READ && rs.txn == ROUTE_TXN_NONE && !rs.sets_route && !rs.sets_key;
}

static bool quick(const struct my_client *c, uint64_t key)
{
	uint64_t max_us = (uint64_t)c->cl->settings.pipeline_max_query_time_ms * 1000;
	return query_stats_quick(&c->w->stats.qs, key, BATCH_MIN_CALLS, max_us);
}

/* May one more command be queued on s? (As pg_batch.c: its linked client
 * has one quick read in flight, all sent, and the batch has room.) */
static bool accepts(const struct server *s, int depth)
{
	if (s->state != SV_ACTIVE || s->n_riders + 1 >= depth ||
	    (my_server_of(s)->status & BATCH_OPEN_STATUS))
		return false;
	if (s->link == s)
		return true; /* a departed client's statement: one of a batch */
	if (s->link_ops != &my_relay_link_ops)
		return false;
	const struct my_client *h = s->link;
	return h->state == MY_CL_ACTIVE && h->cur.batchable && h->cur.cmd == COM_QUERY && !h->cmd_pending &&
	       h->c2s_left == 0 && !h->c2s_more && !h->infile && !h->pinned && !h->route_wrote && h->kill_hold == 0 &&
	       !h->hold_long_data && !h->cursor_open && h->bev &&
	       /* a client slow to read its answer holds up the server */
	       evbuffer_get_length(bufferevent_get_output(h->bev)) < MY_RELAY_LOW && quick(h, h->qs.key);
}

/* The statistics key of r's pending COM_QUERY (its frame is still in r's
 * input), found as the relay's stats_begin would. */
static uint64_t pending_key(struct my_client *r, const struct server *s)
{
	struct evbuffer *in = bufferevent_get_input(r->bev);
	uint8_t hdr[MYC_HEADER_LEN];
	if (evbuffer_copyout(in, hdr, sizeof(hdr)) != (ev_ssize_t)sizeof(hdr))
		return 0;
	size_t len = myle_get_u24(hdr);
	if (len < 2)
		return 0;
	char text[4096];
	size_t n = len - 1 < sizeof(text) ? len - 1 : sizeof(text);
	struct evbuffer_ptr pos;
	if (evbuffer_ptr_set(in, &pos, MYC_HEADER_LEN + 1, EVBUFFER_PTR_SET) < 0)
		return 0;
	ev_ssize_t got = evbuffer_copyout_from(in, &pos, text, n);
	if (got <= 0)
		return 0;
	const char *node = s->pool->addr.text;
	bool primary = r->cl->has_primary && strcmp(node, r->cl->nodes[0].addr.text) == 0;
	return query_stats_enter(&r->w->stats.qs, QN_MYSQL, text, (size_t)got, node, primary);
}

bool my_batch_ride(struct pool_waiter *wt, struct server *s)
{
	struct my_client *r = container_of(wt, struct my_client, waiter);
	int depth = r->cl ? r->cl->settings.pipeline_depth : 1;
	if (depth <= 1 || !accepts(s, depth) || r->state != MY_CL_WAIT_SERVER || !r->cmd_pending ||
	    !r->cur.batchable || r->held || !r->logged_in || !r->bev || r->pool != s->pool ||
	    r->pool_mode == CFG_POOL_SESSION || r->pinned || r->route_wrote || r->hold_long_data ||
	    r->cursor_open || r->kill_hold || r->c2s_left || r->c2s_more || r->hidden != MY_HID_NONE ||
	    evbuffer_get_length(bufferevent_get_output(s->bev)) + BATCH_ROOM >= MY_RELAY_HIGH ||
	    !my_relay_in_step(r, s))
		return false;
	uint64_t key = pending_key(r, s);
	if (!quick(r, key))
		return false;
	pool_cancel_wait(r->pool, &r->waiter);
	evtimer_del(r->timer);
	stats_observe_wait(r->w, STATS_PROTO_MY, worker_now_ms(r->w) - r->wait_start_ms);
	r->server = s;
	r->batch_key = key;
	my_relay_send_queued(r); /* counted, timed, its answer tracked, as any command */
	if (r->state == MY_CL_CLOSED)
		return true;
	if (r->state != MY_CL_ACTIVE || r->c2s_left != 0 || r->c2s_more) {
		/* Cannot happen for a COM_QUERY read whole; never half-send. */
		r->server = NULL;
		my_client_close(r, 1927, "70100", 1, "Lost connection: internal error queuing a statement");
		return true;
	}
	batch_push(s, r);
	my_client_set_state(r, MY_CL_RIDING);
	r->w->counters[STATS_PROTO_MY].pipelined++;
	log_debug("mysql client %u: statement queued on server %llu behind %d other(s)", r->id,
		  (unsigned long long)s->id, s->n_riders);
	return true;
}

void my_batch_fill(struct my_client *c)
{
	struct server *s = c->server;
	struct pool *p = c->pool;
	int depth = c->cl->settings.pipeline_depth;
	if (depth <= 1 || !s || !p || p->n_waiters == 0 || s->link != c || !accepts(s, depth))
		return;
	batch_fill(p, s, depth);
}

bool my_batch_ride_busy(struct my_client *c)
{
	if (!c->pool || !c->cmd_pending || !c->cur.batchable)
		return false;
	struct server *s = batch_pick(c->pool, c->cl->settings.pipeline_depth, accepts);
	return s && my_batch_ride(&c->waiter, s);
}

/* ---- the answer of a client that left: read and dropped ---- */

static void ghost_readable(void *link, struct server *s);

static void ghost_failed(void *link, struct server *s, const char *why)
{
	(void)link;
	my_batch_fail(s, why);
}

static const struct server_link_ops ghost_ops = {
	.readable = ghost_readable,
	.failed = ghost_failed,
	.writable = NULL,
};

/* Nobody waits for what s is still answering: close it (as for any
 * client gone mid-command) and stop the statement on the server. */
static void close_busy(struct server *s)
{
	struct pool *p = s->pool;
	uint32_t tid = my_server_of(s)->thread_id;
	batch_clear(s);
	pool_release(s, false, false);
	if (tid)
		my_client_kill_thread(p, tid);
}

/* Drop the rest of an answer tracked by `resp` (`left` bytes of a frame
 * still to come, `more`: the last frame was 0xffffff long). */
static void become_ghost(struct server *s, const struct myc_resp *resp, size_t left, bool more)
{
	struct my_server *ms = my_server_of(s);
	if ((!myc_resp_done(resp) || left > 0) && !batch_live(s)) {
		close_busy(s);
		return;
	}
	ms->ghost_resp = *resp;
	ms->ghost_more = more;
	s->ghost_left = left;
	server_link(s, s, &ghost_ops);
	bufferevent_enable(s->bev, EV_READ);
	ghost_readable(s, s);
}

static void ghost_broken(struct server *s, const char *why)
{
	my_batch_fail(s, why);
	server_close(s, why);
}

static void ghost_readable(void *link, struct server *s)
{
	(void)link;
	struct my_server *ms = my_server_of(s);
	struct evbuffer *in = bufferevent_get_input(s->bev);
	for (;;) {
		if (s->ghost_left > 0) {
			size_t have = evbuffer_get_length(in);
			size_t n = have < s->ghost_left ? have : s->ghost_left;
			evbuffer_drain(in, n);
			s->ghost_left -= n;
			if (s->ghost_left > 0)
				return;
		}
		struct myc_resp *r = &ms->ghost_resp;
		if (myc_resp_done(r)) {
			if (r->last == MYC_PKT_OK || r->last == MYC_PKT_EOF)
				my_server_set_status(s, r->status);
			if (ms->status & BATCH_OPEN_STATUS) {
				ghost_broken(s, "a queued statement left a transaction open");
				return;
			}
			my_batch_pass_on(s);
			return;
		}
		size_t avail = evbuffer_get_length(in);
		uint8_t hdr[MYC_HEADER_LEN];
		if (avail >= MYC_HEADER_LEN && evbuffer_copyout(in, hdr, sizeof(hdr)) == (ev_ssize_t)sizeof(hdr) &&
		    myle_get_u24(hdr) > s->pool->st.max_packet_size) {
			ghost_broken(s, "a packet from the server over max_packet_size");
			return;
		}
		bool cont = ms->ghost_more;
		struct my_frame_peek pk;
		int pr = my_relay_peek_frame(in, cont, r, &pk);
		if (pr == 0)
			return;
		if (pr < 0) {
			ghost_broken(s, "out of memory");
			return;
		}
		size_t len = pk.len, total = pk.total;
		int rc = myc_resp_feed(r, pk.payload, len, cont);
		ms->ghost_more = len == MYC_MAX_FRAME;
		if (rc < 0 || rc == MYC_RESP_CLIENT) {
			ghost_broken(s, "unexpected packet from the server while dropping an answer");
			return;
		}
		size_t n = avail < total ? avail : total;
		evbuffer_drain(in, n);
		s->ghost_left = total - n;
	}
}

void my_batch_pass_on(struct server *s)
{
	if (s->n_riders == 0) {
		pool_release(s, true, false);
		return;
	}
	struct my_client *r = batch_pop(s);
	if (!r) {
		struct myc_resp fresh;
		myc_resp_init(&fresh, COM_QUERY, my_server_of(s)->caps, 0);
		become_ghost(s, &fresh, 0, false);
		return;
	}
	my_client_set_state(r, MY_CL_ACTIVE);
	server_link(s, r, &my_relay_link_ops);
	bufferevent_enable(s->bev, EV_READ);
	if (evbuffer_get_length(bufferevent_get_input(s->bev)) > 0)
		my_relay_link_ops.readable(r, s); /* its answer may be here already */
}

bool my_batch_involved(const struct my_client *c)
{
	const struct server *s = c->server;
	return s && (c->state == MY_CL_RIDING || (s->link == c && s->n_riders > 0));
}

/* c no longer waits for its answer on s; when a departed client's answer
 * is being dropped and nobody else waits, s is closed. */
static void forget_rider(struct server *s, const struct my_client *c)
{
	batch_forget(s, c);
	if (s->link == s && !batch_live(s))
		close_busy(s);
}

bool my_batch_client_gone(struct my_client *c)
{
	struct server *s = c->server;
	if (!my_batch_involved(c))
		return false;
	c->server = NULL;
	if (c->state == MY_CL_RIDING) {
		forget_rider(s, c);
		return true;
	}
	become_ghost(s, &c->resp, c->s2c_left, c->s2c_more);
	return true;
}

/* Tell c its statement was interrupted and forget the command. */
static void answer_killed(struct my_client *c)
{
	my_client_send_err(c, 1, 1317, "70100", "Query execution was interrupted");
	c->qs.error = true;
	query_stats_end(&c->w->stats.qs, &c->qs);
	my_cmd_clear(&c->cur);
	c->cmd_pending = false;
	c->s2c_left = 0;
	c->s2c_more = false;
	c->last_activity_ms = worker_now_ms(c->w);
	my_client_set_state(c, MY_CL_IDLE);
	log_debug("mysql client %u: KILL QUERY answered by the proxy (its statement was queued with others)", c->id);
}

bool my_batch_kill(struct my_client *c)
{
	struct server *s = c->server;
	if (!my_batch_involved(c))
		return false;
	if (c->state != MY_CL_RIDING && (c->resp.last != MYC_PKT_NONE || c->s2c_left > 0)) {
		/* Its answer is coming: the statement is done on the server. */
		log_debug("mysql client %u: KILL QUERY too late, its answer is on its way", c->id);
		return true;
	}
	c->server = NULL;
	struct myc_resp r = c->resp;
	bool riding = c->state == MY_CL_RIDING;
	answer_killed(c);
	if (riding)
		forget_rider(s, c);
	else
		become_ghost(s, &r, 0, false);
	my_relay_client_input(c); /* what it sent meanwhile */
	my_relay_flush(c);
	return true;
}

void my_batch_fail(struct server *s, const char *why)
{
	while (s->n_riders > 0) {
		struct my_client *r = s->riders[--s->n_riders];
		s->riders[s->n_riders] = NULL;
		if (!r)
			continue;
		r->server = NULL;
		my_client_close(r, 1927, "70100", 1, "Lost connection to server during query (%s)", why);
	}
}
