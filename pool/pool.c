/*
 * pool.c — pools of server connections: lookup, acquire/release, the
 * waiting queue, and periodic maintenance (idle timeout, lifetime,
 * min_pool_size). The protocol work of each connection is pg_server.c's.
 */
#include "pool/pool.h"

#include <event2/event.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "pool/pg_server.h"
#include "util/log.h"

#define POOL_MAINT_INTERVAL_MS 1000

static void maint_cb(evutil_socket_t fd, short what, void *arg);
static void reap_cb(evutil_socket_t fd, short what, void *arg);

int pool_share(int total, int id, int n)
{
	if (n <= 0)
		return total;
	int share = total / n + (id < total % n ? 1 : 0);
	return share;
}

struct pool_set *pool_set_new(struct event_base *base, int worker_id, int n_workers,
			      struct tls_contexts *tls)
{
	struct pool_set *ps = calloc(1, sizeof(*ps));
	if (!ps)
		return NULL;
	ps->base = base;
	ps->tls = tls;
	ps->worker_id = worker_id;
	ps->n_workers = n_workers;
	list_init(&ps->pools);
	list_init(&ps->dead);
	ps->maint_ev = event_new(base, -1, EV_PERSIST, maint_cb, ps);
	ps->reap_ev = event_new(base, -1, 0, reap_cb, ps);
	if (!ps->maint_ev || !ps->reap_ev) {
		pool_set_free(ps);
		return NULL;
	}
	struct timeval tv = { POOL_MAINT_INTERVAL_MS / 1000, 0 };
	event_add(ps->maint_ev, &tv);
	return ps;
}

static void credentials_clear(struct pool_credentials *c)
{
	free(c->password);
	free(c->md5_stored);
	memset(c, 0, sizeof(*c));
}

static void close_all(struct list *l, const char *why)
{
	struct list *n;
	while ((n = list_first(l)))
		server_close(container_of(n, struct server, node), why);
}

static void pool_free(struct pool *p)
{
	close_all(&p->pending, "pool freed");
	close_all(&p->idle, "pool freed");
	close_all(&p->active, "pool freed");
	list_del(&p->node);
	credentials_clear(&p->cred);
	for (int i = 0; i < p->n_defaults; i++) {
		free(p->default_keys[i]);
		free(p->default_values[i]);
	}
	free(p->default_keys);
	free(p->default_values);
	free(p->st.reset_query);
	free(p->database);
	free(p->user);
	free(p);
}

void pool_set_free(struct pool_set *ps)
{
	if (!ps)
		return;
	struct list *n;
	while ((n = list_first(&ps->pools)))
		pool_free(container_of(n, struct pool, node));
	server_reap(&ps->dead);
	if (ps->maint_ev)
		event_free(ps->maint_ev);
	if (ps->reap_ev)
		event_free(ps->reap_ev);
	free(ps);
}

void pool_set_tls(struct pool_set *ps, struct tls_contexts *tls) { ps->tls = tls; }

static void settings_from_cfg(struct pool_set *ps, struct pool_settings *st,
			      const struct cfg_pool_settings *cs, uint64_t max_packet_size)
{
	st->size = pool_share(cs->pool_size, ps->worker_id, ps->n_workers);
	if (st->size < 1)
		st->size = 1; /* a worker with no share could never serve its clients */
	st->min_size = pool_share(cs->min_pool_size, ps->worker_id, ps->n_workers);
	if (st->min_size > st->size)
		st->min_size = st->size;
	st->max_db = cs->max_db_connections > 0
			     ? pool_share(cs->max_db_connections, ps->worker_id, ps->n_workers)
			     : 0;
	if (cs->max_db_connections > 0 && st->max_db < 1)
		st->max_db = 1;
	st->connect_timeout_ms = cs->server_connect_timeout_ms;
	st->lifetime_ms = cs->server_lifetime_ms;
	st->idle_timeout_ms = cs->server_idle_timeout_ms;
	char *rq = strdup(cs->server_reset_query ? cs->server_reset_query : "");
	if (rq) {
		free(st->reset_query);
		st->reset_query = rq;
	}
	st->max_packet_size = (size_t)max_packet_size;
	st->pipeline_after = st->size;
	if (cs->pipeline_busy_servers > 0) {
		st->pipeline_after = pool_share(cs->pipeline_busy_servers, ps->worker_id, ps->n_workers);
		if (st->pipeline_after < 1)
			st->pipeline_after = 1;
		if (st->pipeline_after > st->size)
			st->pipeline_after = st->size;
	}
}

int pool_set_node_load(const struct pool_set *ps, enum cfg_protocol protocol, const struct cfg_addr *addr)
{
	int load = 0;
	for (const struct list *n = ps->pools.next; n != &ps->pools; n = n->next) {
		const struct pool *p = container_of(n, struct pool, node);
		if (p->protocol == protocol && strcmp(p->addr.text, addr->text) == 0)
			load += p->n_active + p->n_waiters;
	}
	return load;
}

struct pool *pool_get(struct pool_set *ps, enum cfg_protocol protocol, const struct cfg_addr *addr,
		      const char *database, const char *user, const struct cfg_pool_settings *cs,
		      uint64_t max_packet_size)
{
	for (struct list *n = ps->pools.next; n != &ps->pools; n = n->next) {
		struct pool *p = container_of(n, struct pool, node);
		if (p->protocol == protocol && strcmp(p->addr.text, addr->text) == 0 &&
		    strcmp(p->database, database) == 0 && strcmp(p->user, user) == 0) {
			p->retired = false;
			return p;
		}
	}
	struct pool *p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	p->database = strdup(database);
	p->user = strdup(user);
	if (!p->database || !p->user) {
		free(p->database);
		free(p->user);
		free(p);
		return NULL;
	}
	p->set = ps;
	p->protocol = protocol;
	p->id = ++ps->next_id;
	p->addr = *addr;
	list_init(&p->pending);
	list_init(&p->idle);
	list_init(&p->active);
	list_init(&p->waiters);
	settings_from_cfg(ps, &p->st, cs, max_packet_size);
	list_add_tail(&ps->pools, &p->node);
	log_debug("pool %llu created for %s db=%s user=%s size=%d", (unsigned long long)p->id,
		  addr->text, database, user, p->st.size);
	return p;
}

void pool_set_credentials(struct pool *p, const struct pool_credentials *cred)
{
	struct pool_credentials c = *cred;
	c.password = cred->password ? strdup(cred->password) : NULL;
	c.md5_stored = cred->md5_stored ? strdup(cred->md5_stored) : NULL;
	credentials_clear(&p->cred);
	p->cred = c;
}

/* Does cluster `cl` (or one of its shards) serve `addr` with `database`? */
static const struct cfg_pool_settings *settings_for(const struct cfg *c, const struct pool *p)
{
	for (size_t i = 0; i < c->n_clusters; i++) {
		const struct cfg_cluster *cl = &c->clusters[i];
		if (cl->protocol != p->protocol || strcmp(cl->server_database, p->database) != 0)
			continue;
		for (size_t j = 0; j < cl->n_nodes; j++)
			if (strcmp(cl->nodes[j].addr.text, p->addr.text) == 0)
				return &cl->settings;
	}
	return NULL;
}

void pool_set_apply_config(struct pool_set *ps, const struct cfg *c)
{
	for (struct list *n = ps->pools.next; n != &ps->pools; n = n->next) {
		struct pool *p = container_of(n, struct pool, node);
		const struct cfg_pool_settings *cs = settings_for(c, p);
		if (!cs) {
			if (!p->retired)
				log_info("pool %s db=%s user=%s retired: node no longer configured",
					 p->addr.text, p->database, p->user);
			p->retired = true;
			close_all(&p->idle, "node removed from config");
			continue;
		}
		int old = p->st.size;
		settings_from_cfg(ps, &p->st, cs, c->global.max_packet_size);
		if (old != p->st.size)
			log_info("pool %s db=%s user=%s: size %d -> %d", p->addr.text, p->database,
				 p->user, old, p->st.size);
		/* Shrinking: close idle servers above the new size now; active ones
		 * are closed as they come back (pool_release). */
		while (p->n_idle > 0 && p->n_pending + p->n_idle + p->n_active > p->st.size)
			server_close(container_of(list_first(&p->idle), struct server, node),
				     "pool_size reduced");
		pool_maybe_open(p);
	}
}

static struct server *pop_idle(struct pool *p)
{
	/* LIFO: the most recently used server is the warmest. */
	if (list_empty(&p->idle))
		return NULL;
	return container_of(p->idle.prev, struct server, node);
}

void pool_acquire(struct pool *p, struct pool_waiter *w)
{
	struct server *s = pop_idle(p);
	if (s) {
		w->node.next = w->node.prev = &w->node;
		/* The caller links; on_server gets a linked server. */
		server_set_state(s, SV_ACTIVE);
		w->on_server(w, s);
		return;
	}
	list_add_tail(&p->waiters, &w->node);
	p->n_waiters++;
	pool_maybe_open(p);
}

void pool_cancel_wait(struct pool *p, struct pool_waiter *w)
{
	if (w->node.next == NULL || w->node.next == &w->node)
		return;
	list_del(&w->node);
	p->n_waiters--;
}

/* Connections of this worker to p's node and database, all users. */
static int db_connections(const struct pool *p)
{
	int n = 0;
	const struct list *head = &p->set->pools;
	for (const struct list *l = head->next; l != head; l = l->next) {
		const struct pool *q = container_of(l, struct pool, node);
		if (strcmp(q->addr.text, p->addr.text) == 0 && strcmp(q->database, p->database) == 0)
			n += q->n_pending + q->n_idle + q->n_active;
	}
	return n;
}

/* max_db_connections reached: close an idle connection of another pool
 * to the same node and database. True when one was closed. */
static bool steal_idle(struct pool *p)
{
	struct list *head = &p->set->pools;
	for (struct list *l = head->next; l != head; l = l->next) {
		struct pool *q = container_of(l, struct pool, node);
		if (q == p || q->n_idle == 0 || strcmp(q->addr.text, p->addr.text) != 0 ||
		    strcmp(q->database, p->database) != 0)
			continue;
		server_close(container_of(list_first(&q->idle), struct server, node),
			     "max_db_connections: making room for another user");
		return true;
	}
	return false;
}

void pool_maybe_open(struct pool *p)
{
	if (p->retired)
		return;
	for (;;) {
		int total = p->n_pending + p->n_idle + p->n_active;
		if (total >= p->st.size)
			return;
		/* Demand: waiters beyond what pending connections will serve, or
		 * fewer than min_pool_size connections open. */
		if (p->n_waiters <= p->n_pending && total >= p->st.min_size)
			return;
		if (p->st.max_db > 0 && db_connections(p) >= p->st.max_db &&
		    (p->n_waiters <= p->n_pending || !steal_idle(p)))
			return;
		if (!server_connect(p))
			return;
	}
}

const char *pool_param_default(const struct pool *p, const char *key)
{
	for (int i = 0; i < p->n_defaults; i++)
		if (strcasecmp(p->default_keys[i], key) == 0)
			return p->default_values[i];
	return NULL;
}

/* Keep the first logged-in server's parameters as the pool's defaults. */
static void remember_defaults(struct pool *p, const struct server *s)
{
	if (p->n_defaults || s->n_params == 0)
		return;
	p->default_keys = calloc((size_t)s->n_params, sizeof(char *));
	p->default_values = calloc((size_t)s->n_params, sizeof(char *));
	if (!p->default_keys || !p->default_values) {
		free(p->default_keys);
		free(p->default_values);
		p->default_keys = p->default_values = NULL;
		return;
	}
	for (int i = 0; i < s->n_params; i++) {
		p->default_keys[i] = strdup(s->params[i].key);
		p->default_values[i] = strdup(s->params[i].value);
		if (!p->default_keys[i] || !p->default_values[i]) {
			free(p->default_keys[i]);
			free(p->default_values[i]);
			break;
		}
		p->n_defaults++;
	}
}

void pool_server_logged_in(struct pool *p, struct server *s) { remember_defaults(p, s); }

void pool_server_ready(struct pool *p, struct server *s)
{
	/* s is SV_IDLE on p->idle. */
	if (p->retired || p->n_pending + p->n_idle + p->n_active > p->st.size) {
		server_close(s, p->retired ? "node removed from config" : "pool_size reduced");
		return;
	}
	struct list *n = list_pop(&p->waiters);
	if (!n)
		return;
	p->n_waiters--;
	struct pool_waiter *w = container_of(n, struct pool_waiter, node);
	server_set_state(s, SV_ACTIVE);
	w->on_server(w, s);
}

void pool_server_failed(struct pool *p, struct server *s, const char *sqlstate, const char *msg)
{
	snprintf(p->last_error, sizeof(p->last_error), "%s", msg);
	snprintf(p->last_sqlstate, sizeof(p->last_sqlstate), "%s", sqlstate);
	p->servers_failed++;
	server_close(s, msg);
	/* With nothing open or opening, nobody would ever serve the waiters:
	 * tell them now rather than after query_wait_timeout. */
	if (p->n_pending + p->n_idle + p->n_active > 0)
		return;
	struct list *n;
	while ((n = list_pop(&p->waiters))) {
		p->n_waiters--;
		struct pool_waiter *w = container_of(n, struct pool_waiter, node);
		w->on_error(w, sqlstate, msg);
	}
}

void pool_release(struct server *s, bool clean, bool reset)
{
	struct pool *p = s->pool;
	s->link = NULL;
	s->link_ops = NULL;
	s->last_used_ms = now_ms();
	if (!clean) {
		/* Its client is gone mid-request: stop the statement now (it may
		 * hold locks), then drop the connection. */
		if (p->protocol == CFG_PROTO_POSTGRES && s->backend_pid)
			server_send_cancel(p->set->base, &p->addr, s->backend_pid, s->backend_key);
		server_close(s, "released in the middle of a query");
		pool_maybe_open(p);
		return;
	}
	if (p->retired) {
		server_close(s, "node removed from config");
		return;
	}
	if (p->st.lifetime_ms > 0 && s->last_used_ms - s->created_ms > p->st.lifetime_ms) {
		server_close(s, "server_lifetime reached");
		pool_maybe_open(p);
		return;
	}
	if ((reset && p->st.reset_query[0]) || s->tx_status != 'I') {
		server_start_reset(s, reset);
		return;
	}
	server_set_state(s, SV_IDLE);
	pool_server_ready(p, s);
}

void pool_release_pinned(struct server *s, bool clean)
{
	struct pool *p = s->pool;
	if (clean && !p->st.reset_query[0]) {
		/* Nothing would clean it: its advisory locks, temporary tables,
		 * LISTENs or user variables must not reach another client. */
		s->link = NULL;
		s->link_ops = NULL;
		server_close(s, "pinned by its client, and server_reset_query is empty");
		pool_maybe_open(p);
		return;
	}
	pool_release(s, clean, true);
}

static void pool_maintain(struct pool *p, int64_t now)
{
	struct list *n = p->idle.next;
	while (n != &p->idle) {
		struct server *s = container_of(n, struct server, node);
		n = n->next;
		int total = p->n_pending + p->n_idle + p->n_active;
		if (p->st.lifetime_ms > 0 && now - s->created_ms > p->st.lifetime_ms)
			server_close(s, "server_lifetime reached");
		else if (p->st.idle_timeout_ms > 0 && now - s->last_used_ms > p->st.idle_timeout_ms &&
			 total > p->st.min_size)
			server_close(s, "server_idle_timeout reached");
	}
	pool_maybe_open(p);
}

static void maint_cb(evutil_socket_t fd, short what, void *arg)
{
	struct pool_set *ps = arg;
	int64_t now = now_ms();
	struct list *n = ps->pools.next;
	while (n != &ps->pools) {
		struct pool *p = container_of(n, struct pool, node);
		n = n->next;
		if (p->retired && p->n_pending + p->n_idle + p->n_active + p->n_waiters == 0) {
			pool_free(p);
			continue;
		}
		pool_maintain(p, now);
	}
}

static void reap_cb(evutil_socket_t fd, short what, void *arg)
{
	struct pool_set *ps = arg;
	server_reap(&ps->dead);
}
