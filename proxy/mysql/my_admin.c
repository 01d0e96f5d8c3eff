/*
 * my_admin.c — the admin console on a MySQL listener (see my_admin.h):
 * the login check, the command channel (COM_QUERY and the few other
 * commands a console needs) and the MySQL rendering of proxy/admin.c's
 * answers. Every value is a utf8mb4 VARCHAR in a text row.
 */
#include "proxy/mysql/my_admin.h"

#include <ctype.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "proxy/admin.h"
#include "proxy/mysql/my_client.h"
#include "proxy/mysql/myc.h"
#include "proxy/mysql/myle.h"
#include "proxy/pg/pg_evbuf.h"
#include "proxy/proxy.h"
#include "util/log.h"

#define ADMIN_MAX_PACKET 65536

/* ---- tables as text result sets ---- */

struct my_sink {
	struct buf *b;
	uint8_t seq;                  /* of the next frame */
	uint32_t caps;                /* the client's */
};

static void result_columns(void *arg, const char *const *names, int n)
{
	struct my_sink *k = arg;
	k->seq = myc_put_column_count(k->b, k->seq, (uint64_t)n);
	for (int i = 0; i < n; i++)
		k->seq = myc_put_text_column(k->b, k->seq, names[i]);
	if (!(k->caps & CLIENT_DEPRECATE_EOF)) {
		myc_put_eof(k->b, k->seq, 0, SERVER_STATUS_AUTOCOMMIT);
		k->seq++;
	}
}

static void result_row(void *arg, const char *const *values, int n)
{
	struct my_sink *k = arg;
	k->seq = myc_put_text_row(k->b, k->seq, values, n);
}

static void result_end(struct my_sink *k)
{
	if (k->caps & CLIENT_DEPRECATE_EOF)
		myc_put_ok_eof(k->b, k->seq, SERVER_STATUS_AUTOCOMMIT, 0);
	else
		myc_put_eof(k->b, k->seq, 0, SERVER_STATUS_AUTOCOMMIT);
	k->seq++;
}

static void put_ok(const struct my_client *c, struct buf *b, uint8_t seq)
{
	myc_put_ok(b, seq, c->caps, 0, 0, SERVER_STATUS_AUTOCOMMIT, 0, NULL);
}

/* MySQL error numbers and SQLSTATEs of the console's error classes. */
static uint16_t err_code(enum admin_err e, const char **sqlstate)
{
	*sqlstate = "HY000";
	switch (e) {
	case ADMIN_ERR_SYNTAX:
		*sqlstate = "42000";
		return 1064; /* ER_PARSE_ERROR */
	case ADMIN_ERR_NO_MEMORY:
		return 1041; /* ER_OUT_OF_RESOURCES */
	case ADMIN_ERR_NOT_FOUND:
	case ADMIN_ERR_STATE:
	case ADMIN_ERR_BUSY:
		return 1105; /* ER_UNKNOWN_ERROR */
	}
	return 1105;
}

/* ---- login ---- */

int my_admin_login(struct my_client *c)
{
	if (!admin_is_admin(c->cfg, c->user)) {
		c->w->counters[STATS_PROTO_MY].login_failures++;
		my_client_close(c, 1044, "42000", c->seq,
				"Access denied for user '%s'@'%s' to database '%s' (the proxy's admin console: "
				"the user is not in admin_users)",
				c->user, c->host, ADMIN_DATABASE);
		return -1;
	}
	c->admin = true;
	return 0;
}

void my_admin_start(struct my_client *c)
{
	evtimer_del(c->timer);
	struct buf b;
	buf_init(&b);
	put_ok(c, &b, c->seq);
	pg_bev_send(c->bev, &b);
	buf_free(&b);
	c->logged_in = true;
	my_client_set_state(c, MY_CL_ADMIN);
	struct log_who who = my_client_who(c);
	log_who_msg(LOG_INFO, &who, "admin console login%s", c->tls_on ? " (tls)" : "");
	my_admin_read(c);
}

/* ---- commands ---- */

/* Does q start with `word` (any case) followed by a space or its end?
 * Leading spaces are skipped; *rest is set to what follows. */
static bool starts_with_word(const char *q, const char *word, const char **rest)
{
	while (isspace((unsigned char)*q))
		q++;
	size_t n = strlen(word);
	if (strncasecmp(q, word, n) != 0 || (q[n] && !isspace((unsigned char)q[n])))
		return false;
	q += n;
	while (isspace((unsigned char)*q))
		q++;
	*rest = q;
	return true;
}

/* The mariadb client's start-up query (interactive, and with -e). */
static bool is_version_comment(const char *q)
{
	const char *rest;
	static const char var[] = "@@version_comment";
	return starts_with_word(q, "select", &rest) && strncasecmp(rest, var, sizeof(var) - 1) == 0;
}

static void run_query(struct my_client *c, char *q, bool rows_ready, struct buf *b);

/* A wait is over: PAUSE's transactions finished, or the rows a command
 * needs are in (run it again). */
static void wait_done(void *arg)
{
	struct my_client *c = arg;
	struct admin_wait *aw = c->admin_wait;
	c->admin_wait = NULL;
	struct buf b;
	buf_init(&b);
	if (admin_wait_query(aw)) {
		char *q = strdup(admin_wait_query(aw));
		admin_wait_free(aw);
		if (!q) {
			my_client_close(c, 1041, "HY000", 1, "Out of memory");
			return;
		}
		run_query(c, q, true, &b);
		free(q);
	} else {
		const char *cl = admin_wait_cluster(aw);
		struct log_who who = my_client_who(c);
		log_who_msg(LOG_INFO, &who, "PAUSE %s: no transaction left", cl ? cl : "(all)");
		admin_wait_free(aw);
		put_ok(c, &b, 1);
	}
	if (b.oom) {
		buf_free(&b);
		my_client_close(c, 1041, "HY000", 1, "Out of memory");
		return;
	}
	if (b.len)
		pg_bev_send(c->bev, &b);
	buf_free(&b);
	my_admin_read(c); /* commands sent behind the one that waited */
}

/* One COM_QUERY's answer into b (sequence ids from 1). */
static void run_query(struct my_client *c, char *q, bool rows_ready, struct buf *b)
{
	struct my_sink k = { .b = b, .seq = 1, .caps = c->caps };
	struct admin_sink sink = { .arg = &k, .columns = result_columns, .row = result_row };
	if (is_version_comment(q)) {
		static const char *const col[] = { "@@version_comment" };
		static const char *const val[] = { "switchyard admin console (SHOW HELP lists the commands)" };
		result_columns(&k, col, 1);
		result_row(&k, val, 1);
		result_end(&k);
		return;
	}
	const char *rest;
	if (starts_with_word(q, "set", &rest)) {
		/* Drivers set session variables (autocommit, names) when they
		 * connect: nothing to set here. */
		put_ok(c, b, 1);
		return;
	}
	struct admin_session s = { .w = c->w, .id = c->id, .user = c->user, .addr = c->addr,
				   .wait_done = wait_done, .arg = c, .rows_ready = rows_ready };
	struct admin_result res;
	admin_run(&s, q, &sink, &res);
	const char *state;
	uint16_t code;
	switch (res.outcome) {
	case ADMIN_EMPTY:
		myc_put_err(b, 1, 1065, "42000", "Query was empty");
		return;
	case ADMIN_TABLE:
		result_end(&k);
		return;
	case ADMIN_DONE:
		put_ok(c, b, 1);
		return;
	case ADMIN_ERROR:
		code = err_code(res.err, &state);
		myc_put_err(b, 1, code, state, res.msg);
		return;
	case ADMIN_WAIT:
		c->admin_wait = res.wait; /* wait_done answers */
		return;
	}
}

/* One command frame (payload p, n >= 1 bytes) into b. Returns -1 when c
 * was closed. */
static int run_command(struct my_client *c, const uint8_t *p, size_t n, struct buf *b)
{
	uint8_t cmd = p[0];
	switch (cmd) {
	case COM_QUIT:
		my_client_close(c, 0, NULL, 0, "admin client sent COM_QUIT");
		return -1;
	case COM_PING:
	case COM_RESET_CONNECTION:
		put_ok(c, b, 1);
		return 0;
	case COM_INIT_DB:
		if (n - 1 == strlen(ADMIN_DATABASE) && memcmp(p + 1, ADMIN_DATABASE, n - 1) == 0)
			put_ok(c, b, 1);
		else
			myc_put_err(b, 1, 1044, "42000",
				    "the admin console has only the schema 'switchyard': connect again for another");
		return 0;
	case COM_QUERY: {
		char *q = strndup((const char *)p + 1, n - 1);
		if (!q) {
			my_client_close(c, 1041, "HY000", 1, "Out of memory");
			return -1;
		}
		run_query(c, q, false, b);
		free(q);
		c->queries++;
		return 0;
	}
	default: {
		char msg[160];
		snprintf(msg, sizeof(msg),
			 "the admin console takes only queries (COM_QUERY), COM_PING and COM_QUIT, not %s",
			 myc_com_name(cmd));
		myc_put_err(b, 1, 1047, "08S01", msg);
		return 0;
	}
	}
}

void my_admin_read(struct my_client *c)
{
	struct evbuffer *in = bufferevent_get_input(c->bev);
	while (c->state == MY_CL_ADMIN && !c->admin_wait) {
		uint8_t hdr[MYC_HEADER_LEN];
		if (evbuffer_copyout(in, hdr, sizeof(hdr)) < (ssize_t)sizeof(hdr))
			return;
		size_t len = myle_get_u24(hdr);
		if (len == 0) {
			my_client_close(c, 1047, "08S01", 1, "Empty command packet");
			return;
		}
		if (len > ADMIN_MAX_PACKET) {
			my_client_close(c, 1153, "08S01", 1, "Got a packet bigger than the admin console takes (%d bytes)",
					ADMIN_MAX_PACKET);
			return;
		}
		if (hdr[3] != 0) {
			my_client_close(c, 1156, "08S01", (uint8_t)(hdr[3] + 1), "Got packets out of order");
			return;
		}
		if (evbuffer_get_length(in) < MYC_HEADER_LEN + len)
			return;
		uint8_t *pkt = malloc(len);
		if (!pkt) {
			my_client_close(c, 1041, "HY000", 1, "Out of memory");
			return;
		}
		evbuffer_drain(in, MYC_HEADER_LEN);
		evbuffer_remove(in, pkt, len);
		c->last_activity_ms = worker_now_ms(c->w);
		struct buf b;
		buf_init(&b);
		int rc = run_command(c, pkt, len, &b);
		free(pkt);
		if (rc < 0) {
			buf_free(&b);
			return;
		}
		if (b.oom) {
			buf_free(&b);
			my_client_close(c, 1041, "HY000", 1, "Out of memory");
			return;
		}
		if (b.len)
			pg_bev_send(c->bev, &b);
		buf_free(&b);
	}
}
