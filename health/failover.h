/*
 * failover.h — the failover state machine, inside the health thread
 * (internal to health/; the public face is health.h's
 * health_primary_of() and health_failover_foreach()).
 *
 * One `struct fo_cluster` per cluster of the config (by protocol and
 * name), never freed while the process runs. health.c feeds it:
 *   failover_collect()  any thread, from health_start()/apply_config():
 *                       the cluster's settings become pending;
 *   failover_apply()    the health thread: pending settings take effect
 *                       (node states are resolved with health_node());
 *   failover_stop()     the health thread is over: stop actions, children.
 * A timer on the health thread's event base (every FO_TICK_MS) drives the
 * procedure of docs/failover.md: primary down -> choose the most advanced
 * replica (failover_pick.h) -> promote it (failover = auto, with monitor
 * connections: probe.h HEALTH_Q_COMMAND) or run failover_command and
 * follow the node that reports itself primary (failover = command) ->
 * publish the new primary to the workers, fence the old one, point the
 * other replicas at the new primary.
 */
#ifndef SWITCHYARD_HEALTH_FAILOVER_H
#define SWITCHYARD_HEALTH_FAILOVER_H

#include <stdint.h>

#include "config/config.h"
#include "health/probe.h"

struct event_base;

#define FO_TICK_MS 100

/* A config pass starts (clusters not collected after it leave). */
void failover_collect_begin(void);
/* Cluster `cl` is in the config; `monitor` logs in for the statements. */
void failover_collect(const struct cfg_cluster *cl, const struct probe_params *monitor);
void failover_apply(struct event_base *base);
void failover_stop(void);

/* The health thread's clocks, ms (health.c). */
int64_t health_mono_ms(void);
int64_t health_wall_ms(void);

/* An event for the log's reader and the stats page (health.c). */
void health_event(const char *level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
