/*
 * failover.c — the failover state machine of the health thread
 * (failover.h, docs/failover.md), and what workers read of it
 * (health_primary_of(), health_failover_foreach() in health.h).
 *
 * Per cluster, the phase:
 *   FO_WATCH         the primary answers (or failover is off);
 *   FO_NO_CANDIDATE  the primary is down and no replica qualifies: keep
 *                    looking every tick; the primary may come back;
 *   FO_PROMOTING     failover = auto: the promote statements run on the
 *                    chosen replica (failover_action.h);
 *   FO_COMMAND       failover = command: failover_command runs
 *                    (failover_exec.h), time-limited;
 *   FO_FOLLOWING     it ended well: wait for a node to report itself
 *                    primary in its heartbeats.
 * What workers see is `pub`: FO_PUB_CONFIG (the config's nodes[0]),
 * FO_PUB_NONE (no primary: writes wait up to failover_wait) or
 * FO_PUB_NODE (the node failover promoted, `pub_node`). A node that lost
 * its primary role is fenced: node_state.fenced (no traffic), and each
 * time it answers again it is made read-only (fence statements).
 *
 * Threads: the cluster list is append-only under fo.mu; `pend`, `info`
 * and `listed` are guarded by fo.mu; the atomics are read by anyone;
 * the rest belongs to the health thread.
 */
#include "health/failover.h"

#include <event2/event.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include "health/failover_action.h"
#include "health/failover_exec.h"
#include "health/failover_pick.h"
#include "health/failover_sql.h"
#include "health/health.h"
#include "util/log.h"

#define FO_MAX_NODES 16
#define FO_RETRY_MS 2000           /* after a failed attempt */
#define FO_PROMOTE_TIMEOUT_MS 40000 /* pg_promote() itself waits up to 30 s */
#define FO_STEP_TIMEOUT_MS 10000   /* repoint, fence */
#define FO_FENCE_RETRY_MS 2000

enum fo_pub { FO_PUB_CONFIG = 0, FO_PUB_NONE, FO_PUB_NODE };
enum fo_phase { FO_WATCH = 0, FO_NO_CANDIDATE, FO_PROMOTING, FO_COMMAND, FO_FOLLOWING };
enum fo_fence { FO_FENCE_NONE = 0, FO_FENCE_PENDING, FO_FENCE_RUNNING, FO_FENCE_DONE };

static const char *const phase_names[] = {
	[FO_WATCH] = "watching", [FO_NO_CANDIDATE] = "no_candidate", [FO_PROMOTING] = "promoting",
	[FO_COMMAND] = "command", [FO_FOLLOWING] = "following",
};

struct fo_settings {
	enum cfg_failover mode;
	char command[4096];
	int64_t command_timeout_ms, wait_ms;
	char repl_user[64], repl_password[256];
	bool has_repl_user, has_repl_password;
	struct probe_params monitor;
	struct cfg_addr nodes[FO_MAX_NODES]; /* nodes[0] is the primary when has_primary */
	size_t n_nodes;
	bool has_primary;
};

struct fo_cluster {
	struct fo_cluster *next;
	char name[64];
	enum cfg_protocol protocol;
	/* read by workers */
	atomic_int mode;                        /* enum cfg_failover */
	atomic_int pub;                         /* enum fo_pub */
	_Atomic(struct node_state *) pub_node;  /* FO_PUB_NODE */
	_Atomic(struct node_state *) cfg_primary; /* the config's nodes[0] */
	/* fo.mu */
	struct fo_settings pend;
	bool pend_new;
	uint64_t seen;
	struct health_failover_info info;
	bool listed;
	/* the health thread */
	bool active;
	struct fo_settings cfg;
	struct node_state *ns[FO_MAX_NODES];
	int cur;                                /* the primary (maybe down); -1 none */
	bool cur_cfg;                           /* cur is the config's primary (FO_PUB_CONFIG) */
	enum fo_phase phase;
	int old, cand;                          /* of the attempt under way */
	int64_t t0_mono, t0_wall;               /* the primary was found down; 0: no outage */
	int64_t deadline_mono, next_try_mono;
	pid_t child;
	int busy;                               /* actions in flight */
	bool warned;                            /* "no candidate" said for this outage */
	bool said_never;                        /* "never answered" said */
	enum fo_fence fence[FO_MAX_NODES];
	int64_t fence_next[FO_MAX_NODES];
};

static struct {
	pthread_mutex_t mu;
	struct fo_cluster *list;
	uint64_t pass;
	struct event_base *base;
	struct event *tick;
} fo = { .mu = PTHREAD_MUTEX_INITIALIZER };

static int64_t mono_ms(void) { return health_mono_ms(); }
static int64_t wall_ms(void) { return health_wall_ms(); }

static void copy_str(char *dst, size_t cap, const char *src) { snprintf(dst, cap, "%s", src ? src : ""); }

static const char *addr_of(const struct fo_cluster *fc, int i)
{
	return i >= 0 && (size_t)i < fc->cfg.n_nodes ? fc->cfg.nodes[i].text : "-";
}

/* ---- what workers and stats see ---- */

static void set_phase(struct fo_cluster *fc, enum fo_phase ph)
{
	fc->phase = ph;
	pthread_mutex_lock(&fo.mu);
	copy_str(fc->info.state, sizeof(fc->info.state), phase_names[ph]);
	pthread_mutex_unlock(&fo.mu);
}

static void publish(struct fo_cluster *fc, enum fo_pub what, int idx)
{
	if (what == FO_PUB_NODE)
		atomic_store(&fc->pub_node, fc->ns[idx]);
	atomic_store_explicit(&fc->pub, (int)what, memory_order_release);
	pthread_mutex_lock(&fo.mu);
	copy_str(fc->info.primary, sizeof(fc->info.primary), what == FO_PUB_NONE ? "" : addr_of(fc, idx));
	pthread_mutex_unlock(&fo.mu);
}

static void record(struct fo_cluster *fc, bool ok, int new_primary, int64_t duration_ms, const char *result)
{
	pthread_mutex_lock(&fo.mu);
	struct health_failover_info *fi = &fc->info;
	if (ok)
		fi->failovers_total++;
	else
		fi->failures_total++;
	fi->last_ms = wall_ms();
	fi->last_duration_ms = duration_ms;
	copy_str(fi->old_primary, sizeof(fi->old_primary), addr_of(fc, fc->old));
	copy_str(fi->new_primary, sizeof(fi->new_primary), new_primary >= 0 ? addr_of(fc, new_primary) : "");
	copy_str(fi->result, sizeof(fi->result), result);
	pthread_mutex_unlock(&fo.mu);
}

/* ---- the steps ---- */

static void promote_done(void *owner, int tag, bool ok, const char *err);
static void repoint_done(void *owner, int tag, bool ok, const char *err);
static void fence_done(void *owner, int tag, bool ok, const char *err);

static int start_action(struct fo_cluster *fc, int node, char **stmts, int n, int64_t timeout_ms,
			fo_action_done_fn done, const char **err)
{
	if (n < 0) {
		*err = "could not build the statements (out of memory, or an unusable host name)";
		return -1;
	}
	if (fo_action_start(fo.base, fc->protocol, &fc->cfg.nodes[node], &fc->cfg.monitor, stmts, n, timeout_ms,
			    done, fc, node, err) < 0)
		return -1;
	fc->busy++;
	return 0;
}

static void fail_attempt(struct fo_cluster *fc, const char *why)
{
	char res[200];
	snprintf(res, sizeof(res), "failed: %s", why);
	record(fc, false, fc->cand, mono_ms() - fc->t0_mono, res);
	log_error("failover: cluster %s: promoting %s failed: %s (retrying in %d ms while %s stays down)",
		  fc->name, addr_of(fc, fc->cand), why, FO_RETRY_MS, addr_of(fc, fc->old));
	health_event("error", "failover of cluster %s: promoting %s failed: %s", fc->name, addr_of(fc, fc->cand),
		     why);
	fc->next_try_mono = mono_ms() + FO_RETRY_MS;
	set_phase(fc, FO_WATCH);
}

static void repoint_replicas(struct fo_cluster *fc, int primary)
{
	const char *user = fc->cfg.has_repl_user ? fc->cfg.repl_user : NULL;
	const char *pw = fc->cfg.has_repl_password ? fc->cfg.repl_password : NULL;
	if (!user && fc->protocol == CFG_PROTO_POSTGRES) {
		user = fc->cfg.monitor.user; /* primary_conninfo is replaced whole */
		pw = fc->cfg.monitor.has_password ? fc->cfg.monitor.password : NULL;
	}
	for (size_t j = 0; j < fc->cfg.n_nodes; j++) {
		struct node_state *n = fc->ns[j];
		if ((int)j == primary || (int)j == fc->old || !n || atomic_load(&n->fenced))
			continue;
		if (!atomic_load(&n->up)) {
			log_warning("failover: cluster %s: replica %s is down: not pointed at %s (do it by hand)",
				    fc->name, n->addr.text, addr_of(fc, primary));
			continue;
		}
		char *stmts[FO_SQL_MAX];
		int k = fo_sql_repoint(fc->protocol, &fc->cfg.nodes[primary], user, pw, stmts);
		const char *err = NULL;
		if (start_action(fc, (int)j, stmts, k, FO_STEP_TIMEOUT_MS, repoint_done, &err) < 0)
			log_error("failover: cluster %s: could not point replica %s at %s: %s", fc->name,
				  n->addr.text, addr_of(fc, primary), err);
	}
}

static void succeed(struct fo_cluster *fc, int primary)
{
	int64_t dt = mono_ms() - fc->t0_mono;
	int old = fc->old;
	if (old >= 0 && fc->ns[old]) {
		atomic_store(&fc->ns[old]->fenced, true);
		fc->fence[old] = FO_FENCE_PENDING;
		fc->fence_next[old] = 0;
	}
	fc->cur = primary;
	fc->cur_cfg = false;
	publish(fc, FO_PUB_NODE, primary);
	record(fc, true, primary, dt, "ok");
	log_info("failover: cluster %s: %s is the new primary (was %s, now fenced) after %lld ms", fc->name,
		 addr_of(fc, primary), addr_of(fc, old), (long long)dt);
	health_event("info", "failover of cluster %s done in %lld ms: new primary %s, old primary %s fenced",
		     fc->name, (long long)dt, addr_of(fc, primary), addr_of(fc, old));
	fc->t0_mono = 0;
	fc->warned = false;
	set_phase(fc, FO_WATCH);
	if (fc->cfg.mode == CFG_FAILOVER_AUTO)
		repoint_replicas(fc, primary);
}

static void start_promotion(struct fo_cluster *fc, int cand)
{
	fc->cand = cand;
	char pos[96] = "?";
	struct position p;
	health_node_position(fc->ns[cand], &p, NULL);
	pos_format(&p, pos, sizeof(pos));
	if (fc->cfg.mode == CFG_FAILOVER_COMMAND) {
		char why[200] = "";
		log_info("failover: cluster %s: running failover_command %s %s (most advanced replica, at %s)",
			 fc->name, addr_of(fc, fc->old), addr_of(fc, cand), pos);
		health_event("info", "failover of cluster %s: running failover_command %s %s", fc->name,
			     addr_of(fc, fc->old), addr_of(fc, cand));
		fc->child = fo_exec_start(fc->cfg.command, addr_of(fc, fc->old), addr_of(fc, cand), why, sizeof(why));
		if (fc->child < 0) {
			fail_attempt(fc, why);
			return;
		}
		fc->deadline_mono = mono_ms() + fc->cfg.command_timeout_ms;
		set_phase(fc, FO_COMMAND);
		return;
	}
	if (atomic_load(&fc->ns[cand]->role) == NODE_ROLE_PRIMARY) {
		/* Promoted already (by hand): promoting again would fail. */
		log_info("failover: cluster %s: %s already reports itself primary: following it", fc->name,
			 addr_of(fc, cand));
		succeed(fc, cand);
		return;
	}
	log_info("failover: cluster %s: promoting %s (most advanced healthy replica, at %s)", fc->name,
		 addr_of(fc, cand), pos);
	health_event("info", "failover of cluster %s: promoting %s (at %s)", fc->name, addr_of(fc, cand), pos);
	char *stmts[FO_SQL_MAX];
	int n = fo_sql_promote(fc->protocol, stmts);
	const char *err = NULL;
	set_phase(fc, FO_PROMOTING);
	if (start_action(fc, cand, stmts, n, FO_PROMOTE_TIMEOUT_MS, promote_done, &err) < 0)
		fail_attempt(fc, err);
}

/* Choose among the replicas; start promoting, or say why not (once). */
static void try_pick(struct fo_cluster *fc)
{
	struct failover_candidate c[FO_MAX_NODES];
	memset(c, 0, sizeof(c));
	for (size_t i = 0; i < fc->cfg.n_nodes; i++) {
		struct node_state *n = fc->ns[i];
		if (!n)
			continue;
		c[i].up = atomic_load(&n->up);
		c[i].fenced = atomic_load(&n->fenced);
		c[i].is_old_primary = (int)i == fc->old;
		health_node_position(n, &c[i].pos, NULL);
		c[i].has_pos = c[i].pos.kind != POS_NONE;
	}
	enum failover_no_pick why;
	int k = failover_pick(c, fc->cfg.n_nodes, &why);
	if (k >= 0) {
		start_promotion(fc, k);
		return;
	}
	if (!fc->warned) {
		fc->warned = true;
		char res[200];
		snprintf(res, sizeof(res), "no failover: %s", failover_no_pick_text(why));
		pthread_mutex_lock(&fo.mu);
		copy_str(fc->info.result, sizeof(fc->info.result), res);
		copy_str(fc->info.old_primary, sizeof(fc->info.old_primary), addr_of(fc, fc->old));
		fc->info.new_primary[0] = '\0';
		pthread_mutex_unlock(&fo.mu);
		log_warning("failover: cluster %s: primary %s is down and there is %s: no failover for now", fc->name,
			    addr_of(fc, fc->old), failover_no_pick_text(why));
		health_event("warning", "cluster %s: primary %s is down, no failover: %s", fc->name,
			     addr_of(fc, fc->old), failover_no_pick_text(why));
	}
	set_phase(fc, FO_NO_CANDIDATE);
}

static void watch(struct fo_cluster *fc, int64_t now)
{
	if (fc->cur < 0 || !fc->ns[fc->cur])
		return;
	struct node_state *p = fc->ns[fc->cur];
	if (atomic_load(&p->up)) {
		if (fc->t0_mono) { /* an attempt failed, then the primary came back */
			log_info("failover: cluster %s: primary %s answers again: it stays the primary", fc->name,
				 p->addr.text);
			health_event("info", "cluster %s: primary %s answers again, no failover", fc->name, p->addr.text);
			publish(fc, fc->cur_cfg ? FO_PUB_CONFIG : FO_PUB_NODE, fc->cur);
			fc->t0_mono = 0;
			fc->warned = false;
		}
		return;
	}
	if (now < fc->next_try_mono)
		return;
	if (atomic_load(&p->last_beat_ms) == 0) {
		/* Never seen answering since start-up: a slow login or a network
		 * problem of this proxy is as likely as a dead primary. */
		if (!fc->said_never) {
			fc->said_never = true;
			log_warning("failover: cluster %s: primary %s is down but has never answered since start-up: no failover (it needs one good heartbeat first)",
				    fc->name, p->addr.text);
			health_event("warning", "cluster %s: primary %s never answered: no failover", fc->name,
				     p->addr.text);
		}
		return;
	}
	if (!fc->t0_mono) {
		fc->t0_mono = now;
		fc->t0_wall = wall_ms();
		fc->old = fc->cur;
		log_warning("failover: cluster %s: primary %s is down: failover starts (%s)", fc->name, p->addr.text,
			    cfg_failover_name(fc->cfg.mode));
		health_event("warning", "cluster %s: primary %s is down, failover starts", fc->name, p->addr.text);
		/* Remember how writes were served, then hold them. */
		fc->cand = -1;
		atomic_store_explicit(&fc->pub, FO_PUB_NONE, memory_order_release);
		pthread_mutex_lock(&fo.mu);
		fc->info.primary[0] = '\0';
		pthread_mutex_unlock(&fo.mu);
	}
	try_pick(fc);
}

static void no_candidate(struct fo_cluster *fc, int64_t now)
{
	struct node_state *p = fc->old >= 0 ? fc->ns[fc->old] : NULL;
	if (p && atomic_load(&p->up)) {
		set_phase(fc, FO_WATCH);
		watch(fc, now); /* republishes it */
		return;
	}
	try_pick(fc);
}

static void poll_command(struct fo_cluster *fc, int64_t now)
{
	char why[200] = "";
	switch (fo_exec_poll(fc->child, why, sizeof(why))) {
	case FO_EXEC_RUNNING:
		if (now < fc->deadline_mono)
			return;
		fo_exec_kill(fc->child);
		fc->child = -1;
		snprintf(why, sizeof(why), "failover_command did not end within %lld ms (killed)",
			 (long long)fc->cfg.command_timeout_ms);
		fail_attempt(fc, why);
		return;
	case FO_EXEC_OK:
		fc->child = -1;
		log_info("failover: cluster %s: failover_command done; following the node that reports itself primary",
			 fc->name);
		fc->deadline_mono = now + fc->cfg.command_timeout_ms;
		set_phase(fc, FO_FOLLOWING);
		return;
	case FO_EXEC_FAILED:
		fc->child = -1;
		fail_attempt(fc, why);
		return;
	}
}

static bool reports_primary(const struct node_state *n)
{
	return n && atomic_load(&n->up) && !atomic_load(&n->fenced) &&
	       atomic_load(&n->role) == NODE_ROLE_PRIMARY && atomic_load(&n->missed) == 0;
}

static void follow(struct fo_cluster *fc, int64_t now)
{
	int found = -1;
	if (fc->cand >= 0 && reports_primary(fc->ns[fc->cand]))
		found = fc->cand;
	for (size_t i = 0; found < 0 && i < fc->cfg.n_nodes; i++)
		if ((int)i != fc->old && reports_primary(fc->ns[i]))
			found = (int)i;
	if (found >= 0) {
		succeed(fc, found);
		return;
	}
	if (now >= fc->deadline_mono)
		fail_attempt(fc, "after failover_command no node reported itself primary in time");
}

static void promote_done(void *owner, int tag, bool ok, const char *err)
{
	struct fo_cluster *fc = owner;
	fc->busy--;
	if (fc->phase != FO_PROMOTING || tag != fc->cand)
		return;
	if (ok)
		succeed(fc, tag);
	else
		fail_attempt(fc, err);
}

static void repoint_done(void *owner, int tag, bool ok, const char *err)
{
	struct fo_cluster *fc = owner;
	fc->busy--;
	if (ok) {
		log_info("failover: cluster %s: replica %s now follows %s", fc->name, addr_of(fc, tag),
			 addr_of(fc, fc->cur));
		health_event("info", "cluster %s: replica %s now follows %s", fc->name, addr_of(fc, tag),
			     addr_of(fc, fc->cur));
	} else {
		log_error("failover: cluster %s: could not point replica %s at %s: %s", fc->name, addr_of(fc, tag),
			  addr_of(fc, fc->cur), err);
		health_event("error", "cluster %s: could not point replica %s at %s: %s", fc->name, addr_of(fc, tag),
			     addr_of(fc, fc->cur), err);
	}
}

static void fence_done(void *owner, int tag, bool ok, const char *err)
{
	struct fo_cluster *fc = owner;
	fc->busy--;
	if (ok) {
		fc->fence[tag] = FO_FENCE_DONE;
		log_info("failover: cluster %s: old primary %s answers again: made read-only; it gets no traffic until the configuration is reloaded",
			 fc->name, addr_of(fc, tag));
		health_event("info", "cluster %s: old primary %s is back: fenced (read-only, no traffic)", fc->name,
			     addr_of(fc, tag));
	} else {
		fc->fence[tag] = FO_FENCE_PENDING;
		fc->fence_next[tag] = mono_ms() + FO_FENCE_RETRY_MS;
		log_warning("failover: cluster %s: could not make old primary %s read-only (it still gets no traffic): %s",
			    fc->name, addr_of(fc, tag), err);
	}
}

/* Fenced nodes that answer are made read-only (again after each outage:
 * MariaDB's read_only does not survive a restart). */
static void fence_step(struct fo_cluster *fc, int64_t now)
{
	for (size_t j = 0; j < fc->cfg.n_nodes; j++) {
		struct node_state *n = fc->ns[j];
		if (!n || !atomic_load(&n->fenced))
			continue;
		bool up = atomic_load(&n->up);
		if (fc->fence[j] == FO_FENCE_NONE || (fc->fence[j] == FO_FENCE_DONE && !up))
			fc->fence[j] = FO_FENCE_PENDING;
		if (fc->fence[j] != FO_FENCE_PENDING || !up || now < fc->fence_next[j])
			continue;
		char *stmts[FO_SQL_MAX];
		int k = fo_sql_fence(fc->protocol, stmts);
		const char *err = NULL;
		if (start_action(fc, (int)j, stmts, k, FO_STEP_TIMEOUT_MS, fence_done, &err) < 0) {
			fc->fence_next[j] = now + FO_FENCE_RETRY_MS;
			log_warning("failover: cluster %s: could not fence %s: %s", fc->name, n->addr.text, err);
			continue;
		}
		fc->fence[j] = FO_FENCE_RUNNING;
	}
}

/* ---- configuration ---- */

static struct fo_cluster *find_locked(enum cfg_protocol protocol, const char *name)
{
	for (struct fo_cluster *fc = fo.list; fc; fc = fc->next)
		if (fc->protocol == protocol && strcmp(fc->name, name) == 0)
			return fc;
	return NULL;
}

void failover_collect_begin(void)
{
	pthread_mutex_lock(&fo.mu);
	fo.pass++;
	pthread_mutex_unlock(&fo.mu);
}

void failover_collect(const struct cfg_cluster *cl, const struct probe_params *monitor)
{
	pthread_mutex_lock(&fo.mu);
	struct fo_cluster *fc = find_locked(cl->protocol, cl->name);
	if (!fc) {
		fc = calloc(1, sizeof(*fc));
		if (!fc) {
			pthread_mutex_unlock(&fo.mu);
			log_error("failover: out of memory adding cluster %s", cl->name);
			return;
		}
		copy_str(fc->name, sizeof(fc->name), cl->name);
		fc->protocol = cl->protocol;
		fc->cur = fc->old = fc->cand = -1;
		fc->child = -1;
		copy_str(fc->info.cluster, sizeof(fc->info.cluster), cl->name);
		fc->info.protocol = cl->protocol;
		fc->info.last_duration_ms = -1;
		copy_str(fc->info.state, sizeof(fc->info.state), phase_names[FO_WATCH]);
		struct fo_cluster **tail = &fo.list;
		while (*tail)
			tail = &(*tail)->next;
		*tail = fc; /* append: workers may be walking the list */
	}
	const struct cfg_pool_settings *st = &cl->settings;
	struct fo_settings *s = &fc->pend;
	memset(s, 0, sizeof(*s));
	s->mode = st->failover;
	copy_str(s->command, sizeof(s->command), st->failover_command);
	s->command_timeout_ms = st->failover_command_timeout_ms > 0 ? st->failover_command_timeout_ms : 30000;
	s->wait_ms = st->failover_wait_ms;
	s->has_repl_user = st->replication_user != NULL;
	copy_str(s->repl_user, sizeof(s->repl_user), st->replication_user);
	s->has_repl_password = st->replication_password != NULL;
	copy_str(s->repl_password, sizeof(s->repl_password), st->replication_password);
	s->monitor = *monitor;
	s->has_primary = cl->has_primary;
	s->n_nodes = cl->n_nodes < FO_MAX_NODES ? cl->n_nodes : FO_MAX_NODES;
	for (size_t i = 0; i < s->n_nodes; i++)
		s->nodes[i] = cl->nodes[i].addr;
	fc->pend_new = true;
	fc->seen = fo.pass;
	fc->listed = true;
	pthread_mutex_unlock(&fo.mu);
}

/* Pending settings take effect (the health thread, between attempts). */
static void apply_one(struct fo_cluster *fc, const struct fo_settings *s)
{
	bool first = !fc->active;
	struct node_state *prev_pub = atomic_load(&fc->pub) == FO_PUB_NODE ? atomic_load(&fc->pub_node) : NULL;
	fc->cfg = *s;
	fc->active = true;
	for (size_t i = 0; i < FO_MAX_NODES; i++) {
		fc->ns[i] = i < s->n_nodes ? health_node(fc->protocol, &s->nodes[i]) : NULL;
		fc->fence[i] = FO_FENCE_NONE;
		fc->fence_next[i] = 0;
	}
	atomic_store(&fc->cfg_primary, s->has_primary ? fc->ns[0] : NULL);
	atomic_store(&fc->mode, (int)s->mode);
	pthread_mutex_lock(&fo.mu);
	fc->info.mode = s->mode;
	pthread_mutex_unlock(&fo.mu);
	fc->t0_mono = 0;
	fc->warned = false;
	fc->old = fc->cand = -1;
	set_phase(fc, FO_WATCH);
	struct node_state *p0 = s->has_primary ? fc->ns[0] : NULL;
	if (prev_pub && p0 && atomic_load(&p0->fenced)) {
		/* The file still names the old primary: keep following the new one. */
		int k = -1;
		for (size_t i = 0; i < s->n_nodes; i++)
			if (fc->ns[i] == prev_pub)
				k = (int)i;
		fc->cur = k;
		fc->cur_cfg = false;
		if (k >= 0)
			publish(fc, FO_PUB_NODE, k);
		else
			publish(fc, FO_PUB_NONE, -1);
		log_warning("failover: cluster %s: the configuration still names %s, fenced by a failover, as primary: writes keep going to %s; set primary = to the new primary and reload",
			    fc->name, p0->addr.text, k >= 0 ? prev_pub->addr.text : "(no node: it left the configuration)");
		return;
	}
	/* The configuration is the truth again: lift fences of its nodes. */
	for (size_t i = 0; i < s->n_nodes; i++)
		if (fc->ns[i] && atomic_exchange(&fc->ns[i]->fenced, false))
			log_info("failover: cluster %s: reload: %s is no longer fenced", fc->name, fc->ns[i]->addr.text);
	fc->cur = s->has_primary ? 0 : -1;
	fc->cur_cfg = true;
	publish(fc, FO_PUB_CONFIG, fc->cur);
	if (!first && prev_pub)
		log_info("failover: cluster %s: reload: primary is %s as configured", fc->name, addr_of(fc, fc->cur));
}

static void apply_pending(void)
{
	for (struct fo_cluster *fc = fo.list; fc; fc = fc->next) {
		pthread_mutex_lock(&fo.mu);
		bool ready = fc->pend_new && fc->busy == 0 && fc->child < 0 &&
			     (fc->phase == FO_WATCH || fc->phase == FO_NO_CANDIDATE);
		bool gone = fc->seen != fo.pass;
		struct fo_settings *s = ready ? malloc(sizeof(*s)) : NULL;
		if (s) {
			*s = fc->pend;
			if (gone)
				s->mode = CFG_FAILOVER_OFF; /* left the configuration */
			fc->pend_new = false;
			fc->listed = !gone;
		}
		pthread_mutex_unlock(&fo.mu);
		if (s) {
			apply_one(fc, s); /* health_node() takes health's lock: not under fo.mu */
			free(s);
		}
	}
}

static void tick_cb(evutil_socket_t fd, short what, void *arg)
{
	apply_pending();
	int64_t now = mono_ms();
	for (struct fo_cluster *fc = fo.list; fc; fc = fc->next) {
		if (!fc->active)
			continue;
		fence_step(fc, now);
		if (fc->cfg.mode == CFG_FAILOVER_OFF)
			continue;
		switch (fc->phase) {
		case FO_WATCH:
			watch(fc, now);
			break;
		case FO_NO_CANDIDATE:
			no_candidate(fc, now);
			break;
		case FO_PROMOTING:
			break; /* promote_done() moves on */
		case FO_COMMAND:
			poll_command(fc, now);
			break;
		case FO_FOLLOWING:
			follow(fc, now);
			break;
		}
	}
}

void failover_apply(struct event_base *base)
{
	if (!fo.tick) {
		fo.base = base;
		fo.tick = event_new(base, -1, EV_PERSIST, tick_cb, NULL);
		struct timeval tv = { 0, FO_TICK_MS * 1000 };
		if (!fo.tick || event_add(fo.tick, &tv) < 0)
			log_error("failover: could not start the failover timer: no failover");
	}
	apply_pending();
}

void failover_stop(void)
{
	fo_action_cancel_all();
	if (fo.tick)
		event_free(fo.tick);
	fo.tick = NULL;
	fo.base = NULL;
	pthread_mutex_lock(&fo.mu);
	for (struct fo_cluster *fc = fo.list; fc; fc = fc->next) {
		if (fc->child > 0)
			fo_exec_kill(fc->child);
		fc->child = -1;
		fc->active = false;
		fc->busy = 0;
		fc->pend_new = true; /* a later start applies the settings again */
		atomic_store(&fc->mode, CFG_FAILOVER_OFF);
		atomic_store(&fc->pub_node, NULL);
		atomic_store(&fc->cfg_primary, NULL);
		for (size_t i = 0; i < FO_MAX_NODES; i++)
			fc->ns[i] = NULL;
	}
	pthread_mutex_unlock(&fo.mu);
}

/* ---- readers ---- */

struct fo_slot {
	const struct cfg_cluster *cl;
	struct fo_cluster *fc;
};
static __thread struct fo_slot t_slots[8];
static __thread unsigned t_next_slot;

static struct fo_cluster *cluster_of(const struct cfg_cluster *cl)
{
	for (size_t i = 0; i < sizeof(t_slots) / sizeof(t_slots[0]); i++) {
		struct fo_slot *s = &t_slots[i];
		/* The name check: a reload may give a new cluster a freed one's address. */
		if (s->cl == cl && s->fc && s->fc->protocol == cl->protocol && strcmp(s->fc->name, cl->name) == 0)
			return s->fc;
	}
	pthread_mutex_lock(&fo.mu);
	struct fo_cluster *fc = find_locked(cl->protocol, cl->name);
	pthread_mutex_unlock(&fo.mu);
	if (fc) {
		struct fo_slot *s = &t_slots[t_next_slot++ % (sizeof(t_slots) / sizeof(t_slots[0]))];
		s->cl = cl;
		s->fc = fc;
	}
	return fc;
}

/* The primary is usable: up and not missing heartbeats. */
static bool answers(const struct node_state *n)
{
	return atomic_load_explicit(&n->up, memory_order_relaxed) &&
	       atomic_load_explicit(&n->missed, memory_order_relaxed) == 0 &&
	       !atomic_load_explicit(&n->fenced, memory_order_relaxed);
}

int health_primary_of(const struct cfg_cluster *cl)
{
	int def = cl->has_primary ? 0 : -1;
	struct fo_cluster *fc = cluster_of(cl);
	if (!fc || atomic_load_explicit(&fc->mode, memory_order_relaxed) == CFG_FAILOVER_OFF)
		return def;
	switch (atomic_load_explicit(&fc->pub, memory_order_acquire)) {
	case FO_PUB_CONFIG: {
		struct node_state *n = atomic_load(&fc->cfg_primary);
		if (def < 0 || !n || strcmp(n->addr.text, cl->nodes[0].addr.text) != 0)
			return def; /* a reload is being applied: the snapshot decides */
		return answers(n) ? 0 : -1;
	}
	case FO_PUB_NODE: {
		struct node_state *n = atomic_load(&fc->pub_node);
		if (!n || !answers(n))
			return -1;
		for (size_t i = 0; i < cl->n_nodes; i++)
			if (strcmp(cl->nodes[i].addr.text, n->addr.text) == 0)
				return (int)i;
		return -1;
	}
	default:
		return -1;
	}
}

void health_failover_foreach(void (*fn)(const struct health_failover_info *fi, void *arg), void *arg)
{
	pthread_mutex_lock(&fo.mu);
	for (struct fo_cluster *fc = fo.list; fc; fc = fc->next)
		if (fc->listed)
			fn(&fc->info, arg);
	pthread_mutex_unlock(&fo.mu);
}
