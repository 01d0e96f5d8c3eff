/*
 * pg_pooled.c — the relay for transaction and statement pooling.
 *
 * Like the session relay it frames messages and streams their bodies, but
 * it also keeps, per client, the queue of requests in flight (pg_opq.h)
 * so that it can:
 *  - prepare a client's named statement on whichever server the client
 *    gets (Parse under the server-side name; or answer ParseComplete
 *    itself when the server has it already);
 *  - rewrite Bind/Describe to the server-side name, preparing it first on
 *    a server that lacks it (its ParseComplete is then swallowed);
 *  - answer Close of a client's statement itself (other clients may use
 *    the server's statement);
 *  - notice session state in Query text (pg_sql.h): pin the server to the
 *    client, or refuse with pin_policy = error;
 *  - keep the client's view of reported parameters (TimeZone, …) so that
 *    they follow it to the next server.
 */
#include "proxy/pg/pg_pooled.h"

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pool/pool.h"
#include "proxy/pg/pg_batch.h"
#include "proxy/pg/pg_evbuf.h"
#include "proxy/pg/pg_prepared.h"
#include "proxy/pg/pg_relay.h"
#include "proxy/pg/pg_route.h"
#include "proxy/pg/pg_sql.h"
#include "proxy/proxy.h"
#include "util/log.h"

/* How much of a Query's text is scanned for session state. */
#define SCAN_PREFIX 4096
#define INSPECT_MAX 65536

static struct pgc_limits limits(const struct pg_client *c)
{
	struct pgc_limits lim = { .max_packet_size = c->cfg->global.max_packet_size };
	return lim;
}

/* ---- query statistics (query_stats.h) ---- */

/* Where the client's statements run now: the node of its pool, and
 * whether it is the primary (the routed node, else the primary). */
static const char *qs_node(const struct pg_client *c) { return c->pool ? c->pool->addr.text : ""; }
static bool qs_primary(const struct pg_client *c)
{
	return c->route ? c->cl->nodes[c->route_node].is_primary : true;
}

/* A simple Query's text (the first SCAN_PREFIX bytes): one call until its
 * ReadyForQuery, whatever the number of statements in it. */
static void qs_query(struct pg_client *c, const char *text, size_t len)
{
	struct query_stats *qs = &c->w->stats.qs;
	if (c->qs.key) {
		qs->untracked++; /* pipelined behind another statement */
		c->batch_key = 0;
		return;
	}
	if (c->batch_key) { /* normalized already, to queue it (pg_batch.c) */
		query_stats_start(&c->qs, c->batch_key);
		c->batch_key = 0;
		return;
	}
	query_stats_begin(qs, &c->qs, QN_PG, text, len, qs_node(c), qs_primary(c));
}

/* The key of a client's named statement: found by its server-side name
 * (a hash of its text), so the text is normalized once per worker. */
uint64_t pg_pooled_named_key(struct pg_client *c, const struct pg_pstmt *ps)
{
	uint64_t id = 0;
	for (const char *p = ps->srvname + 3; *p && p < ps->srvname + 3 + 16; p++)
		id = id << 4 | (uint64_t)(*p <= '9' ? *p - '0' : (*p | 0x20) - 'a' + 10);
	const char *text = pg_pstmt_query(ps);
	return query_stats_enter_cached(&c->w->stats.qs, id, QN_PG, text, strlen(text), qs_node(c), qs_primary(c));
}

/* The key of an unnamed statement's text. Drivers send the same
 * parameterized text again and again (one Parse per query with
 * PQsendQueryParams): found by a hash of the text itself, it is
 * normalized once per worker rather than at every Parse. */
uint64_t pg_pooled_unnamed_key(struct pg_client *c, const char *text, size_t len)
{
	return query_stats_enter_cached(&c->w->stats.qs, qn_fnv(QN_FNV_INIT, text, len), QN_PG, text, len,
					qs_node(c), qs_primary(c));
}

/* An Execute: a call of the last Bind's statement. */
static void qs_execute(struct pg_client *c)
{
	if (!c->qs.key)
		query_stats_start(&c->qs, c->qs_bound);
	else if (c->qs.key == c->qs_bound)
		c->qs.pending++;
	else
		c->w->stats.qs.untracked++; /* pipelined behind another statement */
}

/* CommandComplete / ErrorResponse for the Query or Execute at the head.
 * Returns false when the CommandComplete is not all buffered yet. */
static bool qs_result(struct pg_client *c, struct evbuffer *in, uint8_t type, size_t total,
		      const struct pg_op *op)
{
	if (type == 'C' && total <= PGC_HEADER_LEN + 64) {
		if (evbuffer_get_length(in) < total)
			return false;
		char tag[64];
		struct evbuffer_ptr pos;
		evbuffer_ptr_set(in, &pos, PGC_HEADER_LEN, EVBUFFER_PTR_SET);
		ev_ssize_t got = evbuffer_copyout_from(in, &pos, tag, total - PGC_HEADER_LEN);
		if (got > 0)
			c->qs.rows += query_stats_tag_rows(tag, strnlen(tag, (size_t)got));
	} else if (type == 'E') {
		c->qs.error = true;
	}
	if (op->kind == PG_OP_EXECUTE)
		query_stats_end_one(&c->w->stats.qs, &c->qs);
	return true;
}

/* A message must be read whole: make sure the socket is read far enough
 * (the read watermark normally stops at PG_RELAY_HIGH). Returns true when
 * it is all buffered. */
static bool have_whole(struct bufferevent *bev, size_t total)
{
	struct evbuffer *in = bufferevent_get_input(bev);
	if (evbuffer_get_length(in) >= total)
		return true;
	if (total > PG_RELAY_HIGH)
		pg_io_set_read_high(bev, total + PG_RELAY_HIGH);
	return false;
}

static void restore_watermark(struct bufferevent *bev, size_t total)
{
	if (total > PG_RELAY_HIGH)
		pg_io_set_read_high(bev, PG_RELAY_HIGH);
}

/* Queue a reply the proxy gives itself, in order with the server's. */
static int push_fake(struct pg_client *c, const struct buf *b)
{
	struct pg_op *op = pg_opq_push(&c->opq, PG_OP_FAKE);
	if (!op)
		return -1;
	op->fake = malloc(b->len);
	if (!op->fake)
		return -1;
	memcpy(op->fake, b->data, b->len);
	op->fake_len = b->len;
	return 0;
}

static int push_fake_simple(struct pg_client *c, char type)
{
	struct buf b;
	buf_init(&b);
	size_t s = pgc_begin(&b, (uint8_t)type);
	pgc_end(&b, s);
	int rc = b.oom ? -1 : push_fake(c, &b);
	buf_free(&b);
	return rc;
}

/* Replies at the head of the queue go out now. */
static void flush_fakes(struct pg_client *c)
{
	struct pg_op *op;
	while ((op = pg_opq_head(&c->opq)) && op->kind == PG_OP_FAKE) {
		bufferevent_write(c->bev, op->fake, op->fake_len); /* flushed by the caller */
		pg_opq_pop(&c->opq);
	}
}

/* The statement is on this server, or a Parse for it goes ahead of the
 * request that needs it. */
static int ensure_prepared(struct pg_client *c, struct pg_pstmt *ps, bool hidden,
			   const char *client_name)
{
	struct server *s = c->server;
	if (pg_stmt_cache_touch(&s->stmts, ps->srvname)) {
		if (!hidden)
			return push_fake_simple(c, '1');
		return 0;
	}
	struct evbuffer *out = bufferevent_get_output(s->bev);
	int limit = c->cl->settings.max_prepared_statements;
	char victim[PG_STMT_NAME_MAX];
	while (limit > 0 && s->stmts.count >= (size_t)limit && pg_stmt_cache_oldest(&s->stmts, victim)) {
		struct buf b;
		buf_init(&b);
		size_t st = pgc_begin(&b, 'C');
		buf_put_u8(&b, 'S');
		buf_put_cstr(&b, victim);
		pgc_end(&b, st);
		evbuffer_add(out, b.data, b.len);
		buf_free(&b);
		if (!pg_opq_push(&c->opq, PG_OP_CLOSE_HIDDEN))
			return -1;
		pg_stmt_cache_remove(&s->stmts, victim);
	}
	if (pg_stmt_cache_add(&s->stmts, ps->srvname) < 0)
		return -1;
	evbuffer_add(out, ps->parse_msg, ps->parse_len);
	struct pg_op *op = pg_opq_push(&c->opq, hidden ? PG_OP_PARSE_HIDDEN : PG_OP_PARSE);
	if (!op)
		return -1;
	snprintf(op->srvname, sizeof(op->srvname), "%s", ps->srvname);
	if (client_name && !(op->client_name = strdup(client_name)))
		return -1;
	return 0;
}

/* Send `body` with the statement name at [name_off, name_off+name_len)
 * replaced by `srvname`. */
static void send_renamed(struct evbuffer *out, uint8_t type, const uint8_t *body, size_t len,
			 size_t name_off, size_t name_len, const char *srvname)
{
	size_t sl = strlen(srvname);
	size_t nlen = len - name_len + sl;
	uint8_t hdr[5] = { type, (uint8_t)((nlen + 4) >> 24), (uint8_t)((nlen + 4) >> 16),
			   (uint8_t)((nlen + 4) >> 8), (uint8_t)(nlen + 4) };
	evbuffer_add(out, hdr, 5);
	evbuffer_add(out, body, name_off);
	evbuffer_add(out, srvname, sl);
	evbuffer_add(out, body + name_off + name_len, len - name_off - name_len);
}

enum step { STEP_MORE, STEP_WAIT, STEP_CLOSED };

static enum step client_parse(struct pg_client *c, const struct pgc_msg *m)
{
	struct pg_parse_body pb;
	if (pg_parse_body_split(m->body, m->body_len, &pb) < 0) {
		pg_client_close(c, "08P01", "invalid Parse message");
		return STEP_CLOSED;
	}
	if (!pb.name[0]) {
		/* The unnamed statement lives on the server only until the next
		 * Parse: pass it through, it never outlives a transaction. */
		evbuffer_add(bufferevent_get_output(c->server->bev), m->body - 5, m->body_len + 5);
		if (!pg_opq_push(&c->opq, PG_OP_PARSE))
			goto oom;
		size_t ql = strlen(pb.query);
		if (c->batch_key) { /* normalized already, to queue it (pg_batch.c) */
			c->qs_unnamed = c->batch_key;
			c->batch_key = 0;
			c->unnamed_batchable = true;
		} else {
			c->qs_unnamed = pg_pooled_unnamed_key(c, pb.query, ql);
			c->unnamed_batchable = c->cl->settings.pipeline_depth > 1 && pg_batch_query_ok(c, pb.query, ql);
		}
		pg_batch_ext_step(c, 'P', c->unnamed_batchable);
		return STEP_MORE;
	}
	pg_batch_ext_step(c, 'P', false);
	struct pg_sql_scan sc;
	pg_sql_scan(pb.query, strlen(pb.query), &sc);
	if (sc.flags & PG_SQL_PIN) {
		c->pinned = true;
		log_debug("client %u: pinned to its server (%s in a prepared statement)", c->id,
			  sc.pin_reason);
	}
	struct pg_pstmt *old = strmap_get(&c->prepared, pb.name);
	if (old) {
		/* PostgreSQL refuses a second Parse of a live name (42P05) and
		 * skips to Sync; let the server do exactly that, by parsing the
		 * statement's server-side name twice (the first time hidden,
		 * when this server lacks it). */
		if (ensure_prepared(c, old, true, NULL) < 0)
			goto oom;
		evbuffer_add(bufferevent_get_output(c->server->bev), old->parse_msg, old->parse_len);
		if (!pg_opq_push(&c->opq, PG_OP_PARSE)) /* no srvname: failing drops nothing */
			goto oom;
		return STEP_MORE;
	}
	struct pg_pstmt *ps = pg_prepared_add(&c->prepared, &pb);
	if (!ps || ensure_prepared(c, ps, false, pb.name) < 0)
		goto oom;
	return STEP_MORE;
oom:
	pg_client_close(c, "53200", "out of memory");
	return STEP_CLOSED;
}

/* Bind and Describe of a named statement: rename, preparing it first when
 * the server lacks it. An unknown name is passed through unchanged, so
 * the server reports the error (and skips to Sync) exactly as it would. */
static enum step client_named(struct pg_client *c, const struct pgc_msg *m, size_t name_off,
			      const char *name, enum pg_op_kind kind)
{
	struct evbuffer *out = bufferevent_get_output(c->server->bev);
	struct pg_pstmt *ps = name[0] ? strmap_get(&c->prepared, name) : NULL;
	if (ps && ensure_prepared(c, ps, true, NULL) < 0) {
		pg_client_close(c, "53200", "out of memory");
		return STEP_CLOSED;
	}
	if (kind == PG_OP_BIND) {
		c->qs_bound = ps ? pg_pooled_named_key(c, ps) : name[0] ? 0 : c->qs_unnamed;
		bool read = ps ? pg_batch_pstmt_ok(c, ps) : !name[0] && c->unnamed_batchable;
		pg_batch_ext_step(c, 'B', read);
	} else {
		pg_batch_ext_step(c, 'D', true);
	}
	if (ps)
		send_renamed(out, m->type, m->body, m->body_len, name_off, strlen(name), ps->srvname);
	else
		evbuffer_add(out, m->body - 5, m->body_len + 5);
	if (!pg_opq_push(&c->opq, kind)) {
		pg_client_close(c, "53200", "out of memory");
		return STEP_CLOSED;
	}
	return STEP_MORE;
}

static enum step client_close_msg(struct pg_client *c, const struct pgc_msg *m)
{
	struct pgc_reader r;
	pgc_reader_init(&r, m->body, m->body_len);
	uint8_t what = pgc_read_u8(&r);
	const char *name = pgc_read_cstr(&r);
	if (r.bad) {
		pg_client_close(c, "08P01", "invalid Close message");
		return STEP_CLOSED;
	}
	pg_batch_ext_step(c, 'C', false);
	if (what == 'S' && name[0]) {
		/* Only the client's name goes; the server's statement may serve
		 * other clients and stays (until evicted or reset). */
		pg_prepared_remove(&c->prepared, name);
		if (push_fake_simple(c, '3') < 0) {
			pg_client_close(c, "53200", "out of memory");
			return STEP_CLOSED;
		}
		return STEP_MORE;
	}
	evbuffer_add(bufferevent_get_output(c->server->bev), m->body - 5, m->body_len + 5);
	if (!pg_opq_push(&c->opq, PG_OP_CLOSE)) {
		pg_client_close(c, "53200", "out of memory");
		return STEP_CLOSED;
	}
	return STEP_MORE;
}

/* Refuse a query without sending it: an error and ReadyForQuery, in order. */
static int refuse_query(struct pg_client *c, const char *sqlstate, const char *msg)
{
	struct buf b;
	buf_init(&b);
	pgc_put_error(&b, "ERROR", sqlstate, msg);
	pgc_put_ready(&b, c->server->tx_status);
	int rc = b.oom ? -1 : push_fake(c, &b);
	buf_free(&b);
	return rc;
}

/* Look at a Query's text (its first SCAN_PREFIX bytes, without buffering
 * the rest) before it streams to the server. Returns false when refused
 * (the message was consumed). */
static bool client_query(struct pg_client *c, size_t total)
{
	struct evbuffer *in = bufferevent_get_input(c->bev);
	size_t want = total - PGC_HEADER_LEN;
	if (want > SCAN_PREFIX)
		want = SCAN_PREFIX;
	char text[SCAN_PREFIX];
	size_t have = evbuffer_get_length(in) - PGC_HEADER_LEN;
	if (have > want)
		have = want;
	struct evbuffer_ptr pos;
	evbuffer_ptr_set(in, &pos, PGC_HEADER_LEN, EVBUFFER_PTR_SET);
	ev_ssize_t got = evbuffer_copyout_from(in, &pos, text, have);
	if (got < 0)
		got = 0;
	size_t tl = strnlen(text, (size_t)got);
	struct pg_sql_scan sc;
	pg_sql_scan(text, tl, &sc);
	/* The whole text, NUL included, was read: it may lead a batch. */
	c->batchable = c->cl->settings.pipeline_depth > 1 && tl + 1 == (size_t)got &&
		       (size_t)got == total - PGC_HEADER_LEN && pg_batch_text_ok(c, text, tl, &sc);

	if (pg_route_enabled(c) && tl == (size_t)got && got < SCAN_PREFIX) {
		struct buf b;
		buf_init(&b);
		if (pg_route_intercept(c, &b)) {
			pgc_put_ready(&b, c->server->tx_status);
			if (b.oom || push_fake(c, &b) < 0) {
				buf_free(&b);
				pg_client_close(c, "53200", "out of memory");
				return false;
			}
			buf_free(&b);
			return false;
		}
		buf_free(&b);
	}
	if ((sc.flags & PG_SQL_BEGIN) && c->pool_mode == CFG_POOL_STATEMENT) {
		evbuffer_drain(in, total);
		refuse_query(c, "25000", "transaction blocks are not allowed in statement pooling mode");
		return false;
	}
	if (sc.flags & PG_SQL_PIN && !c->pinned) {
		if (c->cl->settings.pin_policy == CFG_PIN_ERROR) {
			char msg[200];
			snprintf(msg, sizeof(msg),
				 "%s keeps session state on the server, which pin_policy = error refuses in %s pooling",
				 sc.pin_reason, cfg_pool_mode_name(c->pool_mode));
			evbuffer_drain(in, total);
			refuse_query(c, "0A000", msg);
			return false;
		}
		c->pinned = true;
		c->w->counters[STATS_PROTO_PG].pins++;
		log_debug("client %u: pinned to server %llu: %s", c->id,
			  (unsigned long long)c->server->id, sc.pin_reason);
	}
	if (sc.flags & (PG_SQL_DISCARD_ALL | PG_SQL_DEALLOCATE_ALL)) {
		/* What it clears is known from the server's CommandComplete
		 * (server_cleared); until its ReadyForQuery, nothing more of the
		 * client's goes out, or a Bind could count on a statement the
		 * server is about to drop. */
		c->discard_wait = true;
	}
	qs_query(c, text, tl);
	return true;
}

void pg_pooled_c2s(struct pg_client *c)
{
	struct evbuffer *in = bufferevent_get_input(c->bev);
	struct pgc_limits lim = limits(c);
	for (;;) {
		flush_fakes(c);
		if (!c->server || c->lsn_wait)
			return; /* the client's next request waits for the position */
		if (pg_batch_holds(c))
			return; /* others' statements are queued on the server (pg_batch.h) */
		struct evbuffer *out = bufferevent_get_output(c->server->bev);
		if (evbuffer_get_length(out) >= PG_RELAY_HIGH) {
			bufferevent_disable(c->bev, EV_READ);
			return;
		}
		if (c->c2s_left > 0) {
			if (!pg_evbuf_pass(in, out, &c->c2s_left, false))
				return;
			continue;
		}
		if (c->discard_wait)
			return; /* resumed at its ReadyForQuery */
		struct pgc_header h;
		ssize_t r = pg_evbuf_peek_header(in, &lim, &h);
		if (r == 0)
			return;
		if (r < 0) {
			pg_client_close(c, "08P01", "invalid message from client: %s", pgc_err_str(r));
			return;
		}
		size_t total = (size_t)h.len + 1;
		enum pg_op_kind kind;
		switch (h.type) {
		case 'X':
			evbuffer_drain(in, evbuffer_get_length(in));
			pg_client_close(c, NULL, "client sent Terminate");
			return;
		case 'Q':
			/* The text the scan and the statistics read, all there. */
			if (evbuffer_get_length(in) < (total < PGC_HEADER_LEN + SCAN_PREFIX ? total
											 : PGC_HEADER_LEN + SCAN_PREFIX))
				return;
			c->queries++;
			c->w->counters[STATS_PROTO_PG].queries++;
			c->ext_step = PG_EXT_START;
			if (!client_query(c, total))
				continue;
			kind = PG_OP_QUERY;
			pg_client_request_begins(c, worker_now_ms(c->w));
			break;
		case 'S':
			kind = PG_OP_SYNC;
			pg_batch_ext_step(c, 'S', true);
			pg_client_request_begins(c, worker_now_ms(c->w));
			break;
		case 'F':
			pg_batch_ext_step(c, 'F', false);
			kind = PG_OP_FUNC;
			pg_client_request_begins(c, worker_now_ms(c->w));
			break;
		case 'E':
			kind = PG_OP_EXECUTE;
			pg_batch_ext_step(c, 'E', true);
			qs_execute(c);
			break;
		case 'P':
		case 'B':
		case 'D':
		case 'C': {
			if (!have_whole(c->bev, total))
				return;
			struct pgc_msg m;
			if (pg_evbuf_next(in, &lim, &m) <= 0) {
				pg_client_close(c, "08P01", "invalid message from client");
				return;
			}
			enum step st;
			if (h.type == 'P') {
				st = client_parse(c, &m);
			} else if (h.type == 'C') {
				st = client_close_msg(c, &m);
			} else {
				struct pgc_reader rd;
				pgc_reader_init(&rd, m.body, m.body_len);
				enum pg_op_kind k;
				if (h.type == 'B') {
					pgc_read_cstr(&rd); /* portal */
					k = PG_OP_BIND;
				} else {
					k = pgc_read_u8(&rd) == 'S' ? PG_OP_DESCRIBE_S : PG_OP_DESCRIBE_P;
				}
				size_t name_off = rd.off;
				const char *name = pgc_read_cstr(&rd);
				if (rd.bad) {
					pg_client_close(c, "08P01", "invalid %s message",
							h.type == 'B' ? "Bind" : "Describe");
					return;
				}
				if (k == PG_OP_DESCRIBE_P)
					name = "";
				st = client_named(c, &m, name_off, name, k);
			}
			if (st == STEP_CLOSED)
				return;
			evbuffer_drain(in, total);
			restore_watermark(c->bev, total);
			continue;
		}
		default:
			/* Flush, CopyData/Done/Fail: no reply of their own. */
			pg_batch_ext_step(c, h.type, false);
			c->c2s_left = total;
			continue;
		}
		if (!pg_opq_push(&c->opq, kind)) {
			pg_client_close(c, "53200", "out of memory");
			return;
		}
		c->c2s_left = total;
	}
}

/* An error in an extended-protocol batch: the server skips everything up
 * to Sync, so those requests get no answer; statements it did not create
 * are forgotten. */
static void skip_to_sync(struct pg_client *c)
{
	struct pg_op *op;
	while ((op = pg_opq_head(&c->opq)) && op->kind != PG_OP_SYNC) {
		if ((op->kind == PG_OP_PARSE || op->kind == PG_OP_PARSE_HIDDEN) && op->srvname[0]) {
			pg_stmt_cache_remove(&c->server->stmts, op->srvname);
			if (op->client_name) {
				struct pg_pstmt *ps = strmap_get(&c->prepared, op->client_name);
				if (ps && strcmp(ps->srvname, op->srvname) == 0)
					pg_prepared_remove(&c->prepared, op->client_name);
			}
		}
		pg_opq_pop(&c->opq);
	}
}

/* Does server message `type` finish the request at the head? Sets
 * *hide for replies to requests the proxy added. */
static bool completes(const struct pg_op *op, uint8_t type, bool *hide)
{
	*hide = false;
	if (!op)
		return false;
	switch (op->kind) {
	case PG_OP_PARSE:
		return type == '1';
	case PG_OP_PARSE_HIDDEN:
		return (*hide = type == '1');
	case PG_OP_BIND:
		return type == '2';
	case PG_OP_DESCRIBE_S:
	case PG_OP_DESCRIBE_P:
		return type == 'T' || type == 'n';
	case PG_OP_EXECUTE:
		return type == 'C' || type == 'I' || type == 's';
	case PG_OP_CLOSE:
		return type == '3';
	case PG_OP_CLOSE_HIDDEN:
		return (*hide = type == '3');
	case PG_OP_SYNC:
	case PG_OP_QUERY:
	case PG_OP_FUNC:
		return type == 'Z';
	default:
		return false;
	}
}

/* "DEALLOCATE ALL" with its NUL: the longest tag server_cleared() reads. */
#define SERVER_CLEARED_TAG_MAX 15

/* A CommandComplete: did the server just drop every prepared statement
 * (DEALLOCATE ALL, DISCARD ALL)? Only then are the client's names and the
 * server's statement cache forgotten — a refused one (inside a failed
 * transaction, DISCARD ALL in a transaction block) dropped nothing. */
static void server_cleared(struct pg_client *c, const struct pgc_msg *m)
{
	bool discard = m->body_len == sizeof("DISCARD ALL") &&
		       memcmp(m->body, "DISCARD ALL", sizeof("DISCARD ALL")) == 0;
	bool dealloc = m->body_len == sizeof("DEALLOCATE ALL") &&
		       memcmp(m->body, "DEALLOCATE ALL", sizeof("DEALLOCATE ALL")) == 0;
	if (!discard && !dealloc)
		return;
	pg_prepared_clear(&c->prepared);
	pg_stmt_cache_clear(&c->server->stmts);
	if (discard) {
		/* Its unreported settings are reset too; and the client's own
		 * settings go back to its startup values (see 'Z'). */
		server_forget_sync(c->server);
		c->discarding = true;
	}
}

void pg_pooled_s2c(struct pg_client *c)
{
	struct server *s = c->server;
	struct evbuffer *in = bufferevent_get_input(s->bev);
	struct evbuffer *out = bufferevent_get_output(c->bev);
	struct pgc_limits lim = limits(c);
	for (;;) {
		flush_fakes(c);
		if (evbuffer_get_length(out) >= PG_RELAY_HIGH) {
			bufferevent_disable(s->bev, EV_READ);
			return;
		}
		if (c->s2c_left > 0) {
			if (!pg_evbuf_pass(in, out, &c->s2c_left, c->s2c_hide))
				return;
			continue;
		}
		if (c->batch_cancel) {
			pg_batch_cancel_head(c); /* cancelled mid-message, with others queued */
			return;
		}
		struct pgc_header h;
		ssize_t r = pg_evbuf_peek_header(in, &lim, &h);
		if (r == 0)
			return;
		if (r < 0) {
			pg_batch_fail(s, "server sent an invalid message");
			pg_client_close(c, "08P01", "server sent an invalid message: %s", pgc_err_str(r));
			return;
		}
		size_t total = (size_t)h.len + 1;
		struct pg_op *op = pg_opq_head(&c->opq);

		if (op && op->kind == PG_OP_LSN) {
			/* The answer to the proxy's own position query. */
			struct pgc_msg m;
			if (pg_evbuf_next(in, &lim, &m) <= 0)
				return;
			pg_route_lsn_message(c, &m);
			evbuffer_drain(in, total);
			if (h.type != 'Z')
				continue;
			pg_opq_pop(&c->opq);
			if (pg_relay_maybe_detach(c))
				return;
			pg_pooled_c2s(c); /* what the client sent meanwhile */
			if (c->state == CL_CLOSED || !c->server)
				return;
			continue;
		}
		if (h.type == 'S' && total <= INSPECT_MAX) {
			struct pgc_msg m;
			if (pg_evbuf_next(in, &lim, &m) <= 0)
				return;
			const char *k, *v;
			if (pgc_parse_param_status(m.body, m.body_len, &k, &v)) {
				server_param_set(s, k, v);
				pg_client_mark_seen(c, k, v);
				/* The client changed it (SET TimeZone …): it now wants
				 * this value on every server it uses. */
				if (pg_sql_is_tracked_param(k, strlen(k)))
					pg_client_want_set(c, k, v);
			}
			evbuffer_remove_buffer(in, out, total);
			continue;
		}
		if (h.type == 'Z') {
			struct pgc_msg m;
			if (pg_evbuf_next(in, &lim, &m) <= 0)
				return;
			char status = m.body_len ? (char)m.body[0] : 'I';
			s->tx_status = status;
			if (status != 'I' && s->n_riders > 0) {
				/* A lone read cannot leave a transaction open; if it
				 * did, the statements queued behind ran inside it. */
				pg_batch_fail(s, "a queued statement ran inside another client's transaction");
				pg_client_close(c, "08006", "a statement left a transaction open with others queued");
				return;
			}
			if (op && op->kind == PG_OP_QUERY)
				query_stats_end(&c->w->stats.qs, &c->qs);
			if (c->discarding) {
				/* DISCARD ALL reset the server's settings to its own
				 * defaults (the ParameterStatus it sent were taken as the
				 * client's); on a server of its own the client would be
				 * back at its startup values: want those, applied on the
				 * next attach (with ParameterStatus). */
				c->discarding = false;
				kvpack_free(c->want);
				c->want = kvpack_ref(c->startup);
				server_forget_sync(s);
			}
			else if (op && op->kind == PG_OP_SYNC && c->qs.key)
				memset(&c->qs, 0, sizeof(c->qs)); /* Executes the server skipped after an error */
			if (op && (op->kind == PG_OP_SYNC || op->kind == PG_OP_QUERY || op->kind == PG_OP_FUNC))
				pg_opq_pop(&c->opq);
			bool resume = c->discard_wait && c->opq.len == 0;
			if (resume)
				c->discard_wait = false;
			pg_client_request_ends(c, worker_now_ms(c->w));
			if (status == 'I')
				c->w->counters[STATS_PROTO_PG].transactions++;
			evbuffer_remove_buffer(in, out, total);
			flush_fakes(c);
			if (status != 'I' && c->pool_mode == CFG_POOL_STATEMENT && c->outstanding == 0) {
				pg_client_close(c, "25000", "transaction blocks are not allowed in statement pooling mode");
				return;
			}
			if (status == 'I' && c->outstanding == 0 && c->opq.len == 0 && c->c2s_left == 0 &&
			    pg_route_txn_end(c))
				continue; /* its position first, then the server goes back */
			if (pg_relay_maybe_detach(c))
				return;
			if (s->n_riders > 0) {
				/* What follows is the next client's answer: never c's. */
				pg_batch_fail(s, "the batch's order was lost");
				pg_client_close(c, "08006", "internal error: a batched server was not passed on");
				return;
			}
			if (resume) {
				pg_pooled_c2s(c); /* what the client sent meanwhile */
				if (c->state == CL_CLOSED || !c->server)
					return;
			}
			continue;
		}
		if (h.type == 'C' && total <= PGC_HEADER_LEN + SERVER_CLEARED_TAG_MAX) {
			struct pgc_msg m;
			if (pg_evbuf_next(in, &lim, &m) <= 0)
				return;
			server_cleared(c, &m);
		}
		if (c->qs.key && op && (op->kind == PG_OP_QUERY || op->kind == PG_OP_EXECUTE) &&
		    (h.type == 'C' || h.type == 'E' || (op->kind == PG_OP_EXECUTE && (h.type == 'I' || h.type == 's'))) &&
		    !qs_result(c, in, h.type, total, op))
			return; /* the rest of the CommandComplete first */
		if (h.type == 'E' && op && op->kind != PG_OP_QUERY && op->kind != PG_OP_FUNC &&
		    op->kind != PG_OP_SYNC) {
			/* Forward the error, then drop what the server will skip. */
			c->s2c_left = total;
			c->s2c_hide = false;
			skip_to_sync(c);
			continue;
		}
		bool hide;
		if (completes(op, h.type, &hide))
			pg_opq_pop(&c->opq);
		c->s2c_left = total;
		c->s2c_hide = hide;
	}
}

/* Is the buffered input, from `off`, a run of named Parse / Close-statement
 * messages ended by Sync (what libpq's PQprepare and a driver's
 * deallocation send)? Returns the bytes up to and including the Sync, or
 * 0 when it is anything else or still incomplete. */
static size_t local_batch_len(struct evbuffer *in, const struct pgc_limits *lim)
{
	size_t off = 0, avail = evbuffer_get_length(in);
	for (int n = 0; n < 64; n++) {
		uint8_t hdr[PGC_HEADER_LEN + 2];
		if (avail - off < PGC_HEADER_LEN)
			return 0;
		struct evbuffer_ptr pos;
		evbuffer_ptr_set(in, &pos, off, EVBUFFER_PTR_SET);
		size_t peek = avail - off < sizeof(hdr) ? avail - off : sizeof(hdr);
		if (evbuffer_copyout_from(in, &pos, hdr, peek) < (ev_ssize_t)PGC_HEADER_LEN)
			return 0;
		struct pgc_header h;
		if (pgc_parse_header(hdr, PGC_HEADER_LEN, lim, &h) <= 0)
			return 0;
		size_t total = (size_t)h.len + 1;
		if (avail - off < total || total > INSPECT_MAX)
			return 0;
		if (h.type == 'S')
			return n > 0 ? off + total : 0;
		if (h.type == 'P') {
			if (peek < PGC_HEADER_LEN + 1 || hdr[PGC_HEADER_LEN] == 0)
				return 0; /* the unnamed statement needs a server */
		} else if (h.type == 'C') {
			if (peek < PGC_HEADER_LEN + 2 || hdr[PGC_HEADER_LEN] != 'S' || hdr[PGC_HEADER_LEN + 1] == 0)
				return 0;
		} else {
			return 0;
		}
		off += total;
	}
	return 0;
}

bool pg_pooled_answer_locally(struct pg_client *c)
{
	struct evbuffer *in = bufferevent_get_input(c->bev);
	struct pgc_limits lim = limits(c);
	size_t len = local_batch_len(in, &lim);
	if (len == 0)
		return false;
	struct buf b;
	buf_init(&b);
	size_t done = 0;
	bool failed = false; /* after an error, skip to Sync as a server does */
	while (done < len) {
		struct pgc_msg m;
		ssize_t r = pg_evbuf_next(in, &lim, &m);
		if (r <= 0)
			break;
		if (failed && m.type != 'S') {
			/* skipped */
		} else if (m.type == 'P') {
			struct pg_parse_body pb;
			if (pg_parse_body_split(m.body, m.body_len, &pb) < 0) {
				buf_free(&b);
				pg_client_close(c, "08P01", "invalid Parse message");
				return true;
			}
			if (strmap_get(&c->prepared, pb.name)) {
				char msg[200];
				snprintf(msg, sizeof(msg), "prepared statement \"%.100s\" already exists", pb.name);
				pgc_put_error(&b, "ERROR", "42P05", msg);
				failed = true;
			} else if (!pg_prepared_add(&c->prepared, &pb)) {
				buf_free(&b);
				pg_client_close(c, "53200", "out of memory");
				return true;
			} else {
				size_t st = pgc_begin(&b, '1');
				pgc_end(&b, st);
			}
		} else if (m.type == 'C') {
			struct pgc_reader rd;
			pgc_reader_init(&rd, m.body, m.body_len);
			pgc_read_u8(&rd);
			const char *name = pgc_read_cstr(&rd);
			if (rd.bad) {
				buf_free(&b);
				pg_client_close(c, "08P01", "invalid Close message");
				return true;
			}
			pg_prepared_remove(&c->prepared, name);
			size_t st = pgc_begin(&b, '3');
			pgc_end(&b, st);
		} else {
			pgc_put_ready(&b, 'I');
		}
		evbuffer_drain(in, (size_t)r);
		done += (size_t)r;
	}
	pg_bev_send(c->bev, &b);
	buf_free(&b);
	return true;
}
