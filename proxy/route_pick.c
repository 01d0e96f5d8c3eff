/*
 * route_pick.c — which node serves a request (see route_pick.h).
 *
 * Runs on worker threads for every transaction start, so it allocates
 * nothing: the statement is classified by router/classify.c, rules are
 * the snapshot's compiled ones, node states are read from health/ with
 * atomics (positions under each node's small lock).
 */
#include "proxy/route_pick.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "health/health.h"
#include "pool/pool.h"
#include "router/choose.h"
#include "util/log.h"

#define MAX_REPLICAS 32
#define RYW_RETRY_MS 2          /* a read waiting for a replica looks again */
#define PRIMARY_RETRY_MS 25     /* a request waiting for a failover looks again */

atomic_ullong route_counters[2][ROUTE_R__COUNT];

/* Shared state for consistency scopes other than `connection`. Entries
 * idle longer than this are dropped: by then every replica within
 * max_replica_lag has replayed what they recorded. */
#define CSTORE_TTL_MS (120 * 1000)

static struct cstore *g_store;
static pthread_once_t g_store_once = PTHREAD_ONCE_INIT;

static void store_init(void) { g_store = cstore_new(); }

static struct cstore *store(void)
{
	pthread_once(&g_store_once, store_init);
	return g_store;
}

void route_expire(int64_t now_ms)
{
	struct cstore *st = store();
	if (st) {
		size_t n = cstore_expire(st, now_ms, CSTORE_TTL_MS);
		if (n)
			log_debug("route: %zu idle consistency entries expired", n);
	}
}

const char *route_reason_name(enum route_reason r)
{
	static const char *const names[ROUTE_R__COUNT] = {
		[ROUTE_R_ONLY_NODE] = "only_node", [ROUTE_R_LOGIN] = "login",
		[ROUTE_R_CLASS] = "classification", [ROUTE_R_TXN] = "transaction",
		[ROUTE_R_RULE] = "rule", [ROUTE_R_HINT] = "hint",
		[ROUTE_R_SESSION] = "session", [ROUTE_R_USER] = "user_default",
		[ROUTE_R_SPLIT_OFF] = "split_off", [ROUTE_R_RYW] = "ryw_primary",
		[ROUTE_R_LAG] = "lag_excluded", [ROUTE_R_DOWN] = "replicas_down",
	};
	return r < ROUTE_R__COUNT ? names[r] : "?";
}

/* ---- compiled rules, attached to the snapshot ---- */

struct compiled_rules {
	void (*destroy)(void *self);  /* first member: see struct cfg `derived` */
	struct route_rules *rules;
};

static void compiled_rules_destroy(void *self)
{
	struct compiled_rules *cr = self;
	route_rules_free(cr->rules);
	free(cr);
}

struct route_rules *route_rules_of(const struct cfg *c)
{
	struct cfg *mc = (struct cfg *)c; /* `derived` is the one mutable field */
	struct compiled_rules *cr = atomic_load(&mc->derived);
	if (cr)
		return cr->rules;
	cr = calloc(1, sizeof(*cr));
	if (!cr)
		return NULL;
	cr->destroy = compiled_rules_destroy;
	if (c->n_routes) {
		char err[256];
		cr->rules = route_rules_compile(c, err, sizeof(err));
		if (!cr->rules) /* validation compiles them too: only out of memory */
			log_error("route rules: %s", err);
	}
	void *expected = NULL;
	if (!atomic_compare_exchange_strong(&mc->derived, &expected, cr)) {
		compiled_rules_destroy(cr); /* another worker was first */
		cr = expected;
	}
	return cr->rules;
}

/* ---- per-thread balancing state ---- */

/* Round-robin cursors and smooth-weighted-round-robin weights, per worker
 * thread and cluster (a reload gives the cluster a new address and so a
 * fresh slot; the old one is reused). */
struct balance_slot {
	const struct cfg_cluster *cl;
	unsigned rr;
	int current_weight[MAX_REPLICAS];
};
static __thread struct balance_slot t_slots[8];
static __thread unsigned t_next_slot;

static struct balance_slot *balance_slot(const struct cfg_cluster *cl)
{
	for (size_t i = 0; i < sizeof(t_slots) / sizeof(t_slots[0]); i++)
		if (t_slots[i].cl == cl)
			return &t_slots[i];
	struct balance_slot *s = &t_slots[t_next_slot++ % (sizeof(t_slots) / sizeof(t_slots[0]))];
	memset(s, 0, sizeof(*s));
	s->cl = cl;
	return s;
}

/* ---- sessions ---- */

struct route_session *route_session_new(const struct cfg_cluster *cl, const char *client_addr, bool *oom)
{
	*oom = false;
	if (!cl || !route_cluster_splits(cl))
		return NULL;
	struct route_session *rs = calloc(1, sizeof(*rs));
	if (!rs) {
		*oom = true;
		return NULL;
	}
	consistency_init(&rs->cons);
	rs->last_node = -1;
	/* "1.2.3.4:5678" or "[::1]:5678" -> the IP; unix sockets have none. */
	const char *a = client_addr ? client_addr : "";
	size_t n = strlen(a);
	if (a[0] == '[') {
		const char *e = strchr(a, ']');
		n = e ? (size_t)(e - a - 1) : 0;
		a++;
	} else {
		const char *colon = strrchr(a, ':');
		if (colon && !strchr(a, '/'))
			n = (size_t)(colon - a);
		if (a[0] == '/' || strncmp(a, "unix", 4) == 0)
			n = 0;
	}
	if (n >= sizeof(rs->client_ip))
		n = sizeof(rs->client_ip) - 1;
	memcpy(rs->client_ip, a, n);
	rs->client_ip[n] = '\0';
	return rs;
}

void route_session_destroy(struct route_session *rs)
{
	if (!rs)
		return;
	free(rs->key);
	free(rs);
}

void route_session_set_key(struct route_session *rs, const char *k, size_t len)
{
	free(rs->key);
	rs->key = len ? strndup(k, len) : NULL;
}

bool route_cluster_splits(const struct cfg_cluster *cl)
{
	for (size_t i = 0; i < cl->n_nodes; i++)
		if (!cl->nodes[i].is_primary)
			return true;
	return false;
}

/* The shared-store key of this session, or false for scope connection
 * (or scope key without a key). Cluster first: positions are per cluster. */
static bool scope_key(const struct route_session *rs, const struct cfg_cluster *cl, const char *user,
		      char *out, size_t cap)
{
	switch (cl->settings.consistency_scope) {
	case CFG_SCOPE_USER:
		snprintf(out, cap, "%s\x1fuser\x1f%s", cl->name, user);
		return true;
	case CFG_SCOPE_CLIENT_ADDR:
		snprintf(out, cap, "%s\x1f" "addr\x1f%s", cl->name, rs->client_ip);
		return true;
	case CFG_SCOPE_KEY:
		if (!rs->key)
			return false;
		snprintf(out, cap, "%s\x1fkey\x1f%s", cl->name, rs->key);
		return true;
	case CFG_SCOPE_CONNECTION:
	default:
		return false;
	}
}

static void load_consistency(const struct route_session *rs, const struct cfg_cluster *cl, const char *user,
			     struct consistency *out)
{
	char k[512];
	if (scope_key(rs, cl, user, k, sizeof(k)) && store())
		cstore_get(store(), k, out);
	else
		*out = rs->cons;
}

static void record_read(struct route_session *rs, const struct cfg_cluster *cl, const char *user, int node,
			const struct position *p, int64_t now)
{
	char k[512];
	if (scope_key(rs, cl, user, k, sizeof(k)) && store())
		cstore_read(store(), k, node, p, now);
	else
		consistency_read(&rs->cons, node, p, now);
}

void route_note_write(struct route_session *rs, const struct cfg_cluster *cl, const char *user,
		      const struct position *p, int64_t now_ms)
{
	char k[512];
	if (scope_key(rs, cl, user, k, sizeof(k)) && store())
		cstore_wrote(store(), k, p, now_ms);
	else
		consistency_wrote(&rs->cons, p, now_ms);
}

/* ---- the decision ---- */

static void count(struct route_decision *d)
{
	int replica = d->primary ? 0 : 1;
	atomic_fetch_add_explicit(&route_counters[replica][d->reason], 1, memory_order_relaxed);
}

static int find_node(const struct cfg_cluster *cl, const struct cfg_addr *a)
{
	for (size_t i = 0; i < cl->n_nodes; i++)
		if (strcmp(cl->nodes[i].addr.text, a->text) == 0)
			return (int)i;
	return -1;
}

static void node_position(const struct cfg_cluster *cl, int node, struct position *out)
{
	memset(out, 0, sizeof(*out));
	struct node_state *ns = health_node(cl->protocol, &cl->nodes[node].addr);
	if (ns)
		health_node_position(ns, out, NULL);
}

static bool node_fenced(const struct cfg_cluster *cl, int node)
{
	struct node_state *ns = health_node(cl->protocol, &cl->nodes[node].addr);
	return ns && atomic_load_explicit(&ns->fenced, memory_order_relaxed);
}

/* No node takes writes now (a failover is under way, see health.h
 * health_primary_of()): wait up to failover_wait, then refuse. */
static void wait_for_primary(struct route_session *rs, const struct route_request *rq, struct route_decision *d)
{
	const struct cfg_cluster *cl = rq->cl;
	int64_t now = rq->now_ms;
	if (rs->primary_wait_deadline_ms == 0)
		rs->primary_wait_deadline_ms = now + cl->settings.failover_wait_ms;
	if (now < rs->primary_wait_deadline_ms) {
		d->outcome = ROUTE_WAIT;
		d->retry_ms = PRIMARY_RETRY_MS;
		return;
	}
	rs->primary_wait_deadline_ms = 0;
	d->outcome = ROUTE_REFUSE;
	snprintf(d->refuse_msg, sizeof(d->refuse_msg),
		 "cluster \"%s\" has no primary: no failover finished within failover_wait (%lld ms)", cl->name,
		 (long long)cl->settings.failover_wait_ms);
}

/* Serve on the primary `pri`, or wait for one. */
static void go_primary(struct route_session *rs, const struct route_request *rq, struct route_decision *d, int pri)
{
	if (pri < 0) {
		wait_for_primary(rs, rq, d);
		return;
	}
	rs->primary_wait_deadline_ms = 0;
	d->node = pri;
	d->primary = true;
}

/* A read for a replica (or any node): read-your-writes, monotonic reads,
 * lag and health decide which; the primary `pri` (-1: none right now) is
 * the fallback. Fenced nodes (old primaries) are never chosen. */
static void pick_replica(struct route_session *rs, const struct route_request *rq, struct route_decision *d,
			 enum cfg_target target, int pri)
{
	const struct cfg_cluster *cl = rq->cl;
	const struct cfg_pool_settings *st = &cl->settings;
	int64_t now = rq->now_ms;
	struct consistency cons;
	load_consistency(rs, cl, rq->user, &cons);

	struct position need;
	memset(&need, 0, sizeof(need));
	bool have_need = false;
	if (st->read_your_writes != CFG_RYW_OFF && cons.last_write_ms > 0) {
		bool by_window = st->read_your_writes == CFG_RYW_WINDOW || cons.written.kind == POS_NONE;
		if (by_window) {
			if (now - cons.last_write_ms < st->ryw_window_ms && cl->has_primary) {
				go_primary(rs, rq, d, pri);
				d->reason = ROUTE_R_RYW;
				return;
			}
		} else {
			need = cons.written;
			have_need = true;
		}
	}
	if (st->monotonic_reads && cons.seen.kind != POS_NONE) {
		if (have_need)
			pos_merge(&need, &cons.seen);
		else
			need = cons.seen;
		have_need = true;
	}

	struct route_candidate cand[MAX_REPLICAS];
	struct position pos[MAX_REPLICAS];
	int idx[MAX_REPLICAS];
	size_t n = 0;
	int sticky = -1;
	struct balance_slot *slot = balance_slot(cl);
	for (size_t i = 0; i < cl->n_nodes && n < MAX_REPLICAS; i++) {
		bool is_pri = pri >= 0 ? (int)i == pri : cl->nodes[i].is_primary;
		if (is_pri && target != CFG_TARGET_ANY)
			continue;
		struct node_state *ns = health_node(cl->protocol, &cl->nodes[i].addr);
		if (ns && atomic_load_explicit(&ns->fenced, memory_order_relaxed))
			continue;
		struct route_candidate *c = &cand[n];
		memset(c, 0, sizeof(*c));
		c->up = ns ? atomic_load_explicit(&ns->up, memory_order_relaxed) : true;
		c->lag_ms = ns && !is_pri ? atomic_load_explicit(&ns->lag_ms, memory_order_relaxed) : 0;
		memset(&pos[n], 0, sizeof(pos[n]));
		if (ns)
			health_node_position(ns, &pos[n], NULL);
		c->pos = pos[n].kind != POS_NONE ? &pos[n] : NULL;
		c->weight = cl->nodes[i].weight;
		c->connections = rq->pools ? pool_set_node_load(rq->pools, cl->protocol, &cl->nodes[i].addr) : 0;
		c->current_weight = slot->current_weight[n];
		if (st->monotonic_reads && cons.sticky_node == (int)i)
			sticky = (int)n;
		idx[n++] = (int)i;
	}
	enum route_exclusion why = ROUTE_EXCL_NONE;
	int k = route_choose_replica(cand, n, st->load_balance, st->max_replica_lag_ms, have_need ? &need : NULL,
				     sticky, &slot->rr, &why);
	for (size_t i = 0; i < n; i++)
		slot->current_weight[i] = cand[i].current_weight;
	if (log_enabled(LOG_DEBUG)) {
		char a[64], b[64];
		log_debug("route: read needs %s (last write %lld ms ago); replica %s is at %s", 
			  have_need ? pos_format(&need, a, sizeof(a)) : "nothing",
			  cons.last_write_ms ? (long long)(now - cons.last_write_ms) : -1LL,
			  k >= 0 ? cl->nodes[idx[k]].addr.text : "-", k >= 0 ? pos_format(&pos[k], b, sizeof(b)) : "-");
	}
	if (k >= 0) {
		rs->wait_deadline_ms = 0;
		d->node = idx[k];
		d->primary = idx[k] == pri;
		record_read(rs, cl, rq->user, d->node, &pos[k], now);
		return;
	}
	if (why == ROUTE_EXCL_BEHIND && st->ryw_wait_ms > 0) {
		if (rs->wait_deadline_ms == 0)
			rs->wait_deadline_ms = now + st->ryw_wait_ms;
		if (now < rs->wait_deadline_ms) {
			/* Ask for fresh positions on every retry: the replica has
			 * usually replayed the write a moment after the first
			 * answer. The health thread keeps one query in flight per
			 * node, so this costs at most back-to-back position reads
			 * while someone waits. */
			for (size_t i = 0; i < n; i++) {
				struct node_state *ns = health_node(cl->protocol, &cl->nodes[idx[i]].addr);
				if (ns)
					health_poke(ns);
			}
			d->outcome = ROUTE_WAIT;
			d->retry_ms = RYW_RETRY_MS;
			return;
		}
	}
	rs->wait_deadline_ms = 0;
	if (!cl->has_primary || (st->replica_fallback == CFG_FALLBACK_ERROR && why != ROUTE_EXCL_BEHIND)) {
		d->outcome = ROUTE_REFUSE;
		snprintf(d->refuse_msg, sizeof(d->refuse_msg), "no usable replica for cluster \"%s\" (%s)", cl->name,
			 why == ROUTE_EXCL_LAG ? "all lag beyond max_replica_lag" :
			 why == ROUTE_EXCL_DOWN ? "all are down" : "none has replayed this client's writes");
		return;
	}
	d->reason = why == ROUTE_EXCL_BEHIND ? ROUTE_R_RYW : why == ROUTE_EXCL_LAG ? ROUTE_R_LAG : ROUTE_R_DOWN;
	go_primary(rs, rq, d, pri);
	if (d->outcome != ROUTE_GO)
		return;
	struct position pp;
	node_position(cl, d->node, &pp);
	record_read(rs, cl, rq->user, d->node, &pp, now);
}

void route_pick(struct route_session *rs, const struct route_request *rq, struct route_decision *d)
{
	const struct cfg_cluster *cl = rq->cl;
	const struct cfg_pool_settings *st = &cl->settings;
	memset(d, 0, sizeof(*d));
	d->outcome = ROUTE_GO;

	struct route_stmt local;
	const struct route_stmt *sm = rq->stmt;
	if (!sm && rq->sql) {
		route_classify(rq->sql, rq->sql_len, rq->dialect, &st->write_functions, &local);
		sm = &local;
	}
	d->wrote = !sm || sm->cls == ROUTE_CLASS_WRITE;

	if (!route_cluster_splits(cl) || !cl->has_primary) {
		d->node = 0;
		d->primary = cl->has_primary;
		d->reason = ROUTE_R_ONLY_NODE;
		d->read = sm && sm->cls == ROUTE_CLASS_READ;
		count(d);
		return;
	}
	int pri = health_primary_of(cl);

	enum cfg_target target = CFG_TARGET_PRIMARY;
	const struct cfg_addr *target_node = NULL;
	struct route_rule_hit hit;
	struct route_rules *rules = sm ? route_rules_of(rq->cfg) : NULL;
	if (!sm) {
		d->reason = ROUTE_R_LOGIN;
	} else if (sm->hint != CFG_TARGET_NONE) {
		target = sm->hint;
		d->reason = ROUTE_R_HINT;
	} else if (rs->session_route != CFG_TARGET_NONE) {
		target = rs->session_route;
		d->reason = ROUTE_R_SESSION;
	} else if (rules && route_rules_match(rules, cl->name, rq->sql, rq->sql_len, rq->user, rq->database,
					      rs->client_ip[0] ? rs->client_ip : NULL, &hit)) {
		target = hit.target;
		target_node = hit.node;
		d->rule = hit.name;
		d->reason = ROUTE_R_RULE;
	} else if (!st->read_write_split) {
		d->reason = ROUTE_R_SPLIT_OFF;
	} else if (sm->txn == ROUTE_TXN_BEGIN) {
		d->reason = ROUTE_R_TXN;
		if (sm->tx_read_only && st->read_only_transactions == CFG_ROTX_REPLICA)
			target = CFG_TARGET_REPLICA;
	} else {
		d->reason = ROUTE_R_CLASS;
		if (sm->cls == ROUTE_CLASS_READ)
			target = CFG_TARGET_REPLICA;
	}
	/* A read-only account reads from replicas whatever it sends, unless a
	 * hint, the session or a rule said otherwise. */
	if (rq->u && rq->u->default_target == CFG_TARGET_REPLICA &&
	    (d->reason == ROUTE_R_LOGIN || d->reason == ROUTE_R_CLASS || d->reason == ROUTE_R_TXN ||
	     d->reason == ROUTE_R_SPLIT_OFF)) {
		target = CFG_TARGET_REPLICA;
		d->reason = ROUTE_R_USER;
	}

	if (target == CFG_TARGET_NODE && target_node) {
		int i = find_node(cl, target_node);
		/* A rule naming an old primary fenced by a failover: its work
		 * goes to the current primary instead (the node is read-only
		 * and must get no traffic). */
		if (i >= 0 && !node_fenced(cl, i)) {
			d->node = i;
			d->primary = i == pri;
			d->read = !d->primary;
			count(d);
			return;
		}
		target = CFG_TARGET_PRIMARY;
	}
	if (target == CFG_TARGET_PRIMARY || target == CFG_TARGET_NONE) {
		go_primary(rs, rq, d, pri);
		if (d->outcome != ROUTE_GO)
			return;
		if (sm && sm->cls == ROUTE_CLASS_READ && sm->txn == ROUTE_TXN_NONE && st->monotonic_reads) {
			/* Later replica reads must not go back before this one. */
			struct position pp;
			node_position(cl, d->node, &pp);
			if (pp.kind != POS_NONE)
				record_read(rs, cl, rq->user, d->node, &pp, rq->now_ms);
		}
		count(d);
		return;
	}
	d->read = true;
	d->wrote = false;
	pick_replica(rs, rq, d, target, pri);
	if (d->outcome == ROUTE_GO)
		count(d);
}
