/*
 * probe_pg.c — a PostgreSQL monitor connection: login and one query at a
 * time (probe_pg.h).
 */
#include "health/probe_pg.h"

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proxy/pg/pg_evbuf.h"
#include "proxy/pg/pgc.h"
#include "proxy/pg/pgmd5.h"
#include "proxy/pg/scram.h"

#define PG_ROW_MAX 3
#define PG_ROW_STORE 1024

struct pg_probe {
	bool ssl_asked;               /* SSLRequest sent, its one-byte answer due */
	struct scram_client scram;
	bool scram_used;
	bool error;                   /* an ErrorResponse came for the query */
	char err[240];
	bool got_row;
	char store[PG_ROW_STORE];
	const char *vals[PG_ROW_MAX];
};

int probe_pg_data_row(const uint8_t *body, size_t len, char *store, size_t cap,
		      const char **vals, int max)
{
	struct pgc_reader r;
	pgc_reader_init(&r, body, len);
	int n = pgc_read_u16(&r);
	size_t used = 0;
	for (int i = 0; i < max; i++)
		vals[i] = NULL;
	for (int i = 0; i < n; i++) {
		uint32_t l = pgc_read_u32(&r);
		if (r.bad)
			return -1;
		if (l == 0xffffffffu)
			continue;
		const uint8_t *v = pgc_read_bytes(&r, l);
		if (r.bad)
			return -1;
		if (i >= max)
			continue;
		if (used + l + 1 > cap)
			return -1;
		memcpy(store + used, v, l);
		store[used + l] = '\0';
		vals[i] = store + used;
		used += l + 1;
	}
	return r.bad || pgc_reader_left(&r) ? -1 : n;
}

static struct pg_probe *pg_of(struct probe *p) { return p->proto; }

static int send_buf(struct probe *p, struct buf *b)
{
	int rc = b->oom ? -1 : probe_write(p, b->data, b->len);
	buf_free(b);
	return rc;
}

static void send_startup(struct probe *p)
{
	struct buf b;
	buf_init(&b);
	size_t st = pgc_begin(&b, 0);
	buf_put_u32be(&b, PGC_PROTOCOL_3_0);
	buf_put_cstr(&b, "user");
	buf_put_cstr(&b, p->params.user);
	buf_put_cstr(&b, "database");
	buf_put_cstr(&b, p->params.database);
	buf_put_cstr(&b, "application_name");
	buf_put_cstr(&b, "switchyard-health");
	buf_put_u8(&b, 0);
	pgc_end(&b, st);
	if (send_buf(p, &b) < 0)
		probe_fail(p, "out of memory");
}

static void connected(struct probe *p)
{
	struct pg_probe *pp = calloc(1, sizeof(*pp));
	if (!pp) {
		probe_fail(p, "out of memory");
		return;
	}
	p->proto = pp;
	if (!probe_tls_wanted(p)) {
		send_startup(p);
		return;
	}
	struct buf b;
	buf_init(&b);
	pgc_put_ssl_request(&b);
	pp->ssl_asked = true;
	if (send_buf(p, &b) < 0)
		probe_fail(p, "out of memory");
}

/* The server's one byte: 'S' (TLS next) or 'N'. */
static void handle_ssl_answer(struct probe *p)
{
	struct pg_probe *pp = pg_of(p);
	struct evbuffer *in = bufferevent_get_input(p->bev);
	char c;
	if (evbuffer_remove(in, &c, 1) != 1)
		return;
	pp->ssl_asked = false;
	if (c == 'S') {
		if (evbuffer_get_length(in) > 0) {
			probe_fail(p, "server sent unencrypted data after its SSL answer");
			return;
		}
		(void)probe_start_tls(p);
		return;
	}
	if (c == 'N' && !probe_tls_required(p)) {
		send_startup(p); /* server_tls_mode = prefer: plain */
		return;
	}
	if (c == 'N')
		probe_fail(p, "server does not accept TLS (server_tls_mode requires it)");
	else
		probe_fail(p, "bad answer to the SSL request");
}

/* One Authentication request. 0, or -1 when the probe was failed. */
static int handle_auth(struct probe *p, const struct pgc_msg *m)
{
	struct pg_probe *pp = pg_of(p);
	const char *pw = p->params.has_password ? p->params.password : NULL;
	struct pgc_reader r;
	pgc_reader_init(&r, m->body, m->body_len);
	uint32_t code = pgc_read_u32(&r);
	struct buf b;
	buf_init(&b);
	char out[512];
	const char *err = NULL;
	switch (code) {
	case PGC_AUTH_OK:
		return 0;
	case PGC_AUTH_CLEARTEXT:
		if (!pw)
			goto nopw;
		pgc_put_password(&b, pw);
		break;
	case PGC_AUTH_MD5: {
		const uint8_t *salt = pgc_read_bytes(&r, 4);
		char stored[PG_MD5_BUF], resp[PG_MD5_BUF];
		if (r.bad) {
			probe_fail(p, "malformed md5 request");
			return -1;
		}
		if (!pw)
			goto nopw;
		if (pg_md5_stored(pw, p->params.user, stored) < 0 ||
		    pg_md5_response(stored, salt, resp) < 0) {
			probe_fail(p, "md5 is not available");
			return -1;
		}
		pgc_put_password(&b, resp);
		break;
	}
	case PGC_AUTH_SASL: {
		bool found = false;
		for (;;) {
			const char *mech = pgc_read_cstr(&r);
			if (r.bad || !*mech)
				break;
			if (strcmp(mech, "SCRAM-SHA-256") == 0)
				found = true;
		}
		if (!found) {
			probe_fail(p, "server offers no SASL mechanism we support");
			return -1;
		}
		if (!pw)
			goto nopw;
		pp->scram_used = true;
		if (scram_client_init(&pp->scram, pw, NULL, NULL) < 0 ||
		    scram_client_first(&pp->scram, out, sizeof(out)) < 0) {
			probe_fail(p, "could not start SCRAM authentication");
			return -1;
		}
		pgc_put_sasl_initial(&b, "SCRAM-SHA-256", out, strlen(out));
		break;
	}
	case PGC_AUTH_SASL_CONTINUE: {
		size_t n = pgc_reader_left(&r);
		const char *data = (const char *)pgc_read_bytes(&r, n);
		if (!pp->scram_used ||
		    scram_client_final(&pp->scram, data, n, out, sizeof(out), &err) < 0) {
			probe_fail(p, "SCRAM exchange failed: %s", err ? err : "unexpected message");
			return -1;
		}
		pgc_put_sasl_response(&b, out, strlen(out));
		break;
	}
	case PGC_AUTH_SASL_FINAL: {
		size_t n = pgc_reader_left(&r);
		const char *data = (const char *)pgc_read_bytes(&r, n);
		if (!pp->scram_used || scram_client_verify(&pp->scram, data, n, &err) < 0) {
			probe_fail(p, "server's SCRAM signature is wrong: %s", err ? err : "?");
			return -1;
		}
		return 0;
	}
	default:
		probe_fail(p, "server asks for an authentication method we do not support (%u)", code);
		return -1;
	}
	if (send_buf(p, &b) < 0) {
		probe_fail(p, "out of memory");
		return -1;
	}
	return 0;
nopw:
	buf_free(&b);
	probe_fail(p, "server asks for a password and none is configured for monitor user %s",
		   p->params.user);
	return -1;
}

static void finish_query(struct probe *p)
{
	struct pg_probe *pp = pg_of(p);
	struct health_beat beat;
	const char *why = NULL;
	int rc;
	if (pp->error) {
		probe_report(p, PROBE_EV_QUERY_ERROR, NULL, pp->err);
		return;
	}
	if (p->query == HEALTH_Q_COMMAND) {
		memset(&beat, 0, sizeof(beat));
		probe_report(p, PROBE_EV_RESULT, &beat, pp->got_row ? pp->vals[0] : NULL);
		return;
	}
	if (!pp->got_row) {
		probe_report(p, PROBE_EV_QUERY_ERROR, NULL, "the query returned no row");
		return;
	}
	if (p->query == HEALTH_Q_BEAT)
		rc = health_pg_parse_beat(pp->vals, &beat, &why);
	else
		rc = health_pg_parse_position(pp->vals[0], &beat, &why);
	if (rc < 0)
		probe_report(p, PROBE_EV_QUERY_ERROR, NULL, why);
	else
		probe_report(p, PROBE_EV_RESULT, &beat, NULL);
}

static void readable(struct probe *p)
{
	struct pg_probe *pp = pg_of(p);
	if (pp->ssl_asked) {
		handle_ssl_answer(p);
		return;
	}
	struct evbuffer *in = bufferevent_get_input(p->bev);
	struct pgc_limits lim = { .max_packet_size = p->max_packet };
	while (p->bev && (p->state == PROBE_LOGIN || p->state == PROBE_BUSY)) {
		struct pgc_msg m;
		ssize_t r = pg_evbuf_next(in, &lim, &m);
		if (r == 0)
			return;
		if (r < 0) {
			probe_fail(p, "bad message from server: %s", pgc_err_str(r));
			return;
		}
		if (m.type == 'E') {
			struct pgc_error_fields ef;
			if (pgc_parse_error(m.body, m.body_len, &ef) < 0) {
				probe_fail(p, "malformed error from server");
				return;
			}
			if (p->state == PROBE_LOGIN) {
				probe_fail(p, "login refused: %s %s", ef.code, ef.message);
				return;
			}
			pp->error = true;
			snprintf(pp->err, sizeof(pp->err), "%s %s", ef.code, ef.message);
		} else if (m.type == 'R' && p->state == PROBE_LOGIN) {
			if (handle_auth(p, &m) < 0)
				return;
		} else if (m.type == 'D' && p->state == PROBE_BUSY && !pp->got_row) {
			if (probe_pg_data_row(m.body, m.body_len, pp->store, sizeof(pp->store), pp->vals,
					      PG_ROW_MAX) < 0) {
				probe_fail(p, "malformed or oversized row from server");
				return;
			}
			pp->got_row = true;
		} else if (m.type == 'Z') {
			evbuffer_drain(in, (size_t)r);
			if (p->state == PROBE_LOGIN) {
				scram_client_clear(&pp->scram);
				probe_report(p, PROBE_EV_READY, NULL, NULL);
			} else {
				finish_query(p);
			}
			continue;
		}
		/* T, C, S, K, N, NegotiateProtocolVersion: nothing to do. */
		evbuffer_drain(in, (size_t)r);
	}
	if (p->bev && p->state == PROBE_IDLE && evbuffer_get_length(in) > 0) {
		/* An idle server speaks only to say it is going away (57P01). */
		struct pgc_msg m;
		if (pg_evbuf_next(in, &lim, &m) > 0 && m.type == 'E') {
			struct pgc_error_fields ef;
			if (pgc_parse_error(m.body, m.body_len, &ef) == 0) {
				probe_fail(p, "server closed the connection: %s %s", ef.code, ef.message);
				return;
			}
		}
		evbuffer_drain(in, evbuffer_get_length(in));
	}
}

static int query(struct probe *p, enum health_query q, enum node_role role)
{
	struct pg_probe *pp = pg_of(p);
	pp->error = false;
	pp->err[0] = '\0';
	pp->got_row = false;
	struct buf b;
	buf_init(&b);
	const char *sql = q == HEALTH_Q_BEAT	   ? health_pg_beat_sql
			  : q == HEALTH_Q_COMMAND ? p->command
						  : health_pg_position_sql;
	if (!sql)
		return -1;
	pgc_put_query(&b, sql);
	return send_buf(p, &b);
}

static void goodbye(struct probe *p, struct buf *out) { pgc_put_terminate(out); }

static void pg_free(void *proto)
{
	struct pg_probe *pp = proto;
	scram_client_clear(&pp->scram);
	free(pp);
}

const struct probe_proto probe_pg_proto = {
	.connected = connected,
	.tls_ready = send_startup,
	.readable = readable,
	.query = query,
	.goodbye = goodbye,
	.free = pg_free,
};
