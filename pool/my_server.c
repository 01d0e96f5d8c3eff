/*
 * my_server.c — a MySQL/MariaDB server connection: connect, handshake,
 * TLS, login, reset, goodbye. See my_server.h for the capability rule.
 *
 * States are pg_server.c's (server_set_state() moves the connection
 * between its pool's lists); login sub-steps are struct my_server's
 * `step`. While SV_ACTIVE the linked client reads the connection.
 */
#include "pool/my_server.h"

#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "pool/pool.h"
#include "proxy/mysql/myauth.h"
#include "proxy/mysql/myle.h"
#include "proxy/pg/pg_evbuf.h"
#include "proxy/tls.h"
#include "util/log.h"

/* Login packets are small; the RSA key is the largest. */
#define MY_LOGIN_MAX 65536

static void read_cb(struct bufferevent *bev, void *arg);
static void write_cb(struct bufferevent *bev, void *arg);
static void event_cb(struct bufferevent *bev, short what, void *arg);

/* ---- tracked variables ---- */

static int vars_find(const struct my_vars *v, const char *key)
{
	for (int i = 0; i < v->n; i++)
		if (strcmp(v->keys[i], key) == 0)
			return i;
	return -1;
}

void my_vars_set(struct my_vars *v, const char *key, const char *val, size_t len)
{
	char *nv = strndup(val, len);
	if (!nv)
		return;
	int i = vars_find(v, key);
	if (i >= 0) {
		free(v->vals[i]);
		v->vals[i] = nv;
		return;
	}
	char **nk = realloc(v->keys, (size_t)(v->n + 1) * sizeof(char *));
	if (nk)
		v->keys = nk;
	char **nvs = realloc(v->vals, (size_t)(v->n + 1) * sizeof(char *));
	if (nvs)
		v->vals = nvs;
	char *k = strdup(key);
	if (!nk || !nvs || !k) {
		free(k);
		free(nv);
		return;
	}
	v->keys[v->n] = k;
	v->vals[v->n] = nv;
	v->n++;
}

const char *my_vars_get(const struct my_vars *v, const char *key)
{
	int i = vars_find(v, key);
	return i < 0 ? NULL : v->vals[i];
}

void my_vars_del(struct my_vars *v, const char *key)
{
	int i = vars_find(v, key);
	if (i < 0)
		return;
	free(v->keys[i]);
	free(v->vals[i]);
	memmove(v->keys + i, v->keys + i + 1, (size_t)(v->n - i - 1) * sizeof(char *));
	memmove(v->vals + i, v->vals + i + 1, (size_t)(v->n - i - 1) * sizeof(char *));
	v->n--;
}

void my_vars_clear(struct my_vars *v)
{
	for (int i = 0; i < v->n; i++) {
		free(v->keys[i]);
		free(v->vals[i]);
	}
	free(v->keys);
	free(v->vals);
	memset(v, 0, sizeof(*v));
}

/* ---- state ---- */

static void stmts_clear(struct my_server *ms)
{
	strmap_free(&ms->stmts, free);
	strmap_init(&ms->stmts);
	ms->n_stmts = 0;
}

void my_server_free(void *my)
{
	struct my_server *ms = my;
	if (!ms)
		return;
	strmap_free(&ms->stmts, free);
	my_vars_clear(&ms->vars);
	free(ms->schema);
	OPENSSL_cleanse(ms->nonce, sizeof(ms->nonce));
	free(ms);
}

void my_server_set_status(struct server *s, uint16_t status)
{
	struct my_server *ms = my_server_of(s);
	ms->status = status;
	s->tx_status = (status & SERVER_STATUS_IN_TRANS) ? 'T' : 'I';
}

void my_server_set_schema(struct server *s, const char *schema, size_t len)
{
	struct my_server *ms = my_server_of(s);
	char *n = strndup(schema, len);
	free(ms->schema);
	ms->schema = n;
}

struct my_sstmt *my_server_stmt_get(struct server *s, const char *key)
{
	struct my_server *ms = my_server_of(s);
	struct my_sstmt *st = strmap_get(&ms->stmts, key);
	if (st)
		st->last_used = ++ms->stmt_clock;
	return st;
}

static void send_close(struct server *s, uint32_t id)
{
	struct buf b;
	buf_init(&b);
	myc_put_stmt_close(&b, id);
	pg_bev_send(s->bev, &b);
	buf_free(&b);
}

struct lru_find {
	const char *key;
	uint64_t used;
};

static void lru_cb(const char *key, void *value, void *arg)
{
	struct lru_find *f = arg;
	struct my_sstmt *st = value;
	if (!f->key || st->last_used < f->used) {
		f->key = key;
		f->used = st->last_used;
	}
}

void my_server_stmt_put(struct server *s, const char *key, uint32_t id, uint16_t num_params,
			uint16_t num_columns, int max)
{
	struct my_server *ms = my_server_of(s);
	struct my_sstmt *st = calloc(1, sizeof(*st));
	if (!st) {
		send_close(s, id);
		return;
	}
	st->id = id;
	st->num_params = num_params;
	st->num_columns = num_columns;
	st->last_used = ++ms->stmt_clock;
	bool failed = false;
	struct my_sstmt *old = strmap_put(&ms->stmts, key, st, &failed);
	if (failed) {
		free(st);
		send_close(s, id);
		return;
	}
	if (old) {
		if (old->id != id)
			send_close(s, old->id);
		free(old);
	} else {
		ms->n_stmts++;
	}
	while (max > 0 && ms->n_stmts > max) {
		struct lru_find f = { NULL, 0 };
		strmap_each(&ms->stmts, lru_cb, &f);
		if (!f.key)
			break;
		char *k = strdup(f.key);
		if (!k)
			break;
		struct my_sstmt *victim = strmap_del(&ms->stmts, k);
		free(k);
		if (victim) {
			send_close(s, victim->id);
			free(victim);
		}
		ms->n_stmts--;
	}
}

/* ---- login ---- */

static void login_failed(struct server *s, const char *sqlstate, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void login_failed(struct server *s, const char *sqlstate, const char *fmt, ...)
{
	char msg[400];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	struct log_who who = { .server = s->id, .node = s->pool->addr.text };
	log_who_msg(LOG_WARNING, &who, "%s", msg);
	pool_server_failed(s->pool, s, sqlstate, msg);
}

static void timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct server *s = arg;
	login_failed(s, "08006", "server %s did not answer within server_connect_timeout",
		     s->pool->addr.text);
}

struct server *my_server_connect(struct pool *p)
{
	struct pool_set *ps = p->set;
	struct server *s = calloc(1, sizeof(*s));
	struct my_server *ms = calloc(1, sizeof(*ms));
	if (!s || !ms) {
		free(s);
		free(ms);
		return NULL;
	}
	strmap_init(&ms->stmts);
	s->my = ms;
	s->pool = p;
	s->id = ++ps->next_id;
	s->state = SV_CLOSED;
	s->tx_status = 'I';
	list_init(&s->node);
	list_init(&s->dead_node);
	pg_stmt_cache_init(&s->stmts);
	s->created_ms = s->last_used_ms = now_ms();
	server_set_state(s, SV_CONNECTING);
	p->servers_opened++;

	struct sockaddr_storage ss;
	socklen_t sl;
	if (server_sockaddr(&p->addr, &ss, &sl) < 0) {
		login_failed(s, "08001", "could not resolve server address %s", p->addr.text);
		return NULL;
	}
	s->bev = bufferevent_socket_new(ps->base, -1, BEV_OPT_CLOSE_ON_FREE);
	s->timer = evtimer_new(ps->base, timer_cb, s);
	if (!s->bev || !s->timer) {
		pool_server_failed(p, s, "53200", "out of memory opening a server connection");
		return NULL;
	}
	bufferevent_setcb(s->bev, read_cb, write_cb, event_cb, s);
	bufferevent_setwatermark(s->bev, EV_READ, 0, 256 * 1024);
	bufferevent_setwatermark(s->bev, EV_WRITE, 64 * 1024, 0);
	bufferevent_disable(s->bev, EV_WRITE); /* direct writes (pg_evbuf.h) */
	bufferevent_enable(s->bev, EV_READ);
	if (p->st.connect_timeout_ms > 0) {
		struct timeval tv = { p->st.connect_timeout_ms / 1000,
				      (p->st.connect_timeout_ms % 1000) * 1000 };
		evtimer_add(s->timer, &tv);
	}
	if (bufferevent_socket_connect(s->bev, (struct sockaddr *)&ss, (int)sl) < 0) {
		login_failed(s, "08006", "could not connect to server %s: %s", p->addr.text,
			     strerror(errno));
		return NULL;
	}
	pg_io_direct_reads(s->bev); /* connect re-created the read event */
	log_debug("server %llu: connecting to %s (mysql)", (unsigned long long)s->id, p->addr.text);
	return s;
}

static bool secure_channel(const struct server *s)
{
	return s->tls || s->pool->addr.kind == CFG_ADDR_UNIX;
}

/* The auth response for `plugin` to the current nonce. -1 when the
 * credentials cannot answer it. */
static int auth_response(struct server *s, const char *plugin, uint8_t *out, size_t *len)
{
	struct my_server *ms = my_server_of(s);
	const struct pool_credentials *cr = &s->pool->cred;
	const char *pw = cr->password;
	if (strcmp(plugin, "mysql_native_password") == 0 || plugin[0] == '\0') {
		if (pw)
			*len = myauth_native_scramble(pw, strlen(pw), ms->nonce, out);
		else if (cr->has_sha1) {
			myauth_native_scramble_stage1(cr->sha1, ms->nonce, out);
			*len = MYAUTH_SHA1_LEN;
		} else
			return -1;
		return 0;
	}
	if (strcmp(plugin, "caching_sha2_password") == 0) {
		if (!pw)
			return -1;
		*len = myauth_sha2_scramble(pw, strlen(pw), ms->nonce, out);
		return 0;
	}
	if (strcmp(plugin, "mysql_clear_password") == 0) {
		if (!pw || !secure_channel(s) || strlen(pw) + 1 > 255)
			return -1;
		*len = strlen(pw) + 1;
		memcpy(out, pw, *len);
		return 0;
	}
	return -1;
}

static void send_response(struct server *s, uint8_t seq)
{
	struct my_server *ms = my_server_of(s);
	uint8_t auth[256];
	size_t alen = 0;
	const char *plugin = ms->plugin;
	if (auth_response(s, plugin, auth, &alen) < 0) {
		/* e.g. a native-hash-only user and a caching_sha2 default:
		 * offer native; the server may switch us. */
		plugin = "mysql_native_password";
		if (auth_response(s, plugin, auth, &alen) < 0) {
			login_failed(s, "28000", "no password configured for server user %s", s->pool->user);
			return;
		}
	}
	struct myc_response_params rp = {
		.caps = ms->caps,
		.max_packet = 16 * 1024 * 1024,
		.charset = MY_LOGIN_COLLATION,
		.user = s->pool->user,
		.auth = auth,
		.auth_len = alen,
		.database = s->pool->database[0] ? s->pool->database : NULL,
		.plugin = (ms->caps & CLIENT_PLUGIN_AUTH) ? plugin : NULL,
	};
	struct buf b;
	buf_init(&b);
	myc_put_handshake_response(&b, seq, &rp);
	OPENSSL_cleanse(auth, sizeof(auth));
	if (pg_bev_send(s->bev, &b) < 0)
		login_failed(s, "53200", "out of memory during login");
	else
		ms->step = MYS_AUTH;
	buf_free(&b);
}

static int upgrade_to_tls(struct server *s)
{
	struct pool_set *ps = s->pool->set;
	SSL *ssl = tls_new_server_ssl(ps->tls, s->pool->addr.kind == CFG_ADDR_TCP ? s->pool->addr.host : "localhost");
	if (!ssl)
		return -1;
	int fd = dup(bufferevent_getfd(s->bev));
	if (fd < 0) {
		SSL_free(ssl);
		return -1;
	}
	bufferevent_free(s->bev);
	s->bev = bufferevent_openssl_socket_new(ps->base, fd, ssl, BUFFEREVENT_SSL_CONNECTING,
						BEV_OPT_CLOSE_ON_FREE);
	if (!s->bev) {
		SSL_free(ssl);
		close(fd);
		return -1;
	}
	bufferevent_openssl_set_allow_dirty_shutdown(s->bev, 1);
	bufferevent_setcb(s->bev, read_cb, write_cb, event_cb, s);
	bufferevent_setwatermark(s->bev, EV_READ, 0, 256 * 1024);
	bufferevent_setwatermark(s->bev, EV_WRITE, 64 * 1024, 0);
	bufferevent_enable(s->bev, EV_READ | EV_WRITE);
	s->tls = true;
	server_set_state(s, SV_TLS_HANDSHAKE);
	return 0;
}

static void handle_handshake(struct server *s, const uint8_t *p, size_t n)
{
	struct my_server *ms = my_server_of(s);
	if (n > 0 && p[0] == MYC_ERR) {
		struct myc_errp e;
		if (myc_parse_err(p, n, &e) == 0)
			login_failed(s, e.sqlstate, "server refused the connection: %u %.*s", e.code,
				     (int)e.message.len, (const char *)e.message.p);
		else
			login_failed(s, "08006", "server refused the connection");
		return;
	}
	struct myc_handshake h;
	if (myc_parse_handshake(p, n, &h) < 0 || h.protocol != 10) {
		login_failed(s, "08P01", "malformed or unsupported handshake from server");
		return;
	}
	if ((h.caps & MY_SERVER_REQUIRED_CAPS) != MY_SERVER_REQUIRED_CAPS) {
		login_failed(s, "08P01", "server %s lacks capabilities the proxy needs (flags %#x)",
			     s->pool->addr.text, h.caps);
		return;
	}
	if (h.auth_data_len < MYC_SCRAMBLE_LEN) {
		login_failed(s, "08P01", "server sent a short authentication nonce");
		return;
	}
	memcpy(ms->nonce, h.auth_data, MYC_SCRAMBLE_LEN);
	snprintf(ms->plugin, sizeof(ms->plugin), "%.*s", (int)h.plugin.len, (const char *)h.plugin.p);
	ms->thread_id = h.conn_id;
	ms->caps = MY_SERVER_CAPS & h.caps;
	ms->caps |= CLIENT_MYSQL; /* no MariaDB extended capabilities */
	ms->multi = (ms->caps & CLIENT_MULTI_STATEMENTS) ? MY_MULTI_ON : MY_MULTI_OFF;
	struct tls_contexts *t = s->pool->set->tls;
	bool want_tls = t && t->server_mode != CFG_STLS_DISABLE && t->connect_ctx &&
			s->pool->addr.kind == CFG_ADDR_TCP;
	if (want_tls && (h.caps & CLIENT_SSL)) {
		ms->caps |= CLIENT_SSL;
		struct buf b;
		buf_init(&b);
		myc_put_ssl_request(&b, 1, ms->caps, 0, 16 * 1024 * 1024, MY_LOGIN_COLLATION);
		/* Straight on the socket: the bufferevent is replaced next. */
		int fd = bufferevent_getfd(s->bev);
		bool ok = !b.oom && evbuffer_get_length(bufferevent_get_output(s->bev)) == 0 &&
			  send(fd, b.data, b.len, MSG_NOSIGNAL) == (ssize_t)b.len;
		buf_free(&b);
		if (!ok || upgrade_to_tls(s) < 0)
			login_failed(s, "08006", "could not start TLS with the server");
		return;
	}
	if (want_tls && t->server_mode != CFG_STLS_PREFER) {
		login_failed(s, "08006", "server %s does not accept TLS (server_tls_mode requires it)",
			     s->pool->addr.text);
		return;
	}
	send_response(s, 1);
}

static void logged_in(struct server *s, const uint8_t *p, size_t n)
{
	struct my_server *ms = my_server_of(s);
	struct myc_ok ok;
	if (myc_parse_ok(p, n, ms->caps, &ok) == 0)
		my_server_set_status(s, ok.status);
	my_server_set_schema(s, s->pool->database, strlen(s->pool->database));
	evtimer_del(s->timer);
	log_debug("server %llu: logged in to %s (mysql thread %u)", (unsigned long long)s->id,
		  s->pool->addr.text, ms->thread_id);
	server_set_state(s, SV_IDLE);
	pool_server_logged_in(s->pool, s);
	pool_server_ready(s->pool, s);
}

static void send_raw(struct server *s, uint8_t seq, const void *data, size_t len)
{
	struct buf b;
	buf_init(&b);
	myc_put_raw(&b, seq, data, len);
	if (pg_bev_send(s->bev, &b) < 0)
		login_failed(s, "53200", "out of memory during login");
	buf_free(&b);
}

/* One packet of the authentication exchange. */
static void handle_auth(struct server *s, uint8_t seq, const uint8_t *p, size_t n)
{
	struct my_server *ms = my_server_of(s);
	const char *pw = s->pool->cred.password;
	if (n == 0) {
		login_failed(s, "08P01", "empty packet from server during login");
		return;
	}
	if (p[0] == MYC_OK && ms->step != MYS_PUBKEY) {
		logged_in(s, p, n);
		return;
	}
	if (p[0] == MYC_ERR) {
		struct myc_errp e;
		if (myc_parse_err(p, n, &e) == 0)
			login_failed(s, strcmp(e.sqlstate, "HY000") == 0 ? "28000" : e.sqlstate,
				     "server login failed: ERROR %u (%s): %.*s", e.code, e.sqlstate,
				     (int)e.message.len, (const char *)e.message.p);
		else
			login_failed(s, "28000", "server login failed");
		return;
	}
	if (p[0] == MYC_AUTH_SWITCH) {
		struct myc_auth_switch as;
		if (myc_parse_auth_switch(p, n, &as) < 0 || as.data.len < MYC_SCRAMBLE_LEN) {
			login_failed(s, "08P01", "malformed AuthSwitchRequest from server");
			return;
		}
		memcpy(ms->nonce, as.data.p, MYC_SCRAMBLE_LEN);
		snprintf(ms->plugin, sizeof(ms->plugin), "%.*s", (int)as.plugin.len, (const char *)as.plugin.p);
		uint8_t auth[256];
		size_t alen = 0;
		if (auth_response(s, ms->plugin, auth, &alen) < 0) {
			login_failed(s, "28000", "server asks for authentication plugin %s, which the proxy cannot answer for user %s",
				     ms->plugin, s->pool->user);
			return;
		}
		send_raw(s, (uint8_t)(seq + 1), auth, alen);
		OPENSSL_cleanse(auth, sizeof(auth));
		return;
	}
	if (p[0] == MYC_AUTH_MORE_DATA) {
		struct myc_str d;
		if (myc_parse_auth_more_data(p, n, &d) < 0) {
			login_failed(s, "08P01", "malformed AuthMoreData from server");
			return;
		}
		if (ms->step == MYS_PUBKEY) {
			struct buf ct;
			buf_init(&ct);
			if (!pw || myauth_rsa_encrypt_password(d.p, d.len, pw, strlen(pw), ms->nonce,
								MYC_SCRAMBLE_LEN, &ct) < 0 || ct.oom) {
				buf_free(&ct);
				login_failed(s, "28000", "could not encrypt the password with the server's RSA key");
				return;
			}
			ms->step = MYS_AUTH;
			send_raw(s, (uint8_t)(seq + 1), ct.data, ct.len);
			buf_free(&ct);
			return;
		}
		if (d.len == 1 && d.p[0] == MYC_SHA2_FAST_AUTH_OK)
			return; /* the OK follows */
		if (d.len == 1 && d.p[0] == MYC_SHA2_PERFORM_FULL_AUTH) {
			if (!pw) {
				login_failed(s, "28000", "server wants the password of %s (caching_sha2 full authentication) and none is configured",
					     s->pool->user);
				return;
			}
			if (secure_channel(s)) {
				send_raw(s, (uint8_t)(seq + 1), pw, strlen(pw) + 1);
			} else {
				uint8_t req = MYC_SHA2_REQUEST_PUBLIC_KEY;
				ms->step = MYS_PUBKEY;
				send_raw(s, (uint8_t)(seq + 1), &req, 1);
			}
			return;
		}
		login_failed(s, "08P01", "unexpected AuthMoreData from server");
		return;
	}
	login_failed(s, "08P01", "unexpected packet %#x from server during login", p[0]);
}

static void handle_login(struct server *s)
{
	struct my_server *ms = my_server_of(s);
	struct evbuffer *in = bufferevent_get_input(s->bev);
	struct myc_limits lim = { .max_packet_size = MY_LOGIN_MAX };
	while (s->state == SV_LOGIN) {
		uint8_t hdr[MYC_HEADER_LEN];
		if (evbuffer_copyout(in, hdr, sizeof(hdr)) < (ssize_t)sizeof(hdr))
			return;
		size_t total = MYC_HEADER_LEN + myle_get_u24(hdr);
		if (total - MYC_HEADER_LEN >= MY_LOGIN_MAX) {
			login_failed(s, "08P01", "oversized packet from server during login");
			return;
		}
		if (evbuffer_get_length(in) < total)
			return;
		const uint8_t *p = evbuffer_pullup(in, (ev_ssize_t)total);
		struct myc_frame f;
		if (!p || myc_frame_next(p, total, &lim, NULL, &f) <= 0) {
			login_failed(s, "08P01", "malformed packet from server during login");
			return;
		}
		/* Copy: handlers may write, fail (freeing later) or pull up again. */
		uint8_t pkt[MY_LOGIN_MAX];
		memcpy(pkt, f.payload, f.len);
		size_t n = f.len;
		uint8_t seq = f.seq;
		evbuffer_drain(in, total);
		if (ms->step == MYS_HANDSHAKE)
			handle_handshake(s, pkt, n);
		else
			handle_auth(s, seq, pkt, n);
		OPENSSL_cleanse(pkt, n);
		if (s->state == SV_CLOSED || s->state == SV_TLS_HANDSHAKE)
			return;
	}
}

/* ---- reset and idle ---- */

void my_server_start_reset(struct server *s, bool run_reset)
{
	struct my_server *ms = my_server_of(s);
	struct buf b;
	buf_init(&b);
	ms->resets_pending = 0;
	s->synced_for = 0;
	if (run_reset) {
		myc_put_reset_connection(&b); /* also rolls back */
		ms->resets_pending++;
	} else if (s->tx_status != 'I') {
		myc_put_query(&b, "ROLLBACK");
		ms->resets_pending++;
	}
	server_set_state(s, SV_RESETTING);
	if (ms->resets_pending == 0) {
		server_set_state(s, SV_IDLE);
		pool_server_ready(s->pool, s);
	} else if (pg_bev_send(s->bev, &b) < 0) {
		server_close(s, "out of memory sending the reset");
	}
	buf_free(&b);
	if (run_reset && s->state != SV_CLOSED)
		my_server_after_reset(s);
}

void my_server_after_reset(struct server *s)
{
	/* COM_RESET_CONNECTION drops statements and session variables (the
	 * character set with them: set it again before use). */
	struct my_server *ms = my_server_of(s);
	stmts_clear(ms);
	my_vars_clear(&ms->vars);
	ms->names_unknown = true;
	ms->insert_id = 0;
	ms->multi = MY_MULTI_UNKNOWN; /* not said to survive a reset: set it again */
	free(ms->schema);
	ms->schema = NULL;
}

/* Answers to the reset commands; anything from an idle server ends it
 * (e.g. MariaDB's "timeout" error before it closes). */
static void handle_quiet(struct server *s)
{
	struct my_server *ms = my_server_of(s);
	struct evbuffer *in = bufferevent_get_input(s->bev);
	struct myc_limits lim = { .max_packet_size = MY_LOGIN_MAX };
	for (;;) {
		uint8_t hdr[MYC_HEADER_LEN];
		if (evbuffer_copyout(in, hdr, sizeof(hdr)) < (ssize_t)sizeof(hdr))
			return;
		size_t total = MYC_HEADER_LEN + myle_get_u24(hdr);
		if (s->state != SV_RESETTING || total - MYC_HEADER_LEN >= MY_LOGIN_MAX) {
			server_close(s, "unexpected data from an idle server");
			pool_maybe_open(s->pool);
			return;
		}
		if (evbuffer_get_length(in) < total)
			return;
		const uint8_t *p = evbuffer_pullup(in, (ev_ssize_t)total);
		struct myc_frame f;
		if (!p || myc_frame_next(p, total, &lim, NULL, &f) <= 0 || f.len == 0) {
			server_close(s, "malformed packet from server while resetting");
			return;
		}
		if (f.payload[0] != MYC_OK) {
			struct myc_errp e;
			if (myc_parse_err(f.payload, f.len, &e) == 0) {
				struct log_who who = { .server = s->id, .node = s->pool->addr.text };
				log_who_msg(LOG_WARNING, &who, "reset failed: %u %.*s", e.code, (int)e.message.len,
					    (const char *)e.message.p);
			}
			server_close(s, "error from server while resetting");
			pool_maybe_open(s->pool);
			return;
		}
		struct myc_ok ok;
		if (myc_parse_ok(f.payload, f.len, ms->caps, &ok) == 0)
			my_server_set_status(s, ok.status);
		evbuffer_drain(in, total);
		if (--ms->resets_pending == 0) {
			server_set_state(s, SV_IDLE);
			pool_server_ready(s->pool, s);
			return;
		}
	}
}

void my_server_goodbye(struct server *s, struct buf *b) { myc_put_quit(b); }

/* ---- callbacks ---- */

static void read_cb(struct bufferevent *bev, void *arg)
{
	struct server *s = arg;
	switch (s->state) {
	case SV_LOGIN:
		handle_login(s);
		break;
	case SV_ACTIVE:
		s->link_ops->readable(s->link, s);
		break;
	case SV_IDLE:
	case SV_RESETTING:
		handle_quiet(s);
		break;
	default:
		break;
	}
}

static void write_cb(struct bufferevent *bev, void *arg)
{
	struct server *s = arg;
	pg_io_drained(bev, s->tls);
	if (s->state == SV_ACTIVE && s->link_ops->writable)
		s->link_ops->writable(s->link, s);
}

static void event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct server *s = arg;
	if (what & BEV_EVENT_CONNECTED) {
		if (s->state == SV_CONNECTING) {
			if (s->pool->addr.kind == CFG_ADDR_TCP) {
				int one = 1;
				setsockopt(bufferevent_getfd(bev), IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
			}
			server_set_state(s, SV_LOGIN); /* the server speaks first */
			/* Its greeting may already be in (read before this event
			 * was delivered): take it now, no more bytes will come. */
			if (evbuffer_get_length(bufferevent_get_input(bev)) > 0)
				handle_login(s);
		} else if (s->state == SV_TLS_HANDSHAKE) {
			server_set_state(s, SV_LOGIN);
			send_response(s, 2);
		}
		return;
	}
	char why[600];
	const char *detail = "connection closed";
	char sslmsg[200];
	if (what & BEV_EVENT_ERROR) {
		unsigned long e = bufferevent_get_openssl_error(bev);
		if (e) {
			ERR_error_string_n(e, sslmsg, sizeof(sslmsg));
			detail = sslmsg;
		} else if (errno) {
			detail = strerror(errno);
		}
	}
	snprintf(why, sizeof(why), "server %s: %s", s->pool->addr.text, detail);
	switch (s->state) {
	case SV_CONNECTING:
	case SV_TLS_HANDSHAKE:
	case SV_LOGIN:
		login_failed(s, "08006", "could not connect to %s", why);
		break;
	case SV_ACTIVE:
		s->link_ops->failed(s->link, s, why);
		server_close(s, why);
		break;
	default:
		server_close(s, why);
		pool_maybe_open(s->pool);
		break;
	}
}
