/*
 * my_client.c — a MySQL/MariaDB client session: accept, the proxy's
 * handshake, TLS, authentication by the proxy, getting a server, closing.
 * The command relay is my_relay.c's.
 *
 * Authentication. The proxy checks the client's answer itself against
 * [user.NAME] password:
 *   - a plain password: mysql_native_password and caching_sha2_password
 *     (the fast path can always be checked with the plain password);
 *   - "*" + 40 hex digits (a mysql.user native hash; config/ takes it as a
 *     plain secret, this file recognises the form): mysql_native_password,
 *     SHA1(password) recovered from the client's answer then logging the
 *     proxy in to servers with the same hash; or, with auth_type =
 *     caching_sha2_password, that plugin's full authentication;
 *   - "$A$005$..." or its hex "0x2441..." (MySQL 8's caching_sha2 hash):
 *     caching_sha2_password only, always by full authentication.
 * Full authentication (MY_CL_AUTH_FULL): a fast-path answer cannot be
 * checked against a hash, so the client is asked for its password
 * (AuthMoreData 0x04) and sends it in clear over TLS, or RSA-encrypted with
 * the proxy's public key, which it asks for first (0x02) — the key of
 * client_rsa_key_file, or one generated in memory on first use. The
 * password, checked against the hash, is kept to log in to servers.
 * A client answering with another plugin gets an AuthSwitchRequest to
 * the user's auth_type plugin (mysql_native_password by default).
 */
#include "proxy/mysql/my_client.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "proxy/admin.h"
#include "proxy/linger.h"
#include "proxy/mysql/my_admin.h"
#include "proxy/mysql/my_batch.h"
#include "proxy/mysql/my_kill.h"
#include "proxy/mysql/myauth.h"
#include "proxy/mysql/myle.h"
#include "proxy/mysql/my_route.h"
#include "proxy/mysql/my_sha2_cache.h"
#include "proxy/pg/pg_evbuf.h"
#include "proxy/proxy.h"
#include "proxy/tls.h"
#include "util/log.h"

#define MY_CLIENT_STATE_NAME(name) #name,
static const char *const state_names[] = { MY_CLIENT_STATES(MY_CLIENT_STATE_NAME) };
#undef MY_CLIENT_STATE_NAME

#define LOGIN_MAX_PACKET 65536
#define SERVER_VERSION "5.5.5-10.11.0-switchyard"

static void read_cb(struct bufferevent *bev, void *arg);
static void write_cb(struct bufferevent *bev, void *arg);
static void event_cb(struct bufferevent *bev, short what, void *arg);
static void timer_cb(evutil_socket_t fd, short what, void *arg);
static void on_server(struct pool_waiter *wt, struct server *s);
static void on_server_error(struct pool_waiter *wt, const char *sqlstate, const char *msg);
static void linger(struct my_client *c);

const char *my_client_state_name(enum my_client_state st) { return state_names[st]; }

void my_client_set_state(struct my_client *c, enum my_client_state st)
{
	log_debug("mysql client %u (%s): %s -> %s", c->id, c->addr, my_client_state_name(c->state),
		  my_client_state_name(st));
	c->state = st;
}

static void timer_start(struct my_client *c, int64_t ms)
{
	evtimer_del(c->timer);
	if (ms <= 0)
		return;
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };
	evtimer_add(c->timer, &tv);
}

static void format_addr(const struct sockaddr *sa, struct my_client *c)
{
	char host[INET6_ADDRSTRLEN] = "localhost";
	unsigned port = 0;
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
		inet_ntop(AF_INET, &in->sin_addr, host, sizeof(host));
		port = ntohs(in->sin_port);
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
		inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof(host));
		port = ntohs(in6->sin6_port);
	}
	snprintf(c->host, sizeof(c->host), "%s", host);
	if (port)
		snprintf(c->addr, sizeof(c->addr), sa->sa_family == AF_INET6 ? "[%s]:%u" : "%s:%u", host, port);
	else
		snprintf(c->addr, sizeof(c->addr), "unix");
}

/* The advertised capabilities. */
static uint32_t offered_caps(const struct my_client *c)
{
	/* FOUND_ROWS: emulated for the UPDATE counts (my_relay.c found_rows_ok). */
	uint32_t caps = MY_SERVER_CAPS | CLIENT_CONNECT_ATTRS | CLIENT_FOUND_ROWS;
	if (c->tls && c->tls->accept_ctx && !c->tls_on)
		caps |= CLIENT_SSL;
	return caps;
}

static void send_buf(struct my_client *c, struct buf *b)
{
	pg_bev_send(c->bev, b);
	buf_free(b);
}

void my_client_send_err(struct my_client *c, uint8_t seq, uint16_t code, const char *sqlstate,
			const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	struct buf b;
	buf_init(&b);
	myc_put_err(&b, seq, code, sqlstate, msg);
	send_buf(c, &b);
}

static int64_t login_timeout(const struct my_client *c)
{
	const struct cfg_cluster *cl = c->listen->cluster ? cfg_find_cluster(c->cfg, c->listen->cluster) : NULL;
	return cl ? cl->settings.client_login_timeout_ms : 10000;
}

static void send_handshake(struct my_client *c)
{
	struct myc_handshake_params hp = {
		.server_version = SERVER_VERSION,
		.conn_id = c->id,
		.scramble = c->nonce,
		.caps = offered_caps(c),
		.charset = MY_LOGIN_COLLATION,
		.status = SERVER_STATUS_AUTOCOMMIT,
		.plugin = "mysql_native_password",
	};
	struct buf b;
	buf_init(&b);
	myc_put_handshake(&b, &hp);
	send_buf(c, &b);
}

void my_client_accept(struct worker *w, const struct cfg_listen *listen, int fd,
		      const struct sockaddr *sa, int salen)
{
	struct proxy *px = w->proxy;
	struct my_client *c = calloc(1, sizeof(*c));
	if (!c) {
		close(fd);
		return;
	}
	c->w = w;
	c->id = ++w->next_client_id * 64 + (uint32_t)w->id;
	c->state = MY_CL_HANDSHAKE;
	c->listen = listen;
	c->cfg = cfg_ref(w->cfg);
	c->tls = tls_contexts_ref(w->tls);
	c->status = SERVER_STATUS_AUTOCOMMIT;
	list_init(&c->waiter.node);
	list_init(&c->dead_node);
	strmap_init(&c->stmts);
	c->waiter.on_server = on_server;
	c->waiter.on_error = on_server_error;
	c->waiter.ride = my_batch_ride;
	format_addr(sa, c);
	list_add_tail(&w->my_clients, &c->node);
	atomic_fetch_add(&px->n_clients, 1);
	if (sa->sa_family == AF_INET || sa->sa_family == AF_INET6) {
		int one = 1;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	}
	c->bev = bufferevent_socket_new(w->base, fd, BEV_OPT_CLOSE_ON_FREE);
	c->timer = evtimer_new(w->base, timer_cb, c);
	if (!c->bev || !c->timer) {
		if (!c->bev)
			close(fd);
		my_client_close(c, 0, NULL, 0, "out of memory");
		return;
	}
	bufferevent_setcb(c->bev, read_cb, write_cb, event_cb, c);
	bufferevent_setwatermark(c->bev, EV_READ, 0, MY_RELAY_HIGH);
	bufferevent_setwatermark(c->bev, EV_WRITE, MY_RELAY_LOW, 0);
	bufferevent_disable(c->bev, EV_WRITE);
	pg_io_direct_reads(c->bev);
	bufferevent_enable(c->bev, EV_READ);
	timer_start(c, login_timeout(c));
	stats_watch_client(w, STATS_PROTO_MY, c->bev);
	c->connected_ms = c->last_activity_ms = worker_now_ms(w);
	w->counters[STATS_PROTO_MY].clients_accepted++;

	int limit = c->cfg->global.max_client_conn;
	if (atomic_load(&px->n_clients) > limit) {
		w->counters[STATS_PROTO_MY].clients_refused++;
		my_client_close(c, 1040, "08004", 0, "Too many connections (max_client_conn %d reached)", limit);
		return;
	}
	if (atomic_load(&px->shutting_down)) {
		w->counters[STATS_PROTO_MY].clients_refused++;
		my_client_close(c, 1053, "08S01", 0, "Server shutdown in progress");
		return;
	}
	if (myauth_nonce(c->nonce) < 0) {
		my_client_close(c, 1105, "HY000", 0, "could not generate a nonce");
		return;
	}
	send_handshake(c);
	c->seq = 1;
	log_debug("mysql client %u: connected from %s on %s", c->id, c->addr, listen->name);
}

void my_client_close(struct my_client *c, uint16_t code, const char *sqlstate, uint8_t seq,
		     const char *fmt, ...)
{
	if (c->state == MY_CL_CLOSED)
		return;
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (code) {
		stats_client_error(c->w, STATS_PROTO_MY, code == 1045 ? "28P01" : "08006");
		struct log_who who = my_client_who(c);
		log_who_msg(LOG_INFO, &who, "closing: %s (%u)", msg, code);
	} else {
		struct log_who who = my_client_who(c);
		log_who_msg(LOG_DEBUG, &who, "closing: %s", msg);
	}
	my_kill_unregister(c->w, &c->kill_ent);
	if (c->pool)
		pool_cancel_wait(c->pool, &c->waiter);
	if (c->server && my_batch_client_gone(c)) {
		/* queued with others on a server: the batch drops its answer */
	} else if (c->server) {
		struct server *s = c->server;
		c->server = NULL;
		/* A KILL QUERY in flight for it: not for the next client. */
		bool clean = c->state == MY_CL_IDLE && !c->cmd_pending && c->hidden == MY_HID_NONE &&
			     c->kill_hold == 0 &&
			     evbuffer_get_length(bufferevent_get_input(s->bev)) == 0;
		if (c->pinned && c->pool_mode != CFG_POOL_SESSION)
			pool_release_pinned(s, clean);
		else
			pool_release(s, clean, c->pool_mode == CFG_POOL_SESSION || c->hold_long_data || c->cursor_open);
	}
	my_client_set_state(c, MY_CL_CLOSED);
	if (c->timer)
		evtimer_del(c->timer);
	admin_wait_free(c->admin_wait);
	c->admin_wait = NULL;
	list_del(&c->node);
	atomic_fetch_sub(&c->w->proxy->n_clients, 1);
	if (c->bev && code) {
		my_client_send_err(c, seq, code, sqlstate, "%s", msg);
		bufferevent_disable(c->bev, EV_READ);
		linger(c);
		return;
	}
	list_add_tail(&c->w->my_dead, &c->dead_node);
	worker_schedule_reap(c->w);
}

/* The error is out (or cannot be): free the client at the end of the turn. */
static void linger_done(void *arg)
{
	struct my_client *c = arg;
	if (c->timer)
		evtimer_del(c->timer);
	list_add_tail(&c->w->my_dead, &c->dead_node);
	worker_schedule_reap(c->w);
}

static void linger(struct my_client *c)
{
	if (c->timer)
		evtimer_del(c->timer);
	conn_linger(c->w->base, c->bev, linger_done, c);
}

static void free_clear_password(struct my_client *c)
{
	if (c->clear_password) {
		OPENSSL_cleanse(c->clear_password, strlen(c->clear_password));
		free(c->clear_password);
		c->clear_password = NULL;
	}
}

void my_client_reap(struct list *dead)
{
	struct list *n;
	while ((n = list_pop(dead))) {
		struct my_client *c = container_of(n, struct my_client, dead_node);
		if (c->bev)
			bufferevent_free(c->bev);
		if (c->timer)
			event_free(c->timer);
		my_cmd_clear(&c->cur);
		strmap_free(&c->stmts, my_pstmt_free);
		my_vars_clear(&c->vars);
		my_route_free(c);
		OPENSSL_cleanse(c->sha1, sizeof(c->sha1));
		free_clear_password(c);
		free(c->user);
		free(c->schema);
		tls_contexts_unref(c->tls);
		cfg_unref(c->cfg);
		free(c);
	}
}

/* ---- TLS ---- */

static void start_tls(struct my_client *c)
{
	struct worker *w = c->w;
	SSL *ssl = SSL_new(c->tls->accept_ctx);
	if (!ssl) {
		my_client_close(c, 0, NULL, 0, "could not start TLS");
		return;
	}
	/* A filter over the plain bufferevent, so that TLS bytes the client
	 * sent right behind its SSL request (already read into the plain
	 * input) reach OpenSSL. The plain one must write by itself now. */
	struct bufferevent *plain = c->bev;
	bufferevent_setcb(plain, NULL, NULL, NULL, NULL);
	bufferevent_setwatermark(plain, EV_WRITE, 0, 0);
	bufferevent_enable(plain, EV_READ | EV_WRITE);
	c->bev = bufferevent_openssl_filter_new(w->base, plain, ssl, BUFFEREVENT_SSL_ACCEPTING,
						BEV_OPT_CLOSE_ON_FREE);
	if (!c->bev) {
		SSL_free(ssl);
		c->bev = plain;
		my_client_close(c, 0, NULL, 0, "could not start TLS");
		return;
	}
	bufferevent_openssl_set_allow_dirty_shutdown(c->bev, 1);
	stats_watch_client(w, STATS_PROTO_MY, c->bev);
	bufferevent_setcb(c->bev, read_cb, write_cb, event_cb, c);
	bufferevent_setwatermark(c->bev, EV_READ, 0, MY_RELAY_HIGH);
	bufferevent_setwatermark(c->bev, EV_WRITE, MY_RELAY_LOW, 0);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
	c->tls_on = true;
	my_client_set_state(c, MY_CL_TLS_HANDSHAKE);
}

/* ---- authentication ---- */

static bool native_hash_secret(const struct cfg_user *u, uint8_t stage2[20])
{
	return u->password && u->secret_kind == CFG_SECRET_PLAIN && strlen(u->password) == 41 &&
	       u->password[0] == '*' && myauth_native_parse_hash(u->password, stage2) == 0;
}

static bool sha2_hash_secret(const struct cfg_user *u, struct myauth_sha2_hash *h)
{
	return u->password && u->secret_kind == CFG_SECRET_PLAIN && myauth_sha2_parse_hash(u->password, h) == 0;
}

/* A secret the fast paths cannot check a caching_sha2 answer against. */
static bool hashed_secret(const struct cfg_user *u)
{
	uint8_t stage2[20];
	struct myauth_sha2_hash h;
	return native_hash_secret(u, stage2) || sha2_hash_secret(u, &h);
}

static const char *wanted_plugin(const struct my_client *c)
{
	struct myauth_sha2_hash h;
	if (c->u && (c->u->auth_type == CFG_AUTH_MYSQL_SHA2 || sha2_hash_secret(c->u, &h)))
		return "caching_sha2_password";
	return "mysql_native_password";
}

static void access_denied(struct my_client *c, bool with_password)
{
	/* Counted as a login failure by my_client_close (1045: class 28). */
	my_client_close(c, 1045, "28000", c->seq, "Access denied for user '%s'@'%s' (using password: %s)",
			c->user ? c->user : "", c->host, with_password ? "YES" : "NO");
}

int my_client_use_node(struct my_client *c, int node_index)
{
	const struct cfg_cluster *cl = c->cl;
	if (node_index < 0 || (size_t)node_index >= cl->n_nodes)
		return -1;
	const struct cfg_node *node = &cl->nodes[node_index];
	const char *server_user = c->u->server_user ? c->u->server_user : c->u->name;
	c->pool = pool_get(c->w->pools, CFG_PROTO_MYSQL, &node->addr, cl->server_database, server_user,
			   &cl->settings, c->cfg->global.max_packet_size);
	if (!c->pool)
		return -1;
	struct pool_credentials cr = { 0 };
	bool hashed = hashed_secret(c->u);
	if (c->u->server_password && !(hashed && strcmp(c->u->server_password, c->u->password) == 0))
		cr.password = c->u->server_password;
	else if (!hashed && c->u->secret_kind == CFG_SECRET_PLAIN)
		cr.password = c->u->password;
	if (!cr.password && c->clear_password)
		cr.password = c->clear_password;
	if (!cr.password && c->have_sha1) {
		cr.has_sha1 = true;
		memcpy(cr.sha1, c->sha1, sizeof(cr.sha1));
	}
	if (cr.password || cr.has_sha1)
		pool_set_credentials(c->pool, &cr);
	OPENSSL_cleanse(&cr, sizeof(cr));
	return 0;
}

static void auth_ok(struct my_client *c)
{
	if (c->admin) {
		my_admin_start(c); /* schema "switchyard": no server */
		return;
	}
	if (my_route_init(c) < 0) {
		my_client_close(c, 1041, "HY000", c->seq, "Out of memory");
		return;
	}
	if (my_client_use_node(c, 0) < 0) {
		my_client_close(c, 1105, "HY000", c->seq, "no server configured for cluster %s", c->cl->name);
		return;
	}
	if (c->charset != MY_LOGIN_COLLATION) {
		/* The client's collation, by number (character set variables
		 * take a collation id). */
		char v[8];
		snprintf(v, sizeof(v), "%u", c->charset);
		my_vars_set(&c->vars, "character_set_client", v, strlen(v));
		my_vars_set(&c->vars, "character_set_results", v, strlen(v));
		my_vars_set(&c->vars, "collation_connection", v, strlen(v));
	}
	struct log_who who = my_client_who(c);
	log_who_msg(LOG_INFO, &who, "login (%s%s%s)", c->plugin[0] ? c->plugin : "?",
		    c->state == MY_CL_AUTH_FULL ? ", full authentication" : "", c->tls_on ? ", tls" : "");
	/* Check the schema on a server before saying OK (as a server would). */
	memset(&c->cur, 0, sizeof(c->cur));
	c->cur.login = true;
	c->cmd_pending = true;
	my_client_request_server(c);
}

/* ---- caching_sha2 full authentication ---- */

#define FULL_AUTH_MAX_PASSWORD 512

static struct myauth_rsa *generated_rsa;
static pthread_once_t generated_rsa_once = PTHREAD_ONCE_INIT;

static void generate_rsa(void)
{
	generated_rsa = myauth_rsa_generate(2048);
	if (generated_rsa)
		log_info("mysql: generated a 2048-bit RSA key for caching_sha2_password full authentication "
			 "(client_rsa_key_file is unset)");
	else
		log_error("mysql: could not generate an RSA key for caching_sha2_password full authentication");
}

/* The configured key, else one generated once per process (a worker
 * spends some tens of milliseconds on it, once). */
static const struct myauth_rsa *rsa_key(const struct my_client *c)
{
	if (c->tls && c->tls->rsa)
		return c->tls->rsa;
	pthread_once(&generated_rsa_once, generate_rsa);
	return generated_rsa;
}

void my_client_auth_shutdown(void)
{
	my_sha2_cache_clear();
	myauth_rsa_free(generated_rsa);
	generated_rsa = NULL;
}

static void request_full_auth(struct my_client *c)
{
	uint8_t more = MYC_SHA2_PERFORM_FULL_AUTH;
	struct buf b;
	buf_init(&b);
	myc_put_auth_more_data(&b, c->seq++, &more, 1);
	send_buf(c, &b);
	my_client_set_state(c, MY_CL_AUTH_FULL);
}

static void send_public_key(struct my_client *c)
{
	const struct myauth_rsa *k = rsa_key(c);
	struct buf pem;
	buf_init(&pem);
	if (!k || myauth_rsa_public_pem(k, &pem) < 0) {
		buf_free(&pem);
		my_client_close(c, 1045, "28000", c->seq,
				"Access denied for user '%s'@'%s': caching_sha2_password full authentication needs TLS "
				"or the proxy's RSA key, and the proxy has no key (client_rsa_key_file)",
				c->user ? c->user : "", c->host);
		return;
	}
	struct buf b;
	buf_init(&b);
	myc_put_auth_more_data(&b, c->seq++, pem.data, pem.len);
	buf_free(&pem);
	send_buf(c, &b);
}

/* A password from full authentication against the user's secret. */
static bool password_matches(const struct cfg_user *u, const char *pw, size_t len)
{
	uint8_t stage2[20], mine[20];
	struct myauth_sha2_hash h;
	if (sha2_hash_secret(u, &h))
		return myauth_sha2_check_hash(pw, len, &h);
	if (native_hash_secret(u, stage2)) {
		myauth_native_stage2(pw, len, mine);
		bool ok = len > 0 && CRYPTO_memcmp(mine, stage2, sizeof(mine)) == 0;
		OPENSSL_cleanse(mine, sizeof(mine));
		return ok;
	}
	if (u->secret_kind == CFG_SECRET_PLAIN && u->password)
		return strlen(u->password) == len && CRYPTO_memcmp(pw, u->password, len) == 0;
	return false;
}

/* The client's answer to "perform full authentication": over TLS its
 * password, NUL-terminated; otherwise a request for the public key (then
 * the RSA-encrypted password), or the encrypted password straight away
 * from a client that has the key. A clear password is never taken over
 * a plain connection (MySQL refuses it too). */
static void check_full_auth(struct my_client *c, const uint8_t *p, size_t n)
{
	char pw[FULL_AUTH_MAX_PASSWORD + 1];
	int len = -1;
	if (c->tls_on) {
		size_t l = n && p[n - 1] == 0 ? n - 1 : n;
		if (l <= FULL_AUTH_MAX_PASSWORD && !memchr(p, 0, l)) {
			memcpy(pw, p, l);
			pw[l] = 0;
			len = (int)l;
		}
	} else if (n == 1 && p[0] == MYC_SHA2_REQUEST_PUBLIC_KEY) {
		send_public_key(c);
		return;
	} else {
		const struct myauth_rsa *k = rsa_key(c);
		if (k)
			len = myauth_rsa_decrypt_password(k, p, n, c->nonce, sizeof(c->nonce), pw, sizeof(pw));
	}
	bool ok = len >= 0 && password_matches(c->u, pw, (size_t)len);
	if (ok) {
		free_clear_password(c);
		c->clear_password = strndup(pw, (size_t)len);
		if (hashed_secret(c->u))
			my_sha2_cache_put(c->u->name, c->u->password, pw, (size_t)len);
	}
	OPENSSL_cleanse(pw, sizeof(pw));
	if (!ok || !c->clear_password) {
		log_debug("mysql client %u: caching_sha2_password full authentication failed (%s)", c->id,
			  len < 0 ? (c->tls_on ? "malformed password packet" : "RSA decryption failed") : "wrong password");
		access_denied(c, true);
		return;
	}
	auth_ok(c);
}

/* Check an auth response for the plugin the client answered with. */
static void check_auth(struct my_client *c, const uint8_t *resp, size_t len)
{
	const struct cfg_user *u = c->u;
	uint8_t stage2[20];
	bool hashed = native_hash_secret(u, stage2);
	bool ok = false;
	if (strcmp(c->plugin, "mysql_native_password") == 0) {
		if (hashed) {
			ok = myauth_native_check(resp, len, c->nonce, stage2, c->sha1);
			c->have_sha1 = ok;
		} else if (u->secret_kind == CFG_SECRET_PLAIN && !hashed_secret(u)) {
			ok = myauth_native_check_password(resp, len, c->nonce, u->password, strlen(u->password));
		}
	} else if (strcmp(c->plugin, "caching_sha2_password") == 0 && hashed_secret(u)) {
		/* A hashed account has a password: an empty answer is wrong.
		 * The fast path works once a full authentication filled the
		 * cache; otherwise, or when the answer does not match, the
		 * full path. */
		char *pw = NULL;
		if (len > 0 && my_sha2_cache_check(u->name, u->password, resp, len, c->nonce, &pw) && pw) {
			free_clear_password(c);
			c->clear_password = pw;
			uint8_t fast = MYC_SHA2_FAST_AUTH_OK;
			struct buf b;
			buf_init(&b);
			myc_put_auth_more_data(&b, c->seq++, &fast, 1);
			send_buf(c, &b);
			ok = true;
		} else if (len > 0) {
			request_full_auth(c);
			return;
		}
	} else if (strcmp(c->plugin, "caching_sha2_password") == 0 && u->secret_kind == CFG_SECRET_PLAIN) {
		ok = myauth_sha2_check_password(resp, len, c->nonce, u->password, strlen(u->password));
		if (ok) {
			uint8_t fast = MYC_SHA2_FAST_AUTH_OK;
			struct buf b;
			buf_init(&b);
			myc_put_auth_more_data(&b, c->seq++, &fast, 1);
			send_buf(c, &b);
		} else if (len > 0) {
			/* As a MySQL 8 server does when the answer does not match
			 * its cache: the full path, which decides. PyMySQL 1.0
			 * answers an AuthSwitchRequest with the nonce and its
			 * trailing NUL hashed together, which only this recovers. */
			request_full_auth(c);
			return;
		}
	}
	if (!ok) {
		log_debug("mysql client %u: %s answer of %zu bytes does not match", c->id, c->plugin, len);
		access_denied(c, len > 0);
		return;
	}
	auth_ok(c);
}

static bool plugin_checkable(const struct my_client *c, const char *plugin)
{
	uint8_t stage2[20];
	bool hashed = native_hash_secret(c->u, stage2);
	struct myauth_sha2_hash h;
	if (strcmp(plugin, "mysql_native_password") == 0)
		return hashed || (c->u->secret_kind == CFG_SECRET_PLAIN && !sha2_hash_secret(c->u, &h));
	if (strcmp(plugin, "caching_sha2_password") == 0)
		return c->u->secret_kind == CFG_SECRET_PLAIN;
	return false;
}

/* Whether the client's answer, with the plugin it chose, is taken as is.
 * auth_type = caching_sha2_password is a requirement, as an account's
 * plugin is on a MySQL 8 server: a client answering with another plugin
 * (mysql_native_password, SHA-1) is switched to it. With the default,
 * any plugin the proxy can check against the secret is taken. */
static bool plugin_accepted(const struct my_client *c)
{
	if (!plugin_checkable(c, c->plugin))
		return false;
	return c->u->auth_type != CFG_AUTH_MYSQL_SHA2 || strcmp(c->plugin, "caching_sha2_password") == 0;
}

static void switch_plugin(struct my_client *c)
{
	const char *plugin = wanted_plugin(c);
	snprintf(c->plugin, sizeof(c->plugin), "%s", plugin);
	if (myauth_nonce(c->nonce) < 0) {
		my_client_close(c, 1105, "HY000", c->seq, "could not generate a nonce");
		return;
	}
	struct buf b;
	buf_init(&b);
	myc_put_auth_switch(&b, c->seq++, plugin, c->nonce, sizeof(c->nonce));
	send_buf(c, &b);
	my_client_set_state(c, MY_CL_AUTH);
}

static void handle_response(struct my_client *c, const uint8_t *p, size_t n)
{
	struct myc_handshake_response r;
	int rc = myc_parse_handshake_response(p, n, &r);
	if (rc < 0) {
		my_client_close(c, 1043, "08S01", c->seq, "Bad handshake (%s)", myc_err_str(rc));
		return;
	}
	if (r.ssl_request) {
		if (c->tls_on || !c->tls || !c->tls->accept_ctx) {
			my_client_close(c, 1043, "08S01", c->seq, "Bad handshake (TLS is not offered)");
			return;
		}
		/* Unlike PostgreSQL's, a MySQL client does not wait for an answer
		 * to its SSL request: its TLS ClientHello may already be buffered.
		 * start_tls() hands those bytes to OpenSSL, never to the protocol. */
		start_tls(c);
		return;
	}
	c->caps = r.caps & offered_caps(c);
	c->charset = r.charset ? r.charset : MY_LOGIN_COLLATION;
	free(c->user);
	c->user = strndup((const char *)r.user.p, r.user.len);
	if (!c->user) {
		my_client_close(c, 1105, "HY000", c->seq, "out of memory");
		return;
	}
	if (c->tls && c->tls->client_mode == CFG_CTLS_REQUIRE && !c->tls_on) {
		my_client_close(c, 1045, "28000", c->seq,
				"Access denied for user '%s'@'%s': TLS is required (client_tls_mode = require)",
				c->user, c->host);
		return;
	}
	c->cl = c->listen->cluster ? cfg_find_cluster(c->cfg, c->listen->cluster) : NULL;
	if (!c->cl || c->cl->protocol != CFG_PROTO_MYSQL) {
		my_client_close(c, 1105, "HY000", c->seq, "listener %s has no mysql cluster", c->listen->name);
		return;
	}
	timer_start(c, c->cl->settings.client_login_timeout_ms);
	const char *db = r.database.len ? (const char *)r.database.p : c->cl->server_database;
	size_t dblen = r.database.len ? r.database.len : strlen(c->cl->server_database);
	c->schema = strndup(db, dblen);
	if (!c->schema) {
		my_client_close(c, 1105, "HY000", c->seq, "out of memory");
		return;
	}
	if (strcmp(c->schema, ADMIN_DATABASE) == 0 && my_admin_login(c) < 0)
		return;
	c->u = cfg_find_user(c->cfg, c->user);
	if (!c->u) {
		access_denied(c, r.auth.len > 0);
		return;
	}
	c->pool_mode = cfg_pool_mode_for(c->cl, c->u);
	const char *plugin = r.plugin.len ? (const char *)r.plugin.p : "mysql_native_password";
	size_t plen = r.plugin.len ? r.plugin.len : strlen(plugin);
	snprintf(c->plugin, sizeof(c->plugin), "%.*s", (int)plen, plugin);
	my_client_set_state(c, MY_CL_AUTH);
	/* Another plugin, or none answered yet (libmariadb sends an empty
	 * response when its plugin is not the one the handshake named): ask
	 * for the user's plugin with a fresh nonce, as servers do. */
	bool has_password = c->u->password && c->u->password[0];
	if (!plugin_accepted(c) || (r.auth.len == 0 && has_password)) {
		switch_plugin(c);
		return;
	}
	check_auth(c, r.auth.p, r.auth.len);
}

void my_client_change_user(struct my_client *c, const struct myc_change_user *cu)
{
	char *user = strndup((const char *)cu->user.p, cu->user.len);
	const char *db = cu->database.len ? (const char *)cu->database.p : c->cl->server_database;
	size_t dblen = cu->database.len ? cu->database.len : strlen(c->cl->server_database);
	char *schema = strndup(db, dblen);
	if (!user || !schema) {
		free(user);
		free(schema);
		my_client_close(c, 1041, "HY000", 1, "Out of memory");
		return;
	}
	if (strcmp(schema, ADMIN_DATABASE) == 0) {
		free(user);
		free(schema);
		my_client_close(c, 1044, "42000", 1,
				"Access denied to database '%s' by COM_CHANGE_USER: the proxy's admin console needs "
				"a new connection", ADMIN_DATABASE);
		return;
	}
	struct log_who who = my_client_who(c);
	log_who_msg(LOG_INFO, &who, "COM_CHANGE_USER to %s", user);
	free(c->user);
	c->user = user;
	free(c->schema);
	c->schema = schema;
	c->logged_in = false;
	c->have_sha1 = false;
	OPENSSL_cleanse(c->sha1, sizeof(c->sha1));
	free_clear_password(c);
	c->pool = NULL;
	c->seq = 1;
	c->u = cfg_find_user(c->cfg, c->user);
	my_client_set_state(c, MY_CL_AUTH);
	timer_start(c, c->cl->settings.client_login_timeout_ms);
	if (!c->u) {
		access_denied(c, cu->auth.len > 0);
		return;
	}
	c->pool_mode = cfg_pool_mode_for(c->cl, c->u);
	/* As a server does: the answer in the packet is checked against the
	 * session's last nonce (clients such as libmariadb compute it with
	 * that one and ignore a new one in an AuthSwitchRequest for the same
	 * plugin); another plugin, or no answer, gets an AuthSwitchRequest. */
	const char *plugin = cu->plugin.len ? (const char *)cu->plugin.p : "mysql_native_password";
	size_t plen = cu->plugin.len ? cu->plugin.len : strlen(plugin);
	snprintf(c->plugin, sizeof(c->plugin), "%.*s", (int)plen, plugin);
	bool has_password = c->u->password && c->u->password[0];
	if (!plugin_accepted(c) || (cu->auth.len == 0 && has_password)) {
		switch_plugin(c);
		return;
	}
	check_auth(c, cu->auth.p, cu->auth.len);
}

/* One login packet from the client (handshake response or auth data). */
static void handle_login_input(struct my_client *c)
{
	struct evbuffer *in = bufferevent_get_input(c->bev);
	uint8_t hdr[MYC_HEADER_LEN];
	if (evbuffer_copyout(in, hdr, sizeof(hdr)) < (ssize_t)sizeof(hdr))
		return;
	size_t len = myle_get_u24(hdr);
	if (len >= LOGIN_MAX_PACKET) {
		my_client_close(c, 1153, "08S01", c->seq, "Got a packet bigger than allowed during login");
		return;
	}
	if (evbuffer_get_length(in) < MYC_HEADER_LEN + len)
		return;
	if (hdr[3] != c->seq) {
		my_client_close(c, 1156, "08S01", c->seq, "Got packets out of order (sequence %u, expected %u)",
				hdr[3], c->seq);
		return;
	}
	uint8_t pkt[LOGIN_MAX_PACKET];
	evbuffer_drain(in, MYC_HEADER_LEN);
	evbuffer_remove(in, pkt, len);
	c->seq++;
	if (c->state == MY_CL_HANDSHAKE)
		handle_response(c, pkt, len);
	else if (c->state == MY_CL_AUTH_FULL)
		check_full_auth(c, pkt, len);
	else
		check_auth(c, pkt, len);
	OPENSSL_cleanse(pkt, len);
}

/* ---- server ---- */

void my_client_request_server(struct my_client *c)
{
	my_client_set_state(c, MY_CL_WAIT_SERVER);
	c->wait_start_ms = worker_now_ms(c->w);
	timer_start(c, c->cl->settings.query_wait_timeout_ms);
	if (proxy_cluster_paused(c->w->proxy, c->cl->name)) {
		c->held = true; /* RESUME (worker_resume) queues it */
		return;
	}
	if (my_route_request(c) != 0)
		return; /* waiting for a replica to catch up, or closed */
	if (my_batch_ride_busy(c))
		return; /* queued on a busy server (pipeline_depth) */
	pool_acquire(c->pool, &c->waiter);
}

void my_client_resume(struct my_client *c)
{
	if (!c->held || c->state != MY_CL_WAIT_SERVER)
		return;
	if (proxy_cluster_paused(c->w->proxy, c->cl->name))
		return;
	c->held = false;
	if (my_route_request(c) != 0)
		return;
	pool_acquire(c->pool, &c->waiter);
}

static void on_server(struct pool_waiter *wt, struct server *s)
{
	struct my_client *c = container_of(wt, struct my_client, waiter);
	evtimer_del(c->timer);
	stats_observe_wait(c->w, STATS_PROTO_MY, worker_now_ms(c->w) - c->wait_start_ms);
	c->server = s;
	server_link(s, c, &my_relay_link_ops);
	my_relay_start(c);
	my_relay_flush(c);
}

static void on_server_error(struct pool_waiter *wt, const char *sqlstate, const char *msg)
{
	struct my_client *c = container_of(wt, struct my_client, waiter);
	uint8_t seq = c->logged_in ? 1 : c->seq;
	if (strcmp(sqlstate, "28000") == 0)
		my_client_close(c, 1045, "28000", seq, "%s", msg);
	else
		/* 1927 ER_CONNECTION_KILLED, not 2013: codes 2000-2999 are the
		 * client library's own, and libmariadb reports one received
		 * from a server as a malformed packet, losing the message. */
		my_client_close(c, 1927, "70100", seq, "Lost connection to server at the proxy: %s", msg);
}

/* ---- callbacks ---- */

static void read_cb(struct bufferevent *bev, void *arg)
{
	struct my_client *c = arg;
	switch (c->state) {
	case MY_CL_HANDSHAKE:
	case MY_CL_AUTH:
	case MY_CL_AUTH_FULL:
		handle_login_input(c);
		break;
	case MY_CL_IDLE:
	case MY_CL_ACTIVE:
		my_relay_client_input(c);
		break;
	case MY_CL_ADMIN:
		my_admin_read(c);
		break;
	case MY_CL_WAIT_SERVER:
	case MY_CL_SYNC:
	case MY_CL_RIDING:
		if (evbuffer_get_length(bufferevent_get_input(bev)) > MY_RELAY_HIGH)
			bufferevent_disable(bev, EV_READ);
		break;
	default:
		break;
	}
	my_relay_flush(c);
}

static void write_cb(struct bufferevent *bev, void *arg)
{
	struct my_client *c = arg;
	pg_io_drained(bev, c->tls_on);
	my_relay_client_drained(c);
}

static void event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct my_client *c = arg;
	if (what & BEV_EVENT_CONNECTED) {
		if (c->state == MY_CL_TLS_HANDSHAKE) {
			my_client_set_state(c, MY_CL_HANDSHAKE);
			log_debug("mysql client %u: TLS established", c->id);
			/* the handshake response may already be here */
			if (evbuffer_get_length(bufferevent_get_input(bev)) > 0)
				read_cb(bev, c);
		}
		return;
	}
	if (what & BEV_EVENT_ERROR) {
		unsigned long e = bufferevent_get_openssl_error(bev);
		char reason[200] = "";
		if (e)
			ERR_error_string_n(e, reason, sizeof(reason));
		my_client_close(c, 0, NULL, 0, "connection error: %s", e ? reason : strerror(errno));
		return;
	}
	my_client_close(c, 0, NULL, 0, "client disconnected");
}

static void timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct my_client *c = arg;
	switch (c->state) {
	case MY_CL_HANDSHAKE:
	case MY_CL_TLS_HANDSHAKE:
	case MY_CL_AUTH:
	case MY_CL_AUTH_FULL:
		my_client_close(c, 1043, "08S01", c->seq, "client_login_timeout: login not completed in time");
		break;
	case MY_CL_WAIT_SERVER:
		if (c->held) {
			my_client_close(c, 1927, "70100", c->logged_in ? 1 : c->seq,
					"query_wait_timeout: the cluster is paused (admin PAUSE)");
			break;
		}
		my_client_close(c, 1927, "70100", c->logged_in ? 1 : c->seq,
				"query_wait_timeout: no server connection became free in time%s%s",
				c->pool && c->pool->last_error[0] ? ": " : "",
				c->pool && c->pool->last_error[0] ? c->pool->last_error : "");
		break;
	default:
		break;
	}
}

/* ---- query_timeout: KILL QUERY on another connection of the pool ---- */

/* MySQL has no cancel key: the statement is stopped by `KILL QUERY <thread
 * id>` sent on another server of the same pool (an idle one, or a new one
 * when the timed-out server's slot frees up); its answer (OK, or ERR 1094
 * when the statement already ended) is swallowed and the server released. */
struct my_killer {
	struct pool_waiter waiter;
	struct worker *w;
	uint32_t client_id;           /* a KILL QUERY's target holding its server; 0: none */
	uint32_t thread_id;
	char addr[80];
};

/* The KILL is over (answered or failed): its target may let its server go. */
static void killer_free(struct my_killer *k)
{
	struct my_client *c = k->client_id ? my_client_find(k->w, k->client_id) : NULL;
	free(k);
	if (c && c->kill_hold > 0 && --c->kill_hold == 0 && c->state == MY_CL_IDLE)
		my_relay_maybe_release(c);
}

static void killer_readable(void *link, struct server *s)
{
	struct my_killer *k = link;
	struct evbuffer *in = bufferevent_get_input(s->bev);
	size_t have = evbuffer_get_length(in);
	if (have < MYC_HEADER_LEN)
		return;
	uint8_t h[MYC_HEADER_LEN + 1];
	evbuffer_copyout(in, h, sizeof(h) <= have ? sizeof(h) : have);
	size_t len = (size_t)h[0] | (size_t)h[1] << 8 | (size_t)h[2] << 16;
	if (have < MYC_HEADER_LEN + len)
		return;
	bool ok = len > 0 && h[MYC_HEADER_LEN] == 0x00;
	bool err = len > 0 && h[MYC_HEADER_LEN] == 0xff;
	evbuffer_drain(in, MYC_HEADER_LEN + len);
	log_info("KILL QUERY %u on %s: %s", k->thread_id, k->addr,
		 ok ? "done" : err ? "refused (statement already over?)" : "unexpected answer");
	bool clean = (ok || err) && evbuffer_get_length(in) == 0;
	pool_release(s, clean, false);
	killer_free(k);
}

static void killer_failed(void *link, struct server *s, const char *why)
{
	struct my_killer *k = link;
	log_warning("KILL QUERY %u on %s failed: %s", k->thread_id, k->addr, why);
	killer_free(k);
}

static void killer_writable(void *link, struct server *s)
{
}

static const struct server_link_ops killer_link_ops = {
	.readable = killer_readable,
	.failed = killer_failed,
	.writable = killer_writable,
};

static void killer_on_server(struct pool_waiter *wt, struct server *s)
{
	struct my_killer *k = container_of(wt, struct my_killer, waiter);
	server_link(s, k, &killer_link_ops);
	char sql[48];
	snprintf(sql, sizeof(sql), "KILL QUERY %u", k->thread_id);
	struct buf b;
	buf_init(&b);
	myc_put_query(&b, sql);
	int rc = pg_bev_send(s->bev, &b);
	buf_free(&b);
	if (rc < 0) {
		pool_release(s, false, false);
		killer_free(k);
	}
}

static void killer_on_error(struct pool_waiter *wt, const char *sqlstate, const char *msg)
{
	struct my_killer *k = container_of(wt, struct my_killer, waiter);
	log_warning("no server to send KILL QUERY %u on %s: %s", k->thread_id, k->addr, msg);
	killer_free(k);
}

/* `holder`: the client whose running command is killed and which keeps
 * its server until the KILL is answered (NULL: the server is gone). */
static void kill_query(struct pool *pool, uint32_t thread_id, struct my_client *holder)
{
	struct my_killer *k = calloc(1, sizeof(*k));
	if (!k)
		return;
	if (holder) {
		k->w = holder->w;
		k->client_id = holder->id;
		holder->kill_hold++;
	}
	k->thread_id = thread_id;
	snprintf(k->addr, sizeof(k->addr), "%.79s", pool->addr.text);
	k->waiter.on_server = killer_on_server;
	k->waiter.on_error = killer_on_error;
	pool_acquire(pool, &k->waiter);
}

void my_client_kill_thread(struct pool *pool, uint32_t thread_id)
{
	kill_query(pool, thread_id, NULL);
}

/* Timeouts of an established session (worker's sweep, every 500 ms).
 * A command over query_timeout: the client gets ERR 3024 and is closed,
 * its server connection is closed and KILL QUERY is sent for the server
 * thread on another connection of the pool.
 * Idle clients get ERR 4031 (sequence id 0, like the server's own
 * unsolicited errors) and are closed; a server left in a transaction is
 * rolled back by the release on close. */
void my_client_sweep(struct my_client *c, int64_t now)
{
	if (!c->cl || !c->logged_in)
		return;
	const struct cfg_pool_settings *st = &c->cl->settings;
	switch (c->state) {
	case MY_CL_ACTIVE:
	case MY_CL_RIDING:
	case MY_CL_SYNC:
	case MY_CL_WAIT_SERVER:
		if (c->state == MY_CL_WAIT_SERVER || (c->state == MY_CL_SYNC && !c->cmd_pending))
			return; /* query_wait_timeout covers the wait */
		if (st->query_timeout_ms > 0 && now - c->query_start_ms > st->query_timeout_ms) {
			struct pool *pool = c->pool;
			/* Queued with others: a KILL QUERY could stop another
			 * client's statement; the batch drops this one's answer. */
			uint32_t thread_id = c->server && !my_batch_involved(c) ? my_server_of(c->server)->thread_id : 0;
			/* Closing releases the server unclean: it is closed, which
			 * frees its slot for the KILL if the pool is full. */
			my_client_close(c, 3024, "HY000", 1,
					"Query execution was interrupted, maximum statement execution time exceeded"
					" (query_timeout %lld ms)",
					(long long)st->query_timeout_ms);
			if (pool && thread_id)
				kill_query(pool, thread_id, NULL);
		}
		return;
	case MY_CL_IDLE:
		break;
	default:
		return;
	}
	if (c->cmd_pending)
		return;
	bool in_tx = c->server && c->server->tx_status != 'I';
	int64_t idle = now - c->last_activity_ms;
	if (in_tx && st->idle_transaction_timeout_ms > 0 && idle > st->idle_transaction_timeout_ms) {
		my_client_close(c, 4031, "HY000", 0,
				"The client was disconnected by the server because of inactivity"
				" (idle_transaction_timeout %lld ms)",
				(long long)st->idle_transaction_timeout_ms);
		return;
	}
	if (!in_tx && st->client_idle_timeout_ms > 0 && idle > st->client_idle_timeout_ms)
		my_client_close(c, 4031, "HY000", 0,
				"The client was disconnected by the server because of inactivity"
				" (client_idle_timeout %lld ms)",
				(long long)st->client_idle_timeout_ms);
}

/* ---- KILL from clients (my_kill.c hands the requests to this worker) ---- */

struct my_client *my_client_find(struct worker *w, uint32_t id)
{
	for (struct list *it = w->my_clients.next; it != &w->my_clients; it = it->next) {
		struct my_client *c = container_of(it, struct my_client, node);
		if (c->id == id)
			return c;
	}
	return NULL;
}

/* The command c runs on its server, if any (not a hidden one of the
 * proxy's between commands). */
static bool running_on_server(const struct my_client *c)
{
	return c->server && (c->state == MY_CL_ACTIVE || (c->state == MY_CL_SYNC && c->cmd_pending));
}

void my_client_kill_query(struct my_client *c)
{
	if (my_batch_kill(c))
		return; /* queued with others' statements: answered here */
	if (!running_on_server(c)) {
		struct log_who who = my_client_who(c);
		log_who_msg(LOG_INFO, &who, "KILL QUERY: no statement running");
		return;
	}
	struct log_who who = my_client_who(c);
	who.server = c->server->id;
	who.node = c->server->pool->addr.text;
	log_who_msg(LOG_INFO, &who, "KILL QUERY: stopping its statement on %s", c->server->pool->addr.text);
	/* Not on the client's own pool: it may be full (the statement holds
	 * one of its slots), and the KILL would wait behind the statement.
	 * A pool of the same user and node logged in to information_schema
	 * (its own slots) carries it. */
	struct pool *src = c->server->pool;
	struct pool *kp = pool_get(c->w->pools, CFG_PROTO_MYSQL, &src->addr, "information_schema", src->user,
				   &c->cl->settings, c->cfg->global.max_packet_size);
	if (kp && kp != src)
		pool_set_credentials(kp, &src->cred);
	kill_query(kp ? kp : src, my_server_of(c->server)->thread_id, c);
}

void my_client_kill_connection(struct my_client *c)
{
	struct pool *pool = NULL;
	uint32_t thread_id = 0;
	if (running_on_server(c) && !my_batch_involved(c)) {
		pool = c->server->pool;
		thread_id = my_server_of(c->server)->thread_id;
	}
	uint8_t seq = c->state == MY_CL_IDLE ? 0 : 1;
	/* Closing releases a busy server unclean (closed): the KILL below
	 * stops what it still runs. */
	my_client_close(c, 1927, "70100", seq, "Connection was killed");
	if (pool && thread_id)
		kill_query(pool, thread_id, NULL);
}
