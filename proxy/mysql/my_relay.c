/*
 * my_relay.c — the command phase of a MySQL session (see my_client.h).
 *
 * One command at a time:
 *   1. my_relay_client_input() reads the command's first frame (whole up
 *      to 64 kB; COM_QUERY and SEND_LONG_DATA beyond that from a 4 kB
 *      prefix, the rest streamed) and either answers it (COM_PING,
 *      COM_QUIT, COM_STMT_CLOSE, COM_SET_OPTION, refused commands) or
 *      needs a server (waiting in the pool when none is linked).
 *   2. run() brings the linked server in step with the client, one hidden
 *      command at a time, their answers swallowed: COM_INIT_DB for the
 *      schema, one SET for the tracked variables (character set first),
 *      COM_STMT_PREPARE for a statement the server lacks. A hidden error
 *      becomes the command's answer.
 *   3. forward() sends the command (statement ids rewritten to the
 *      server's; an EXECUTE without bound types gets the client's last
 *      ones, since servers share a statement between clients), and
 *      relay_s2c() streams the answer back, feeding each frame to the
 *      tracker (myc_resp) until it is complete.
 *   4. finished() applies what the command changed (schema, variables,
 *      pins, cursors) and, in transaction pooling, gives the server back
 *      when its status has no transaction, no more results and no cursor.
 */
#include "proxy/mysql/my_client.h"

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pool/pool.h"
#include "proxy/mysql/my_batch.h"
#include "proxy/mysql/my_kill.h"
#include "proxy/mysql/my_route.h"
#include "proxy/mysql/my_sql.h"
#include "proxy/mysql/myle.h"
#include "proxy/pg/pg_evbuf.h"
#include "proxy/proxy.h"
#include "util/log.h"

#define INSPECT_MAX 65536          /* frames read whole to look inside */
#define SCAN_PREFIX 4096           /* what is scanned of a longer COM_QUERY */

static void run(struct my_client *c);
static void relay_s2c(struct my_client *c);
static void finished(struct my_client *c);
static void forward_command_bytes(struct my_client *c);

void my_cmd_clear(struct my_cmd *cmd)
{
	free(cmd->text);
	free(cmd->frame);
	my_vars_clear(&cmd->sets);
	memset(cmd, 0, sizeof(*cmd));
}

void my_pstmt_free(void *p)
{
	struct my_pstmt *ps = p;
	if (!ps)
		return;
	free(ps->sql);
	free(ps->key);
	free(ps->types);
	free(ps);
}

static struct my_pstmt *pstmt_get(struct my_client *c, uint32_t id)
{
	char k[16];
	snprintf(k, sizeof(k), "%u", id);
	return strmap_get(&c->stmts, k);
}

static void pstmt_del(struct my_client *c, uint32_t id)
{
	char k[16];
	snprintf(k, sizeof(k), "%u", id);
	my_pstmt_free(strmap_del(&c->stmts, k));
}

static void send_ok(struct my_client *c, uint8_t seq)
{
	struct buf b;
	buf_init(&b);
	myc_put_ok(&b, seq, c->caps, 0, 0, c->status, 0, NULL);
	pg_bev_send(c->bev, &b);
	buf_free(&b);
}

static void pin(struct my_client *c, const char *why)
{
	if (c->pinned || c->pool_mode == CFG_POOL_SESSION)
		return;
	c->pinned = true;
	c->w->counters[STATS_PROTO_MY].pins++;
	log_debug("mysql client %u (%s user=%s): pinned to its server: %s", c->id, c->addr, c->user, why);
}

/* ---- discarding a command the proxy answered ---- */

/* Drop the current command's frame(s) from the input; what has not
 * arrived yet is dropped as it comes (c2s_left with no server). */
static void drain_command(struct my_client *c, size_t frame_len)
{
	struct evbuffer *in = bufferevent_get_input(c->bev);
	size_t total = MYC_HEADER_LEN + frame_len;
	size_t avail = evbuffer_get_length(in);
	size_t n = avail < total ? avail : total;
	evbuffer_drain(in, n);
	c->c2s_left = total - n;
	c->c2s_more = frame_len == MYC_MAX_FRAME;
	c->cmd_pending = false;
}

/* Drop the rest of a discarded command. True when nothing is left. */
static bool discard_input(struct my_client *c)
{
	struct evbuffer *in = bufferevent_get_input(c->bev);
	for (;;) {
		if (c->c2s_left > 0) {
			size_t avail = evbuffer_get_length(in);
			size_t n = avail < c->c2s_left ? avail : c->c2s_left;
			evbuffer_drain(in, n);
			c->c2s_left -= n;
			if (c->c2s_left > 0)
				return false;
		}
		if (!c->c2s_more)
			return true;
		uint8_t hdr[MYC_HEADER_LEN];
		if (evbuffer_copyout(in, hdr, sizeof(hdr)) < (ssize_t)sizeof(hdr))
			return false;
		size_t len = myle_get_u24(hdr);
		c->c2s_more = len == MYC_MAX_FRAME;
		c->c2s_left = MYC_HEADER_LEN + len;
	}
}

/* The command's answer is an error; the command goes no further. */
static void answer_error(struct my_client *c, uint16_t code, const char *sqlstate, const char *msg,
			 size_t frame_len)
{
	if (c->cur.login) {
		my_client_close(c, code, sqlstate, c->seq, "%s", msg);
		return;
	}
	my_client_send_err(c, 1, code, sqlstate, "%s", msg);
	if (c->cmd_pending)
		drain_command(c, frame_len);
}

/* ---- step 1: the next command ---- */

static void maybe_release(struct my_client *c)
{
	struct server *s = c->server;
	if (s && s->n_riders > 0) {
		/* Others' commands follow on this server: it goes to the next
		 * of them whatever c would keep it for (SHOW WARNINGS then
		 * reads another session's: docs/pooling.md). */
		if (my_server_of(s)->status &
		    (SERVER_STATUS_IN_TRANS | SERVER_MORE_RESULTS_EXISTS | SERVER_STATUS_CURSOR_EXISTS)) {
			my_batch_fail(s, "a queued statement would run inside another client's transaction");
			my_client_close(c, 1927, "70100", 1, "Lost connection: a statement left a transaction open with others queued");
			return;
		}
		c->hold_diag = false;
		c->server = NULL;
		my_batch_pass_on(s);
		return;
	}
	if (!s || c->pool_mode == CFG_POOL_SESSION || c->pinned || c->hold_long_data || c->cursor_open ||
	    c->hold_diag || c->kill_hold)
		return;
	struct my_server *ms = my_server_of(s);
	if (ms->status & (SERVER_STATUS_IN_TRANS | SERVER_MORE_RESULTS_EXISTS | SERVER_STATUS_CURSOR_EXISTS))
		return;
	if (evbuffer_get_length(bufferevent_get_input(s->bev)) != 0)
		return;
	c->server = NULL;
	pool_release(s, true, false);
}

void my_relay_maybe_release(struct my_client *c)
{
	maybe_release(c);
}

/* KILL [QUERY] <proxy connection id> (COM_PROCESS_KILL or the SQL): the
 * target's worker does it; the killer gets OK, 1094 or 1095 now. */
static void kill_command(struct my_client *c, uint32_t id, bool query, size_t frame_len)
{
	if (query && id == c->id) {
		/* Its own running statement is this KILL: nothing to stop. Queued
		 * to the worker like any other, it could land on the client's
		 * next statement instead (as ERR 1317). */
		drain_command(c, frame_len);
		send_ok(c, 1);
		return;
	}
	bool admin = false;
	for (size_t i = 0; i < c->cfg->global.admin_users.n; i++)
		if (strcmp(c->cfg->global.admin_users.items[i], c->user) == 0)
			admin = true;
	int rc = my_kill_request(c->w->proxy, id, query, c->user, admin);
	char msg[128];
	switch (rc) {
	case 0: {
		struct log_who who = my_client_who(c);
		log_who_msg(LOG_INFO, &who, "KILL %s%u", query ? "QUERY " : "", id);
		drain_command(c, frame_len);
		send_ok(c, 1);
		return;
	}
	case 1095:
		snprintf(msg, sizeof(msg), "You are not owner of thread %u", id);
		answer_error(c, 1095, "HY000", msg, frame_len);
		return;
	case 1094:
		snprintf(msg, sizeof(msg), "Unknown thread id: %u", id);
		answer_error(c, 1094, "HY000", msg, frame_len);
		return;
	default:
		answer_error(c, 1041, "HY000", "Too many KILLs pending at the proxy; try again", frame_len);
		return;
	}
}

static void client_reset_state(struct my_client *c)
{
	my_vars_clear(&c->vars);
	if (c->charset != MY_LOGIN_COLLATION) {
		char v[8];
		snprintf(v, sizeof(v), "%u", c->charset);
		my_vars_set(&c->vars, "character_set_client", v, strlen(v));
		my_vars_set(&c->vars, "character_set_results", v, strlen(v));
		my_vars_set(&c->vars, "collation_connection", v, strlen(v));
	}
	strmap_free(&c->stmts, my_pstmt_free);
	strmap_init(&c->stmts);
	c->last_prepared = 0;
	c->insert_id = 0;
	c->pinned = c->hold_long_data = c->cursor_open = c->hold_diag = false;
}

/* COM_CHANGE_USER: a fresh session for the new user (the server back to
 * the pool with a reset, the tracked state and statements gone), then a
 * new authentication (my_client_change_user). */
static void change_user(struct my_client *c, size_t frame_len)
{
	/* Out of the input first: the login that follows may answer and
	 * read the next command before this returns. */
	struct evbuffer *in = bufferevent_get_input(c->bev);
	uint8_t *pkt = malloc(frame_len ? frame_len : 1);
	if (!pkt) {
		my_client_close(c, 1041, "HY000", 1, "Out of memory");
		return;
	}
	evbuffer_drain(in, MYC_HEADER_LEN);
	evbuffer_remove(in, pkt, frame_len);
	c->cmd_pending = false;
	struct myc_cmd mc;
	if (myc_parse_command(pkt, frame_len, c->caps, &mc) < 0) {
		free(pkt);
		my_client_close(c, 1047, "08S01", 1, "Malformed COM_CHANGE_USER packet");
		return;
	}
	const struct myc_change_user *cu = &mc.change_user;
	if (c->server) {
		struct server *s = c->server;
		c->server = NULL;
		pool_release(s, c->kill_hold == 0 && evbuffer_get_length(bufferevent_get_input(s->bev)) == 0,
			     true);
	}
	if (cu->charset)
		c->charset = (uint8_t)cu->charset;
	client_reset_state(c);
	c->status = SERVER_STATUS_AUTOCOMMIT;
	my_kill_unregister(c->w, &c->kill_ent);
	my_client_change_user(c, cu);
	OPENSSL_cleanse(pkt, frame_len);
	free(pkt);
}

/* CONNECTION_ID() in a COM_QUERY's or COM_STMT_PREPARE's text (the n
 * calls my_sql found; calls holds the first MY_SQL_MAX_CALLS): the
 * server would answer with its own thread id, which means nothing to the
 * client (KILL through the proxy takes the proxy's id, and the server is
 * shared). c->cur.frame gets the command with the client's connection id
 * in their place, which forward() sends instead of the client's frame. A
 * text that would no longer fit in one frame or in max_packet_size is
 * left as written. 0, or -1 when out of memory. */
static int rewrite_connection_id(struct my_client *c, uint8_t cmd, const char *sql, size_t len,
				 const struct my_sql_call *calls, size_t n)
{
	struct my_sql_call *all = NULL;
	if (n > MY_SQL_MAX_CALLS) { /* a second scan, for these texts only */
		all = malloc(n * sizeof(*all));
		if (!all)
			return -1;
		size_t got = my_sql_connection_ids(sql, len, all, n);
		n = got < n ? got : n;
		calls = all;
	}
	size_t need = my_sql_rewrite_connection_id(sql, len, calls, n, c->id, NULL, 0);
	if (1 + need >= MYC_MAX_FRAME || 1 + need > c->cfg->global.max_packet_size) {
		log_debug("mysql client %u (%s user=%s): CONNECTION_ID() left as written: the rewritten %s "
			  "would be %zu bytes", c->id, c->addr, c->user, myc_com_name(cmd), 1 + need);
		free(all);
		return 0;
	}
	uint8_t *f = malloc(MYC_HEADER_LEN + 1 + need);
	if (!f) {
		free(all);
		return -1;
	}
	myle_set_u24(f, (uint32_t)(1 + need));
	f[3] = 0;
	f[4] = cmd;
	my_sql_rewrite_connection_id(sql, len, calls, n, c->id, (char *)f + MYC_HEADER_LEN + 1, need);
	free(all);
	free(c->cur.frame);
	c->cur.frame = f;
	c->cur.frame_len = MYC_HEADER_LEN + 1 + need;
	return 0;
}

/* Answer or dispatch the command at the head of the input. Returns true
 * when it was answered by the proxy (look at the next one), false when
 * waiting for bytes, for a server, or closed. */
static bool next_command(struct my_client *c)
{
	struct evbuffer *in = bufferevent_get_input(c->bev);
	size_t avail = evbuffer_get_length(in);
	uint8_t hdr[MYC_HEADER_LEN + 1];
	if (avail < MYC_HEADER_LEN)
		return false;
	evbuffer_copyout(in, hdr, MYC_HEADER_LEN);
	size_t len = myle_get_u24(hdr);
	if (len == 0) { /* an empty packet has no command byte to wait for */
		my_client_close(c, 1047, "08S01", 1, "Empty command packet");
		return false;
	}
	if (avail < sizeof(hdr))
		return false;
	evbuffer_copyout(in, hdr, sizeof(hdr));
	uint8_t cmd = hdr[4];
	if (hdr[3] != 0) {
		my_client_close(c, 1156, "08S01", (uint8_t)(hdr[3] + 1), "Got packets out of order");
		return false;
	}
	if (len > c->cfg->global.max_packet_size) {
		my_client_close(c, 1153, "08S01", 1, "Got a packet bigger than 'max_allowed_packet' bytes");
		return false;
	}
	bool streamable = cmd == COM_QUERY || cmd == COM_STMT_SEND_LONG_DATA;
	if (len == MYC_MAX_FRAME && !streamable) {
		my_client_close(c, 1153, "08S01", 1, "Got a packet bigger than the proxy handles for %s",
				myc_com_name(cmd));
		return false;
	}
	size_t look = len;
	if (streamable && len > INSPECT_MAX)
		look = cmd == COM_QUERY ? SCAN_PREFIX : 7;
	if (avail < MYC_HEADER_LEN + look)
		return false;
	const uint8_t *p = evbuffer_pullup(in, (ev_ssize_t)(MYC_HEADER_LEN + look));
	if (!p) {
		my_client_close(c, 1041, "HY000", 1, "Out of memory");
		return false;
	}
	p += MYC_HEADER_LEN;
	struct myc_cmd mc;
	int rc = myc_parse_command(p, look, c->caps, &mc);
	if (rc < 0) {
		my_client_close(c, 1047, "08S01", 1, "Malformed %s packet: %s", myc_com_name(cmd), myc_err_str(rc));
		return false;
	}
	my_cmd_clear(&c->cur);
	c->cur.cmd = cmd;
	c->cmd_pending = true;
	c->last_activity_ms = worker_now_ms(c->w);
	char msg[256];
	switch (cmd) {
	case COM_QUIT:
		evbuffer_drain(in, evbuffer_get_length(in));
		c->cmd_pending = false;
		my_client_close(c, 0, NULL, 0, "client sent COM_QUIT");
		return false;
	case COM_PING:
		drain_command(c, len);
		send_ok(c, 1);
		return true;
	case COM_SET_OPTION: {
		/* The client's option, as a server keeps it in its capability
		 * flags; set on a server before a COM_QUERY of this client's
		 * (run()), so that "a; b" fails for a client that turned
		 * multi-statements off, as it would on its own server. */
		if (mc.option != MYC_OPTION_MULTI_STATEMENTS_ON && mc.option != MYC_OPTION_MULTI_STATEMENTS_OFF) {
			answer_error(c, 1047, "08S01", "Unknown command", len);
			return true;
		}
		if (mc.option == MYC_OPTION_MULTI_STATEMENTS_ON)
			c->caps |= CLIENT_MULTI_STATEMENTS;
		else
			c->caps &= ~CLIENT_MULTI_STATEMENTS;
		drain_command(c, len);
		struct buf b;
		buf_init(&b);
		myc_put_eof(&b, 1, 0, c->status);
		pg_bev_send(c->bev, &b);
		buf_free(&b);
		return true;
	}
	case COM_STMT_CLOSE:
		pstmt_del(c, mc.stmt_id);
		drain_command(c, len);
		c->cursor_open = c->hold_long_data = false;
		maybe_release(c);
		return true;
	case COM_RESET_CONNECTION:
		if (!c->server) {
			client_reset_state(c);
			drain_command(c, len);
			send_ok(c, 1);
			return true;
		}
		break;
	case COM_CHANGE_USER:
		change_user(c, len);
		return false;
	case COM_PROCESS_KILL:
		kill_command(c, mc.process_id, false, len);
		return true;
	case COM_QUERY:
	case COM_INIT_DB:
	case COM_FIELD_LIST:
	case COM_CREATE_DB:
	case COM_DROP_DB:
	case COM_REFRESH:
	case COM_STATISTICS:
	case COM_PROCESS_INFO:
	case COM_DEBUG:
	case COM_STMT_PREPARE:
	case COM_STMT_EXECUTE:
	case COM_STMT_SEND_LONG_DATA:
	case COM_STMT_RESET:
	case COM_STMT_FETCH:
		break;
	default:
		snprintf(msg, sizeof(msg), "Unknown or unsupported command %s (%#x)", myc_com_name(cmd), cmd);
		answer_error(c, 1047, "08S01", msg, len);
		return true;
	}
	struct my_cmd *cur = &c->cur;
	if (cmd == COM_QUERY && look == len && my_route_intercept(c, (const char *)mc.text.p, mc.text.len)) {
		/* switchyard_route / switchyard_key: the proxy's own settings. */
		drain_command(c, len);
		send_ok(c, 1);
		c->cmd_pending = false;
		return true;
	}
	if (cmd == COM_QUERY) {
		struct my_sql_scan sc;
		my_sql_scan((const char *)mc.text.p, mc.text.len, &sc);
		if ((sc.flags & MY_SQL_LOCAL_INFILE) && !(c->caps & CLIENT_LOCAL_FILES)) {
			answer_error(c, 1148, "42000",
				     "The used command is not allowed with this MariaDB version: LOAD DATA LOCAL needs "
				     "a client with local infile enabled (CLIENT_LOCAL_FILES)", len);
			return true;
		}
		/* A query read whole (up to 64 kB); a longer one is streamed
		 * and goes as written. */
		if ((sc.flags & MY_SQL_CONNECTION_ID) && look == len &&
		    rewrite_connection_id(c, COM_QUERY, (const char *)mc.text.p, mc.text.len, sc.calls, sc.n_calls) < 0) {
			my_client_close(c, 1041, "HY000", 1, "Out of memory");
			return false;
		}
		if (sc.flags & MY_SQL_KILL) {
			uint32_t kid;
			bool query;
			const char *kt = (const char *)mc.text.p; /* KILL QUERY CONNECTION_ID() too */
			size_t kl = mc.text.len;
			if (cur->frame) {
				kt = (const char *)cur->frame + MYC_HEADER_LEN + 1;
				kl = cur->frame_len - MYC_HEADER_LEN - 1;
			}
			if (look == len && my_kill_parse(kt, kl, &kid, &query) == 0) {
				kill_command(c, kid, query, len);
				return true;
			}
			answer_error(c, 1235, "42000",
				     "Only KILL [QUERY|CONNECTION] <connection id> is supported through the proxy "
				     "(the id from the proxy's handshake)", len);
			return true;
		}
		if ((sc.flags & MY_SQL_PIN) && c->pool_mode != CFG_POOL_SESSION && !c->pinned &&
		    c->cl->settings.pin_policy == CFG_PIN_ERROR) {
			snprintf(msg, sizeof(msg), "%s would tie this session to one server connection (pin_policy = error)",
				 sc.pin_reason);
			answer_error(c, 1235, "42000", msg, len);
			return true;
		}
		cur->sql_flags = sc.flags;
		cur->pin_reason = sc.pin_reason;
		cur->batchable = c->cl->settings.pipeline_depth > 1 && look == len && !cur->frame &&
				 my_batch_text_ok(c, (const char *)mc.text.p, mc.text.len, &sc);
		if (sc.flags & MY_SQL_USE)
			cur->text = strndup(sc.use, sc.use_len);
		for (int i = 0; i < sc.n_sets; i++)
			my_vars_set(&cur->sets, sc.sets[i].name, sc.sets[i].value, sc.sets[i].value_len);
		c->queries++;
		c->w->counters[STATS_PROTO_MY].queries++;
	} else if (cmd == COM_INIT_DB || cmd == COM_STMT_PREPARE) {
		cur->text = strndup((const char *)mc.text.p, mc.text.len);
		if (!cur->text) {
			my_client_close(c, 1041, "HY000", 1, "Out of memory");
			return false;
		}
		size_t tl = strlen(cur->text);
		if (cmd == COM_STMT_PREPARE && my_sql_mentions_connection_id(cur->text, tl)) {
			/* The rewritten text is the statement's: its server cache
			 * key (schema, text) and what is prepared again on other
			 * servers, so each client has a server statement of its
			 * own. Not in a prepared KILL, which the server runs with
			 * its own thread ids: a proxy id there would name some
			 * other server connection. */
			struct my_sql_scan sc;
			my_sql_scan(cur->text, tl, &sc);
			if ((sc.flags & MY_SQL_CONNECTION_ID) && !(sc.flags & MY_SQL_KILL) &&
			    rewrite_connection_id(c, cmd, cur->text, tl, sc.calls, sc.n_calls) < 0) {
				my_client_close(c, 1041, "HY000", 1, "Out of memory");
				return false;
			}
			if (cur->frame) {
				char *t = strndup((const char *)cur->frame + MYC_HEADER_LEN + 1,
						  cur->frame_len - MYC_HEADER_LEN - 1);
				if (!t) {
					my_client_close(c, 1041, "HY000", 1, "Out of memory");
					return false;
				}
				free(cur->text);
				cur->text = t;
			}
		}
	} else if (mc.has_stmt_id) {
		uint32_t id = mc.stmt_id == 0xffffffffu ? c->last_prepared : mc.stmt_id;
		struct my_pstmt *ps = pstmt_get(c, id);
		if (!ps) {
			if (cmd == COM_STMT_SEND_LONG_DATA) { /* no answer: the EXECUTE fails */
				drain_command(c, len);
				return true;
			}
			snprintf(msg, sizeof(msg), "Unknown prepared statement handler (%u) given to %s", id,
				 myc_com_name(cmd));
			answer_error(c, 1243, "HY000", msg, len);
			return true;
		}
		cur->stmt_id = id;
		if (cmd == COM_STMT_FETCH && !(c->cursor_open && c->server)) {
			answer_error(c, 1421, "HY000", "The statement has no open cursor", len);
			return true;
		}
		if (cmd == COM_STMT_RESET && (!c->server || !my_server_stmt_get(c->server, ps->key))) {
			drain_command(c, len);
			c->hold_long_data = c->cursor_open = false;
			send_ok(c, 1);
			maybe_release(c);
			return true;
		}
		cur->needs_prepare = cmd == COM_STMT_EXECUTE || cmd == COM_STMT_SEND_LONG_DATA;
		if (cmd == COM_STMT_EXECUTE && ps->reads_insert_id)
			cur->sql_flags |= MY_SQL_INSERT_ID;
		if (cmd == COM_STMT_EXECUTE) {
			c->queries++;
			c->w->counters[STATS_PROTO_MY].queries++;
		}
	}
	c->query_start_ms = c->last_activity_ms;
	if (!c->server) {
		/* The statement routing looks at (valid during the call). */
		c->route_sql = NULL;
		c->route_sql_len = 0;
		if (cmd == COM_QUERY) {
			c->route_sql = (const char *)mc.text.p;
			c->route_sql_len = mc.text.len;
		} else if (cmd == COM_STMT_PREPARE && cur->text) {
			c->route_sql = cur->text;
			c->route_sql_len = strlen(cur->text);
		} else if (cmd == COM_STMT_EXECUTE) {
			struct my_pstmt *ps = pstmt_get(c, cur->stmt_id);
			if (ps && ps->sql) {
				c->route_sql = ps->sql;
				c->route_sql_len = strlen(ps->sql);
				if (c->route && !ps->classified) {
					route_classify(ps->sql, c->route_sql_len, ROUTE_DIALECT_MYSQL,
						       &c->cl->settings.write_functions, &ps->route);
					ps->classified = true;
				}
				c->route_stmt = ps->classified ? &ps->route : NULL;
			}
		}
		my_client_request_server(c);
		c->route_sql = NULL;
		c->route_stmt = NULL;
		return false;
	}
	run(c);
	return false;
}

void my_relay_client_input(struct my_client *c)
{
	if (c->state == MY_CL_ACTIVE) {
		forward_command_bytes(c);
		return;
	}
	while (c->state == MY_CL_IDLE && !c->cmd_pending) {
		if ((c->c2s_left > 0 || c->c2s_more) && !discard_input(c))
			return;
		if (!next_command(c))
			return;
	}
}

/* ---- step 2: the server in step with the client ---- */

static bool charset_family(const char *k)
{
	return strcmp(k, "names") == 0 || strcmp(k, "charset") == 0 ||
	       strncmp(k, "character_set_", 14) == 0 || strcmp(k, "collation_connection") == 0;
}

static void build_sync_set(const struct my_client *c, const struct my_server *ms, struct buf *q);

bool my_relay_in_step(const struct my_client *c, const struct server *s)
{
	const struct my_server *ms = my_server_of(s);
	enum my_multi multi = (c->caps & CLIENT_MULTI_STATEMENTS) ? MY_MULTI_ON : MY_MULTI_OFF;
	if (!ms->schema || !c->schema || strcmp(ms->schema, c->schema) != 0 || ms->multi != multi)
		return false;
	struct buf q;
	buf_init(&q);
	build_sync_set(c, ms, &q);
	bool none = q.len == 0 && !q.oom;
	buf_free(&q);
	return none;
}

static void put_sep(struct buf *q)
{
	buf_put(q, q->len ? ", " : "SET ", q->len ? 2 : 4);
}

static void put_assign(struct buf *q, const char *k, const char *v)
{
	put_sep(q);
	if (strcmp(k, "names") == 0)
		buf_put(q, "NAMES ", 6);
	else if (strcmp(k, "charset") == 0)
		buf_put(q, "CHARACTER SET ", 14);
	else {
		buf_put(q, k, strlen(k));
		buf_put_u8(q, '=');
	}
	buf_put(q, v, strlen(v));
}

static void put_default_charset(struct buf *q)
{
	char v[8];
	snprintf(v, sizeof(v), "%u", MY_LOGIN_COLLATION);
	put_assign(q, "character_set_client", v);
	put_assign(q, "character_set_results", v);
	put_assign(q, "collation_connection", v);
}

/* The SET that makes the server's tracked variables the client's; empty
 * when they already are. */
static void build_sync_set(const struct my_client *c, const struct my_server *ms, struct buf *q)
{
	bool charset_reset = false;
	bool client_charset = false;
	for (int i = 0; i < c->vars.n; i++)
		if (charset_family(c->vars.keys[i]))
			client_charset = true;
	for (int i = 0; i < ms->vars.n; i++) {
		const char *k = ms->vars.keys[i];
		if (my_vars_get(&c->vars, k))
			continue;
		if (charset_family(k)) {
			if (!charset_reset)
				put_default_charset(q);
			charset_reset = true;
		} else {
			put_assign(q, k, "DEFAULT");
		}
	}
	if (ms->names_unknown && !client_charset && !charset_reset)
		put_default_charset(q);
	for (int i = 0; i < c->vars.n; i++) {
		const char *k = c->vars.keys[i], *v = c->vars.vals[i];
		const char *sv = my_vars_get(&ms->vars, k);
		if (sv && strcmp(sv, v) == 0 && !(ms->names_unknown && charset_family(k)) && !charset_reset)
			continue;
		put_assign(q, k, v);
	}
}

static char *stmt_key(const char *schema, const char *sql)
{
	size_t a = strlen(schema), b = strlen(sql);
	char *k = malloc(a + b + 2);
	if (!k)
		return NULL;
	memcpy(k, schema, a);
	k[a] = '\x01';
	memcpy(k + a + 1, sql, b + 1);
	return k;
}

static void send_hidden(struct my_client *c, enum my_hidden h, uint8_t cmd, struct buf *b)
{
	struct server *s = c->server;
	c->hidden = h;
	myc_resp_init(&c->resp, cmd, my_server_of(s)->caps, 0);
	my_client_set_state(c, MY_CL_SYNC);
	if (pg_bev_send(s->bev, b) < 0)
		my_client_close(c, 1041, "HY000", 1, "Out of memory");
	buf_free(b);
}

static void forward(struct my_client *c);

static void run(struct my_client *c)
{
	struct server *s = c->server;
	struct my_server *ms = my_server_of(s);
	struct buf b;
	buf_init(&b);
	if (!ms->schema || strcmp(ms->schema, c->schema) != 0) {
		myc_put_init_db(&b, c->schema);
		send_hidden(c, MY_HID_INIT_DB, COM_INIT_DB, &b);
		return;
	}
	enum my_multi multi = (c->caps & CLIENT_MULTI_STATEMENTS) ? MY_MULTI_ON : MY_MULTI_OFF;
	if (c->cur.cmd == COM_QUERY && ms->multi != multi) {
		myc_put_set_option(&b, multi == MY_MULTI_ON ? MYC_OPTION_MULTI_STATEMENTS_ON
							    : MYC_OPTION_MULTI_STATEMENTS_OFF);
		send_hidden(c, MY_HID_SET_OPTION, COM_SET_OPTION, &b);
		return;
	}
	struct buf q;
	buf_init(&q);
	build_sync_set(c, ms, &q);
	if (q.len) {
		buf_put_u8(&q, 0);
		myc_put_query(&b, (const char *)q.data);
		buf_free(&q);
		send_hidden(c, MY_HID_SET, COM_QUERY, &b);
		return;
	}
	buf_free(&q);
	if ((c->cur.sql_flags & MY_SQL_INSERT_ID) && ms->insert_id != c->insert_id) {
		/* Another client's INSERT on this server (or none yet): make
		 * LAST_INSERT_ID() read this client's own value, not a pin. */
		char q2[48];
		snprintf(q2, sizeof(q2), "DO LAST_INSERT_ID(%llu)", (unsigned long long)c->insert_id);
		myc_put_query(&b, q2);
		send_hidden(c, MY_HID_INSERT_ID, COM_QUERY, &b);
		return;
	}
	if (c->cur.needs_prepare) {
		struct my_pstmt *ps = pstmt_get(c, c->cur.stmt_id);
		if (ps && !my_server_stmt_get(s, ps->key)) {
			myc_put_stmt_prepare(&b, ps->sql);
			send_hidden(c, MY_HID_PREPARE, COM_STMT_PREPARE, &b);
			return;
		}
	}
	buf_free(&b);
	forward(c);
}

/* The answer to a hidden command: swallowed. */
static void hidden_s2c(struct my_client *c)
{
	struct server *s = c->server;
	struct my_server *ms = my_server_of(s);
	struct evbuffer *in = bufferevent_get_input(s->bev);
	struct myc_limits lim = { .max_packet_size = c->cfg->global.max_packet_size };
	while (c->state == MY_CL_SYNC) {
		uint8_t hdr[MYC_HEADER_LEN];
		if (evbuffer_copyout(in, hdr, sizeof(hdr)) < (ssize_t)sizeof(hdr))
			return;
		size_t total = MYC_HEADER_LEN + myle_get_u24(hdr);
		if (evbuffer_get_length(in) < total)
			return;
		const uint8_t *p = evbuffer_pullup(in, (ev_ssize_t)total);
		struct myc_frame f;
		if (!p || myc_frame_next(p, total, &lim, NULL, &f) <= 0) {
			my_client_close(c, 1158, "08S01", 1, "Malformed packet from the server");
			return;
		}
		int rc = myc_resp_feed(&c->resp, f.payload, f.len, false);
		if (rc < 0 || rc == MYC_RESP_CLIENT) {
			my_client_close(c, 1158, "08S01", 1, "Malformed packet from the server: %s", myc_err_str(rc));
			return;
		}
		if (c->hidden == MY_HID_GTID && c->resp.last == MYC_PKT_ROW) {
			struct myc_reader rd;
			myc_reader_init(&rd, f.payload, f.len);
			bool is_null = false;
			struct myc_str v = myc_read_lenenc_str(&rd, &is_null);
			if (!rd.bad && !is_null && v.len < 1024) {
				my_route_note_gtid(c, (const char *)v.p, v.len);
				c->route_gtid_ok = true;
			}
		}
		if (c->resp.last == MYC_PKT_PREPARE_OK) {
			struct myc_stmt_prepare_ok po;
			c->hid_params = myc_parse_stmt_prepare_ok(f.payload, f.len, &po) == 0 ? po.num_params : 0;
		}
		if (rc == MYC_RESP_DONE && c->hidden == MY_HID_GTID) {
			/* The position of the write the client just made (or,
			 * where @@last_gtid is unknown, none: ryw_window). */
			evbuffer_drain(in, total);
			if (!c->resp.error && (c->resp.last == MYC_PKT_OK || c->resp.last == MYC_PKT_EOF))
				my_server_set_status(s, c->resp.status);
			if (!c->route_gtid_ok)
				my_route_note_gtid(c, NULL, 0);
			c->hidden = MY_HID_NONE;
			my_client_set_state(c, MY_CL_IDLE);
			maybe_release(c);
			my_relay_client_input(c);
			return;
		}
		if (rc == MYC_RESP_DONE && c->resp.error) {
			struct myc_errp e;
			char msg[512] = "error from the server";
			uint16_t code = 1105;
			char state[6] = "HY000";
			if (myc_parse_err(f.payload, f.len, &e) == 0) {
				snprintf(msg, sizeof(msg), "%.*s", (int)e.message.len, (const char *)e.message.p);
				code = e.code;
				memcpy(state, e.sqlstate, sizeof(state));
			}
			evbuffer_drain(in, total);
			c->hidden = MY_HID_NONE;
			c->hold_diag = true;
			my_client_set_state(c, MY_CL_IDLE);
			size_t frame_len = 0;
			if (c->cmd_pending) {
				uint8_t ch[MYC_HEADER_LEN];
				evbuffer_copyout(bufferevent_get_input(c->bev), ch, sizeof(ch));
				frame_len = myle_get_u24(ch);
			}
			answer_error(c, code, state, msg, frame_len);
			if (c->state == MY_CL_CLOSED)
				return;
			my_cmd_clear(&c->cur);
			maybe_release(c);
			my_relay_client_input(c);
			return;
		}
		evbuffer_drain(in, total);
		if (rc != MYC_RESP_DONE)
			continue;
		if (c->resp.last == MYC_PKT_OK || c->resp.last == MYC_PKT_EOF)
			my_server_set_status(s, c->resp.status);
		switch (c->hidden) {
		case MY_HID_INIT_DB:
			my_server_set_schema(s, c->schema, strlen(c->schema));
			break;
		case MY_HID_SET:
			my_vars_clear(&ms->vars);
			for (int i = 0; i < c->vars.n; i++)
				my_vars_set(&ms->vars, c->vars.keys[i], c->vars.vals[i], strlen(c->vars.vals[i]));
			ms->names_unknown = false;
			break;
		case MY_HID_INSERT_ID:
			ms->insert_id = c->insert_id;
			break;
		case MY_HID_SET_OPTION:
			ms->multi = (c->caps & CLIENT_MULTI_STATEMENTS) ? MY_MULTI_ON : MY_MULTI_OFF;
			break;
		case MY_HID_PREPARE: {
			struct my_pstmt *ps = pstmt_get(c, c->cur.stmt_id);
			if (ps)
				my_server_stmt_put(s, ps->key, c->resp.stmt_id, c->hid_params, c->resp.num_columns,
						   c->cl->settings.max_prepared_statements);
			break;
		}
		case MY_HID_GTID: /* handled above */
		case MY_HID_NONE:
			break;
		}
		c->hidden = MY_HID_NONE;
		run(c);
		return;
	}
}

/* ---- step 3: the command and its answer ---- */

/* Rewrite an EXECUTE for the server: its statement id, and the
 * parameter types when the client relies on earlier ones. Returns 1 when
 * `out` holds the new frame (drain the original), 0 when the id was
 * patched in place, -1 on error. */
static int rewrite_execute(struct my_client *c, struct my_pstmt *ps, uint32_t sid, uint8_t *payload,
			   size_t len, struct buf *out)
{
	struct myc_cmd mc;
	if (myc_parse_command(payload, len, c->caps, &mc) < 0)
		return -1;
	myc_set_stmt_id(payload, mc.stmt_id_off, sid);
	if (ps->num_params == 0)
		return 0;
	struct myc_exec_params ep;
	if (myc_parse_exec_params(&mc, ps->num_params, ps->types, &ep) < 0)
		return 0; /* the server judges it */
	if (ep.new_params_bound) {
		if (ep.types.len == 2u * ps->num_params) {
			uint8_t *t = realloc(ps->types, ep.types.len);
			if (t) {
				memcpy(t, ep.types.p, ep.types.len);
				ps->types = t;
			}
		}
		return 0;
	}
	if (!ps->types)
		return 0;
	size_t start = myc_begin(out, 0);
	buf_put(out, payload, ep.bound_flag_off);
	buf_put_u8(out, 1);
	buf_put(out, ps->types, 2u * ps->num_params);
	buf_put(out, ep.values.p, ep.values.len);
	myc_end(out, start);
	return out->oom ? -1 : 1;
}

/* Query statistics: a COM_QUERY (its text, the first 4 kB) or an
 * EXECUTE (its prepared text, normalized once per worker and statement)
 * starts on the linked server. */
static void stats_begin(struct my_client *c, struct evbuffer *in, size_t len)
{
	struct query_stats *qs = &c->w->stats.qs;
	const char *node = c->server->pool->addr.text;
	bool primary = c->cl->has_primary && strcmp(node, c->cl->nodes[0].addr.text) == 0;
	if (c->cur.cmd == COM_QUERY && c->batch_key) {
		query_stats_start(&c->qs, c->batch_key); /* normalized to queue it (my_batch.c) */
		c->batch_key = 0;
	} else if (c->cur.cmd == COM_QUERY && len > 1) {
		char text[4096];
		size_t n = len - 1 < sizeof(text) ? len - 1 : sizeof(text);
		struct evbuffer_ptr pos;
		if (evbuffer_ptr_set(in, &pos, MYC_HEADER_LEN + 1, EVBUFFER_PTR_SET) < 0)
			return;
		ev_ssize_t got = evbuffer_copyout_from(in, &pos, text, n);
		if (got > 0)
			query_stats_begin(qs, &c->qs, QN_MYSQL, text, (size_t)got, node, primary);
	} else if (c->cur.cmd == COM_STMT_EXECUTE) {
		struct my_pstmt *ps = pstmt_get(c, c->cur.stmt_id);
		if (!ps || !ps->sql)
			return;
		if (!ps->qs_id) {
			uint64_t h = 1469598103934665603ULL; /* FNV-1a */
			for (const char *p = ps->sql; *p; p++)
				h = (h ^ (uint8_t)*p) * 1099511628211ULL;
			ps->qs_id = h ? h : 1;
		}
		uint64_t key = query_stats_enter_cached(qs, ps->qs_id, QN_MYSQL, ps->sql, strlen(ps->sql), node, primary);
		query_stats_start(&c->qs, key);
	}
}

static void forward(struct my_client *c)
{
	struct server *s = c->server;
	struct my_cmd *cur = &c->cur;
	if (cur->login) {
		send_ok(c, c->seq);
		c->logged_in = true;
		my_kill_register(c->w, &c->kill_ent, c->id, c->user);
		evtimer_del(c->timer);
		c->cmd_pending = false;
		my_cmd_clear(cur);
		my_client_set_state(c, MY_CL_IDLE);
		maybe_release(c);
		my_relay_client_input(c);
		return;
	}
	struct evbuffer *in = bufferevent_get_input(c->bev);
	struct evbuffer *out = bufferevent_get_output(s->bev);
	uint8_t hdr[MYC_HEADER_LEN];
	evbuffer_copyout(in, hdr, sizeof(hdr));
	size_t len = myle_get_u24(hdr);
	size_t total = MYC_HEADER_LEN + len;
	bool moved = false;
	stats_begin(c, in, len);
	if (cur->frame) { /* CONNECTION_ID() replaced; the client's frame is all in */
		evbuffer_drain(in, total);
		evbuffer_add(out, cur->frame, cur->frame_len);
		moved = true;
	} else if (cur->stmt_id) {
		struct my_pstmt *ps = pstmt_get(c, cur->stmt_id);
		struct my_sstmt *st = ps ? my_server_stmt_get(s, ps->key) : NULL;
		if (!st) {
			answer_error(c, 1243, "HY000", "Unknown prepared statement handler", len);
			my_client_set_state(c, MY_CL_IDLE);
			my_cmd_clear(cur);
			maybe_release(c);
			return;
		}
		if (cur->cmd == COM_STMT_EXECUTE) {
			uint8_t *p = evbuffer_pullup(in, (ev_ssize_t)total);
			struct buf b;
			buf_init(&b);
			int rc = p ? rewrite_execute(c, ps, st->id, p + MYC_HEADER_LEN, len, &b) : -1;
			if (rc < 0) {
				buf_free(&b);
				my_client_close(c, 1047, "08S01", 1, "Malformed COM_STMT_EXECUTE");
				return;
			}
			if (rc == 1) {
				evbuffer_drain(in, total);
				evbuffer_add(out, b.data, b.len);
				moved = true;
			}
			buf_free(&b);
		} else {
			uint8_t *p = evbuffer_pullup(in, MYC_HEADER_LEN + 5);
			if (p)
				myc_set_stmt_id(p + MYC_HEADER_LEN, 1, st->id);
		}
	}
	c->c2s_left = 0;
	c->c2s_more = false;
	c->infile = c->infile_cont = false;
	if (!moved) {
		size_t avail = evbuffer_get_length(in);
		size_t n = avail < total ? avail : total;
		evbuffer_remove_buffer(in, out, n);
		c->c2s_left = total - n;
		c->c2s_more = len == MYC_MAX_FRAME;
	}
	c->cmd_pending = false;
	c->s2c_left = 0;
	c->s2c_more = false;
	myc_resp_init(&c->resp, cur->cmd, my_server_of(s)->caps, 0);
	my_client_set_state(c, MY_CL_ACTIVE);
	forward_command_bytes(c);
	if (c->state == MY_CL_ACTIVE && s->link == c)
		my_batch_fill(c); /* others waiting may ride along (pipeline_depth) */
}

void my_relay_send_queued(struct my_client *c)
{
	forward(c);
}

/* The rest of a long or split command; a command without an answer is
 * finished once it is all sent. */
static void forward_command_bytes(struct my_client *c)
{
	struct server *s = c->server;
	struct evbuffer *in = bufferevent_get_input(c->bev);
	struct evbuffer *out = bufferevent_get_output(s->bev);
	for (;;) {
		if (c->c2s_left > 0) {
			if (evbuffer_get_length(out) >= MY_RELAY_HIGH) {
				bufferevent_disable(c->bev, EV_READ);
				return;
			}
			size_t avail = evbuffer_get_length(in);
			size_t n = avail < c->c2s_left ? avail : c->c2s_left;
			if (n == 0)
				return;
			evbuffer_remove_buffer(in, out, n);
			c->c2s_left -= n;
			continue;
		}
		if (c->c2s_more) {
			uint8_t hdr[MYC_HEADER_LEN];
			if (evbuffer_copyout(in, hdr, sizeof(hdr)) < (ssize_t)sizeof(hdr))
				return;
			size_t len = myle_get_u24(hdr);
			c->c2s_more = len == MYC_MAX_FRAME;
			c->c2s_left = MYC_HEADER_LEN + len;
			continue;
		}
		if (c->infile) {
			/* The file: frames up to an empty packet (an empty frame
			 * after a 0xffffff one only ends a split packet). */
			uint8_t hdr[MYC_HEADER_LEN];
			if (evbuffer_copyout(in, hdr, sizeof(hdr)) < (ssize_t)sizeof(hdr))
				return;
			size_t len = myle_get_u24(hdr);
			if (len == 0 && !c->infile_cont)
				c->infile = false;
			c->infile_cont = len == MYC_MAX_FRAME;
			c->c2s_left = MYC_HEADER_LEN + len;
			continue;
		}
		break;
	}
	if (myc_resp_done(&c->resp) && c->state == MY_CL_ACTIVE)
		finished(c); /* SEND_LONG_DATA: no answer */
}

/* CLIENT_FOUND_ROWS: servers are logged in without it (they are shared by
 * clients with and without), so an UPDATE's OK counts changed rows; a
 * client that asked for found rows gets the matched count from the OK's
 * info instead. True when the frame (`total` bytes at p, still in `in`)
 * went out rewritten. */
static bool found_rows_ok(struct my_client *c, struct evbuffer *in, struct evbuffer *out, const uint8_t *p,
			  size_t total)
{
	struct buf b;
	buf_init(&b);
	size_t s = myc_begin(&b, p[3]);
	if (!myc_ok_found_rows(p + MYC_HEADER_LEN, total - MYC_HEADER_LEN, my_server_of(c->server)->caps, &b) ||
	    b.oom) {
		buf_free(&b);
		return false;
	}
	myc_end(&b, s);
	evbuffer_drain(in, total);
	evbuffer_add(out, b.data, b.len);
	buf_free(&b);
	return true;
}

int my_relay_peek_frame(struct evbuffer *in, bool cont, const struct myc_resp *r, struct my_frame_peek *pk)
{
	size_t avail = evbuffer_get_length(in);
	if (avail < MYC_HEADER_LEN)
		return 0;
	evbuffer_copyout(in, pk->head, MYC_HEADER_LEN);
	pk->len = myle_get_u24(pk->head);
	pk->total = MYC_HEADER_LEN + pk->len;
	pk->frame = NULL;
	pk->payload = pk->head + MYC_HEADER_LEN;
	bool whole = pk->len <= INSPECT_MAX || (!cont && r->state != MYC_RS_ROWS);
	if (!whole) {
		if (avail < sizeof(pk->head))
			return 0;
		evbuffer_copyout(in, pk->head, sizeof(pk->head));
		if (!cont && pk->head[MYC_HEADER_LEN] == MYC_ERR)
			whole = true;
	}
	if (!whole)
		return 1;
	if (avail < pk->total)
		return 0;
	pk->frame = evbuffer_pullup(in, (ev_ssize_t)pk->total);
	if (!pk->frame)
		return -1;
	pk->payload = pk->frame + MYC_HEADER_LEN;
	return 1;
}

static void relay_s2c(struct my_client *c)
{
	struct server *s = c->server;
	struct evbuffer *in = bufferevent_get_input(s->bev);
	struct evbuffer *out = bufferevent_get_output(c->bev);
	while (c->state == MY_CL_ACTIVE) {
		if (evbuffer_get_length(out) >= MY_RELAY_HIGH) {
			bufferevent_disable(s->bev, EV_READ);
			return;
		}
		if (c->s2c_left > 0) {
			size_t avail = evbuffer_get_length(in);
			size_t n = avail < c->s2c_left ? avail : c->s2c_left;
			if (n == 0)
				return;
			evbuffer_remove_buffer(in, out, n);
			c->s2c_left -= n;
			if (c->s2c_left == 0 && myc_resp_done(&c->resp))
				finished(c);
			continue;
		}
		if (myc_resp_done(&c->resp)) {
			if (evbuffer_get_length(in) > 0) {
				my_client_close(c, 1158, "08S01", 1, "The server sent more than the answer");
				return;
			}
			return; /* the command is still being sent */
		}
		size_t avail = evbuffer_get_length(in);
		bool cont = c->s2c_more;
		struct my_frame_peek pk;
		int pr = my_relay_peek_frame(in, cont, &c->resp, &pk);
		if (pr == 0)
			return;
		if (pr < 0) {
			my_client_close(c, 1041, "HY000", 1, "Out of memory");
			return;
		}
		size_t len = pk.len, total = pk.total;
		uint8_t *p = pk.frame;
		bool whole = p != NULL;
		int rc = myc_resp_feed(&c->resp, pk.payload, len, cont);
		c->s2c_more = len == MYC_MAX_FRAME;
		bool infile = rc == MYC_RESP_CLIENT && c->resp.last == MYC_PKT_LOCAL_INFILE && whole &&
			      (c->caps & CLIENT_LOCAL_FILES) && c->cur.cmd == COM_QUERY;
		if (rc < 0 || (rc == MYC_RESP_CLIENT && !infile)) {
			my_client_close(c, 1158, "08S01", 1, "Malformed or unexpected packet from the server (%s)",
					rc < 0 ? myc_err_str(rc) : "the server asked the client for data");
			return;
		}
		if (infile) {
			/* LOAD DATA LOCAL INFILE: the request to the client, then
			 * its file to the server, then the server's OK/ERR. */
			evbuffer_remove_buffer(in, out, total);
			c->infile = true;
			c->infile_cont = false;
			forward_command_bytes(c);
			continue;
		}
		if (c->resp.last == MYC_PKT_PREPARE_OK && c->cur.cmd == COM_STMT_PREPARE && whole) {
			struct myc_stmt_prepare_ok po;
			struct my_pstmt *ps = calloc(1, sizeof(*ps));
			char k[16];
			if (ps && myc_parse_stmt_prepare_ok(p + MYC_HEADER_LEN, len, &po) == 0) {
				ps->id = ++c->next_stmt_id;
				ps->sql = strdup(c->cur.text);
				ps->key = stmt_key(c->schema, c->cur.text);
				ps->num_params = po.num_params;
				ps->num_columns = po.num_columns;
				if (ps->sql) {
					struct my_sql_scan sc;
					my_sql_scan(ps->sql, strlen(ps->sql), &sc);
					ps->reads_insert_id = sc.flags & MY_SQL_INSERT_ID;
				}
				snprintf(k, sizeof(k), "%u", ps->id);
				bool failed = false;
				if (ps->sql && ps->key)
					strmap_put(&c->stmts, k, ps, &failed);
				if (!ps->sql || !ps->key || failed) {
					my_pstmt_free(ps);
					my_client_close(c, 1041, "HY000", 1, "Out of memory");
					return;
				}
				my_server_stmt_put(s, ps->key, po.stmt_id, po.num_params, po.num_columns,
						   c->cl->settings.max_prepared_statements);
				myc_set_stmt_id(p + MYC_HEADER_LEN, 1, ps->id);
				c->last_prepared = ps->id;
			} else {
				free(ps);
			}
		}
		if (whole && (c->caps & CLIENT_FOUND_ROWS) && c->resp.last == MYC_PKT_OK &&
		    found_rows_ok(c, in, out, p, total)) {
			/* sent, with the matched-rows count */
		} else if (whole) {
			evbuffer_remove_buffer(in, out, total);
		} else {
			size_t n = avail < total ? avail : total;
			evbuffer_remove_buffer(in, out, n);
			c->s2c_left = total - n;
		}
		if (rc == MYC_RESP_DONE && c->s2c_left == 0)
			finished(c);
	}
}

/* ---- step 4: after the answer ---- */

static void apply_sets(struct my_client *c, struct my_server *ms)
{
	static const char *const family[] = { "names", "charset", "character_set_client",
		"character_set_results", "character_set_connection", "collation_connection" };
	const struct my_vars *sets = &c->cur.sets;
	for (int i = 0; i < sets->n; i++) {
		const char *k = sets->keys[i];
		if (strcmp(k, "names") == 0 || strcmp(k, "charset") == 0) {
			for (size_t j = 0; j < sizeof(family) / sizeof(family[0]); j++) {
				my_vars_del(&c->vars, family[j]);
				my_vars_del(&ms->vars, family[j]);
			}
		}
		my_vars_set(&c->vars, k, sets->vals[i], strlen(sets->vals[i]));
		my_vars_set(&ms->vars, k, sets->vals[i], strlen(sets->vals[i]));
	}
}

static void finished(struct my_client *c)
{
	struct server *s = c->server;
	struct my_server *ms = my_server_of(s);
	struct my_cmd *cur = &c->cur;
	const struct myc_resp *r = &c->resp;
	bool err = r->error;
	/* Warnings and errors are read with SHOW WARNINGS / ERRORS on the
	 * same server: keep it for the next command. */
	c->hold_diag = err || r->warnings > 0;
	if (r->last == MYC_PKT_OK || r->last == MYC_PKT_EOF) {
		my_server_set_status(s, r->status);
		c->status = r->status;
	}
	if (r->insert_id) /* an id generated (or given): LAST_INSERT_ID() of both sessions */
		c->insert_id = ms->insert_id = r->insert_id;
	switch (cur->cmd) {
	case COM_INIT_DB:
		if (!err && cur->text) {
			free(c->schema);
			c->schema = strdup(cur->text);
			my_server_set_schema(s, cur->text, strlen(cur->text));
		}
		break;
	case COM_QUERY:
		if ((cur->sql_flags & MY_SQL_USE) && cur->text) {
			if (!err) {
				free(c->schema);
				c->schema = strdup(cur->text);
				my_server_set_schema(s, cur->text, strlen(cur->text));
			} else {
				free(ms->schema); /* a multi-statement may have changed it */
				ms->schema = NULL;
			}
		}
		if (cur->sql_flags & MY_SQL_SET) {
			if (!err)
				apply_sets(c, ms);
			else
				pin(c, "SET in a statement that failed");
		}
		if (cur->sql_flags & MY_SQL_PIN)
			pin(c, cur->pin_reason ? cur->pin_reason : "session state");
		break;
	case COM_RESET_CONNECTION:
		if (!err) {
			client_reset_state(c);
			my_server_after_reset(s);
		}
		break;
	case COM_STMT_SEND_LONG_DATA:
		c->hold_long_data = true;
		break;
	case COM_STMT_EXECUTE:
		c->hold_long_data = false;
		c->cursor_open = r->cursor;
		break;
	case COM_STMT_FETCH:
		if (err || (r->status & SERVER_STATUS_LAST_ROW_SENT) || !(r->status & SERVER_STATUS_CURSOR_EXISTS))
			c->cursor_open = false;
		break;
	case COM_STMT_RESET:
		c->hold_long_data = c->cursor_open = false;
		break;
	default:
		break;
	}
	if (c->schema == NULL) {
		my_client_close(c, 1041, "HY000", 1, "Out of memory");
		return;
	}
	if (c->qs.key) {
		c->qs.rows += r->rows;
		c->qs.error = c->qs.error || err;
		query_stats_end(&c->w->stats.qs, &c->qs);
	}
	int64_t now = worker_now_ms(c->w);
	stats_observe_query(c->w, STATS_PROTO_MY, now - c->query_start_ms);
	c->last_activity_ms = now;
	if (!(ms->status & SERVER_STATUS_IN_TRANS))
		c->w->counters[STATS_PROTO_MY].transactions++;
	my_cmd_clear(cur);
	if (!(ms->status & SERVER_STATUS_IN_TRANS) && c->route) {
		if (c->hold_diag || c->pool_mode == CFG_POOL_SESSION) {
			/* SHOW WARNINGS must see this command's, not ours; a
			 * session keeps its server: the window rule covers it. */
			if (c->route_wrote) {
				c->route_wrote = false;
				my_route_note_gtid(c, NULL, 0);
			}
		} else if (my_route_wants_gtid(c)) {
			struct buf b;
			buf_init(&b);
			myc_put_query(&b, "SELECT @@last_gtid");
			send_hidden(c, MY_HID_GTID, COM_QUERY, &b);
			return;
		}
	}
	my_client_set_state(c, MY_CL_IDLE);
	maybe_release(c);
	my_relay_client_input(c);
}

/* ---- glue ---- */

void my_relay_start(struct my_client *c)
{
	if (c->cmd_pending) {
		run(c);
		return;
	}
	my_client_set_state(c, MY_CL_IDLE);
	maybe_release(c);
}

void my_relay_flush(struct my_client *c)
{
	if (c->state == MY_CL_CLOSED)
		return;
	if (c->server)
		pg_io_flush(c->server->bev);
	pg_io_flush(c->bev);
}

void my_relay_client_drained(struct my_client *c)
{
	if (c->state != MY_CL_ACTIVE || !c->server)
		return;
	bufferevent_enable(c->server->bev, EV_READ);
	relay_s2c(c);
	my_relay_flush(c);
}

static void link_readable(void *link, struct server *s)
{
	struct my_client *c = link;
	if (c->state == MY_CL_SYNC)
		hidden_s2c(c);
	else if (c->state == MY_CL_ACTIVE)
		relay_s2c(c);
	else if (evbuffer_get_length(bufferevent_get_input(s->bev)) > 0)
		my_client_close(c, 1927, "70100", 1, "Lost connection to server: it sent data while idle");
	my_relay_flush(c);
}

static void link_failed(void *link, struct server *s, const char *why)
{
	struct my_client *c = link;
	my_batch_fail(s, why);
	c->server = NULL;
	/* 1927, not the client-side 2013 (see my_client.c on_server_error) */
	my_client_close(c, 1927, "70100", 1, "Lost connection to server during query (%s)", why);
}

static void link_writable(void *link, struct server *s)
{
	struct my_client *c = link;
	if (c->state != MY_CL_ACTIVE)
		return;
	bufferevent_enable(c->bev, EV_READ);
	forward_command_bytes(c);
	my_relay_flush(c);
}

const struct server_link_ops my_relay_link_ops = {
	.readable = link_readable,
	.failed = link_failed,
	.writable = link_writable,
};
