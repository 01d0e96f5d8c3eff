/*
 * pg_admin.c — the admin console on the PostgreSQL port (see pg_admin.h):
 * the login check and the PostgreSQL rendering of proxy/admin.c's
 * answers. Every value is sent as text (type oid 25), which psql and
 * drivers show as they would PgBouncer's.
 */
#include "proxy/pg/pg_admin.h"

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proxy/admin.h"
#include "proxy/pg/pg_client.h"
#include "proxy/pg/pg_evbuf.h"
#include "proxy/pg/pgc.h"
#include "proxy/proxy.h"
#include "proxy/stats.h"
#include "util/log.h"

#define ADMIN_MAX_MESSAGE 65536
#define TEXT_OID 25

/* ---- tables as RowDescription / DataRow ---- */

static void row_desc(void *arg, const char *const *cols, int n)
{
	struct buf *b = arg;
	size_t s = pgc_begin(b, 'T');
	buf_put_u16be(b, (uint16_t)n);
	for (int i = 0; i < n; i++) {
		buf_put_cstr(b, cols[i]);
		buf_put_u32be(b, 0);          /* table oid */
		buf_put_u16be(b, 0);          /* column number */
		buf_put_u32be(b, TEXT_OID);
		buf_put_u16be(b, 0xffff);     /* typlen -1 */
		buf_put_u32be(b, 0xffffffff); /* typmod -1 */
		buf_put_u16be(b, 0);          /* text format */
	}
	pgc_end(b, s);
}

static void data_row(void *arg, const char *const *vals, int n)
{
	struct buf *b = arg;
	size_t s = pgc_begin(b, 'D');
	buf_put_u16be(b, (uint16_t)n);
	for (int i = 0; i < n; i++) {
		if (!vals[i]) {
			buf_put_u32be(b, 0xffffffff);
			continue;
		}
		size_t len = strlen(vals[i]);
		buf_put_u32be(b, (uint32_t)len);
		buf_put(b, vals[i], len);
	}
	pgc_end(b, s);
}

static void complete(struct buf *b, const char *tag)
{
	size_t s = pgc_begin(b, 'C');
	buf_put_cstr(b, tag);
	pgc_end(b, s);
}

static void complete_rows(struct buf *b, const char *cmd, size_t n)
{
	char tag[64];
	snprintf(tag, sizeof(tag), "%s %zu", cmd, n);
	complete(b, tag);
}

int pg_admin_show(const struct stats_view *v, const char *what, struct buf *out)
{
	struct admin_sink sink = { .arg = out, .columns = row_desc, .row = data_row };
	size_t rows = 0;
	if (admin_show_view(v, what, &sink, &rows) < 0)
		return -1;
	complete_rows(out, "SHOW", rows);
	return 0;
}

/* ---- the session ---- */

void pg_admin_login(struct pg_client *c)
{
	if (!admin_is_admin(c->cfg, c->user)) {
		pg_client_close(c, "28000", "user \"%s\" may not use the admin console (not in admin_users)", c->user);
		return;
	}
	c->u = cfg_find_user(c->cfg, c->user);
	if (!c->u) {
		pg_client_close(c, "28P01", "password authentication failed for user \"%s\"", c->user);
		return;
	}
	pg_client_begin_auth(c);
}

void pg_admin_start(struct pg_client *c)
{
	if (c->timer)
		evtimer_del(c->timer);
	struct buf b;
	buf_init(&b);
	pgc_put_param_status(&b, "server_version", "15.0");
	pgc_put_param_status(&b, "server_encoding", "UTF8");
	pgc_put_param_status(&b, "client_encoding", "UTF8");
	pgc_put_param_status(&b, "DateStyle", "ISO, MDY");
	pgc_put_param_status(&b, "integer_datetimes", "on");
	pgc_put_param_status(&b, "standard_conforming_strings", "on");
	pgc_put_param_status(&b, "application_name", "switchyard");
	pgc_put_backend_key(&b, 0, 0);
	pgc_put_ready(&b, 'I');
	pg_bev_send(c->bev, &b);
	buf_free(&b);
	c->logged_in = true;
	client_set_state(c, CL_ADMIN);
	struct log_who who = pg_client_who(c);
	log_who_msg(LOG_INFO, &who, "admin console login%s", c->tls_on ? " (tls)" : "");
}

/* SQLSTATEs of the console's error classes. */
static const char *err_sqlstate(enum admin_err e)
{
	switch (e) {
	case ADMIN_ERR_SYNTAX:
		return "42601";
	case ADMIN_ERR_NOT_FOUND:
		return "42704";
	case ADMIN_ERR_STATE:
		return "55000";
	case ADMIN_ERR_BUSY:
		return "53000";
	case ADMIN_ERR_NO_MEMORY:
		return "53200";
	}
	return "XX000";
}

static int run_command(struct pg_client *c, char *q, bool rows_ready, struct buf *b);

/* Send b (an answer) with ReadyForQuery. */
static void send_answer(struct pg_client *c, struct buf *b)
{
	pgc_put_ready(b, 'I');
	if (b->oom) {
		buf_free(b);
		pg_client_close(c, "53200", "out of memory");
		return;
	}
	pg_bev_send(c->bev, b);
	buf_free(b);
	pg_admin_read(c); /* commands sent behind the one that waited */
}

/* A wait is over: PAUSE's transactions finished, or the rows a command
 * needs are in (run it again). */
static void wait_done(void *arg)
{
	struct pg_client *c = arg;
	struct admin_wait *aw = c->admin_wait;
	c->admin_wait = NULL;
	struct buf b;
	buf_init(&b);
	if (admin_wait_query(aw)) {
		char *q = strdup(admin_wait_query(aw));
		admin_wait_free(aw);
		if (!q) {
			pg_client_close(c, "53200", "out of memory");
			return;
		}
		int deferred = run_command(c, q, true, &b);
		free(q);
		if (deferred) { /* cannot happen with rows_ready; answer nothing yet */
			buf_free(&b);
			return;
		}
		send_answer(c, &b);
		return;
	}
	struct log_who who = pg_client_who(c);
	log_who_msg(LOG_INFO, &who, "PAUSE %s: no transaction left",
		    admin_wait_cluster(aw) ? admin_wait_cluster(aw) : "(all)");
	admin_wait_free(aw);
	complete(&b, "PAUSE");
	send_answer(c, &b);
}

/* One command's answer into b. Returns 1 when it is deferred (a wait:
 * wait_done answers), else 0. */
static int run_command(struct pg_client *c, char *q, bool rows_ready, struct buf *b)
{
	struct admin_session s = { .w = c->w, .id = c->id, .user = c->user, .addr = c->addr,
				   .wait_done = wait_done, .arg = c, .rows_ready = rows_ready };
	struct admin_sink sink = { .arg = b, .columns = row_desc, .row = data_row };
	struct admin_result res;
	admin_run(&s, q, &sink, &res);
	switch (res.outcome) {
	case ADMIN_EMPTY: {
		size_t st = pgc_begin(b, 'I');
		pgc_end(b, st);
		return 0;
	}
	case ADMIN_TABLE:
		complete_rows(b, res.tag, res.rows);
		return 0;
	case ADMIN_DONE:
		complete(b, res.tag);
		return 0;
	case ADMIN_ERROR:
		pgc_put_error(b, "ERROR", err_sqlstate(res.err), res.msg);
		return 0;
	case ADMIN_WAIT:
		c->admin_wait = res.wait;
		return 1;
	}
	return 0;
}

void pg_admin_read(struct pg_client *c)
{
	if (c->admin_wait)
		return; /* a command is waiting: its answer comes first */
	struct evbuffer *in = bufferevent_get_input(c->bev);
	struct pgc_limits lim = { .max_packet_size = ADMIN_MAX_MESSAGE };
	for (;;) {
		struct pgc_msg m;
		ssize_t r = pg_evbuf_next(in, &lim, &m);
		if (r == 0)
			return;
		if (r < 0) {
			pg_client_close(c, "08P01", "invalid message on the admin console: %s", pgc_err_str(r));
			return;
		}
		if (m.type == 'X') {
			evbuffer_drain(in, (size_t)r);
			pg_client_close(c, NULL, "admin client sent Terminate");
			return;
		}
		if (m.type != 'Q') {
			pg_client_close(c, "0A000", "the admin console speaks only the simple query protocol");
			return;
		}
		char *q = strndup((const char *)m.body, m.body_len);
		evbuffer_drain(in, (size_t)r);
		if (!q) {
			pg_client_close(c, "53200", "out of memory");
			return;
		}
		struct buf b;
		buf_init(&b);
		int deferred = run_command(c, q, false, &b);
		free(q);
		c->queries++;
		if (deferred) {
			/* wait_done answers, then reads on. */
			buf_free(&b);
			return;
		}
		pgc_put_ready(&b, 'I');
		if (b.oom) {
			buf_free(&b);
			pg_client_close(c, "53200", "out of memory");
			return;
		}
		pg_bev_send(c->bev, &b);
		buf_free(&b);
	}
}
