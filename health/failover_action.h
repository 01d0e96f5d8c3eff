/*
 * failover_action.h — run a short list of statements on one node through
 * its own monitor connection (probe.h), for a failover step: promote,
 * repoint, fence. Health thread only.
 *
 * fo_action_start() connects (non-blocking) as the monitor user, sends
 * the statements one by one (each its own query: ALTER SYSTEM cannot run
 * in a multi-statement query), and reports once through `done`: ok, or
 * the first error (an SQL error, an answer 'f' such as pg_promote()
 * timing out, a lost connection, or no end within timeout_ms). The action
 * frees itself after `done` returns (on the next loop iteration): the
 * caller must not use it afterwards.
 */
#ifndef SWITCHYARD_HEALTH_FAILOVER_ACTION_H
#define SWITCHYARD_HEALTH_FAILOVER_ACTION_H

#include <stdbool.h>
#include <stdint.h>

#include "config/config.h"
#include "health/probe.h"

struct event_base;
struct fo_action;

typedef void (*fo_action_done_fn)(void *owner, int tag, bool ok, const char *err);

/* Takes ownership of stmts[0..n) (malloc'd strings) in every case.
 * Returns 0, or -1 with *err set when it could not even start (then
 * `done` is never called). `tag` is handed back to `done`. */
int fo_action_start(struct event_base *base, enum cfg_protocol protocol, const struct cfg_addr *addr,
		    const struct probe_params *pp, char **stmts, int n, int64_t timeout_ms,
		    fo_action_done_fn done, void *owner, int tag, const char **err);

/* Drop every action still running, without calling `done` (shutdown). */
void fo_action_cancel_all(void);

#endif
