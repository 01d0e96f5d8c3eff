/*
 * choose.h — which replica serves a read, given the nodes' state.
 *
 * Pure: the caller fills one candidate per replica (from health/ and the
 * pools) and gets back the index to use, or -1 when none is usable. A
 * replica is usable when it is up, its lag is within max_lag_ms, and
 * (when `need` is given) its replayed position covers `need`. Among the
 * usable ones: the sticky one if it is still usable (monotonic reads),
 * else by load_balance: least connections (ties: lowest index after the
 * round-robin cursor), round robin, or weighted (smooth weighted round
 * robin, as nginx does, over usable nodes; weight 0 gets no reads).
 */
#ifndef SWITCHYARD_ROUTER_CHOOSE_H
#define SWITCHYARD_ROUTER_CHOOSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/config.h"
#include "router/position.h"

struct route_candidate {
	bool up;
	int64_t lag_ms;                  /* -1: unknown (beyond any max_lag_ms > 0) */
	const struct position *pos;      /* replayed position; NULL: unknown */
	int weight;
	int connections;                 /* active + waiting, for least_connections */
	int current_weight;              /* weighted: state kept by the caller between calls */
};

/* Why no replica was usable (when -1 is returned). */
enum route_exclusion {
	ROUTE_EXCL_NONE = 0,
	ROUTE_EXCL_NO_REPLICAS,     /* none configured */
	ROUTE_EXCL_DOWN,            /* all down */
	ROUTE_EXCL_LAG,             /* the up ones lag beyond max_lag_ms */
	ROUTE_EXCL_BEHIND,          /* the up, in-lag ones have not replayed `need` */
};

/* `rr` is a cursor the caller keeps (round robin, tie breaks). `sticky`
 * is the replica index used last (monotonic reads) or -1. `need` may be
 * NULL. *why is set when -1 is returned. */
int route_choose_replica(struct route_candidate *cand, size_t n, enum cfg_load_balance lb,
			 int64_t max_lag_ms, const struct position *need, int sticky, unsigned *rr,
			 enum route_exclusion *why);

#endif
