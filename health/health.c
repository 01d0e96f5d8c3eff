/*
 * health.c — the health thread: the node table, the schedule of beats and
 * position reads, timeouts, and the up/down log lines (health.h).
 *
 * Threads: the node list is append-only and guarded by g.mu; a node's
 * node_state is read by anyone (atomics, n->mu for the position); the
 * `pend` fields are written under g.mu by health_start() /
 * health_apply_config() and copied by the health thread; everything else
 * in struct hnode belongs to the health thread. Other threads reach the
 * thread only through the wake pipe (apply, poke, stop), so the event
 * base needs no locking (evthread_use_pthreads() is not required).
 */
#include "health/health.h"

#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "health/beat.h"
#include "health/failover.h"
#include "health/probe.h"
#include "util/list.h"
#include "util/log.h"

#define HEALTH_DEFAULT_CONNECT_TIMEOUT_MS 5000
#define HEALTH_MIN_QUERY_TIMEOUT_MS 1000

/* A node's settings from its first cluster (or shard) in the config. */
struct hnode_cfg {
	struct probe_params params;
	char cluster[64];
	int64_t heartbeat_ms, position_ms, connect_timeout_ms;
	int down_after, up_after;
};

enum hnode_step { STEP_NONE = 0, STEP_CONNECT, STEP_BEAT, STEP_POSITION };

struct hnode {
	struct node_state st;         /* first: health_node() hands out &st */
	struct hnode *next;
	/* g.mu */
	bool want;                    /* in the newest config */
	uint64_t seen;                /* config pass that last found it */
	struct hnode_cfg pend;
	atomic_bool poked;
	/* the health thread */
	bool active;
	struct hnode_cfg cfg;
	struct probe probe;
	enum hnode_step step;         /* what is in flight */
	struct event *timer;          /* the next due step */
	struct event *deadline;       /* connect / query timeout */
	int64_t next_beat, next_pos;  /* monotonic ms */
	int64_t beat_sent_us;         /* monotonic µs: the heartbeat query in flight was sent */
};

static struct {
	pthread_mutex_t mu;
	struct hnode *nodes;
	uint64_t pass;
	bool running;
	pthread_t thread;
	struct event_base *base;
	int wake[2];
	struct event *wake_ev;
	atomic_bool stop, apply;
	void (*sink)(void *arg, const char *level, const char *text);
	void *sink_arg;
} g = { .mu = PTHREAD_MUTEX_INITIALIZER, .wake = { -1, -1 } };

static void step(struct hnode *h);

int64_t health_mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t health_wall_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t mono_ms(void) { return health_mono_ms(); }

static int64_t mono_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}
static int64_t wall_ms(void) { return health_wall_ms(); }

static void arm(struct event *ev, int64_t ms)
{
	if (ms < 0)
		ms = 0;
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };
	evtimer_add(ev, &tv);
}

static int64_t query_timeout(const struct hnode *h)
{
	return h->cfg.heartbeat_ms > HEALTH_MIN_QUERY_TIMEOUT_MS ? h->cfg.heartbeat_ms
								 : HEALTH_MIN_QUERY_TIMEOUT_MS;
}

/* ---- outcomes ---- */

static void beat_failed(struct hnode *h, const char *why)
{
	struct node_state *n = &h->st;
	health_set_error(n, why);
	int missed = atomic_load(&n->missed) + 1;
	enum health_transition tr =
		health_beat_result(n, false, wall_ms(), h->cfg.down_after, h->cfg.up_after);
	if (tr == HEALTH_WENT_DOWN) {
		log_warning("health: node %s (%s) is down after %d failed heartbeat%s: %s",
			    n->addr.text, cfg_protocol_name(n->protocol), missed,
			    missed == 1 ? "" : "s", why);
		health_event("warning", "node %s (%s, cluster %s) is down: %s", n->addr.text,
			     cfg_protocol_name(n->protocol), h->cfg.cluster, why);
	} else
		log_debug("health: node %s: heartbeat failed (%d in a row): %s", n->addr.text, missed,
			  why);
}

static void beat_ok(struct hnode *h, const struct health_beat *b)
{
	struct node_state *n = &h->st;
	int64_t now = mono_ms();
	if (h->beat_sent_us > 0)
		atomic_store(&n->beat_rtt_us, mono_us() - h->beat_sent_us);
	if (health_apply(n, b, now))
		log_info("health: node %s reports role %s", n->addr.text, health_role_name(b->role));
	if (b->has_pos)
		atomic_fetch_add(&n->position_reads, 1);
	enum health_transition tr =
		health_beat_result(n, true, wall_ms(), h->cfg.down_after, h->cfg.up_after);
	if (tr == HEALTH_CAME_UP) {
		log_info("health: node %s (%s) is up again after %d good heartbeat%s", n->addr.text,
			 cfg_protocol_name(n->protocol), h->cfg.up_after < 1 ? 1 : h->cfg.up_after,
			 h->cfg.up_after > 1 ? "s" : "");
		health_event("info", "node %s (%s, cluster %s) is up again", n->addr.text,
			     cfg_protocol_name(n->protocol), h->cfg.cluster);
	}
}

static void probe_event(void *owner, struct probe *p, enum probe_event ev,
			const struct health_beat *b, const char *msg)
{
	struct hnode *h = owner;
	enum hnode_step was = h->step;
	h->step = STEP_NONE;
	evtimer_del(h->deadline);
	switch (ev) {
	case PROBE_EV_READY:
		log_debug("health: node %s: monitor connection logged in as %s", h->st.addr.text,
			  h->cfg.params.user);
		break; /* the beat that opened the connection is still due */
	case PROBE_EV_RESULT:
		if (was == STEP_BEAT) {
			beat_ok(h, b);
		} else {
			if (health_apply(&h->st, b, mono_ms()))
				log_info("health: node %s reports role %s", h->st.addr.text,
					 health_role_name(b->role));
			if (b->has_pos)
				atomic_fetch_add(&h->st.position_reads, 1);
		}
		break;
	case PROBE_EV_QUERY_ERROR:
		if (was == STEP_BEAT) {
			beat_failed(h, msg);
		} else {
			health_set_error(&h->st, msg);
			log_debug("health: node %s: position read failed: %s", h->st.addr.text, msg);
		}
		break;
	case PROBE_EV_FAILED:
		if (was == STEP_POSITION) {
			/* Reconnect at once: that attempt is the next beat. */
			health_set_error(&h->st, msg);
			h->next_beat = mono_ms();
		} else {
			beat_failed(h, msg);
			h->next_beat = mono_ms() + h->cfg.heartbeat_ms;
		}
		break;
	}
	step(h);
}

static const struct probe_cb probe_callbacks = { .event = probe_event };

static void deadline_cb(evutil_socket_t fd, short what, void *arg)
{
	struct hnode *h = arg;
	const char *why = h->step == STEP_CONNECT ? "no login within server_connect_timeout"
			  : h->step == STEP_BEAT  ? "heartbeat query timed out"
						  : "position read timed out";
	enum hnode_step was = h->step;
	probe_close(&h->probe);
	h->step = STEP_NONE;
	health_set_error(&h->st, why);
	if (was == STEP_POSITION) {
		h->next_beat = mono_ms();
	} else {
		beat_failed(h, why);
		h->next_beat = mono_ms() + h->cfg.heartbeat_ms;
	}
	step(h);
}

static void timer_cb(evutil_socket_t fd, short what, void *arg) { step(arg); }

static void send_query(struct hnode *h, enum health_query q, enum hnode_step st)
{
	h->step = st;
	h->beat_sent_us = st == STEP_BEAT ? mono_us() : 0;
	if (probe_query(&h->probe, q, (enum node_role)atomic_load(&h->st.role)) < 0) {
		h->step = STEP_NONE;
		if (st == STEP_BEAT) {
			beat_failed(h, "could not send the query");
			h->next_beat = mono_ms() + h->cfg.heartbeat_ms;
		}
		arm(h->timer, 0);
		return;
	}
	arm(h->deadline, query_timeout(h));
}

/* Decide what is due now; start it or sleep until it is. */
static void step(struct hnode *h)
{
	if (!h->active || h->step != STEP_NONE)
		return;
	int64_t now = mono_ms();
	struct probe *p = &h->probe;
	if (p->state == PROBE_CLOSED) {
		if (now < h->next_beat) {
			arm(h->timer, h->next_beat - now);
			return;
		}
		const char *why = NULL;
		p->protocol = h->st.protocol;
		p->addr = h->st.addr;
		p->params = h->cfg.params;
		p->base = g.base;
		p->cb = &probe_callbacks;
		p->owner = h;
		if (probe_connect(p, &why) < 0) {
			beat_failed(h, why);
			h->next_beat = now + h->cfg.heartbeat_ms;
			arm(h->timer, h->cfg.heartbeat_ms);
			return;
		}
		h->step = STEP_CONNECT;
		arm(h->deadline, h->cfg.connect_timeout_ms);
		return;
	}
	if (p->state != PROBE_IDLE)
		return; /* connecting or logging in: READY or FAILED comes */
	bool role_known = atomic_load(&h->st.role) != NODE_ROLE_UNKNOWN;
	bool poked = atomic_exchange(&h->poked, false);
	if (now >= h->next_beat || (poked && !role_known)) {
		h->next_beat = now + h->cfg.heartbeat_ms;
		h->next_pos = now + h->cfg.position_ms; /* the beat reads the position too */
		send_query(h, HEALTH_Q_BEAT, STEP_BEAT);
		return;
	}
	bool pos_due = h->cfg.position_ms > 0 && now >= h->next_pos;
	if (role_known && (poked || pos_due)) {
		h->next_pos = now + h->cfg.position_ms;
		send_query(h, HEALTH_Q_POSITION, STEP_POSITION);
		return;
	}
	int64_t due = h->next_beat;
	if (h->cfg.position_ms > 0 && role_known && h->next_pos < due)
		due = h->next_pos;
	arm(h->timer, due - now);
}

/* ---- config ---- */

static void copy_str(char *dst, size_t cap, const char *src)
{
	snprintf(dst, cap, "%s", src ? src : "");
}

/* Who the monitor logs in as for a cluster with settings `st`. */
static void monitor_credentials(const struct cfg *c, const char *cluster,
				const struct cfg_pool_settings *st, struct probe_params *pp)
{
	static atomic_bool warned;
	if (st->monitor_user) {
		copy_str(pp->user, sizeof(pp->user), st->monitor_user);
		pp->has_password = st->monitor_password != NULL;
		copy_str(pp->password, sizeof(pp->password), st->monitor_password);
		return;
	}
	for (size_t i = 0; i < c->n_users; i++) {
		const struct cfg_user *u = &c->users[i];
		if (!u->server_password)
			continue;
		copy_str(pp->user, sizeof(pp->user), u->server_user ? u->server_user : u->name);
		copy_str(pp->password, sizeof(pp->password), u->server_password);
		pp->has_password = true;
		if (!atomic_exchange(&warned, true))
			log_warning("health: cluster %s has no monitor_user: heartbeats log in as user %s (set monitor_user / monitor_password)",
				    cluster, pp->user);
		return;
	}
	copy_str(pp->user, sizeof(pp->user), "switchyard");
	pp->has_password = false;
	pp->password[0] = '\0';
	if (!atomic_exchange(&warned, true))
		log_warning("health: cluster %s has no monitor_user and no user with a usable password: heartbeats log in as user switchyard without a password",
			    cluster);
}

static struct hnode *find_locked(enum cfg_protocol protocol, const char *text)
{
	for (struct hnode *h = g.nodes; h; h = h->next)
		if (h->st.protocol == protocol && strcmp(h->st.addr.text, text) == 0)
			return h;
	return NULL;
}

static void add_node_locked(const struct cfg *c, enum cfg_protocol protocol, const char *cluster,
			    const char *database, const struct cfg_pool_settings *st,
			    const struct cfg_node *node)
{
	struct hnode *h = find_locked(protocol, node->addr.text);
	if (!h) {
		h = calloc(1, sizeof(*h));
		if (!h) {
			log_error("health: out of memory adding node %s", node->addr.text);
			return;
		}
		h->st.protocol = protocol;
		h->st.addr = node->addr;
		atomic_init(&h->st.up, true);
		atomic_init(&h->st.role, NODE_ROLE_UNKNOWN);
		atomic_init(&h->st.lag_ms, -1);
		atomic_init(&h->st.beat_rtt_us, -1);
		pthread_mutex_init(&h->st.mu, NULL);
		struct hnode **tail = &g.nodes;
		while (*tail)
			tail = &(*tail)->next;
		*tail = h; /* append: readers may be walking the list */
	}
	if (h->seen == g.pass)
		return; /* the first cluster naming the node gives its settings */
	h->seen = g.pass;
	h->want = true;
	struct hnode_cfg *hc = &h->pend;
	memset(hc, 0, sizeof(*hc));
	copy_str(hc->cluster, sizeof(hc->cluster), cluster);
	monitor_credentials(c, cluster, st, &hc->params);
	copy_str(hc->params.database, sizeof(hc->params.database), database);
	hc->heartbeat_ms = st->heartbeat_interval_ms > 0 ? st->heartbeat_interval_ms : 500;
	hc->position_ms = st->replica_position_interval_ms;
	hc->connect_timeout_ms = st->server_connect_timeout_ms > 0 ? st->server_connect_timeout_ms
								     : HEALTH_DEFAULT_CONNECT_TIMEOUT_MS;
	hc->down_after = st->down_after;
	hc->up_after = st->up_after;
}

/* Record the nodes of `c` (any thread): new ones get a state now, so
 * health_node() finds them as soon as this returns. */
static void collect(const struct cfg *c)
{
	pthread_mutex_lock(&g.mu);
	g.pass++;
	failover_collect_begin();
	for (size_t i = 0; i < c->n_clusters; i++) {
		const struct cfg_cluster *cl = &c->clusters[i];
		const char *db = cl->server_database ? cl->server_database : cl->name;
		for (size_t j = 0; j < cl->n_nodes; j++)
			add_node_locked(c, cl->protocol, cl->name, db, &cl->settings, &cl->nodes[j]);
		struct probe_params monitor;
		memset(&monitor, 0, sizeof(monitor));
		monitor_credentials(c, cl->name, &cl->settings, &monitor);
		copy_str(monitor.database, sizeof(monitor.database), db);
		failover_collect(cl, &monitor);
	}
	for (size_t i = 0; i < c->n_shards; i++) {
		const struct cfg_shard *sh = &c->shards[i];
		const struct cfg_cluster *cl = cfg_find_cluster(c, sh->cluster);
		if (!cl)
			continue;
		const char *db = cl->server_database ? cl->server_database : cl->name;
		for (size_t j = 0; j < sh->n_nodes; j++)
			add_node_locked(c, cl->protocol, cl->name, db, &sh->settings, &sh->nodes[j]);
	}
	for (struct hnode *h = g.nodes; h; h = h->next)
		if (h->seen != g.pass)
			h->want = false;
	pthread_mutex_unlock(&g.mu);
}

static bool params_equal(const struct probe_params *a, const struct probe_params *b)
{
	return strcmp(a->user, b->user) == 0 && strcmp(a->password, b->password) == 0 &&
	       a->has_password == b->has_password && strcmp(a->database, b->database) == 0;
}

/* The health thread: start, retune or stop probing per the newest config. */
static void apply_pending(void)
{
	pthread_mutex_lock(&g.mu);
	for (struct hnode *h = g.nodes; h; h = h->next) {
		if (h->want) {
			bool relogin = h->active && !params_equal(&h->cfg.params, &h->pend.params);
			h->cfg = h->pend;
			if (!h->timer) {
				h->timer = evtimer_new(g.base, timer_cb, h);
				h->deadline = evtimer_new(g.base, deadline_cb, h);
				if (!h->timer || !h->deadline) {
					log_error("health: out of memory starting node %s", h->st.addr.text);
					continue;
				}
			}
			if (relogin) {
				probe_close(&h->probe);
				evtimer_del(h->deadline);
				h->step = STEP_NONE;
			}
			if (!h->active) {
				h->active = true;
				h->next_beat = h->next_pos = mono_ms();
				log_info("health: probing node %s (%s, cluster %s) every %lld ms as %s",
					 h->st.addr.text, cfg_protocol_name(h->st.protocol), h->cfg.cluster,
					 (long long)h->cfg.heartbeat_ms, h->cfg.params.user);
			}
			if (h->step == STEP_NONE)
				arm(h->timer, 0);
		} else if (h->active) {
			h->active = false;
			probe_close(&h->probe);
			h->step = STEP_NONE;
			evtimer_del(h->timer);
			evtimer_del(h->deadline);
			log_info("health: node %s left the configuration: no longer probed", h->st.addr.text);
		}
	}
	pthread_mutex_unlock(&g.mu);
	failover_apply(g.base); /* takes g.mu itself (health_node) */
}

static void wake_cb(evutil_socket_t fd, short what, void *arg)
{
	char tmp[256];
	while (read(fd, tmp, sizeof(tmp)) > 0)
		;
	if (atomic_load(&g.stop)) {
		event_base_loopbreak(g.base);
		return;
	}
	if (atomic_exchange(&g.apply, false))
		apply_pending();
	pthread_mutex_lock(&g.mu); /* step() takes no lock but a node's own mu */
	for (struct hnode *h = g.nodes; h; h = h->next)
		if (h->active && atomic_load(&h->poked) && h->step == STEP_NONE)
			step(h);
	pthread_mutex_unlock(&g.mu);
}

static void wake(void)
{
	if (g.wake[1] >= 0)
		(void)!write(g.wake[1], "w", 1); /* EAGAIN: a wake-up is already pending */
}

static void *thread_main(void *arg)
{
	log_set_thread_name("health");
	apply_pending();
	event_base_dispatch(g.base);
	return NULL;
}

/* ---- API ---- */

int health_start(const struct cfg *c)
{
	if (g.running)
		return -1;
	if (pipe2(g.wake, O_NONBLOCK | O_CLOEXEC) < 0) {
		log_error("health: pipe: %s", strerror(errno));
		return -1;
	}
	g.base = event_base_new();
	g.wake_ev = g.base ? event_new(g.base, g.wake[0], EV_READ | EV_PERSIST, wake_cb, NULL) : NULL;
	if (!g.wake_ev || event_add(g.wake_ev, NULL) < 0) {
		log_error("health: could not create the event loop");
		goto fail;
	}
	atomic_store(&g.stop, false);
	collect(c);
	if (pthread_create(&g.thread, NULL, thread_main, NULL) != 0) {
		log_error("health: could not start the thread");
		goto fail;
	}
	g.running = true;
	return 0;
fail:
	if (g.wake_ev)
		event_free(g.wake_ev);
	if (g.base)
		event_base_free(g.base);
	g.wake_ev = NULL;
	g.base = NULL;
	close(g.wake[0]);
	close(g.wake[1]);
	g.wake[0] = g.wake[1] = -1;
	return -1;
}

void health_apply_config(const struct cfg *c)
{
	if (!g.running)
		return;
	collect(c);
	atomic_store(&g.apply, true);
	wake();
}

void health_stop(void)
{
	if (!g.running)
		return;
	atomic_store(&g.stop, true);
	wake();
	pthread_join(g.thread, NULL);
	g.running = false;
	failover_stop();
	pthread_mutex_lock(&g.mu);
	struct hnode *h = g.nodes;
	g.nodes = NULL;
	pthread_mutex_unlock(&g.mu);
	while (h) {
		struct hnode *next = h->next;
		probe_close(&h->probe);
		if (h->timer)
			event_free(h->timer);
		if (h->deadline)
			event_free(h->deadline);
		pthread_mutex_destroy(&h->st.mu);
		free(h);
		h = next;
	}
	event_free(g.wake_ev);
	event_base_free(g.base);
	g.wake_ev = NULL;
	g.base = NULL;
	close(g.wake[0]);
	close(g.wake[1]);
	g.wake[0] = g.wake[1] = -1;
}

struct node_state *health_node(enum cfg_protocol protocol, const struct cfg_addr *addr)
{
	pthread_mutex_lock(&g.mu);
	struct hnode *h = find_locked(protocol, addr->text);
	pthread_mutex_unlock(&g.mu);
	return h ? &h->st : NULL;
}

void health_node_position(struct node_state *n, struct position *out, int64_t *read_ms)
{
	pthread_mutex_lock(&n->mu);
	*out = n->pos;
	if (read_ms)
		*read_ms = n->pos_ms;
	pthread_mutex_unlock(&n->mu);
}

void health_poke(struct node_state *n)
{
	struct hnode *h = container_of(n, struct hnode, st);
	atomic_store(&h->poked, true);
	wake();
}

void health_set_event_sink(void (*fn)(void *arg, const char *level, const char *text), void *arg)
{
	g.sink = fn;
	g.sink_arg = arg;
}

void health_event(const char *level, const char *fmt, ...)
{
	if (!g.sink)
		return;
	char text[300];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	g.sink(g.sink_arg, level, text);
}

void health_foreach(void (*fn)(struct node_state *n, void *arg), void *arg)
{
	pthread_mutex_lock(&g.mu);
	for (struct hnode *h = g.nodes; h; h = h->next)
		fn(&h->st, arg);
	pthread_mutex_unlock(&g.mu);
}
