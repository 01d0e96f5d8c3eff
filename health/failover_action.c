/*
 * failover_action.c — statements on one node for a failover step
 * (failover_action.h).
 *
 * States: CONNECTING (login under way) -> RUNNING (statement `next - 1`
 * in flight) -> DONE (reported; waiting to be freed). Running actions are
 * kept on a list so that shutdown can drop them.
 */
#include "health/failover_action.h"

#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "health/failover_sql.h"
#include "util/log.h"

enum fo_act_state { FO_ACT_CONNECTING = 0, FO_ACT_RUNNING, FO_ACT_DONE };

struct fo_action {
	struct fo_action *next;
	enum fo_act_state state;
	struct probe probe;
	char *stmts[FO_SQL_MAX];
	int n, next_stmt;
	struct event *deadline;
	fo_action_done_fn done;
	void *owner;
	int tag;
};

static struct fo_action *g_actions;

static void unlink_action(struct fo_action *a)
{
	for (struct fo_action **pp = &g_actions; *pp; pp = &(*pp)->next)
		if (*pp == a) {
			*pp = a->next;
			return;
		}
}

static void free_action(struct fo_action *a)
{
	probe_close(&a->probe);
	if (a->deadline)
		event_free(a->deadline);
	fo_sql_free(a->stmts, a->n);
	free(a);
}

static void free_cb(evutil_socket_t fd, short what, void *arg) { free_action(arg); }

/* Report once, then free on the next loop iteration (we may be deep in
 * the probe's read callback, which still looks at the probe). */
static void finish(struct fo_action *a, bool ok, const char *err)
{
	if (a->state == FO_ACT_DONE)
		return;
	a->state = FO_ACT_DONE;
	evtimer_del(a->deadline);
	probe_close(&a->probe);
	unlink_action(a);
	a->done(a->owner, a->tag, ok, err);
	struct timeval zero = { 0, 0 };
	if (event_base_once(a->probe.base, -1, EV_TIMEOUT, free_cb, a, &zero) < 0)
		log_error("failover: could not schedule freeing an action (leaked)");
}

static void send_next(struct fo_action *a)
{
	if (a->next_stmt >= a->n) {
		finish(a, true, NULL);
		return;
	}
	a->state = FO_ACT_RUNNING;
	a->probe.command = a->stmts[a->next_stmt++];
	log_debug("failover: %s: %s", a->probe.addr.text,
		  strncmp(a->probe.command, "CHANGE MASTER", 13) == 0 ||
				  strncmp(a->probe.command, "ALTER SYSTEM SET primary_conninfo", 33) == 0
			  ? "(repoint, with credentials)"
			  : a->probe.command);
	if (probe_query(&a->probe, HEALTH_Q_COMMAND, NODE_ROLE_UNKNOWN) < 0)
		finish(a, false, "could not send the statement");
}

static void probe_event(void *owner, struct probe *p, enum probe_event ev, const struct health_beat *b,
			const char *msg)
{
	struct fo_action *a = owner;
	char err[400];
	switch (ev) {
	case PROBE_EV_READY:
		send_next(a);
		return;
	case PROBE_EV_RESULT:
		if (msg && strcmp(msg, "f") == 0) {
			snprintf(err, sizeof(err), "%s returned false", a->probe.command);
			finish(a, false, err);
			return;
		}
		send_next(a);
		return;
	case PROBE_EV_QUERY_ERROR:
		snprintf(err, sizeof(err), "%s: %s", a->probe.command ? a->probe.command : "?", msg ? msg : "?");
		finish(a, false, err);
		return;
	case PROBE_EV_FAILED:
		finish(a, false, msg ? msg : "connection failed");
		return;
	}
}

static const struct probe_cb action_callbacks = { .event = probe_event };

static void deadline_cb(evutil_socket_t fd, short what, void *arg)
{
	struct fo_action *a = arg;
	finish(a, false, a->state == FO_ACT_CONNECTING ? "no login in time" : "no answer in time");
}

int fo_action_start(struct event_base *base, enum cfg_protocol protocol, const struct cfg_addr *addr,
		    const struct probe_params *pp, char **stmts, int n, int64_t timeout_ms,
		    fo_action_done_fn done, void *owner, int tag, const char **err)
{
	*err = NULL;
	struct fo_action *a = calloc(1, sizeof(*a));
	if (!a || n > FO_SQL_MAX) {
		fo_sql_free(stmts, n);
		free(a);
		*err = "out of memory";
		return -1;
	}
	for (int i = 0; i < n; i++)
		a->stmts[i] = stmts[i];
	a->n = n;
	a->done = done;
	a->owner = owner;
	a->tag = tag;
	a->probe.protocol = protocol;
	a->probe.addr = *addr;
	a->probe.params = *pp;
	a->probe.base = base;
	a->probe.cb = &action_callbacks;
	a->probe.owner = a;
	a->deadline = evtimer_new(base, deadline_cb, a);
	if (!a->deadline || probe_connect(&a->probe, err) < 0) {
		if (!*err)
			*err = "out of memory";
		free_action(a);
		return -1;
	}
	struct timeval tv = { timeout_ms / 1000, (timeout_ms % 1000) * 1000 };
	evtimer_add(a->deadline, &tv);
	a->next = g_actions;
	g_actions = a;
	return 0;
}

void fo_action_cancel_all(void)
{
	while (g_actions) {
		struct fo_action *a = g_actions;
		g_actions = a->next;
		free_action(a);
	}
}
