/*
 * pg_client.c — a PostgreSQL client session: accept, startup packet, TLS
 * upgrade, authentication, getting a server from the pool, applying the
 * client's startup parameters on it, and closing. The byte relay of an
 * established session is pg_relay.c's.
 */
#include "proxy/pg/pg_client.h"

#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/un.h>
#include <unistd.h>

#include "pool/pg_server.h"
#include "proxy/pg/pg_admin.h"
#include "proxy/admin.h"
#include "proxy/linger.h"
#include "proxy/pg/pg_auth_query.h"
#include "proxy/pg/pg_batch.h"
#include "proxy/pg/pg_cancel.h"
#include "proxy/pg/pg_evbuf.h"
#include "proxy/pg/pg_prepared.h"
#include "proxy/pg/pg_relay.h"
#include "proxy/pg/pg_route.h"
#include "proxy/pg/pg_sql.h"
#include "proxy/proxy.h"
#include "proxy/tls.h"
#include "util/log.h"

#define CLIENT_STATE_NAME(name) #name,
static const char *const client_state_names[] = { CLIENT_STATES(CLIENT_STATE_NAME) };
#undef CLIENT_STATE_NAME

/* Messages during login are small; refuse big ones before buffering them. */
#define LOGIN_MAX_MESSAGE 65536

static void client_read_cb(struct bufferevent *bev, void *arg);
static void pg_client_linger(struct pg_client *c);
static int open_bev(struct pg_client *c, int fd);
static void client_write_cb(struct bufferevent *bev, void *arg);
static void client_event_cb(struct bufferevent *bev, short what, void *arg);
static void client_timer_cb(evutil_socket_t fd, short what, void *arg);
static void on_server(struct pool_waiter *wt, struct server *s);
static void on_server_error(struct pool_waiter *wt, const char *sqlstate, const char *msg);

const char *client_state_name(enum client_state st) { return client_state_names[st]; }

/* When even the copy fails, this constant stands in for the message. */
static char sync_error_oom[] = "(out of memory for the server's error message)";

void pg_client_set_sync_error(struct pg_client *c, const char *msg)
{
	if (c->sync_error != sync_error_oom)
		free(c->sync_error);
	c->sync_error = NULL;
	if (msg) {
		c->sync_error = strdup(msg);
		if (!c->sync_error)
			c->sync_error = sync_error_oom;
	}
}

void client_set_state(struct pg_client *c, enum client_state st)
{
	log_debug("client %u (%s): %s -> %s", c->id, c->addr, client_state_name(c->state),
		  client_state_name(st));
	c->state = st;
}

static void timer_start(struct pg_client *c, int64_t ms)
{
	/* Also cancels a pending park_soon, and makes the event the timer
	 * again (pg_client_park_soon borrows it). */
	event_del(c->timer);
	event_assign(c->timer, c->w->base, -1, 0, client_timer_cb, c);
	if (ms <= 0)
		return;
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };
	evtimer_add(c->timer, &tv);
}

static void format_addr(const struct sockaddr *sa, char *out, size_t cap)
{
	char host[INET6_ADDRSTRLEN] = "?";
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
		inet_ntop(AF_INET, &in->sin_addr, host, sizeof(host));
		snprintf(out, cap, "%s:%u", host, ntohs(in->sin_port));
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
		inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof(host));
		snprintf(out, cap, "[%s]:%u", host, ntohs(in6->sin6_port));
	} else {
		snprintf(out, cap, "unix");
	}
}

/* Send an ErrorResponse without closing. */
static void send_error(struct pg_client *c, const char *severity, const char *sqlstate,
		       const char *msg)
{
	struct buf b;
	buf_init(&b);
	pgc_put_error(&b, severity, sqlstate, msg);
	pg_bev_send(c->bev, &b);
	buf_free(&b);
}

static const int64_t default_login_timeout_ms = 10000;

/* The login timeout that applies before we know the client's cluster:
 * the listener's cluster's, else the shortest of the PostgreSQL clusters'
 * (a client that has not said which database it wants gets no more time
 * than any database allows). */
static int64_t login_timeout(const struct pg_client *c)
{
	if (c->listen && c->listen->cluster) {
		const struct cfg_cluster *cl = cfg_find_cluster(c->cfg, c->listen->cluster);
		if (cl)
			return cl->settings.client_login_timeout_ms;
	}
	int64_t t = -1;
	for (size_t i = 0; i < c->cfg->n_clusters; i++) {
		const struct cfg_cluster *cl = &c->cfg->clusters[i];
		int64_t v = cl->settings.client_login_timeout_ms;
		if (cl->protocol == CFG_PROTO_POSTGRES && v > 0 && (t < 0 || v < t))
			t = v;
	}
	return t > 0 ? t : default_login_timeout_ms;
}

/* The plain-socket bufferevent of a client (at accept, and when a parked
 * client wakes). Takes fd: closes it on failure (-1, c->bev NULL). */
static int open_bev(struct pg_client *c, int fd)
{
	c->bev = bufferevent_socket_new(c->w->base, fd, BEV_OPT_CLOSE_ON_FREE);
	if (!c->bev) {
		close(fd);
		return -1;
	}
	pg_io_direct_reads(c->bev);
	bufferevent_setcb(c->bev, client_read_cb, client_write_cb, client_event_cb, c);
	pg_relay_set_watermarks(c->bev);
	/* EV_WRITE (on by default in libevent) only when a write is partial. */
	bufferevent_disable(c->bev, EV_WRITE);
	bufferevent_enable(c->bev, EV_READ);
	stats_watch_client(c->w, STATS_PROTO_PG, c->bev);
	return 0;
}

/* ---- parking (pg_client.h) ---- */

static void client_wake_cb(evutil_socket_t fd, short what, void *arg);

void pg_client_try_park(struct pg_client *c)
{
	if (c->state != CL_IDLE || c->parked || c->tls_on || !c->bev || c->server || c->admin_wait)
		return;
	pg_io_flush_now(c->bev); /* what this loop turn queued */
	if (evbuffer_get_length(bufferevent_get_input(c->bev)) != 0 ||
	    evbuffer_get_length(bufferevent_get_output(c->bev)) != 0 ||
	    (bufferevent_get_enabled(c->bev) & EV_WRITE) || !(bufferevent_get_enabled(c->bev) & EV_READ))
		return; /* bytes in flight, or reading suspended on purpose */
	if (c->route_retry && evtimer_pending(c->route_retry, NULL))
		return;
	evutil_socket_t fd = bufferevent_getfd(c->bev);
	if (fd < 0)
		return;
	if (c->opq.len == 0)
		pg_opq_free(&c->opq); /* its ring (about 1 KiB) comes back on the next request */
	/* A socket bufferevent closes its descriptor on free unless it has
	 * none any more: keep the socket, free the rest. */
	bufferevent_setfd(c->bev, -1);
	bufferevent_free(c->bev);
	c->bev = NULL;
	event_del(c->timer);
	event_assign(c->timer, c->w->base, fd, EV_READ, client_wake_cb, c);
	if (event_add(c->timer, NULL) < 0) {
		close(fd);
		event_assign(c->timer, c->w->base, -1, 0, client_timer_cb, c);
		pg_client_close(c, NULL, "cannot watch the parked client's socket");
		return;
	}
	c->parked = true;
	log_debug("client %u (%s): parked", c->id, c->addr);
}

static void park_soon_cb(evutil_socket_t fd, short what, void *arg)
{
	struct pg_client *c = arg;
	event_assign(c->timer, c->w->base, -1, 0, client_timer_cb, c);
	pg_client_try_park(c);
}

void pg_client_park_soon(struct pg_client *c)
{
	/* The timer event is idle in CL_IDLE: borrow it for one callback at
	 * the end of this turn, after the output queued now was written. */
	if (c->state != CL_IDLE || c->parked || c->tls_on || evtimer_pending(c->timer, NULL))
		return;
	event_del(c->timer);
	event_assign(c->timer, c->w->base, -1, 0, park_soon_cb, c);
	event_active(c->timer, EV_TIMEOUT, 1);
}

/* Back from parked: the timer is a timer again; with `reopen`, the
 * client gets a new bufferevent on its socket (else the socket is
 * closed). -1 when that failed (the socket is closed, c->bev NULL). */
static int unpark(struct pg_client *c, bool reopen)
{
	evutil_socket_t fd = event_get_fd(c->timer);
	event_del(c->timer);
	event_assign(c->timer, c->w->base, -1, 0, client_timer_cb, c);
	c->parked = false;
	if (!reopen) {
		close(fd);
		return 0;
	}
	return open_bev(c, fd);
}

static void client_wake_cb(evutil_socket_t fd, short what, void *arg)
{
	struct pg_client *c = arg;
	if (unpark(c, true) < 0) {
		pg_client_close(c, NULL, "out of memory for a waking client");
		return;
	}
	log_debug("client %u (%s): woken", c->id, c->addr);
	/* The bytes (or EOF) that woke it are there: read them now rather
	 * than on the next loop turn. */
	pg_io_read_now(c->bev);
}

void pg_client_accept(struct worker *w, const struct cfg_listen *listen, int fd,
		      const struct sockaddr *sa, int salen)
{
	struct proxy *px = w->proxy;
	struct pg_client *c = calloc(1, sizeof(*c));
	if (!c) {
		close(fd);
		return;
	}
	c->w = w;
	c->id = ++w->next_client_id * 64 + (uint32_t)w->id;
	c->state = CL_STARTUP;
	c->listen = listen;
	c->cfg = cfg_ref(w->cfg);
	c->tls = tls_contexts_ref(w->tls);
	list_init(&c->waiter.node);
	strmap_init(&c->prepared);
	pg_opq_init(&c->opq);
	c->waiter.on_server = on_server;
	c->waiter.on_error = on_server_error;
	c->waiter.ride = pg_batch_ride;
	format_addr(sa, c->addr, sizeof(c->addr));
	list_add_tail(&w->clients, &c->node);
	atomic_fetch_add(&px->n_clients, 1);

	if (sa->sa_family == AF_INET || sa->sa_family == AF_INET6) {
		int one = 1;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	}
	c->timer = evtimer_new(w->base, client_timer_cb, c);
	if (!c->timer) {
		close(fd);
		pg_client_close(c, NULL, "out of memory");
		return;
	}
	if (open_bev(c, fd) < 0) {
		pg_client_close(c, NULL, "out of memory");
		return;
	}
	timer_start(c, login_timeout(c));
	c->connected_ms = worker_now_ms(w);
	w->counters[STATS_PROTO_PG].clients_accepted++;

	/* Decided now, said after the startup packet, as PostgreSQL does: an
	 * error answering an SSLRequest is not shown by libpq (CVE-2024-10977),
	 * and a CancelRequest must get through a full proxy. */
	if (atomic_load(&px->n_clients) > c->cfg->global.max_client_conn)
		c->refusal = PG_REFUSE_FULL;
	else if (atomic_load(&px->shutting_down))
		c->refusal = PG_REFUSE_SHUTDOWN;
	log_debug("client %u: connected from %s on %s", c->id, c->addr, listen->name);
}

void pg_client_close(struct pg_client *c, const char *sqlstate, const char *fmt, ...)
{
	if (c->state == CL_CLOSED)
		return;
	if (c->parked)
		unpark(c, sqlstate != NULL); /* a bufferevent only to send the error */
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (sqlstate) {
		stats_client_error(c->w, STATS_PROTO_PG, sqlstate);
		struct log_who who = pg_client_who(c);
		log_who_msg(LOG_INFO, &who, "closing: %s (%s)", msg, sqlstate);
	} else {
		struct log_who who = pg_client_who(c);
		log_who_msg(LOG_DEBUG, &who, "closing: %s", msg);
	}
	if (c->pool)
		pool_cancel_wait(c->pool, &c->waiter);
	pg_auth_query_stop(c);
	if (c->server && pg_batch_client_gone(c)) {
		/* queued with others on a server: the batch drops its answer */
	} else if (c->server) {
		struct server *s = c->server;
		c->server = NULL;
		/* Clean only when nothing is in flight in either direction. */
		bool clean = c->state == CL_ACTIVE && c->outstanding == 0 && c->c2s_left == 0 &&
			     c->s2c_left == 0 && c->opq.len == 0 &&
			     evbuffer_get_length(bufferevent_get_input(s->bev)) == 0;
		if (c->pinned && c->pool_mode != CFG_POOL_SESSION)
			pool_release_pinned(s, clean);
		else
			pool_release(s, clean, c->pool_mode == CFG_POOL_SESSION);
	}
	if (c->cancel_pid)
		cancel_unregister(&c->w->proxy->cancels, c->cancel_pid);
	client_set_state(c, CL_CLOSED);
	if (c->timer)
		evtimer_del(c->timer);
	admin_wait_free(c->admin_wait);
	c->admin_wait = NULL;
	list_del(&c->node);
	atomic_fetch_sub(&c->w->proxy->n_clients, 1);
	if (c->bev && sqlstate) {
		/* Flush the error, then close: disable reading and close once
		 * the output is written (or at once if it cannot be). */
		send_error(c, "FATAL", sqlstate, msg);
		bufferevent_disable(c->bev, EV_READ);
		pg_client_linger(c);
		return;
	}
	list_add_tail(&c->w->dead, &c->node);
	worker_schedule_reap(c->w);
}

/* The error is out (or cannot be): free the client at the end of the turn. */
static void linger_done(void *arg)
{
	struct pg_client *c = arg;
	if (c->timer)
		evtimer_del(c->timer);
	list_add_tail(&c->w->dead, &c->node);
	worker_schedule_reap(c->w);
}

static void pg_client_linger(struct pg_client *c)
{
	if (c->timer)
		evtimer_del(c->timer);
	conn_linger(c->w->base, c->bev, linger_done, c);
}

void pg_client_reap(struct list *dead)
{
	struct list *n;
	while ((n = list_pop(dead))) {
		struct pg_client *c = container_of(n, struct pg_client, node);
		if (c->bev)
			bufferevent_free(c->bev);
		if (c->timer)
			event_free(c->timer);
		if (c->auth) {
			pg_auth_clear(c->auth);
			free(c->auth);
		}
		if (c->scram_keys) {
			OPENSSL_cleanse(c->scram_keys, sizeof(*c->scram_keys));
			free(c->scram_keys);
		}
		pg_client_set_sync_error(c, NULL);
		pg_prepared_clear(&c->prepared);
		pg_opq_free(&c->opq);
		pg_route_free(c);
		kvpack_free(c->want);
		kvpack_free(c->startup);
		kvpack_free(c->seen);
		free(c->user); /* and database, in the same block */
		if (c->dyn_user) {
			free(c->dyn_user->name);
			if (c->dyn_user->password)
				OPENSSL_cleanse(c->dyn_user->password, strlen(c->dyn_user->password));
			free(c->dyn_user->password);
			free(c->dyn_user);
		}
		tls_contexts_unref(c->tls);
		cfg_unref(c->cfg);
		free(c);
	}
}

/* GUC names ignore case. */
static int param_add(struct kvpack **l, const char *k, const char *v)
{
	return kvpack_set(l, k, v, true, CLIENT_MAX_PARAMS);
}

const char *pg_client_seen(const struct pg_client *c, const char *key)
{
	return kvpack_get(c->seen, key, true);
}

bool pg_client_wants(const struct pg_client *c, const char *key)
{
	return kvpack_get(c->want, key, true) != NULL;
}

void pg_client_mark_seen(struct pg_client *c, const char *key, const char *value)
{
	/* Only what can differ between the servers a client uses is worth
	 * remembering (see report_params); the rest costs memory per client. */
	if (!pg_sql_is_tracked_param(key, strlen(key)))
		return;
	const char *had = kvpack_get(c->seen, key, true);
	if (had && strcmp(had, value) == 0)
		return;
	if (param_add(&c->seen, key, value) < 0)
		log_debug("client %u: cannot record parameter %s", c->id, key);
}

void pg_client_want_set(struct pg_client *c, const char *key, const char *value)
{
	if (param_add(&c->want, key, value) < 0)
	{
		struct log_who who = pg_client_who(c);
		log_who_msg(LOG_WARNING, &who, "cannot record parameter %s (too many, or out of memory)", key);
	}
}

/* "-c name=value" and "--name=value" settings in the `options` parameter,
 * as libpq's PGOPTIONS carries them. Backslash escapes a space. */
static int parse_options(struct pg_client *c, const char *opts)
{
	const char *p = opts;
	char word[1024];
	bool expect_c = false;
	while (*p) {
		while (*p == ' ' || *p == '\t')
			p++;
		if (!*p)
			break;
		size_t n = 0;
		while (*p && *p != ' ' && *p != '\t') {
			if (*p == '\\' && p[1])
				p++;
			if (n + 1 >= sizeof(word))
				return -1;
			word[n++] = *p++;
		}
		word[n] = '\0';
		const char *setting = NULL;
		if (expect_c) {
			setting = word;
			expect_c = false;
		} else if (strcmp(word, "-c") == 0) {
			expect_c = true;
			continue;
		} else if (strncmp(word, "-c", 2) == 0) {
			setting = word + 2;
		} else if (strncmp(word, "--", 2) == 0) {
			setting = word + 2;
		} else {
			return -1;
		}
		char *eq = strchr(setting, '=');
		if (!eq || eq == setting)
			return -1;
		*eq = '\0';
		/* GUC names in options may use '-' for '_'. */
		char key[sizeof(word)];
		snprintf(key, sizeof(key), "%s", setting);
		for (char *k = key; *k; k++)
			if (*k == '-')
				*k = '_';
		if (param_add(&c->want, key, eq + 1) < 0)
			return -1;
	}
	return expect_c ? -1 : 0;
}

/* Start TLS on the client connection after answering 'S'. */
static void start_client_tls(struct pg_client *c)
{
	struct worker *w = c->w;
	SSL *ssl = SSL_new(c->tls->accept_ctx);
	int fd = ssl ? dup(bufferevent_getfd(c->bev)) : -1;
	if (fd < 0) {
		if (ssl)
			SSL_free(ssl);
		pg_client_close(c, "08006", "could not start TLS");
		return;
	}
	bufferevent_free(c->bev);
	c->bev = bufferevent_openssl_socket_new(w->base, fd, ssl, BUFFEREVENT_SSL_ACCEPTING,
						BEV_OPT_CLOSE_ON_FREE);
	if (!c->bev) {
		SSL_free(ssl);
		close(fd);
		pg_client_close(c, NULL, "could not start TLS");
		return;
	}
	bufferevent_openssl_set_allow_dirty_shutdown(c->bev, 1);
	stats_watch_client(w, STATS_PROTO_PG, c->bev);
	bufferevent_setcb(c->bev, client_read_cb, client_write_cb, client_event_cb, c);
	pg_relay_set_watermarks(c->bev);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
	c->tls_on = true;
	client_set_state(c, CL_TLS_HANDSHAKE);
}

static void answer_byte(struct pg_client *c, char b)
{
	pg_bev_write(c->bev, &b, 1);
}

/* Answer 'S' straight on the socket: the plain bufferevent is about to be
 * replaced by a TLS one and would drop anything still queued. One byte on
 * a connection whose peer is waiting for it does not block. */
static int answer_tls_yes(struct pg_client *c)
{
	char b = 'S';
	struct evbuffer *out = bufferevent_get_output(c->bev);
	if (evbuffer_get_length(out) != 0)
		return -1;
	return send(bufferevent_getfd(c->bev), &b, 1, MSG_NOSIGNAL) == 1 ? 0 : -1;
}


/* Between transactions a pooled client moves to the current config
 * snapshot, so that a reload (pool sizes, nodes, users) reaches it too.
 * Returns -1 (client closed) when its database or user is gone. */
static int follow_reload(struct pg_client *c)
{
	struct cfg *now = c->w->cfg;
	if (now == c->cfg || c->state == CL_AUTH)
		return 0;
	const struct cfg_cluster *cl = cfg_find_cluster(now, c->cl->name);
	const struct cfg_user *u = c->dyn_user ? c->u : cfg_find_user(now, c->u->name);
	const struct cfg_listen *li = c->listen ? cfg_find_listen(now, c->listen->name) : NULL;
	if (!cl || cl->protocol != CFG_PROTO_POSTGRES || !u) {
		pg_client_close(c, "08006", "database \"%s\" or user \"%s\" was removed by a reload",
				c->database, c->user);
		return -1;
	}
	struct cfg *old = c->cfg;
	c->cfg = cfg_ref(now);
	c->cl = cl;
	c->u = u;
	c->listen = li; /* NULL when its section is gone (the socket stays until restart) */
	cfg_unref(old);
	if (pg_route_init(c) < 0 || pg_client_use_node(c, 0) < 0) {
		pg_client_close(c, "08006", "no server configured for database \"%s\"", c->database);
		return -1;
	}
	return 0;
}

void pg_client_request_server(struct pg_client *c)
{
	if (c->pool_mode != CFG_POOL_SESSION && follow_reload(c) < 0)
		return;
	client_set_state(c, CL_WAIT_SERVER);
	c->wait_start_ms = worker_now_ms(c->w);
	timer_start(c, c->cl->settings.query_wait_timeout_ms);
	if (proxy_cluster_paused(c->w->proxy, c->cl->name)) {
		c->held = true; /* RESUME (worker_resume) queues it */
		return;
	}
	if (pg_route_request(c) != 0)
		return; /* waiting for a replica to catch up, or closed */
	if (pg_batch_ride_busy(c))
		return; /* queued on a busy server (pipeline_depth) */
	pool_acquire(c->pool, &c->waiter);
}

void pg_client_resume(struct pg_client *c)
{
	if (!c->held || c->state != CL_WAIT_SERVER)
		return;
	if (proxy_cluster_paused(c->w->proxy, c->cl->name))
		return;
	c->held = false;
	if (pg_route_request(c) != 0)
		return;
	pool_acquire(c->pool, &c->waiter);
}

int pg_client_use_node(struct pg_client *c, int node_index)
{
	const struct cfg_cluster *cl = c->cl;
	if (node_index < 0 || (size_t)node_index >= cl->n_nodes)
		return -1;
	const struct cfg_node *node = &cl->nodes[node_index];
	const char *server_user = c->u->server_user ? c->u->server_user : c->u->name;
	c->pool = pool_get(c->w->pools, CFG_PROTO_POSTGRES, &node->addr, cl->server_database, server_user,
			   &cl->settings, c->cfg->global.max_packet_size);
	if (!c->pool)
		return -1;
	struct pool_credentials cr = { 0 };
	cr.password = c->u->server_password;
	if (!cr.password && c->u->secret_kind == CFG_SECRET_PLAIN)
		cr.password = c->u->password;
	if (!cr.password && c->u->secret_kind == CFG_SECRET_MD5)
		cr.md5_stored = c->u->password;
	if (!cr.password && c->scram_keys) {
		cr.has_client_key = true;
		memcpy(cr.client_key, c->scram_keys->client_key, sizeof(cr.client_key));
		cr.has_server_key = true;
		memcpy(cr.server_key, c->scram_keys->server_key, sizeof(cr.server_key));
	}
	/* Refresh: the config may have changed, or the key just became known. */
	if (cr.password || cr.md5_stored || cr.has_client_key)
		pool_set_credentials(c->pool, &cr);
	return 0;
}

static void auth_done(struct pg_client *c)
{
	if (c->auth) {
		/* Only a user known by its SCRAM verifier alone logs in to
		 * servers with the recovered key (pg_client_use_node). */
		if (c->auth->have_client_key && !c->scram_keys && c->u->secret_kind == CFG_SECRET_SCRAM &&
		    !c->u->server_password) {
			c->scram_keys = malloc(sizeof(*c->scram_keys));
			if (!c->scram_keys) {
				pg_client_close(c, "53200", "out of memory");
				return;
			}
			memcpy(c->scram_keys->client_key, c->auth->client_key, 32);
			memcpy(c->scram_keys->server_key, c->auth->verifier.server_key, 32);
		}
		pg_auth_clear(c->auth);
		free(c->auth);
		c->auth = NULL;
	}
	struct buf b;
	buf_init(&b);
	pgc_put_auth(&b, PGC_AUTH_OK, NULL, 0);
	pg_bev_send(c->bev, &b);
	buf_free(&b);
	if (!c->cl) {
		pg_admin_start(c); /* database "switchyard": no server */
		return;
	}
	if (pg_route_init(c) < 0) {
		pg_client_close(c, "53200", "out of memory");
		return;
	}
	if (pg_client_use_node(c, 0) < 0) {
		pg_client_close(c, "08006", "no server configured for database \"%s\"", c->database);
		return;
	}
	if (cancel_register(&c->w->proxy->cancels, c->w->id, &c->cancel_pid, &c->cancel_key) < 0) {
		pg_client_close(c, "53200", "out of memory");
		return;
	}
	struct log_who who = pg_client_who(c);
	log_who_msg(LOG_INFO, &who, "login%s", c->tls_on ? " (tls)" : "");
	pg_client_request_server(c);
}

/* A client accepted over max_client_conn or during shutdown: its startup
 * packet gets the error. Returns true when c was closed. */
static bool refused_at_startup(struct pg_client *c)
{
	if (c->refusal == PG_REFUSE_NONE)
		return false;
	c->w->counters[STATS_PROTO_PG].clients_refused++;
	if (c->refusal == PG_REFUSE_FULL)
		pg_client_close(c, "53300", "too many clients: max_client_conn (%d) reached",
				c->cfg->global.max_client_conn);
	else
		pg_client_close(c, "57P01", "the proxy is shutting down");
	return true;
}

static void handle_startup_message(struct pg_client *c, const struct pgc_startup *st)
{
	if (refused_at_startup(c))
		return;
	size_t off = 0;
	const char *k, *v, *user = NULL, *database = NULL;
	while (pgc_startup_param_next(st, &off, &k, &v)) {
		if (strcmp(k, "user") == 0) {
			user = v;
		} else if (strcmp(k, "database") == 0) {
			database = v;
		} else if (strcmp(k, "options") == 0) {
			if (parse_options(c, v) < 0) {
				pg_client_close(c, "08P01", "unsupported startup option \"%s\"", v);
				return;
			}
		} else if (strcmp(k, "replication") == 0) {
			pg_client_close(c, "08P01", "replication connections are not supported by the proxy");
			return;
		} else if (strncmp(k, "_pq_.", 5) == 0) {
			continue; /* protocol extensions: none supported, ignore as PostgreSQL may */
		} else if (param_add(&c->want, k, v) < 0) {
			pg_client_close(c, "08P01", "too many startup parameters");
			return;
		}
	}
	if (!user || !*user) {
		pg_client_close(c, "28000", "no PostgreSQL user name specified in startup packet");
		return;
	}
	if (!database || !*database)
		database = user;
	/* Both names in one allocation (c->user owns it): they live as long
	 * as the session. */
	size_t ul = strlen(user) + 1, dl = strlen(database) + 1;
	char *names = malloc(ul + dl);
	if (!names) {
		pg_client_close(c, "53200", "out of memory");
		return;
	}
	memcpy(names, user, ul);
	memcpy(names + ul, database, dl);
	free(c->user);
	c->user = names;
	c->database = names + ul;
	if (c->tls && c->tls->client_mode == CFG_CTLS_REQUIRE && !c->tls_on) {
		pg_client_close(c, "28000", "TLS is required (client_tls_mode = require)");
		return;
	}
	if (strcmp(c->database, PG_ADMIN_DATABASE) == 0) {
		pg_admin_login(c);
		return;
	}
	c->cl = cfg_find_cluster(c->cfg, c->database);
	if (!c->cl || c->cl->protocol != CFG_PROTO_POSTGRES) {
		pg_client_close(c, "3D000", "database \"%s\" does not exist", c->database);
		return;
	}
	c->pool_mode = c->cl->settings.pool_mode;
	timer_start(c, c->cl->settings.client_login_timeout_ms);
	c->u = cfg_find_user(c->cfg, c->user);
	if (!c->u) {
		if (pg_auth_query_start(c) < 0)
			pg_client_close(c, "28P01", "password authentication failed for user \"%s\"", c->user);
		return;
	}
	pg_client_begin_auth(c);
}

void pg_client_begin_auth(struct pg_client *c)
{
	c->pool_mode = c->cl ? cfg_pool_mode_for(c->cl, c->u) : CFG_POOL_SESSION; /* no cluster: admin console */
	struct buf b;
	buf_init(&b);
	const char *sqlstate = NULL, *err = NULL;
	c->auth = calloc(1, sizeof(*c->auth));
	if (!c->auth) {
		buf_free(&b);
		pg_client_close(c, "53200", "out of memory");
		return;
	}
	enum pg_auth_result r = pg_auth_begin(c->auth, c->u, &b, &sqlstate, &err);
	pg_bev_send(c->bev, &b);
	buf_free(&b);
	if (r == PGA_RES_FAIL) {
		pg_client_close(c, sqlstate, "%s for user \"%s\"", err, c->user);
		return;
	}
	client_set_state(c, CL_AUTH);
	if (r == PGA_RES_OK)
		auth_done(c);
}

static void handle_startup(struct pg_client *c)
{
	struct evbuffer *in = bufferevent_get_input(c->bev);
	struct pgc_limits lim = { .max_packet_size = LOGIN_MAX_MESSAGE };
	size_t avail = evbuffer_get_length(in);
	if (avail < 4)
		return;
	uint8_t hdr[4];
	evbuffer_copyout(in, hdr, 4);
	size_t want = get_u32be(hdr);
	/* The whole packet when it is here, else enough to judge its length. */
	size_t n = want >= 8 && want <= avail ? want : (avail < 8 ? avail : 8);
	const uint8_t *p = evbuffer_pullup(in, (ev_ssize_t)n);
	struct pgc_startup st;
	ssize_t r = pgc_parse_startup(p, n, &lim, &st);
	if (r == 0)
		return;
	if (r < 0) {
		pg_client_close(c, "08P01", "invalid startup packet: %s", pgc_err_str(r));
		return;
	}
	switch (st.kind) {
	case PGC_STARTUP_SSL_REQUEST:
		evbuffer_drain(in, (size_t)r);
		if (evbuffer_get_length(in) != 0) {
			/* Data sent before the TLS handshake could have been injected
			 * (CVE-2021-23214): refuse it. */
			pg_client_close(c, "08P01", "received unencrypted data after SSL request");
			return;
		}
		if (c->tls_on || !c->tls || !c->tls->accept_ctx) {
			answer_byte(c, 'N');
			return;
		}
		if (answer_tls_yes(c) < 0) {
			pg_client_close(c, NULL, "could not answer the SSL request");
			return;
		}
		start_client_tls(c);
		return;
	case PGC_STARTUP_GSSENC_REQUEST:
		evbuffer_drain(in, (size_t)r);
		answer_byte(c, 'N');
		return;
	case PGC_STARTUP_CANCEL:
		evbuffer_drain(in, (size_t)r);
		pg_cancel_forward(c->w, st.cancel_pid, st.cancel_key);
		pg_client_close(c, NULL, "cancel request handled");
		return;
	case PGC_STARTUP_MESSAGE:
		handle_startup_message(c, &st);
		if (c->state != CL_CLOSED)
			evbuffer_drain(in, (size_t)r);
		return;
	}
}

static void handle_auth(struct pg_client *c)
{
	struct evbuffer *in = bufferevent_get_input(c->bev);
	struct pgc_limits lim = { .max_packet_size = LOGIN_MAX_MESSAGE };
	struct pgc_msg m;
	ssize_t r = pg_evbuf_next(in, &lim, &m);
	if (r == 0)
		return;
	if (r < 0) {
		pg_client_close(c, "08P01", "invalid message during authentication: %s", pgc_err_str(r));
		return;
	}
	if (m.type != 'p') {
		pg_client_close(c, "08P01", "expected a password message, got '%c'",
				m.type >= 32 && m.type < 127 ? m.type : '?');
		return;
	}
	struct buf b;
	buf_init(&b);
	const char *sqlstate = NULL, *err = NULL;
	enum pg_auth_result res = pg_auth_step(c->auth, c->u, m.body, m.body_len, &b, &sqlstate, &err);
	evbuffer_drain(in, (size_t)r);
	pg_bev_send(c->bev, &b);
	buf_free(&b);
	if (res == PGA_RES_FAIL) {
		pg_client_close(c, sqlstate, "%s for user \"%s\"", err, c->user);
		return;
	}
	if (res == PGA_RES_OK)
		auth_done(c);
}

static void client_read_cb(struct bufferevent *bev, void *arg)
{
	struct pg_client *c = arg;
	switch (c->state) {
	case CL_STARTUP:
		handle_startup(c);
		break;
	case CL_AUTH:
		if (c->auth && c->auth->step != PGA_DONE)
			handle_auth(c);
		break;
	case CL_ACTIVE:
		pg_relay_c2s(c);
		break;
	case CL_IDLE:
		pg_relay_idle_input(c);
		break;
	case CL_ADMIN:
		pg_admin_read(c);
		break;
	case CL_WAIT_SERVER:
	case CL_SYNC:
	case CL_RIDING:
		/* Keep the bytes until a server is ready; stop reading when a
		 * client sends much more than one message ahead. */
		if (evbuffer_get_length(bufferevent_get_input(bev)) > PG_RELAY_HIGH)
			bufferevent_disable(bev, EV_READ);
		break;
	default:
		break;
	}
	/* Whatever the handlers queued goes out now (direct writes). */
	pg_relay_flush(c);
}

static void client_write_cb(struct bufferevent *bev, void *arg)
{
	struct pg_client *c = arg;
	pg_io_drained(bev, c->tls_on);
	pg_relay_client_drained(c);
}

static void client_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct pg_client *c = arg;
	if (what & BEV_EVENT_CONNECTED) {
		if (c->state == CL_TLS_HANDSHAKE) {
			client_set_state(c, CL_STARTUP);
			log_debug("client %u: TLS established", c->id);
		}
		return;
	}
	if (what & BEV_EVENT_ERROR) {
		unsigned long e = bufferevent_get_openssl_error(bev);
		char reason[200] = "";
		if (e)
			ERR_error_string_n(e, reason, sizeof(reason));
		pg_client_close(c, NULL, "connection error: %s", e ? reason : strerror(errno));
		return;
	}
	pg_client_close(c, NULL, "client disconnected");
}

static void client_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct pg_client *c = arg;
	switch (c->state) {
	case CL_STARTUP:
	case CL_TLS_HANDSHAKE:
	case CL_AUTH_QUERY:
	case CL_AUTH:
		pg_client_close(c, "08006", "client_login_timeout: login not completed in time");
		break;
	case CL_IDLE:
		break;
	case CL_WAIT_SERVER:
		if (c->held)
			pg_client_close(c, "08006", "query_wait_timeout: the cluster is paused (admin PAUSE)");
		else if (c->pool && c->pool->last_error[0] && c->pool->n_idle + c->pool->n_active == 0)
			pg_client_close(c, "08006", "query_wait_timeout: no server available (%s)",
					c->pool->last_error);
		else
			pg_client_close(c, "08006", "query_wait_timeout: no server connection became free in time");
		break;
	default:
		break;
	}
}

/* The pool gave us a server: link it and apply our parameters. */
static void on_server(struct pool_waiter *wt, struct server *s)
{
	struct pg_client *c = container_of(wt, struct pg_client, waiter);
	evtimer_del(c->timer);
	stats_observe_wait(c->w, STATS_PROTO_PG, worker_now_ms(c->w) - c->wait_start_ms);
	c->server = s;
	server_link(s, c, &pg_relay_link_ops);
	pg_relay_start_sync(c);
}

static void on_server_error(struct pool_waiter *wt, const char *sqlstate, const char *msg)
{
	struct pg_client *c = container_of(wt, struct pg_client, waiter);
	pg_client_close(c, sqlstate, "%s", msg);
}

void pg_client_sweep(struct pg_client *c, int64_t now)
{
	if ((c->state != CL_ACTIVE && c->state != CL_IDLE && c->state != CL_RIDING) || !c->cl)
		return;
	const struct cfg_pool_settings *st = &c->cl->settings;
	bool in_tx = c->server && c->server->tx_status != 'I';
	if (c->outstanding > 0) {
		if (st->query_timeout_ms > 0 && !c->cancel_sent &&
		    now - c->query_start_ms > st->query_timeout_ms) {
			c->cancel_sent = true;
			struct log_who who = pg_client_who(c);
			log_who_msg(LOG_INFO, &who, "query_timeout (%lld ms): cancelling its query",
				    (long long)st->query_timeout_ms);
			pg_cancel_forward(c->w, c->cancel_pid, c->cancel_key);
		}
		return;
	}
	int64_t idle = now - c->last_activity_ms;
	if (in_tx && st->idle_transaction_timeout_ms > 0 && idle > st->idle_transaction_timeout_ms) {
		pg_client_close(c, "25P03", "idle_transaction_timeout: idle in transaction for more than %lld ms",
				(long long)st->idle_transaction_timeout_ms);
		return;
	}
	if (!in_tx && st->client_idle_timeout_ms > 0 && idle > st->client_idle_timeout_ms) {
		pg_client_close(c, "57P05", "client_idle_timeout: idle for more than %lld ms",
				(long long)st->client_idle_timeout_ms);
		return;
	}
	if (idle >= PG_CLIENT_PARK_AFTER_MS)
		pg_client_try_park(c);
}
