/*
 * worker.c — worker threads: one event_base each, with its own listeners
 * (SO_REUSEPORT for TCP; a shared descriptor for unix sockets), client
 * sessions and server pools. Commands from the main thread (reload,
 * shutdown, stop) arrive as bytes on the worker's notify pipe.
 */
#include "proxy/pg/pg_evbuf.h"
#include "proxy/proxy.h"
#include "proxy/route_pick.h"

#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "pool/pool.h"
#include "proxy/listener.h"
#include "proxy/mysql/my_client.h"
#include "proxy/pg/pg_cancel.h"
#include "proxy/pg/pg_client.h"
#include "proxy/pg/pgc.h"
#include "proxy/tls.h"
#include "util/log.h"

struct listener_ctx {
	struct worker *w;
	char name[128];               /* the [listen.NAME] it serves */
	enum cfg_protocol protocol;
	struct evconnlistener *l;
	struct event *resume_ev;      /* re-enables accepting after an EMFILE pause */
	int64_t last_log_ms;          /* accept errors are logged once a second */
	uint64_t refused;             /* connections refused for lack of descriptors */
};

/* A descriptor kept open only to be given up when accept() fails with
 * EMFILE, so that the waiting connection can be accepted, told why, and
 * closed — instead of staying in the backlog while the loop spins. */
static _Thread_local int spare_fd = -1;

static void spare_fd_take(void)
{
	if (spare_fd < 0)
		spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
}

struct cfg *proxy_cfg_get(struct proxy *px)
{
	pthread_mutex_lock(&px->lock);
	struct cfg *c = cfg_ref(px->cfg);
	pthread_mutex_unlock(&px->lock);
	return c;
}

struct tls_contexts *proxy_tls_get(struct proxy *px)
{
	pthread_mutex_lock(&px->lock);
	struct tls_contexts *t = tls_contexts_ref(px->tls);
	pthread_mutex_unlock(&px->lock);
	return t;
}

static const struct cfg_listen *find_listen(const struct cfg *c, const char *name)
{
	for (size_t i = 0; i < c->n_listens; i++)
		if (strcmp(c->listens[i].name, name) == 0)
			return &c->listens[i];
	return NULL;
}

static void accept_cb(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa,
		      int salen, void *arg)
{
	struct listener_ctx *lc = arg;
	struct worker *w = lc->w;
	const struct cfg_listen *li = find_listen(w->cfg, lc->name);
	if (!li || w->draining) {
		close(fd);
		return;
	}
	evutil_make_socket_nonblocking(fd);
	evutil_make_socket_closeonexec(fd);
	if (li->protocol == CFG_PROTO_MYSQL)
		my_client_accept(w, li, fd, sa, salen);
	else
		pg_client_accept(w, li, fd, sa, salen);
}

/* Tell a connection we cannot serve why, in its protocol, and close it. */
static void refuse_connection(int fd, enum cfg_protocol protocol)
{
	static const char pg_msg[] = "too many connections: the proxy is out of file descriptors";
	uint8_t out[160];
	size_t n = 0;
	if (protocol == CFG_PROTO_MYSQL) {
		/* ERR 1040, sequence 0, as a server refusing at connect does. */
		static const char my_msg[] = "Too many connections";
		size_t plen = 1 + 2 + 6 + sizeof(my_msg) - 1;
		out[n++] = (uint8_t)plen;
		out[n++] = 0;
		out[n++] = 0;
		out[n++] = 0;
		out[n++] = 0xff;
		out[n++] = 1040 & 0xff;
		out[n++] = 1040 >> 8;
		memcpy(out + n, "#08004", 6);
		n += 6;
		memcpy(out + n, my_msg, sizeof(my_msg) - 1);
		n += sizeof(my_msg) - 1;
	} else {
		struct buf b;
		buf_init(&b);
		pgc_put_error(&b, "FATAL", "53300", pg_msg);
		if (!b.oom && b.len <= sizeof(out)) {
			memcpy(out, b.data, b.len);
			n = b.len;
		}
		buf_free(&b);
	}
	if (n) {
		ssize_t w = send(fd, out, n, MSG_NOSIGNAL | MSG_DONTWAIT);
		(void)w;
	}
	close(fd);
}

static void resume_cb(evutil_socket_t fd, short what, void *arg)
{
	struct listener_ctx *lc = arg;
	if (!lc->w->draining)
		evconnlistener_enable(lc->l);
}

static void accept_error_cb(struct evconnlistener *l, void *arg)
{
	struct listener_ctx *lc = arg;
	int err = EVUTIL_SOCKET_ERROR();
	int64_t now = worker_now_ms(lc->w);
	if (err == EMFILE || err == ENFILE) {
		/* Out of descriptors: the connected clients keep being served.
		 * Refuse one waiting connection with a clear error using the spare
		 * descriptor, then pause accepting briefly rather than spin. */
		if (spare_fd >= 0) {
			close(spare_fd);
			spare_fd = -1;
			int fd = accept4(evconnlistener_get_fd(l), NULL, NULL, SOCK_CLOEXEC);
			if (fd >= 0) {
				refuse_connection(fd, lc->protocol);
				lc->refused++;
			}
			spare_fd_take();
		}
		evconnlistener_disable(l);
		struct timeval tv = { 0, 50 * 1000 };
		event_add(lc->resume_ev, &tv);
	}
	if (now - lc->last_log_ms >= 1000) {
		lc->last_log_ms = now;
		log_error("accept on %s failed: %s%s (refused so far: %llu)", lc->name,
			  evutil_socket_error_to_string(err),
			  err == EMFILE || err == ENFILE ? "; refusing new connections until descriptors free up" : "",
			  (unsigned long long)lc->refused);
	}
}

static void free_listeners(struct worker *w)
{
	for (int i = 0; i < w->n_listeners; i++) {
		if (!w->listeners[i])
			continue;
		evconnlistener_free(w->listeners[i]);
		w->listeners[i] = NULL;
		struct listener_ctx *lc = w->listener_args[i];
		if (lc && lc->resume_ev)
			event_free(lc->resume_ev);
		free(w->listener_args[i]);
		w->listener_args[i] = NULL;
	}
}

static void reap_cb(evutil_socket_t fd, short what, void *arg)
{
	struct worker *w = arg;
	pg_client_reap(&w->dead);
	my_client_reap(&w->my_dead);
	if (w->draining && list_empty(&w->clients) && list_empty(&w->my_clients))
		event_base_loopbreak(w->base);
}

void worker_schedule_reap(struct worker *w) { event_active(w->reap_ev, 0, 0); }

int64_t worker_now_ms(struct worker *w)
{
	struct timeval tv;
	event_base_gettimeofday_cached(w->base, &tv);
	return (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

#define SWEEP_INTERVAL_MS 500

/* Timeouts of established sessions, checked in one pass instead of a
 * timer re-armed on every query. */
static void sweep_cb(evutil_socket_t fd, short what, void *arg)
{
	struct worker *w = arg;
	int64_t now = worker_now_ms(w);
	struct list *n = w->clients.next;
	while (n != &w->clients) {
		struct pg_client *c = container_of(n, struct pg_client, node);
		n = n->next; /* c may close */
		pg_client_sweep(c, now);
	}
	n = w->my_clients.next;
	while (n != &w->my_clients) {
		struct my_client *c = container_of(n, struct my_client, node);
		n = n->next; /* c may close */
		my_client_sweep(c, now);
	}
	if (w->id == 0)
		route_expire(now); /* shared read-your-writes state of idle keys */
	kvpack_cache_trim(&w->params);
}

static void worker_reload(struct worker *w)
{
	struct cfg *c = proxy_cfg_get(w->proxy);
	struct tls_contexts *t = proxy_tls_get(w->proxy);
	cfg_unref(w->cfg);
	w->cfg = c;
	tls_contexts_unref(w->tls);
	w->tls = t;
	pool_set_tls(w->pools, t);
	pool_set_apply_config(w->pools, c);
	log_debug("worker %d: now on config generation %llu", w->id,
		  (unsigned long long)c->generation);
}

/* After RESUME: clients held by PAUSE ask their pool again. */
static void worker_resume(struct worker *w)
{
	struct list *n = w->clients.next;
	while (n != &w->clients) {
		struct pg_client *c = container_of(n, struct pg_client, node);
		n = n->next; /* c may close */
		pg_client_resume(c);
	}
	n = w->my_clients.next;
	while (n != &w->my_clients) {
		struct my_client *c = container_of(n, struct my_client, node);
		n = n->next; /* c may close */
		my_client_resume(c);
	}
}

static bool pause_covers(const struct proxy *px, const char *cluster)
{
	if (px->paused_all)
		return true;
	for (int i = 0; i < px->n_paused; i++)
		if (strcmp(px->paused[i], cluster) == 0)
			return true;
	return false;
}

bool proxy_cluster_paused(struct proxy *px, const char *cluster)
{
	if (!atomic_load_explicit(&px->paused_any, memory_order_acquire))
		return false;
	pthread_mutex_lock(&px->lock);
	bool r = pause_covers(px, cluster);
	pthread_mutex_unlock(&px->lock);
	return r;
}

int proxy_pause(struct proxy *px, const char *cluster, char *err, size_t errlen)
{
	int rc = -1;
	pthread_mutex_lock(&px->lock);
	if (px->paused_all)
		snprintf(err, errlen, "already paused (all clusters): RESUME first");
	else if (cluster && pause_covers(px, cluster))
		snprintf(err, errlen, "cluster \"%s\" is already paused: RESUME it first", cluster);
	else if (!cluster && px->n_paused > 0)
		snprintf(err, errlen, "some clusters are already paused (\"%s\"...): RESUME first", px->paused[0]);
	else if (cluster && (px->n_paused >= PROXY_MAX_PAUSED || strlen(cluster) >= sizeof(px->paused[0])))
		snprintf(err, errlen, "too many paused clusters, or the name is too long");
	else {
		if (cluster)
			snprintf(px->paused[px->n_paused++], sizeof(px->paused[0]), "%s", cluster);
		else
			px->paused_all = true;
		atomic_store_explicit(&px->paused_any, true, memory_order_release);
		rc = 0;
	}
	pthread_mutex_unlock(&px->lock);
	return rc;
}

int proxy_resume(struct proxy *px, const char *cluster, char *err, size_t errlen)
{
	int rc = -1;
	pthread_mutex_lock(&px->lock);
	if (!px->paused_all && px->n_paused == 0) {
		snprintf(err, errlen, "not paused");
	} else if (!cluster) {
		px->paused_all = false;
		px->n_paused = 0;
		rc = 0;
	} else if (px->paused_all) {
		snprintf(err, errlen, "all clusters are paused: RESUME without a name resumes them");
	} else {
		for (int i = 0; i < px->n_paused; i++) {
			if (strcmp(px->paused[i], cluster) == 0) {
				memmove(px->paused[i], px->paused[i + 1],
					(size_t)(px->n_paused - i - 1) * sizeof(px->paused[0]));
				px->n_paused--;
				rc = 0;
				break;
			}
		}
		if (rc < 0)
			snprintf(err, errlen, "cluster \"%s\" is not paused", cluster);
	}
	if (rc == 0)
		atomic_store_explicit(&px->paused_any, px->paused_all || px->n_paused > 0, memory_order_release);
	pthread_mutex_unlock(&px->lock);
	if (rc == 0)
		workers_notify(px, WORKER_CMD_RESUME);
	return rc;
}

static void notify_cb(evutil_socket_t fd, short what, void *arg)
{
	struct worker *w = arg;
	char cmds[64];
	ssize_t n;
	while ((n = read(fd, cmds, sizeof(cmds))) > 0) {
		for (ssize_t i = 0; i < n; i++) {
			switch (cmds[i]) {
			case WORKER_CMD_RELOAD:
				worker_reload(w);
				break;
			case WORKER_CMD_SHUTDOWN:
				w->draining = true;
				free_listeners(w);
				if (list_empty(&w->clients) && list_empty(&w->my_clients))
					event_base_loopbreak(w->base);
				break;
			case WORKER_CMD_STOP:
				event_base_loopbreak(w->base);
				break;
			case WORKER_CMD_KILL:
				stats_worker_run_kills(w);
				break;
			case WORKER_CMD_RESUME:
				worker_resume(w);
				break;
			case WORKER_CMD_MY_KILL:
				my_kill_run(w);
				break;
			case WORKER_CMD_PG_CANCEL:
				pg_cancel_run(w);
				break;
			case WORKER_CMD_PUBLISH:
				stats_publish(w);
				break;
			default:
				break;
			}
		}
	}
}

static int worker_init(struct proxy *px, struct worker *w, int id)
{
	w->id = id;
	w->proxy = px;
	my_kill_box_init(&w->my_kills);
	list_init(&w->clients);
	list_init(&w->dead);
	list_init(&w->my_clients);
	list_init(&w->my_dead);
	w->cfg = proxy_cfg_get(px);
	w->tls = proxy_tls_get(px);
	w->base = event_base_new();
	if (!w->base)
		return -1;
	if (pipe2(w->notify_fds, O_NONBLOCK | O_CLOEXEC) < 0)
		return -1;
	w->notify_ev = event_new(w->base, w->notify_fds[0], EV_READ | EV_PERSIST, notify_cb, w);
	w->reap_ev = event_new(w->base, -1, 0, reap_cb, w);
	w->sweep_ev = event_new(w->base, -1, EV_PERSIST, sweep_cb, w);
	w->pools = pool_set_new(w->base, id, px->n_workers, w->tls);
	if (!w->notify_ev || !w->reap_ev || !w->sweep_ev || !w->pools)
		return -1;
	event_add(w->notify_ev, NULL);
	struct timeval sweep = { 0, SWEEP_INTERVAL_MS * 1000 };
	event_add(w->sweep_ev, &sweep);
	if (stats_worker_init(w) < 0)
		return -1;

	const struct cfg *c = w->cfg;
	w->listeners = calloc(c->n_listens ? c->n_listens : 1, sizeof(*w->listeners));
	w->listener_args = calloc(c->n_listens ? c->n_listens : 1, sizeof(*w->listener_args));
	if (!w->listeners || !w->listener_args)
		return -1;
	for (size_t i = 0; i < c->n_listens; i++) {
		const struct cfg_listen *li = &c->listens[i];
		int fd = listener_fd_for_worker(px, i, id);
		if (fd < 0)
			return -1;
		struct listener_ctx *lc = calloc(1, sizeof(*lc));
		if (!lc) {
			close(fd);
			return -1;
		}
		lc->w = w;
		snprintf(lc->name, sizeof(lc->name), "%s", li->name);
		struct evconnlistener *l = evconnlistener_new(w->base, accept_cb, lc,
							      LEV_OPT_CLOSE_ON_FREE, -1, fd);
		if (!l) {
			free(lc);
			close(fd);
			return -1;
		}
		evconnlistener_set_error_cb(l, accept_error_cb);
		lc->l = l;
		lc->protocol = li->protocol;
		lc->resume_ev = evtimer_new(w->base, resume_cb, lc);
		if (!lc->resume_ev)
			return -1;
		w->listener_args[w->n_listeners] = lc;
		w->listeners[w->n_listeners++] = l;
	}
	return 0;
}

static void worker_cleanup(struct worker *w)
{
	free_listeners(w);
	free(w->listeners);
	free(w->listener_args);
	w->listeners = NULL;
	w->listener_args = NULL;
	struct list *n;
	while ((n = list_first(&w->clients)))
		pg_client_close(container_of(n, struct pg_client, node), NULL, "proxy stopping");
	pg_client_reap(&w->dead);
	while ((n = list_first(&w->my_clients)))
		my_client_close(container_of(n, struct my_client, node), 0, NULL, 0, "proxy stopping");
	my_client_reap(&w->my_dead);
	kvpack_cache_clear(&w->params);
	stats_worker_free(w);
	pool_set_free(w->pools);
	w->pools = NULL;
	if (w->notify_ev)
		event_free(w->notify_ev);
	if (w->reap_ev)
		event_free(w->reap_ev);
	if (w->sweep_ev)
		event_free(w->sweep_ev);
	if (w->base)
		event_base_free(w->base);
	close(w->notify_fds[0]);
	close(w->notify_fds[1]);
	cfg_unref(w->cfg);
	tls_contexts_unref(w->tls);
	my_kill_box_destroy(&w->my_kills);
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	char name[32];
	snprintf(name, sizeof(name), "worker-%d", w->id);
	log_set_thread_name(name);
	spare_fd_take();
	/* One loop turn at a time, so that what the turn's callbacks queued is
	 * written at its end, socket by socket, after every event of the turn
	 * was read (pg_io_batch_*): the peers are woken once the proxy is done
	 * with its batch rather than in the middle of it, which costs fewer
	 * preemptions of the worker (docs/performance.md). */
	while (!event_base_got_break(w->base) && !event_base_got_exit(w->base)) {
		pg_io_batch_begin();
		int r = event_base_loop(w->base, EVLOOP_ONCE);
		pg_io_batch_end();
		if (r < 0)
			break;
	}
	pg_io_thread_done();
	if (spare_fd >= 0) {
		close(spare_fd);
		spare_fd = -1;
	}
	log_debug("worker %d: event loop finished", w->id);
	atomic_fetch_sub(&w->proxy->workers_running, 1);
	return NULL;
}

int workers_start(struct proxy *px)
{
	px->workers = calloc((size_t)px->n_workers, sizeof(*px->workers));
	if (!px->workers)
		return -1;
	for (int i = 0; i < px->n_workers; i++) {
		px->workers[i].notify_fds[0] = px->workers[i].notify_fds[1] = -1;
		if (worker_init(px, &px->workers[i], i) < 0) {
			log_error("worker %d: initialisation failed: %s", i, strerror(errno));
			return -1;
		}
	}
	atomic_store(&px->workers_running, px->n_workers);
	for (int i = 0; i < px->n_workers; i++) {
		if (pthread_create(&px->workers[i].thread, NULL, worker_main, &px->workers[i]) != 0) {
			log_error("cannot start worker thread %d", i);
			return -1;
		}
	}
	return 0;
}

void workers_notify(struct proxy *px, enum worker_cmd cmd)
{
	char b = (char)cmd;
	for (int i = 0; i < px->n_workers; i++) {
		ssize_t r = write(px->workers[i].notify_fds[1], &b, 1);
		(void)r; /* a full pipe already holds a pending command */
	}
}

void workers_join(struct proxy *px)
{
	for (int i = 0; i < px->n_workers; i++) {
		pthread_join(px->workers[i].thread, NULL);
		worker_cleanup(&px->workers[i]);
	}
	free(px->workers);
	px->workers = NULL;
}
