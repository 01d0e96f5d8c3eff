/*
 * stats.c — per-worker counters, the once-a-second published snapshot,
 * the sum of all workers' snapshots, the events ring and admin kills.
 * See stats.h for who may touch what. The renderers are stats_render.c's.
 */
#include "proxy/stats.h"

#include <dirent.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#include "health/beat.h"
#include "pool/pg_server.h"
#include "pool/pool.h"
#include "proxy/mysql/my_client.h"
#include "proxy/pg/pg_client.h"
#include "proxy/pg/pg_evbuf.h"
#include "proxy/proxy.h"
#include "util/log.h"

#ifndef SWITCHYARD_VERSION
#define SWITCHYARD_VERSION "0.1.0"
#endif

const double stats_hist_le[STATS_HIST_N] = { 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
					     0.25,  0.5,    1,     2.5,  5,     10 };

void stats_hist_observe(struct stats_hist *h, int64_t ms)
{
	if (ms < 0)
		ms = 0;
	size_t i = 0;
	while (i < STATS_HIST_N && (double)ms / 1000.0 > stats_hist_le[i])
		i++;
	h->bucket[i]++;
	h->count++;
	h->sum_ms += (uint64_t)ms;
}

static void hist_add(struct stats_hist *a, const struct stats_hist *b)
{
	for (size_t i = 0; i <= STATS_HIST_N; i++)
		a->bucket[i] += b->bucket[i];
	a->count += b->count;
	a->sum_ms += b->sum_ms;
}

#define ERR_CODE(e, cls, name) cls,
#define ERR_NAME(e, cls, name) name,
static const char *const err_codes[] = { STATS_ERR_CLASSES(ERR_CODE) };
static const char *const err_names[] = { STATS_ERR_CLASSES(ERR_NAME) };
#undef ERR_CODE
#undef ERR_NAME

enum stats_err_class stats_err_class_of(const char *sqlstate)
{
	if (!sqlstate || strlen(sqlstate) < 2)
		return STATS_ERR_OTHER;
	for (int i = 0; i < STATS_ERR_OTHER; i++)
		if (strncmp(sqlstate, err_codes[i], 2) == 0)
			return (enum stats_err_class)i;
	return STATS_ERR_OTHER;
}

const char *stats_err_class_code(enum stats_err_class e) { return e < STATS_ERR_N ? err_codes[e] : "?"; }
const char *stats_err_class_name(enum stats_err_class e) { return e < STATS_ERR_N ? err_names[e] : "?"; }

#define CL_NAME(e, name) name,
static const char *const client_kind_names[] = { STATS_CLIENT_STATES(CL_NAME) };
#undef CL_NAME

const char *stats_client_kind_name(enum stats_client_kind k)
{
	return k < STATS_CL_N ? client_kind_names[k] : "?";
}

const char *stats_proto_name(enum stats_proto p)
{
	return p == STATS_PROTO_PG ? "postgres" : p == STATS_PROTO_MY ? "mysql" : "?";
}

static enum stats_proto proto_of(enum cfg_protocol p)
{
	return p == CFG_PROTO_MYSQL ? STATS_PROTO_MY : STATS_PROTO_PG;
}

static int64_t wall_ms(void)
{
	struct timeval tv;
	gettimeofday(&tv, NULL);
	return (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

/* Copy, truncating to cap - 1 bytes. */
static void copy_str(char *dst, size_t cap, const char *src)
{
	size_t n = src ? strnlen(src, cap - 1) : 0;
	if (n)
		memcpy(dst, src, n);
	dst[n] = '\0';
}

/* ---- process-wide ---- */

int stats_global_init(struct stats_global *g)
{
	memset(g, 0, sizeof(*g));
	g->started_ms = wall_ms();
	return pthread_mutex_init(&g->lock, NULL) == 0 ? 0 : -1;
}

void stats_global_destroy(struct stats_global *g) { pthread_mutex_destroy(&g->lock); }

void stats_event(struct stats_global *g, const char *level, const char *fmt, ...)
{
	if (!g)
		return;
	struct stats_event ev;
	ev.time_ms = wall_ms();
	copy_str(ev.level, sizeof(ev.level), level);
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(ev.text, sizeof(ev.text), fmt, ap);
	va_end(ap);
	pthread_mutex_lock(&g->lock);
	g->events[g->ev_next] = ev;
	g->ev_next = (g->ev_next + 1) % STATS_EVENTS;
	if (g->ev_count < STATS_EVENTS)
		g->ev_count++;
	pthread_mutex_unlock(&g->lock);
}

void stats_reload_result(struct stats_global *g, bool ok, const char *detail)
{
	pthread_mutex_lock(&g->lock);
	if (ok)
		g->reloads_ok++;
	else
		g->reloads_failed++;
	g->last_reload_ms = wall_ms();
	g->last_reload_ok = ok;
	pthread_mutex_unlock(&g->lock);
	stats_event(g, ok ? "info" : "error", "reload %s: %s", ok ? "done" : "refused", detail);
}

/* ---- workers ---- */

static void snap_free(struct stats_snap *s)
{
	if (!s)
		return;
	free(s->pools);
	free(s->client_rows);
	free(s->server_rows);
	free(s->queries);
	free(s);
}

static enum stats_client_kind client_kind(const struct pg_client *c)
{
	switch (c->state) {
	case CL_WAIT_SERVER:
		return STATS_CL_WAITING;
	case CL_SYNC:
	case CL_ACTIVE:
	case CL_RIDING:
		return STATS_CL_ACTIVE;
	case CL_IDLE:
		return STATS_CL_IDLE;
	case CL_ADMIN:
		return STATS_CL_ADMIN;
	default:
		return STATS_CL_LOGIN;
	}
}

static enum stats_client_kind my_client_kind(const struct my_client *c)
{
	if (c->admin && c->logged_in)
		return STATS_CL_ADMIN;
	switch (c->state) {
	case MY_CL_WAIT_SERVER:
		return STATS_CL_WAITING;
	case MY_CL_SYNC:
	case MY_CL_ACTIVE:
	case MY_CL_RIDING:
		return STATS_CL_ACTIVE;
	case MY_CL_IDLE:
		return STATS_CL_IDLE;
	default:
		return STATS_CL_LOGIN;
	}
}

/* The cluster (and role) a pool's node and database belong to. */
static void pool_place(const struct cfg *cfg, const struct pool *p, struct stats_pool_row *r)
{
	for (size_t i = 0; i < cfg->n_clusters; i++) {
		const struct cfg_cluster *cl = &cfg->clusters[i];
		const char *db = cl->server_database ? cl->server_database : cl->name;
		if (strcmp(db, p->database) != 0)
			continue;
		for (size_t j = 0; j < cl->n_nodes; j++) {
			if (!cfg_addr_equal(&cl->nodes[j].addr, &p->addr))
				continue;
			copy_str(r->cluster, sizeof(r->cluster), cl->name);
			copy_str(r->role, sizeof(r->role), cl->nodes[j].is_primary ? "primary" : "replica");
			return;
		}
	}
}

/* One row of SHOW CLIENTS (either protocol), while there is room. */
static void add_client_row(struct stats_snap *s, const struct worker *w, enum stats_proto proto, uint32_t id,
			   const char *addr, const char *user, const char *database, const char *state, bool tls,
			   int64_t connected_ms, uint64_t queries, const struct server *server)
{
	if (!s->has_rows || s->n_client_rows >= STATS_MAX_ROWS)
		return;
	struct stats_client_row *r = &s->client_rows[s->n_client_rows++];
	r->id = id;
	r->worker = w->id;
	copy_str(r->addr, sizeof(r->addr), addr);
	copy_str(r->user, sizeof(r->user), user);
	copy_str(r->database, sizeof(r->database), database);
	copy_str(r->state, sizeof(r->state), state);
	r->tls = tls;
	r->connected_ms = connected_ms;
	r->queries = queries;
	r->server_id = server ? server->id : 0;
	r->protocol = proto;
}

static void add_server_rows(struct stats_snap *s, struct worker *w, const struct pool *p,
			    const struct list *l, int64_t now_mono)
{
	for (const struct list *n = l->next; n != l; n = n->next) {
		if (!s->has_rows || s->n_server_rows >= STATS_MAX_ROWS)
			return;
		const struct server *sv = container_of(n, struct server, node);
		struct stats_server_row *r = &s->server_rows[s->n_server_rows++];
		r->id = sv->id;
		r->worker = w->id;
		copy_str(r->node, sizeof(r->node), p->addr.text);
		copy_str(r->database, sizeof(r->database), p->database);
		copy_str(r->user, sizeof(r->user), p->user);
		copy_str(r->state, sizeof(r->state), server_state_name(sv->state));
		r->tls = sv->tls;
		r->backend_pid = sv->backend_pid;
		/* (linked to itself: dropping a departed client's answer, pg_batch.c) */
		if (sv->state == SV_ACTIVE && sv->link && sv->link != sv)
			r->client_id = p->protocol == CFG_PROTO_MYSQL ? ((const struct my_client *)sv->link)->id
								      : ((const struct pg_client *)sv->link)->id;
		r->age_ms = sv->created_ms ? now_mono - sv->created_ms : 0;
		r->idle_ms = sv->state == SV_IDLE && sv->last_used_ms ? now_mono - sv->last_used_ms : 0;
	}
}

static size_t list_len(const struct list *l)
{
	size_t n = 0;
	for (const struct list *i = l->next; i != l; i = i->next)
		n++;
	return n;
}

void stats_publish(struct worker *w)
{
	struct stats_snap *s = calloc(1, sizeof(*s));
	if (!s)
		return;
	s->taken_ms = wall_ms();
	for (int i = 0; i < STATS_PROTO_N; i++) {
		struct stats_totals *t = &s->t[i];
		const struct worker_counters *wc = &w->counters[i];
		t->clients_accepted = wc->clients_accepted;
		t->clients_refused = wc->clients_refused;
		t->login_failures = wc->login_failures;
		t->queries = wc->queries;
		t->transactions = wc->transactions;
		t->pins = wc->pins;
		t->pipelined = wc->pipelined;
		t->c = w->stats.c[i];
	}

	size_t np = 0, nsv = 0;
	if (w->pools) {
		struct list *head = &w->pools->pools;
		for (struct list *n = head->next; n != head; n = n->next) {
			const struct pool *p = container_of(n, struct pool, node);
			np++;
			nsv += (size_t)(p->n_pending + p->n_idle + p->n_active);
		}
	}
	/* On the pools' monotonic clock (pg_server.c's now_ms()). */
	int64_t mono = now_ms();
	/* The request number first: rows built now answer it (stats.h). */
	s->rows_gen = atomic_load(&w->proxy->rows_req);
	s->has_rows = mono < atomic_load(&w->proxy->rows_lease_ms);
	s->pools = calloc(np ? np : 1, sizeof(*s->pools));
	if (s->has_rows) {
		size_t ncl = list_len(&w->clients) + list_len(&w->my_clients);
		s->server_rows = calloc(nsv ? (nsv < STATS_MAX_ROWS ? nsv : STATS_MAX_ROWS) : 1, sizeof(*s->server_rows));
		s->client_rows = calloc(ncl ? (ncl < STATS_MAX_ROWS ? ncl : STATS_MAX_ROWS) : 1, sizeof(*s->client_rows));
	}
	if (!s->pools || (s->has_rows && (!s->server_rows || !s->client_rows))) {
		snap_free(s);
		return;
	}
	if (w->pools) {
		struct list *head = &w->pools->pools;
		for (struct list *n = head->next; n != head; n = n->next) {
			const struct pool *p = container_of(n, struct pool, node);
			struct stats_pool_row *r = &s->pools[s->n_pools++];
			r->id = p->id;
			pool_place(w->cfg, p, r);
			copy_str(r->node, sizeof(r->node), p->addr.text);
			copy_str(r->database, sizeof(r->database), p->database);
			copy_str(r->user, sizeof(r->user), p->user);
			copy_str(r->protocol, sizeof(r->protocol), stats_proto_name(proto_of(p->protocol)));
			r->size = p->st.size;
			r->pending = p->n_pending;
			r->idle = p->n_idle;
			r->active = p->n_active;
			r->waiting = p->n_waiters;
			r->opened = p->servers_opened;
			r->failed = p->servers_failed;
			r->retired = p->retired;
			copy_str(r->last_error, sizeof(r->last_error), p->last_error);
			s->t[proto_of(p->protocol)].servers_opened += p->servers_opened;
			s->t[proto_of(p->protocol)].servers_failed += p->servers_failed;
			add_server_rows(s, w, p, &p->active, mono);
			add_server_rows(s, w, p, &p->idle, mono);
			add_server_rows(s, w, p, &p->pending, mono);
		}
	}
	for (struct list *n = w->clients.next; n != &w->clients; n = n->next) {
		const struct pg_client *c = container_of(n, struct pg_client, node);
		s->clients[STATS_PROTO_PG][client_kind(c)]++;
		s->parked[STATS_PROTO_PG] += c->parked;
		add_client_row(s, w, STATS_PROTO_PG, c->id, c->addr, c->user, c->database,
			       client_state_name(c->state), c->tls_on, c->connected_ms, c->queries, c->server);
	}

	for (struct list *n = w->my_clients.next; n != &w->my_clients; n = n->next) {
		const struct my_client *c = container_of(n, struct my_client, node);
		s->clients[STATS_PROTO_MY][my_client_kind(c)]++;
		/* The id is the MySQL connection id (KILL and admin KILL take it). */
		add_client_row(s, w, STATS_PROTO_MY, c->id, c->addr, c->user, c->schema,
			       my_client_state_name(c->state), c->tls_on, c->connected_ms, c->queries, c->server);
	}

	struct query_stats *qs = &w->stats.qs;
	if (qs->slots && qs->used) {
		size_t want = qs->used < QS_PUBLISH_TOP ? qs->used : QS_PUBLISH_TOP;
		s->queries = malloc(want * sizeof(*s->queries));
		if (s->queries)
			s->n_queries = query_stats_top(qs, s->queries, want);
	}
	s->qs_evicted = qs->evicted;
	s->qs_untracked = qs->untracked;
	s->qs_used = qs->used;

	/* Rates, and events for new server connection failures, against the
	 * previous snapshot (only this thread writes w->stats.pub). */
	struct stats_snap *prev = w->stats.pub;
	if (prev && s->taken_ms - prev->taken_ms >= STATS_PUBLISH_MS / 2) {
		double dt = (double)(s->taken_ms - prev->taken_ms) / 1000.0;
		uint64_t dq = 0, dtx = 0;
		for (int i = 0; i < STATS_PROTO_N; i++) {
			dq += s->t[i].queries - prev->t[i].queries;
			dtx += s->t[i].transactions - prev->t[i].transactions;
		}
		s->qps = (double)dq / dt;
		s->tps = (double)dtx / dt;
	} else if (prev) {
		/* An early publish (admin SHOW): keep the last full interval's rates. */
		s->qps = prev->qps;
		s->tps = prev->tps;
	}
	for (size_t i = 0; prev && i < s->n_pools; i++) {
		const struct stats_pool_row *r = &s->pools[i];
		uint64_t before = 0;
		for (size_t j = 0; j < prev->n_pools; j++)
			if (prev->pools[j].id == r->id)
				before = prev->pools[j].failed;
		if (r->failed > before)
			stats_event(w->proxy->stats, "warning", "worker %d: %llu failed connection%s to %s db=%s user=%s: %s",
				    w->id, (unsigned long long)(r->failed - before), r->failed - before == 1 ? "" : "s",
				    r->node, r->database, r->user, r->last_error[0] ? r->last_error : "?");
	}

	pthread_mutex_lock(&w->stats.lock);
	w->stats.pub = s;
	pthread_mutex_unlock(&w->stats.lock);
	snap_free(prev);
}

static void publish_cb(evutil_socket_t fd, short what, void *arg) { stats_publish(arg); }

uint64_t stats_rows_request(struct proxy *px)
{
	/* The lease before the number: a worker that sees the new number
	 * also sees the lease, and builds rows. */
	atomic_store(&px->rows_lease_ms, now_ms() + STATS_ROWS_LEASE_MS);
	uint64_t gen = atomic_fetch_add(&px->rows_req, 1) + 1;
	workers_notify(px, WORKER_CMD_PUBLISH);
	return gen;
}

bool stats_rows_ready(struct proxy *px, uint64_t gen)
{
	bool ready = true;
	for (int i = 0; ready && px->workers && i < px->n_workers; i++) {
		struct worker *w = &px->workers[i];
		if (!w->stats.lock_ready)
			continue;
		pthread_mutex_lock(&w->stats.lock);
		const struct stats_snap *s = w->stats.pub;
		ready = s && s->has_rows && s->rows_gen >= gen;
		pthread_mutex_unlock(&w->stats.lock);
	}
	return ready;
}

int stats_worker_init(struct worker *w)
{
	if (pthread_mutex_init(&w->stats.lock, NULL) != 0)
		return -1;
	if (query_stats_init(&w->stats.qs) < 0)
		log_warning("worker %d: no memory for query statistics; they are off", w->id);
	w->stats.lock_ready = true;
	w->stats.timer = event_new(w->base, -1, EV_PERSIST, publish_cb, w);
	if (!w->stats.timer)
		return -1;
	struct timeval tv = { STATS_PUBLISH_MS / 1000, (STATS_PUBLISH_MS % 1000) * 1000 };
	event_add(w->stats.timer, &tv);
	stats_publish(w);
	return 0;
}

void stats_worker_free(struct worker *w)
{
	if (w->stats.timer)
		event_free(w->stats.timer);
	w->stats.timer = NULL;
	if (!w->stats.lock_ready)
		return;
	pthread_mutex_lock(&w->stats.lock);
	struct stats_snap *s = w->stats.pub;
	w->stats.pub = NULL;
	pthread_mutex_unlock(&w->stats.lock);
	snap_free(s);
	query_stats_free(&w->stats.qs);
	/* The mutex is not destroyed: workers are cleaned up one by one as
	 * they are joined, and an admin session on a worker still running may
	 * read this one's (now empty) snapshot until px->workers is freed. */
}

static void count_in_cb(struct evbuffer *b, const struct evbuffer_cb_info *info, void *arg)
{
	((struct stats_counters *)arg)->bytes_in += info->n_added;
}

static void count_out_cb(struct evbuffer *b, const struct evbuffer_cb_info *info, void *arg)
{
	((struct stats_counters *)arg)->bytes_out += info->n_added;
}

void stats_watch_client(struct worker *w, enum stats_proto p, struct bufferevent *bev)
{
	if (!bev)
		return;
	/* Plain sockets in direct mode count their own bytes (pg_evbuf.h). */
	if (pg_io_count_bytes(bev, &w->stats.c[p].bytes_in, &w->stats.c[p].bytes_out))
		return;
	evbuffer_add_cb(bufferevent_get_input(bev), count_in_cb, &w->stats.c[p]);
	evbuffer_add_cb(bufferevent_get_output(bev), count_out_cb, &w->stats.c[p]);
}

void stats_client_error(struct worker *w, enum stats_proto p, const char *sqlstate)
{
	enum stats_err_class e = stats_err_class_of(sqlstate);
	w->stats.c[p].errors[e]++;
	if (e == STATS_ERR_AUTH)
		w->counters[p].login_failures++;
}

void stats_observe_query(struct worker *w, enum stats_proto p, int64_t ms)
{
	stats_hist_observe(&w->stats.c[p].query_time, ms);
}

void stats_observe_wait(struct worker *w, enum stats_proto p, int64_t ms)
{
	stats_hist_observe(&w->stats.c[p].wait_time, ms);
}

int stats_request_kill(struct proxy *px, uint32_t id)
{
	int wid = (int)(id % 64);
	/* Not while shutting down: the worker's notify pipe may be closed. */
	if (wid >= px->n_workers || !px->workers || atomic_load(&px->shutting_down))
		return -1;
	struct worker *w = &px->workers[wid];
	int rc = -1;
	pthread_mutex_lock(&w->stats.lock);
	if (w->stats.n_kills < STATS_MAX_KILLS) {
		w->stats.kills[w->stats.n_kills++] = id;
		rc = 0;
	}
	pthread_mutex_unlock(&w->stats.lock);
	if (rc == 0) {
		char b = WORKER_CMD_KILL;
		ssize_t r = write(w->notify_fds[1], &b, 1);
		(void)r; /* a full pipe already holds a pending command */
	}
	return rc;
}

void stats_worker_run_kills(struct worker *w)
{
	uint32_t ids[STATS_MAX_KILLS];
	pthread_mutex_lock(&w->stats.lock);
	int n = w->stats.n_kills;
	memcpy(ids, w->stats.kills, sizeof(ids[0]) * (size_t)n);
	w->stats.n_kills = 0;
	pthread_mutex_unlock(&w->stats.lock);
	for (int i = 0; i < n; i++) {
		struct list *it = w->clients.next;
		while (it != &w->clients) {
			struct pg_client *c = container_of(it, struct pg_client, node);
			it = it->next;
			if (c->id == ids[i]) {
				stats_event(w->proxy->stats, "info", "client %u (%s user=%s) killed by an admin",
					    c->id, c->addr, c->user ? c->user : "-");
				pg_client_close(c, "57P01", "terminating connection due to administrator command (KILL)");
			}
		}
	}
}

/* ---- readers ---- */

static void totals_add(struct stats_totals *a, const struct stats_totals *b)
{
	a->clients_accepted += b->clients_accepted;
	a->clients_refused += b->clients_refused;
	a->login_failures += b->login_failures;
	a->queries += b->queries;
	a->transactions += b->transactions;
	a->pins += b->pins;
	a->pipelined += b->pipelined;
	a->servers_opened += b->servers_opened;
	a->servers_failed += b->servers_failed;
	a->c.bytes_in += b->c.bytes_in;
	a->c.bytes_out += b->c.bytes_out;
	for (int i = 0; i < STATS_ERR_N; i++)
		a->c.errors[i] += b->c.errors[i];
	hist_add(&a->c.query_time, &b->c.query_time);
	hist_add(&a->c.wait_time, &b->c.wait_time);
}

static int merge_pool(struct stats_view *v, size_t *cap, const struct stats_pool_row *r)
{
	for (size_t i = 0; i < v->n_pools; i++) {
		struct stats_pool_row *m = &v->pools[i];
		if (strcmp(m->cluster, r->cluster) == 0 && strcmp(m->node, r->node) == 0 &&
		    strcmp(m->database, r->database) == 0 && strcmp(m->user, r->user) == 0 &&
		    strcmp(m->protocol, r->protocol) == 0) {
			m->size += r->size;
			m->pending += r->pending;
			m->idle += r->idle;
			m->active += r->active;
			m->waiting += r->waiting;
			m->opened += r->opened;
			m->failed += r->failed;
			m->retired = m->retired && r->retired;
			if (r->last_error[0])
				copy_str(m->last_error, sizeof(m->last_error), r->last_error);
			return 0;
		}
	}
	if (v->n_pools == *cap) {
		size_t nc = *cap ? *cap * 2 : 16;
		struct stats_pool_row *np = realloc(v->pools, nc * sizeof(*np));
		if (!np)
			return -1;
		v->pools = np;
		*cap = nc;
	}
	v->pools[v->n_pools] = *r;
	v->pools[v->n_pools].id = 0;
	v->n_pools++;
	return 0;
}

static int append_rows(void **arr, size_t *n, const void *rows, size_t add, size_t size)
{
	if (add == 0)
		return 0;
	void *na = realloc(*arr, (*n + add) * size);
	if (!na)
		return -1;
	memcpy((char *)na + *n * size, rows, add * size);
	*arr = na;
	*n += add;
	return 0;
}

static void process_figures(struct stats_view *v)
{
	FILE *f = fopen("/proc/self/statm", "r");
	if (f) {
		unsigned long size = 0, rss = 0;
		if (fscanf(f, "%lu %lu", &size, &rss) == 2)
			v->rss_bytes = (uint64_t)rss * (uint64_t)sysconf(_SC_PAGESIZE);
		fclose(f);
	}
	DIR *d = opendir("/proc/self/fd");
	if (d) {
		struct dirent *e;
		while ((e = readdir(d)))
			if (e->d_name[0] != '.')
				v->open_fds++;
		closedir(d);
		if (v->open_fds)
			v->open_fds--; /* the directory's own descriptor */
	}
}

/* The health thread's view of a node (NULL: never probed). */
static void add_health(struct stats_node_row *r, struct node_state *n)
{
	if (!n)
		return;
	r->probed = true;
	r->up = atomic_load(&n->up);
	copy_str(r->reported_role, sizeof(r->reported_role),
		 health_role_name((enum node_role)atomic_load(&n->role)));
	r->lag_ms = atomic_load(&n->lag_ms);
	r->last_beat_ms = atomic_load(&n->last_beat_ms);
	r->beats_ok = atomic_load(&n->beats_ok);
	r->beats_failed = atomic_load(&n->beats_failed);
	r->position_reads = atomic_load(&n->position_reads);
	r->consecutive_failures = atomic_load(&n->missed);
	r->beat_rtt_us = atomic_load(&n->beat_rtt_us);
	struct position pos;
	health_node_position(n, &pos, NULL);
	if (pos.kind != POS_NONE)
		pos_format(&pos, r->position, sizeof(r->position));
	r->has_lsn = pos.kind == POS_LSN;
	r->lsn = pos.lsn;
	pthread_mutex_lock(&n->mu);
	copy_str(r->health_error, sizeof(r->health_error), n->last_error);
	pthread_mutex_unlock(&n->mu);
}

/* PostgreSQL lag in bytes for the `n` rows of one cluster: the WAL
 * position of the node taking writes (reporting itself primary) minus
 * each node's (0 for that node itself); -1 when either is unknown.
 * MariaDB/MySQL positions are GTIDs: no byte distance, left -1. */
static void lag_bytes(struct stats_node_row *rows, size_t n, int pri)
{
	for (size_t j = 0; j < n; j++)
		rows[j].lag_bytes = -1;
	if (pri < 0 || (size_t)pri >= n || !rows[pri].has_lsn || strcmp(rows[pri].reported_role, "primary") != 0)
		return;
	for (size_t j = 0; j < n; j++)
		if (rows[j].has_lsn)
			rows[j].lag_bytes = rows[pri].lsn > rows[j].lsn ? (int64_t)(rows[pri].lsn - rows[j].lsn) : 0;
}

static void add_nodes(struct stats_view *v, const struct cfg *cfg)
{
	size_t n = 0;
	for (size_t i = 0; i < cfg->n_clusters; i++)
		n += cfg->clusters[i].n_nodes;
	v->nodes = calloc(n ? n : 1, sizeof(*v->nodes));
	if (!v->nodes)
		return;
	for (size_t i = 0; i < cfg->n_clusters; i++) {
		const struct cfg_cluster *cl = &cfg->clusters[i];
		struct stats_node_row *first = &v->nodes[v->n_nodes];
		for (size_t j = 0; j < cl->n_nodes; j++) {
			struct stats_node_row *r = &v->nodes[v->n_nodes++];
			copy_str(r->cluster, sizeof(r->cluster), cl->name);
			copy_str(r->node, sizeof(r->node), cl->nodes[j].addr.text);
			copy_str(r->role, sizeof(r->role), cl->nodes[j].is_primary ? "primary" : "replica");
			copy_str(r->protocol, sizeof(r->protocol), cfg_protocol_name(cl->protocol));
			bool failing = false;
			for (size_t k = 0; k < v->n_pools; k++) {
				const struct stats_pool_row *p = &v->pools[k];
				if (strcmp(p->cluster, r->cluster) != 0 || strcmp(p->node, r->node) != 0)
					continue;
				r->active += p->active;
				r->idle += p->idle;
				r->pending += p->pending;
				r->waiting += p->waiting;
				if (p->failed && p->last_error[0])
					failing = true;
			}
			const char *st = "unused";
			if (r->active + r->idle > 0)
				st = "up";
			else if (failing)
				st = "failing";
			else if (r->pending > 0)
				st = "connecting";
			copy_str(r->state, sizeof(r->state), st);
			struct node_state *ns = health_node(cl->protocol, &cl->nodes[j].addr);
			add_health(r, ns);
			/* After a failover: the promoted node is the primary, the old one fenced. */
			int pri = health_primary_of(cl);
			if (ns && atomic_load(&ns->fenced))
				copy_str(r->role, sizeof(r->role), "fenced");
			else if (pri >= 0)
				copy_str(r->role, sizeof(r->role), (size_t)pri == j ? "primary" : "replica");
		}
		lag_bytes(first, cl->n_nodes, cl->protocol == CFG_PROTO_POSTGRES ? health_primary_of(cl) : -1);
	}
}

static void add_failover(const struct health_failover_info *fi, void *arg)
{
	struct stats_view *v = arg;
	struct health_failover_info *more = realloc(v->failovers, (v->n_failovers + 1) * sizeof(*more));
	if (!more)
		return;
	v->failovers = more;
	v->failovers[v->n_failovers++] = *fi;
}

/* Routing counters (atomics in route_pick.c) and the rules' hits. */
static int add_routing(struct stats_view *v, const struct cfg *cfg)
{
	for (int t = 0; t < 2; t++)
		for (int r = 0; r < ROUTE_R__COUNT; r++)
			v->route_decisions[t][r] = atomic_load_explicit(&route_counters[t][r], memory_order_relaxed);
	if (cfg->n_routes == 0)
		return 0;
	v->rules = calloc(cfg->n_routes, sizeof(*v->rules));
	if (!v->rules)
		return -1;
	struct route_rules *rr = route_rules_of(cfg);
	for (size_t i = 0; i < cfg->n_routes; i++) {
		const struct cfg_route *r = &cfg->routes[i];
		struct stats_rule_row *row = &v->rules[v->n_rules++];
		copy_str(row->cluster, sizeof(row->cluster), r->cluster);
		copy_str(row->name, sizeof(row->name), r->name);
		copy_str(row->target, sizeof(row->target),
			 r->target == CFG_TARGET_NODE ? r->target_node.text : route_target_name(r->target));
		copy_str(row->match, sizeof(row->match), r->match ? r->match : "");
		row->hits = rr ? route_rules_hits(rr, i) : 0;
	}
	return 0;
}

int stats_collect(struct proxy *px, struct stats_view *v, int flags)
{
	memset(v, 0, sizeof(*v));
	copy_str(v->version, sizeof(v->version), SWITCHYARD_VERSION);
	v->now_ms = wall_ms();
	v->workers = px->n_workers;
	v->clients_total = atomic_load(&px->n_clients);
	struct cfg *cfg = proxy_cfg_get(px);
	v->generation = cfg->generation;
	v->max_client_conn = cfg->global.max_client_conn;
	if (atomic_load(&px->paused_any)) {
		pthread_mutex_lock(&px->lock);
		if (px->paused_all)
			copy_str(v->paused, sizeof(v->paused), "all");
		for (int i = 0; !px->paused_all && i < px->n_paused; i++) {
			size_t len = strlen(v->paused);
			snprintf(v->paused + len, sizeof(v->paused) - len, "%s%s", len ? "," : "", px->paused[i]);
		}
		pthread_mutex_unlock(&px->lock);
	}

	struct stats_global *g = px->stats;
	if (g) {
		pthread_mutex_lock(&g->lock);
		v->uptime_s = (double)(v->now_ms - g->started_ms) / 1000.0;
		v->reloads_ok = g->reloads_ok;
		v->reloads_failed = g->reloads_failed;
		v->last_reload_ms = g->last_reload_ms;
		v->last_reload_ok = g->last_reload_ok;
		for (size_t i = 0; i < g->ev_count; i++)
			v->events[v->n_events++] = g->events[(g->ev_next + STATS_EVENTS - 1 - i) % STATS_EVENTS];
		pthread_mutex_unlock(&g->lock);
	}

	int rc = 0;
	size_t pool_cap = 0;
	int64_t oldest = v->now_ms;
	for (int i = 0; px->workers && i < px->n_workers; i++) {
		struct worker *w = &px->workers[i];
		if (!w->stats.lock_ready)
			continue;
		pthread_mutex_lock(&w->stats.lock);
		const struct stats_snap *s = w->stats.pub;
		if (s) {
			if (s->taken_ms < oldest)
				oldest = s->taken_ms;
			for (int p = 0; p < STATS_PROTO_N; p++) {
				totals_add(&v->proto[p].t, &s->t[p]);
				for (int k = 0; k < STATS_CL_N; k++)
					v->proto[p].clients[k] += s->clients[p][k];
				v->proto[p].parked += s->parked[p];
			}
			v->qps += s->qps;
			v->tps += s->tps;
			for (size_t k = 0; k < s->n_pools; k++)
				if (merge_pool(v, &pool_cap, &s->pools[k]) < 0)
					rc = -1;
			if (flags & STATS_WANT_ROWS) {
				if (append_rows((void **)&v->client_rows, &v->n_client_rows, s->client_rows,
						s->n_client_rows, sizeof(*s->client_rows)) < 0 ||
				    append_rows((void **)&v->server_rows, &v->n_server_rows, s->server_rows,
						s->n_server_rows, sizeof(*s->server_rows)) < 0)
					rc = -1;
			}
			v->qs_evicted += s->qs_evicted;
			v->qs_untracked += s->qs_untracked;
			v->qs_used += s->qs_used;
			if ((flags & STATS_WANT_QUERIES) &&
			    append_rows((void **)&v->queries, &v->n_queries, s->queries, s->n_queries,
					sizeof(*s->queries)) < 0)
				rc = -1;
		}
		pthread_mutex_unlock(&w->stats.lock);
	}
	stats_view_sum_protocols(v);
	v->oldest_ms = oldest;
	v->qs_capacity = QS_CAPACITY;
	v->n_queries = query_stats_merge(v->queries, v->n_queries);
	/* A worker opens its pool on its first client: report the configured
	 * size, not the sum of the shares of the workers that have one. */
	for (size_t i = 0; i < v->n_pools; i++) {
		const struct cfg_cluster *cl = v->pools[i].cluster[0] ? cfg_find_cluster(cfg, v->pools[i].cluster) : NULL;
		if (cl)
			v->pools[i].size = cl->settings.pool_size;
	}
	add_nodes(v, cfg);
	if (add_routing(v, cfg) < 0)
		rc = -1;
	health_failover_foreach(add_failover, v);
	process_figures(v);

	v->healthy = true;
	if (atomic_load(&px->shutting_down)) {
		v->healthy = false;
		copy_str(v->health_reason, sizeof(v->health_reason), "shutting down");
	} else if (atomic_load(&px->workers_running) < px->n_workers) {
		v->healthy = false;
		copy_str(v->health_reason, sizeof(v->health_reason), "a worker thread has stopped");
	} else if (v->now_ms - oldest > 5 * STATS_PUBLISH_MS) {
		v->healthy = false;
		snprintf(v->health_reason, sizeof(v->health_reason),
			 "a worker has not reported for %lld ms (stuck event loop?)", (long long)(v->now_ms - oldest));
	}
	cfg_unref(cfg);
	return rc;
}

void stats_view_sum_protocols(struct stats_view *v)
{
	memset(&v->t, 0, sizeof(v->t));
	memset(v->clients, 0, sizeof(v->clients));
	v->parked = 0;
	for (int p = 0; p < STATS_PROTO_N; p++) {
		totals_add(&v->t, &v->proto[p].t);
		v->parked += v->proto[p].parked;
		for (int k = 0; k < STATS_CL_N; k++)
			v->clients[k] += v->proto[p].clients[k];
	}
}

void stats_view_free(struct stats_view *v)
{
	free(v->pools);
	free(v->nodes);
	free(v->rules);
	free(v->failovers);
	free(v->client_rows);
	free(v->server_rows);
	free(v->queries);
	memset(v, 0, sizeof(*v));
}
