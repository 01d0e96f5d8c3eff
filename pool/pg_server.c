/*
 * pg_server.c — a PostgreSQL server connection: connect, TLS upgrade,
 * startup and authentication (SCRAM-SHA-256, md5, cleartext), reset on
 * release, and the hand-off of its events to a linked client.
 *
 * Transitions: server_set_state() is the only place a state changes; it
 * keeps list membership and counters in step and logs at debug level.
 */
#include "pool/pg_server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "pool/my_server.h"
#include "pool/pool.h"
#include "proxy/pg/pg_evbuf.h"
#include "proxy/pg/pgmd5.h"
#include "proxy/tls.h"
#include "util/log.h"

#define SERVER_STATE_NAME(name) #name,
static const char *const server_state_names[] = { SERVER_STATES(SERVER_STATE_NAME) };
#undef SERVER_STATE_NAME

static void server_read_cb(struct bufferevent *bev, void *arg);
static void server_write_cb(struct bufferevent *bev, void *arg);
static void server_event_cb(struct bufferevent *bev, short what, void *arg);

const char *server_state_name(enum server_state st) { return server_state_names[st]; }

int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static struct pgc_limits server_limits(const struct server *s)
{
	struct pgc_limits lim = { .max_packet_size = s->pool->st.max_packet_size };
	return lim;
}

/* Which pool list and counter a state belongs to. */
static struct list *state_list(struct pool *p, enum server_state st, int **counter)
{
	switch (st) {
	case SV_IDLE:
		*counter = &p->n_idle;
		return &p->idle;
	case SV_ACTIVE:
		*counter = &p->n_active;
		return &p->active;
	case SV_CLOSED:
		*counter = NULL;
		return NULL;
	default:
		*counter = &p->n_pending;
		return &p->pending;
	}
}

void server_set_state(struct server *s, enum server_state st)
{
	struct pool *p = s->pool;
	int *oldc, *newc;
	struct list *oldl = state_list(p, s->state, &oldc);
	struct list *newl = state_list(p, st, &newc);
	if (oldl != newl) {
		if (oldl) {
			list_del(&s->node);
			(*oldc)--;
		}
		if (newl) {
			list_add_tail(newl, &s->node);
			(*newc)++;
		}
	}
	log_debug("server %llu (%s): %s -> %s", (unsigned long long)s->id, p->addr.text,
		  server_state_name(s->state), server_state_name(st));
	s->state = st;
}

const char *server_param(const struct server *s, const char *key)
{
	for (int i = 0; i < s->n_params; i++)
		if (strcasecmp(s->params[i].key, key) == 0) /* GUC names ignore case */
			return s->params[i].value;
	return NULL;
}

void server_forget_sync(struct server *s)
{
	s->synced_for = 0;
	kvpack_free(s->synced_want);
	kvpack_free(s->synced_seen);
	s->synced_want = s->synced_seen = NULL;
}

void server_param_set(struct server *s, const char *key, const char *value)
{
	for (int i = 0; i < s->n_params; i++) {
		if (strcmp(s->params[i].key, key) == 0) {
			if (strcmp(s->params[i].value, value) == 0)
				return; /* reported again, unchanged */
			s->params_gen++;
			char *v = strdup(value);
			if (v) {
				free(s->params[i].value);
				s->params[i].value = v;
			}
			return;
		}
	}
	if (s->n_params == SERVER_MAX_PARAMS)
		return; /* more reported parameters than PostgreSQL has; ignore */
	char *k = strdup(key), *v = strdup(value);
	if (!k || !v) {
		free(k);
		free(v);
		return;
	}
	s->params_gen++;
	s->params[s->n_params].key = k;
	s->params[s->n_params].value = v;
	s->n_params++;
}

static void timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct server *s = arg;
	char msg[400];
	snprintf(msg, sizeof(msg), "server %s did not answer within server_connect_timeout",
		 s->pool->addr.text);
	pool_server_failed(s->pool, s, "08006", msg);
}

/* Resolve a TCP address; names are resolved synchronously (use literals
 * in production configs to keep workers from blocking on DNS). */
static int make_sockaddr(const struct cfg_addr *a, struct sockaddr_storage *ss, socklen_t *len)
{
	memset(ss, 0, sizeof(*ss));
	if (a->kind == CFG_ADDR_UNIX) {
		struct sockaddr_un *un = (struct sockaddr_un *)ss;
		un->sun_family = AF_UNIX;
		snprintf(un->sun_path, sizeof(un->sun_path), "%s", a->path);
		*len = sizeof(*un);
		return 0;
	}
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV };
	struct addrinfo *res = NULL;
	char port[8];
	snprintf(port, sizeof(port), "%u", a->port);
	if (getaddrinfo(a->host, port, &hints, &res) != 0 || !res)
		return -1;
	memcpy(ss, res->ai_addr, res->ai_addrlen);
	*len = res->ai_addrlen;
	freeaddrinfo(res);
	return 0;
}

int server_sockaddr(const struct cfg_addr *a, struct sockaddr_storage *ss, socklen_t *len)
{
	return make_sockaddr(a, ss, len);
}

static void send_startup(struct server *s)
{
	struct buf b;
	buf_init(&b);
	size_t st = pgc_begin(&b, 0);
	buf_put_u32be(&b, PGC_PROTOCOL_3_0);
	buf_put_cstr(&b, "user");
	buf_put_cstr(&b, s->pool->user);
	buf_put_cstr(&b, "database");
	buf_put_cstr(&b, s->pool->database);
	buf_put_u8(&b, 0);
	pgc_end(&b, st);
	pg_bev_send(s->bev, &b);
	buf_free(&b);
	server_set_state(s, SV_LOGIN);
}

struct server *server_connect(struct pool *p)
{
	if (p->protocol == CFG_PROTO_MYSQL)
		return my_server_connect(p);
	struct pool_set *ps = p->set;
	struct server *s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
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
	char msg[400];
	if (make_sockaddr(&p->addr, &ss, &sl) < 0) {
		snprintf(msg, sizeof(msg), "could not resolve server address %s", p->addr.text);
		pool_server_failed(p, s, "08001", msg);
		return NULL;
	}
	s->bev = bufferevent_socket_new(ps->base, -1, BEV_OPT_CLOSE_ON_FREE);
	s->timer = evtimer_new(ps->base, timer_cb, s);
	if (!s->bev || !s->timer) {
		pool_server_failed(p, s, "53200", "out of memory opening a server connection");
		return NULL;
	}
	bufferevent_setcb(s->bev, server_read_cb, server_write_cb, server_event_cb, s);
	/* EV_WRITE only when a direct write is partial (pg_evbuf.h); libevent
	 * still reports the connect. */
	bufferevent_disable(s->bev, EV_WRITE); /* on by default in libevent */
	bufferevent_enable(s->bev, EV_READ);
	if (p->st.connect_timeout_ms > 0) {
		struct timeval tv = { p->st.connect_timeout_ms / 1000,
				      (p->st.connect_timeout_ms % 1000) * 1000 };
		evtimer_add(s->timer, &tv);
	}
	if (bufferevent_socket_connect(s->bev, (struct sockaddr *)&ss, (int)sl) < 0) {
		snprintf(msg, sizeof(msg), "could not connect to server %s: %s", p->addr.text,
			 strerror(errno));
		pool_server_failed(p, s, "08006", msg);
		return NULL;
	}
	pg_io_direct_reads(s->bev); /* connect re-created the read event */
	log_debug("server %llu: connecting to %s", (unsigned long long)s->id, p->addr.text);
	return s;
}

/* CancelRequest: a short-lived connection that sends 16 bytes and closes. */
static void cancel_write_cb(struct bufferevent *bev, void *arg)
{
	if (evbuffer_get_length(bufferevent_get_output(bev)) == 0)
		bufferevent_free(bev);
}

static void cancel_event_cb(struct bufferevent *bev, short what, void *arg)
{
	if (what & BEV_EVENT_CONNECTED)
		return;
	bufferevent_free(bev);
}

void server_send_cancel(struct event_base *base, const struct cfg_addr *addr, uint32_t pid,
			uint32_t key)
{
	struct sockaddr_storage ss;
	socklen_t sl;
	if (make_sockaddr(addr, &ss, &sl) < 0)
		return;
	struct bufferevent *bev = bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE);
	if (!bev)
		return;
	struct buf b;
	buf_init(&b);
	pgc_put_cancel(&b, pid, key);
	bufferevent_setcb(bev, NULL, cancel_write_cb, cancel_event_cb, NULL);
	bufferevent_write(bev, b.data, b.len);
	buf_free(&b);
	struct timeval tv = { 5, 0 };
	bufferevent_set_timeouts(bev, &tv, &tv);
	if (bufferevent_socket_connect(bev, (struct sockaddr *)&ss, (int)sl) < 0) {
		bufferevent_free(bev);
		return;
	}
	bufferevent_enable(bev, EV_WRITE);
}

void server_link(struct server *s, void *link, const struct server_link_ops *ops)
{
	s->link = link;
	s->link_ops = ops;
	s->last_used_ms = now_ms();
}

void server_start_reset(struct server *s, bool run_reset_query)
{
	if (s->my) {
		my_server_start_reset(s, run_reset_query);
		return;
	}
	struct buf b;
	buf_init(&b);
	s->resets_pending = 0;
	server_forget_sync(s);
	if (s->tx_status != 'I') {
		pgc_put_query(&b, "ROLLBACK");
		s->resets_pending++;
	}
	const char *rq = s->pool->st.reset_query;
	if (run_reset_query && rq && rq[0]) {
		/* DISCARD ALL drops prepared statements; any reset query might. */
		pg_stmt_cache_clear(&s->stmts);
		pgc_put_query(&b, rq);
		s->resets_pending++;
	}
	server_set_state(s, SV_RESETTING);
	if (s->resets_pending == 0) {
		server_set_state(s, SV_IDLE);
		pool_server_ready(s->pool, s);
	} else if (pg_bev_send(s->bev, &b) < 0) {
		server_close(s, "out of memory sending the reset query");
	}
	buf_free(&b);
}

void server_close(struct server *s, const char *reason)
{
	if (s->state == SV_CLOSED)
		return;
	struct pool *p = s->pool;
	log_debug("server %llu (%s): closing: %s", (unsigned long long)s->id, p->addr.text, reason);
	if (s->bev && (s->state == SV_IDLE || s->state == SV_ACTIVE)) {
		/* Say goodbye so the server does not log an unexpected EOF. */
		struct buf b;
		buf_init(&b);
		if (s->my)
			my_server_goodbye(s, &b); /* COM_QUIT */
		else
			pgc_put_terminate(&b);
		pg_bev_send(s->bev, &b);
		buf_free(&b);
	}
	server_set_state(s, SV_CLOSED);
	if (s->timer) {
		event_free(s->timer);
		s->timer = NULL;
	}
	if (s->bev) {
		bufferevent_free(s->bev);
		s->bev = NULL;
	}
	list_add_tail(&p->set->dead, &s->dead_node);
	event_active(p->set->reap_ev, 0, 0);
}

void server_reap(struct list *dead)
{
	struct list *n;
	while ((n = list_pop(dead))) {
		struct server *s = container_of(n, struct server, dead_node);
		server_forget_sync(s);
		for (int i = 0; i < s->n_params; i++) {
			free(s->params[i].key);
			free(s->params[i].value);
		}
		pg_stmt_cache_clear(&s->stmts);
		my_server_free(s->my);
		free(s);
	}
}

/* A login step failed: tell the pool, which tells the waiters. */
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

/* Switch the connection to TLS after the server answered 'S'. */
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
	bufferevent_setcb(s->bev, server_read_cb, server_write_cb, server_event_cb, s);
	bufferevent_enable(s->bev, EV_READ | EV_WRITE);
	s->tls = true;
	server_set_state(s, SV_TLS_HANDSHAKE);
	return 0;
}

static void handle_tls_answer(struct server *s)
{
	struct evbuffer *in = bufferevent_get_input(s->bev);
	uint8_t c;
	if (evbuffer_remove(in, &c, 1) != 1)
		return;
	if (c == 'S') {
		if (evbuffer_get_length(in) != 0) {
			/* Bytes before the handshake could be injected by a man in the
			 * middle (CVE-2021-23222): refuse them. */
			login_failed(s, "08P01", "server sent unencrypted data after its SSL answer");
			return;
		}
		if (upgrade_to_tls(s) < 0)
			login_failed(s, "08006", "could not start TLS with the server");
		return;
	}
	if (c == 'N' && s->pool->set->tls->server_mode == CFG_STLS_PREFER) {
		send_startup(s);
		return;
	}
	login_failed(s, "08006", "server %s does not accept TLS (server_tls_mode requires it)",
		     s->pool->addr.text);
}

static void send_buf_or_fail(struct server *s, struct buf *b)
{
	if (pg_bev_send(s->bev, b) < 0)
		login_failed(s, "53200", "out of memory during login");
}

/* Answer one Authentication request during login. Returns -1 when the
 * server has been failed. */
static int handle_auth(struct server *s, const struct pgc_msg *m)
{
	struct pool_credentials *cr = &s->pool->cred;
	struct pgc_reader r;
	pgc_reader_init(&r, m->body, m->body_len);
	uint32_t code = pgc_read_u32(&r);
	if (r.bad) {
		login_failed(s, "08P01", "malformed authentication request from server");
		return -1;
	}
	struct buf b;
	buf_init(&b);
	int rc = 0;
	const char *err = NULL;
	char out[512];
	switch (code) {
	case PGC_AUTH_OK:
		break;
	case PGC_AUTH_CLEARTEXT:
		if (!cr->password) {
			login_failed(s, "28000", "server asks for a cleartext password, and only a verifier is configured for user %s", s->pool->user);
			rc = -1;
			break;
		}
		pgc_put_password(&b, cr->password);
		send_buf_or_fail(s, &b);
		break;
	case PGC_AUTH_MD5: {
		const uint8_t *salt = pgc_read_bytes(&r, 4);
		char stored[PG_MD5_BUF], resp[PG_MD5_BUF];
		if (r.bad) {
			login_failed(s, "08P01", "malformed md5 request from server");
			rc = -1;
			break;
		}
		if (cr->password) {
			if (pg_md5_stored(cr->password, s->pool->user, stored) < 0) {
				login_failed(s, "XX000", "md5 failed");
				rc = -1;
				break;
			}
		} else if (cr->md5_stored)
			snprintf(stored, sizeof(stored), "%s", cr->md5_stored);
		else {
			login_failed(s, "28000", "server asks for md5 and no password or md5 hash is configured for user %s", s->pool->user);
			rc = -1;
			break;
		}
		if (pg_md5_response(stored, salt, resp) < 0) {
			login_failed(s, "28000", "configured md5 hash for user %s is malformed", s->pool->user);
			rc = -1;
			break;
		}
		pgc_put_password(&b, resp);
		send_buf_or_fail(s, &b);
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
			login_failed(s, "28000", "server offers no SASL mechanism we support");
			rc = -1;
			break;
		}
		if (!cr->password && !cr->has_client_key) {
			login_failed(s, "28000", cr->md5_stored
				     ? "server asks for SCRAM and only an md5 hash is known for user %s (set server_password, or store its password as SCRAM on the server)"
				     : "no password or SCRAM key for user %s (a verifier-only user needs a client to log in with SCRAM first)",
				     s->pool->user);
			rc = -1;
			break;
		}
		if (scram_client_init(&s->scram, cr->password,
				      cr->has_client_key && !cr->password ? cr->client_key : NULL,
				      cr->has_server_key && !cr->password ? cr->server_key : NULL) < 0 ||
		    scram_client_first(&s->scram, out, sizeof(out)) < 0) {
			login_failed(s, "28000", "could not start SCRAM authentication");
			rc = -1;
			break;
		}
		pgc_put_sasl_initial(&b, "SCRAM-SHA-256", out, strlen(out));
		send_buf_or_fail(s, &b);
		break;
	}
	case PGC_AUTH_SASL_CONTINUE: {
		size_t n = pgc_reader_left(&r);
		const char *data = (const char *)pgc_read_bytes(&r, n);
		if (scram_client_final(&s->scram, data, n, out, sizeof(out), &err) < 0) {
			login_failed(s, "28000", "SCRAM exchange with server failed: %s", err ? err : "?");
			rc = -1;
			break;
		}
		pgc_put_sasl_response(&b, out, strlen(out));
		send_buf_or_fail(s, &b);
		break;
	}
	case PGC_AUTH_SASL_FINAL: {
		size_t n = pgc_reader_left(&r);
		const char *data = (const char *)pgc_read_bytes(&r, n);
		if (scram_client_verify(&s->scram, data, n, &err) < 0) {
			login_failed(s, "28000", "server's SCRAM signature is wrong: %s", err ? err : "?");
			rc = -1;
		}
		break;
	}
	default:
		login_failed(s, "28000", "server asks for an authentication method we do not support (%u)", code);
		rc = -1;
		break;
	}
	buf_free(&b);
	return rc;
}

/* Login messages until ReadyForQuery. */
static void handle_login(struct server *s)
{
	struct evbuffer *in = bufferevent_get_input(s->bev);
	struct pgc_limits lim = server_limits(s);
	for (;;) {
		struct pgc_msg m;
		ssize_t r = pg_evbuf_next(in, &lim, &m);
		if (r == 0)
			return;
		if (r < 0) {
			login_failed(s, "08P01", "bad message from server during login: %s", pgc_err_str(r));
			return;
		}
		switch (m.type) {
		case 'R':
			if (handle_auth(s, &m) < 0)
				return;
			break;
		case 'S': {
			const char *k, *v;
			if (pgc_parse_param_status(m.body, m.body_len, &k, &v))
				server_param_set(s, k, v);
			break;
		}
		case 'K': {
			struct pgc_reader rd;
			pgc_reader_init(&rd, m.body, m.body_len);
			s->backend_pid = pgc_read_u32(&rd);
			s->backend_key = pgc_read_u32(&rd);
			break;
		}
		case 'E': {
			struct pgc_error_fields ef;
			if (pgc_parse_error(m.body, m.body_len, &ef) < 0)
				login_failed(s, "08P01", "malformed error from server during login");
			else
				login_failed(s, ef.code[0] ? ef.code : "08006", "%s", ef.message);
			return;
		}
		case 'Z':
			s->tx_status = m.body_len >= 1 ? (char)m.body[0] : 'I';
			evbuffer_drain(in, (size_t)r);
			evtimer_del(s->timer);
			log_debug("server %llu: logged in to %s (pid %u)", (unsigned long long)s->id,
				  s->pool->addr.text, s->backend_pid);
			server_set_state(s, SV_IDLE);
			pool_server_logged_in(s->pool, s);
			pool_server_ready(s->pool, s);
			return;
		default:
			break; /* NoticeResponse, NegotiateProtocolVersion: nothing to do */
		}
		evbuffer_drain(in, (size_t)r);
	}
}

/* Answers to the reset queries; and anything an idle server says. */
static void handle_quiet(struct server *s)
{
	struct evbuffer *in = bufferevent_get_input(s->bev);
	struct pgc_limits lim = server_limits(s);
	for (;;) {
		struct pgc_msg m;
		ssize_t r = pg_evbuf_next(in, &lim, &m);
		if (r == 0)
			return;
		if (r < 0) {
			server_close(s, "bad message from server");
			return;
		}
		if (m.type == 'E') {
			struct pgc_error_fields ef;
			if (pgc_parse_error(m.body, m.body_len, &ef) == 0) {
				struct log_who who = { .server = s->id, .node = s->pool->addr.text };
				log_who_msg(LOG_WARNING, &who, "%s %s", ef.code, ef.message);
			}
			server_close(s, "error from server while idle or resetting");
			return;
		}
		if (m.type == 'S') {
			const char *k, *v;
			if (pgc_parse_param_status(m.body, m.body_len, &k, &v))
				server_param_set(s, k, v);
		}
		bool ready = m.type == 'Z';
		if (ready)
			s->tx_status = m.body_len >= 1 ? (char)m.body[0] : 'I';
		evbuffer_drain(in, (size_t)r);
		if (ready && s->state == SV_RESETTING && --s->resets_pending == 0) {
			server_set_state(s, SV_IDLE);
			pool_server_ready(s->pool, s);
			return;
		}
		if (s->state == SV_IDLE && m.type != 'S' && m.type != 'N') {
			server_close(s, "unexpected message from idle server");
			return;
		}
	}
}

static void server_read_cb(struct bufferevent *bev, void *arg)
{
	struct server *s = arg;
	switch (s->state) {
	case SV_TLS_REQUEST:
		handle_tls_answer(s);
		break;
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

static void server_write_cb(struct bufferevent *bev, void *arg)
{
	struct server *s = arg;
	pg_io_drained(bev, s->tls);
	if (s->state == SV_ACTIVE && s->link_ops->writable)
		s->link_ops->writable(s->link, s);
}

static void server_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct server *s = arg;
	if (what & BEV_EVENT_CONNECTED) {
		if (s->state == SV_CONNECTING) {
			if (s->pool->addr.kind == CFG_ADDR_TCP) {
				int one = 1;
				setsockopt(bufferevent_getfd(bev), IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
			}
			struct tls_contexts *t = s->pool->set->tls;
			if (t && t->server_mode != CFG_STLS_DISABLE && s->pool->addr.kind == CFG_ADDR_TCP) {
				struct buf b;
				buf_init(&b);
				pgc_put_ssl_request(&b);
				pg_bev_send(s->bev, &b);
				buf_free(&b);
				server_set_state(s, SV_TLS_REQUEST);
			} else {
				send_startup(s);
			}
		} else if (s->state == SV_TLS_HANDSHAKE) {
			send_startup(s);
		}
		return;
	}
	char why[600];
	const char *detail = "connection closed";
	if (what & BEV_EVENT_ERROR) {
		unsigned long e = bufferevent_get_openssl_error(bev);
		if (e) {
			static _Thread_local char sslmsg[200];
			ERR_error_string_n(e, sslmsg, sizeof(sslmsg));
			detail = sslmsg;
		} else if (errno) {
			detail = strerror(errno);
		}
	} else if (what & BEV_EVENT_TIMEOUT) {
		detail = "timeout";
	}
	snprintf(why, sizeof(why), "server %s: %s", s->pool->addr.text, detail);
	switch (s->state) {
	case SV_CONNECTING:
	case SV_TLS_REQUEST:
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
