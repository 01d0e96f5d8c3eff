/*
 * failover_pick.c — choose the replica to promote (failover_pick.h). Pure.
 */
#include "health/failover_pick.h"

int failover_pick(const struct failover_candidate *c, size_t n, enum failover_no_pick *why)
{
	int best = -1;
	bool any_up = false;
	for (size_t i = 0; i < n; i++) {
		if (!c[i].up || c[i].fenced || c[i].is_old_primary)
			continue;
		any_up = true;
		if (!c[i].has_pos || c[i].pos.kind == POS_NONE)
			continue;
		if (best < 0) {
			best = (int)i;
			continue;
		}
		/* Strictly ahead replaces; equal or unordered keeps the earlier. */
		if (pos_covers(&c[i].pos, &c[best].pos) && !pos_covers(&c[best].pos, &c[i].pos))
			best = (int)i;
	}
	if (why)
		*why = best >= 0 ? FAILOVER_PICK_OK : any_up ? FAILOVER_PICK_NO_POSITION : FAILOVER_PICK_NONE_UP;
	return best;
}

const char *failover_no_pick_text(enum failover_no_pick why)
{
	switch (why) {
	case FAILOVER_PICK_OK:
		return "ok";
	case FAILOVER_PICK_NONE_UP:
		return "no healthy replica (none answers heartbeats)";
	case FAILOVER_PICK_NO_POSITION:
		return "no replica with a known replication position";
	}
	return "?";
}
