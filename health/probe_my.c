/*
 * probe_my.c — a MariaDB/MySQL monitor connection: login and one query
 * at a time (probe_my.h).
 */
#include "health/probe_my.h"

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "proxy/mysql/myauth.h"
#include "proxy/mysql/myc.h"
#include "proxy/mysql/myle.h"

/* What the monitor asks for: classic results (EOF packets), multiple
 * statements in one COM_QUERY, no MariaDB extensions. */
#define PROBE_MY_CAPS                                                                      \
	(CLIENT_MYSQL | CLIENT_LONG_FLAG | CLIENT_CONNECT_WITH_DB | CLIENT_PROTOCOL_41 |      \
	 CLIENT_TRANSACTIONS | CLIENT_SECURE_CONNECTION | CLIENT_MULTI_STATEMENTS |           \
	 CLIENT_MULTI_RESULTS | CLIENT_PLUGIN_AUTH | CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA)
#define PROBE_MY_REQUIRED                                                                  \
	(CLIENT_PROTOCOL_41 | CLIENT_SECURE_CONNECTION | CLIENT_MULTI_STATEMENTS |             \
	 CLIENT_MULTI_RESULTS)

#define MY_STORE 8192
#define MY_VALS 3

enum my_step { MY_HANDSHAKE, MY_AUTH, MY_PUBKEY };
enum my_rs { RS_START, RS_COLS, RS_COLS_EOF, RS_ROWS };

struct my_probe {
	enum my_step step;
	uint8_t resp_seq;             /* the handshake response's: 2 after an SSLRequest */
	uint32_t caps;
	uint8_t nonce[MYC_SCRAMBLE_LEN];
	char plugin[64];
	char version[64];
	enum health_my_flavor flavor;
	/* the query in flight */
	enum my_rs rs;
	int set;                      /* result set index */
	uint64_t ncols, col;
	int idx_io, idx_sql, idx_sbm; /* replication row columns, -1: absent */
	bool got_row[2];
	bool error;
	char err[240];
	size_t used;
	char store[MY_STORE];
	const char *vals[MY_VALS];    /* set 0: the variables */
	const char *io, *sql, *sbm;   /* set 1: the replication row */
};

static struct my_probe *my_of(struct probe *p) { return p->proto; }

static int send_buf(struct probe *p, struct buf *b)
{
	int rc = b->oom ? -1 : probe_write(p, b->data, b->len);
	buf_free(b);
	return rc;
}

static void connected(struct probe *p)
{
	struct my_probe *mp = calloc(1, sizeof(*mp));
	if (!mp) {
		probe_fail(p, "out of memory");
		return;
	}
	p->proto = mp;
	mp->step = MY_HANDSHAKE; /* the server speaks first */
}

/* The response for `plugin`; -1 when we cannot answer it. */
static int auth_response(struct probe *p, const char *plugin, uint8_t *out, size_t *len)
{
	struct my_probe *mp = my_of(p);
	const char *pw = p->params.has_password ? p->params.password : "";
	if (plugin[0] == '\0' || strcmp(plugin, "mysql_native_password") == 0) {
		*len = myauth_native_scramble(pw, strlen(pw), mp->nonce, out);
		return 0;
	}
	if (strcmp(plugin, "caching_sha2_password") == 0) {
		*len = myauth_sha2_scramble(pw, strlen(pw), mp->nonce, out);
		return 0;
	}
	if (strcmp(plugin, "mysql_clear_password") == 0 && (p->addr.kind == CFG_ADDR_UNIX || p->tls_on) &&
	    strlen(pw) + 1 <= 255) {
		*len = strlen(pw) + 1;
		memcpy(out, pw, *len);
		return 0;
	}
	return -1;
}

static void send_raw(struct probe *p, uint8_t seq, const void *data, size_t len)
{
	struct buf b;
	buf_init(&b);
	myc_put_raw(&b, seq, data, len);
	if (send_buf(p, &b) < 0)
		probe_fail(p, "out of memory");
}

static void send_response(struct probe *p);

static void handle_handshake(struct probe *p, const uint8_t *pkt, size_t n)
{
	struct my_probe *mp = my_of(p);
	if (n > 0 && pkt[0] == MYC_ERR) {
		struct myc_errp e;
		if (myc_parse_err(pkt, n, &e) == 0)
			probe_fail(p, "server refused the connection: %u %.*s", e.code,
				   (int)e.message.len, (const char *)e.message.p);
		else
			probe_fail(p, "server refused the connection");
		return;
	}
	struct myc_handshake h;
	if (myc_parse_handshake(pkt, n, &h) < 0 || h.protocol != 10 ||
	    h.auth_data_len < MYC_SCRAMBLE_LEN) {
		probe_fail(p, "malformed or unsupported handshake from server");
		return;
	}
	if ((h.caps & PROBE_MY_REQUIRED) != PROBE_MY_REQUIRED) {
		probe_fail(p, "server lacks capabilities the monitor needs (flags %#x)", h.caps);
		return;
	}
	memcpy(mp->nonce, h.auth_data, MYC_SCRAMBLE_LEN);
	snprintf(mp->plugin, sizeof(mp->plugin), "%.*s", (int)h.plugin.len, (const char *)h.plugin.p);
	snprintf(mp->version, sizeof(mp->version), "%.*s", (int)h.server_version.len,
		 (const char *)h.server_version.p);
	mp->flavor = health_my_flavor_of(mp->version);
	/* No schema: the monitor reads only global variables. (The
	 * SSLRequest's flags must be the response's: MariaDB keeps the
	 * first ones, and would read the plugin name as a schema.) */
	mp->caps = ((PROBE_MY_CAPS & h.caps) | CLIENT_MYSQL) & ~CLIENT_CONNECT_WITH_DB;
	if (probe_tls_wanted(p) && (h.caps & CLIENT_SSL)) {
		mp->caps |= CLIENT_SSL;
		struct buf b;
		buf_init(&b);
		myc_put_ssl_request(&b, 1, mp->caps, 0, 16 * 1024 * 1024, 45);
		/* Straight on the socket: the bufferevent is replaced next. */
		bool ok = !b.oom && evbuffer_get_length(bufferevent_get_output(p->bev)) == 0 &&
			  send(bufferevent_getfd(p->bev), b.data, b.len, MSG_NOSIGNAL) == (ssize_t)b.len;
		buf_free(&b);
		if (!ok) {
			probe_fail(p, "could not start TLS");
			return;
		}
		mp->resp_seq = 2;
		(void)probe_start_tls(p); /* then tls_ready: send_response() */
		return;
	}
	if (probe_tls_required(p)) {
		probe_fail(p, "server does not accept TLS (server_tls_mode requires it)");
		return;
	}
	mp->resp_seq = 1;
	send_response(p);
}

/* The handshake response (after TLS when it was asked for). */
static void send_response(struct probe *p)
{
	struct my_probe *mp = my_of(p);
	uint8_t auth[256];
	size_t alen = 0;
	const char *plugin = mp->plugin;
	if (auth_response(p, plugin, auth, &alen) < 0) {
		plugin = "mysql_native_password"; /* the server may switch us */
		(void)auth_response(p, plugin, auth, &alen);
	}
	struct myc_response_params rp = {
		.caps = mp->caps,
		.max_packet = 16 * 1024 * 1024,
		.charset = 45, /* utf8mb4_general_ci */
		.user = p->params.user,
		.auth = auth,
		.auth_len = alen,
		.database = NULL, /* the monitor reads only global variables */
		.plugin = (mp->caps & CLIENT_PLUGIN_AUTH) ? plugin : NULL,
	};
	struct buf b;
	buf_init(&b);
	myc_put_handshake_response(&b, mp->resp_seq, &rp);
	OPENSSL_cleanse(auth, sizeof(auth));
	if (send_buf(p, &b) < 0) {
		probe_fail(p, "out of memory");
		return;
	}
	mp->step = MY_AUTH;
}

static void handle_auth(struct probe *p, uint8_t seq, const uint8_t *pkt, size_t n)
{
	struct my_probe *mp = my_of(p);
	const char *pw = p->params.has_password ? p->params.password : "";
	if (n == 0) {
		probe_fail(p, "empty packet from server during login");
		return;
	}
	if (pkt[0] == MYC_OK && mp->step != MY_PUBKEY) {
		probe_report(p, PROBE_EV_READY, NULL, NULL);
		return;
	}
	if (pkt[0] == MYC_ERR) {
		struct myc_errp e;
		if (myc_parse_err(pkt, n, &e) == 0)
			probe_fail(p, "login refused: ERROR %u (%s): %.*s", e.code, e.sqlstate,
				   (int)e.message.len, (const char *)e.message.p);
		else
			probe_fail(p, "login refused");
		return;
	}
	if (pkt[0] == MYC_AUTH_SWITCH) {
		struct myc_auth_switch as;
		if (myc_parse_auth_switch(pkt, n, &as) < 0 || as.data.len < MYC_SCRAMBLE_LEN) {
			probe_fail(p, "malformed AuthSwitchRequest from server");
			return;
		}
		memcpy(mp->nonce, as.data.p, MYC_SCRAMBLE_LEN);
		snprintf(mp->plugin, sizeof(mp->plugin), "%.*s", (int)as.plugin.len,
			 (const char *)as.plugin.p);
		uint8_t auth[256];
		size_t alen = 0;
		if (auth_response(p, mp->plugin, auth, &alen) < 0) {
			probe_fail(p, "server asks for authentication plugin %s, which the monitor cannot answer",
				   mp->plugin);
			return;
		}
		send_raw(p, (uint8_t)(seq + 1), auth, alen);
		OPENSSL_cleanse(auth, sizeof(auth));
		return;
	}
	if (pkt[0] == MYC_AUTH_MORE_DATA) {
		struct myc_str d;
		if (myc_parse_auth_more_data(pkt, n, &d) < 0) {
			probe_fail(p, "malformed AuthMoreData from server");
			return;
		}
		if (mp->step == MY_PUBKEY) {
			struct buf ct;
			buf_init(&ct);
			if (myauth_rsa_encrypt_password(d.p, d.len, pw, strlen(pw), mp->nonce,
							MYC_SCRAMBLE_LEN, &ct) < 0 || ct.oom) {
				buf_free(&ct);
				probe_fail(p, "could not encrypt the password with the server's RSA key");
				return;
			}
			mp->step = MY_AUTH;
			send_raw(p, (uint8_t)(seq + 1), ct.data, ct.len);
			buf_free(&ct);
			return;
		}
		if (d.len == 1 && d.p[0] == MYC_SHA2_FAST_AUTH_OK)
			return; /* the OK follows */
		if (d.len == 1 && d.p[0] == MYC_SHA2_PERFORM_FULL_AUTH) {
			if (p->addr.kind == CFG_ADDR_UNIX || p->tls_on) {
				send_raw(p, (uint8_t)(seq + 1), pw, strlen(pw) + 1);
			} else {
				uint8_t req = MYC_SHA2_REQUEST_PUBLIC_KEY;
				mp->step = MY_PUBKEY;
				send_raw(p, (uint8_t)(seq + 1), &req, 1);
			}
			return;
		}
		probe_fail(p, "unexpected AuthMoreData from server");
		return;
	}
	probe_fail(p, "unexpected packet %#x from server during login", pkt[0]);
}

/* ---- results ---- */

static const char *keep(struct my_probe *mp, struct myc_str v)
{
	if (mp->used + v.len + 1 > sizeof(mp->store))
		return NULL;
	char *s = mp->store + mp->used;
	memcpy(s, v.p, v.len);
	s[v.len] = '\0';
	mp->used += v.len + 1;
	return s;
}

static bool name_is(const struct myc_str *s, const char *a, const char *b)
{
	return (s->len == strlen(a) && strncasecmp((const char *)s->p, a, s->len) == 0) ||
	       (s->len == strlen(b) && strncasecmp((const char *)s->p, b, s->len) == 0);
}

static void finish_query(struct probe *p)
{
	struct my_probe *mp = my_of(p);
	struct health_beat beat;
	const char *why = NULL;
	int rc;
	if (mp->error) {
		probe_report(p, PROBE_EV_QUERY_ERROR, NULL, mp->err);
		return;
	}
	if (p->query == HEALTH_Q_COMMAND) {
		memset(&beat, 0, sizeof(beat));
		probe_report(p, PROBE_EV_RESULT, &beat, mp->got_row[0] ? mp->vals[0] : NULL);
		return;
	}
	if (!mp->got_row[0]) {
		probe_report(p, PROBE_EV_QUERY_ERROR, NULL, "the query returned no row");
		return;
	}
	if (p->query == HEALTH_Q_BEAT) {
		struct health_my_replica rs = {
			.present = mp->got_row[1],
			.io_running = mp->io,
			.sql_running = mp->sql,
			.seconds_behind = mp->sbm,
		};
		rc = health_my_parse_beat(mp->flavor, mp->vals[0], mp->vals[1], mp->vals[2], &rs, &beat,
					  &why);
	} else {
		rc = health_my_parse_position(mp->flavor, mp->vals[0], &beat, &why);
	}
	if (rc < 0)
		probe_report(p, PROBE_EV_QUERY_ERROR, NULL, why);
	else
		probe_report(p, PROBE_EV_RESULT, &beat, NULL);
}

/* One row of result set mp->set: keep the first. 0 or -1 (failed). */
static int take_row(struct probe *p, const uint8_t *pkt, size_t n)
{
	struct my_probe *mp = my_of(p);
	if (mp->set > 1 || mp->got_row[mp->set])
		return 0;
	mp->got_row[mp->set] = true;
	size_t off = 0;
	struct myc_str v;
	bool is_null;
	int i = 0, r;
	while ((r = myc_text_row_next(pkt, n, &off, &v, &is_null)) == 1) {
		const char *s = is_null ? NULL : keep(mp, v);
		if (!is_null && !s) {
			probe_fail(p, "oversized answer from server");
			return -1;
		}
		if (mp->set == 0 && i < MY_VALS)
			mp->vals[i] = s;
		else if (mp->set == 1) {
			if (i == mp->idx_io)
				mp->io = s;
			if (i == mp->idx_sql)
				mp->sql = s;
			if (i == mp->idx_sbm)
				mp->sbm = s;
		}
		i++;
	}
	if (r < 0) {
		probe_fail(p, "malformed row from server");
		return -1;
	}
	return 0;
}

/* One packet of a query's answer. */
static void handle_result(struct probe *p, const uint8_t *pkt, size_t n)
{
	struct my_probe *mp = my_of(p);
	if (n == 0) {
		probe_fail(p, "empty packet from server");
		return;
	}
	if (pkt[0] == MYC_ERR && mp->rs != RS_COLS) {
		struct myc_errp e;
		if (myc_parse_err(pkt, n, &e) == 0)
			snprintf(mp->err, sizeof(mp->err), "ERROR %u (%s): %.*s", e.code, e.sqlstate,
				 (int)e.message.len, (const char *)e.message.p);
		else
			snprintf(mp->err, sizeof(mp->err), "error from server");
		mp->error = true;
		finish_query(p); /* an error ends a multi-statement query */
		return;
	}
	switch (mp->rs) {
	case RS_START:
		if (pkt[0] == MYC_OK) {
			struct myc_ok ok;
			if (myc_parse_ok(pkt, n, mp->caps, &ok) < 0) {
				probe_fail(p, "malformed OK from server");
				return;
			}
			mp->set++;
			if (!(ok.status & SERVER_MORE_RESULTS_EXISTS))
				finish_query(p);
			return;
		}
		bool meta = true;
		if (myc_parse_column_count(pkt, n, mp->caps, 0, &mp->ncols, &meta) < 0 || !meta ||
		    mp->ncols == 0) {
			probe_fail(p, "malformed column count from server");
			return;
		}
		mp->col = 0;
		mp->rs = RS_COLS;
		return;
	case RS_COLS: {
		struct myc_column c;
		if (myc_parse_column(pkt, n, 0, &c) < 0) {
			probe_fail(p, "malformed column definition from server");
			return;
		}
		if (mp->set == 1) {
			int i = (int)mp->col;
			if (name_is(&c.name, "Slave_IO_Running", "Replica_IO_Running"))
				mp->idx_io = i;
			if (name_is(&c.name, "Slave_SQL_Running", "Replica_SQL_Running"))
				mp->idx_sql = i;
			if (name_is(&c.name, "Seconds_Behind_Master", "Seconds_Behind_Source"))
				mp->idx_sbm = i;
		}
		if (++mp->col == mp->ncols)
			mp->rs = RS_COLS_EOF;
		return;
	}
	case RS_COLS_EOF:
		if (!myc_is_eof(pkt, n)) {
			probe_fail(p, "expected EOF after column definitions");
			return;
		}
		mp->rs = RS_ROWS;
		return;
	case RS_ROWS:
		if (myc_is_eof(pkt, n)) {
			struct myc_eof e;
			if (myc_parse_eof(pkt, n, &e) < 0) {
				probe_fail(p, "malformed EOF from server");
				return;
			}
			mp->set++;
			mp->rs = RS_START;
			if (!(e.status & SERVER_MORE_RESULTS_EXISTS))
				finish_query(p);
			return;
		}
		(void)take_row(p, pkt, n);
		return;
	}
}

static void readable(struct probe *p)
{
	struct evbuffer *in = bufferevent_get_input(p->bev);
	struct myc_limits lim = { .max_packet_size = p->max_packet };
	while (p->bev && (p->state == PROBE_LOGIN || p->state == PROBE_BUSY)) {
		struct my_probe *mp = my_of(p);
		uint8_t hdr[MYC_HEADER_LEN];
		if (evbuffer_copyout(in, hdr, sizeof(hdr)) < (ssize_t)sizeof(hdr))
			return;
		size_t len = myle_get_u24(hdr);
		if (len >= p->max_packet || len == MYC_MAX_FRAME) {
			probe_fail(p, "oversized packet from server");
			return;
		}
		size_t total = MYC_HEADER_LEN + len;
		if (evbuffer_get_length(in) < total)
			return;
		uint8_t *raw = evbuffer_pullup(in, (ev_ssize_t)total);
		struct myc_frame f;
		if (!raw || myc_frame_next(raw, total, &lim, NULL, &f) <= 0) {
			probe_fail(p, "malformed packet from server");
			return;
		}
		/* Copy: handlers may fail the probe (freeing the buffer). */
		uint8_t *pkt = malloc(f.len ? f.len : 1);
		if (!pkt) {
			probe_fail(p, "out of memory");
			return;
		}
		memcpy(pkt, f.payload, f.len);
		size_t n = f.len;
		uint8_t seq = f.seq;
		evbuffer_drain(in, total);
		if (p->state == PROBE_LOGIN && mp->step == MY_HANDSHAKE)
			handle_handshake(p, pkt, n);
		else if (p->state == PROBE_LOGIN)
			handle_auth(p, seq, pkt, n);
		else
			handle_result(p, pkt, n);
		OPENSSL_cleanse(pkt, n);
		free(pkt);
	}
	if (p->bev && p->state == PROBE_IDLE && evbuffer_get_length(in) > 0) {
		/* An idle server speaks only before it closes (e.g. wait_timeout). */
		probe_fail(p, "server sent data while idle (closing)");
	}
}

static int query(struct probe *p, enum health_query q, enum node_role role)
{
	struct my_probe *mp = my_of(p);
	mp->rs = RS_START;
	mp->set = 0;
	mp->ncols = mp->col = 0;
	mp->idx_io = mp->idx_sql = mp->idx_sbm = -1;
	mp->got_row[0] = mp->got_row[1] = false;
	mp->error = false;
	mp->err[0] = '\0';
	mp->used = 0;
	for (int i = 0; i < MY_VALS; i++)
		mp->vals[i] = NULL;
	mp->io = mp->sql = mp->sbm = NULL;
	struct buf b;
	buf_init(&b);
	const char *sql = q == HEALTH_Q_BEAT	   ? health_my_beat_sql(mp->flavor, mp->version)
			  : q == HEALTH_Q_COMMAND ? p->command
						  : health_my_position_sql(mp->flavor, role);
	if (!sql) {
		buf_free(&b);
		return -1;
	}
	myc_put_query(&b, sql);
	return send_buf(p, &b);
}

static void goodbye(struct probe *p, struct buf *out) { myc_put_quit(out); }

static void my_free(void *proto)
{
	struct my_probe *mp = proto;
	OPENSSL_cleanse(mp->nonce, sizeof(mp->nonce));
	free(mp);
}

const struct probe_proto probe_my_proto = {
	.connected = connected,
	.tls_ready = send_response,
	.readable = readable,
	.query = query,
	.goodbye = goodbye,
	.free = my_free,
};
