/*
 * failover_pick.h — the pure part of failover: which replica becomes the
 * new primary.
 *
 * No sockets, no atomics, no logging: failover.c copies what the health
 * thread knows of each node of a cluster into an array of
 * struct failover_candidate and asks here; unit tests do the same by hand
 * (tests/unit/test_failover_pick.c).
 */
#ifndef SWITCHYARD_HEALTH_FAILOVER_PICK_H
#define SWITCHYARD_HEALTH_FAILOVER_PICK_H

#include <stdbool.h>
#include <stddef.h>

#include "router/position.h"

struct failover_candidate {
	bool up;                      /* heartbeats answer (node_state.up) */
	bool fenced;                  /* an earlier failover's old primary */
	bool is_old_primary;          /* the primary that failed */
	bool has_pos;                 /* pos was read */
	struct position pos;          /* replayed position (LSN, GTID) */
};

enum failover_no_pick {
	FAILOVER_PICK_OK = 0,
	FAILOVER_PICK_NONE_UP,        /* no replica answers heartbeats */
	FAILOVER_PICK_NO_POSITION,    /* replicas answer, none has a known position */
};

/* The index of the most advanced healthy replica in c[0..n): up, not
 * fenced, not the old primary, with a known position, and whose position
 * covers the others' (router/position.h pos_covers). Ties, and positions
 * that cannot be ordered (different MariaDB domains each ahead), keep the
 * earliest in the array (config order), so the choice is deterministic.
 * Returns -1 when none qualifies; *why says why (may be NULL). */
int failover_pick(const struct failover_candidate *c, size_t n, enum failover_no_pick *why);

const char *failover_no_pick_text(enum failover_no_pick why);

#endif
