/*
 * choose.c — pick the replica that serves a read.
 *
 * Pure: candidates in, an index out; the only state is what the caller
 * keeps between calls (the round-robin cursor `rr` and, for weighted
 * balancing, each candidate's current_weight).
 *
 * Usable: up, lag within max_lag_ms (unknown lag, -1, counts as within;
 * max_lag_ms <= 0 means no limit), and, when `need` is given and not
 * POS_NONE, a known position that covers it. In weighted mode a weight of
 * 0 (or less) also makes a replica unusable for reads; when that leaves
 * none, *why is ROUTE_EXCL_NO_REPLICAS (no replica is configured to take
 * reads).
 */
#include "router/choose.h"

static bool up_in_lag(const struct route_candidate *c, int64_t max_lag_ms)
{
	/* Unknown lag (-1: the health thread could not tell yet) is not
	 * within a limit: such a replica may be arbitrarily behind. */
	return c->up && (max_lag_ms <= 0 || (c->lag_ms >= 0 && c->lag_ms <= max_lag_ms));
}

static bool caught_up(const struct route_candidate *c, const struct position *need)
{
	if (!need || need->kind == POS_NONE)
		return true;
	return c->pos && pos_covers(c->pos, need);
}

static bool usable(const struct route_candidate *c, enum cfg_load_balance lb, int64_t max_lag_ms,
		   const struct position *need)
{
	if (lb == CFG_LB_WEIGHTED && c->weight <= 0)
		return false;
	return up_in_lag(c, max_lag_ms) && caught_up(c, need);
}

/* Why nothing was usable: the first test that every candidate failed
 * (among those that passed the tests before it). */
static enum route_exclusion exclusion(const struct route_candidate *cand, size_t n, enum cfg_load_balance lb,
				      int64_t max_lag_ms)
{
	bool any_weight = false, any_up = false, any_in_lag = false;
	for (size_t i = 0; i < n; i++) {
		const struct route_candidate *c = &cand[i];
		if (lb == CFG_LB_WEIGHTED && c->weight <= 0)
			continue;
		any_weight = true;
		if (!c->up)
			continue;
		any_up = true;
		if (up_in_lag(c, max_lag_ms))
			any_in_lag = true;
	}
	if (!any_weight)
		return ROUTE_EXCL_NO_REPLICAS;
	if (!any_up)
		return ROUTE_EXCL_DOWN;
	if (!any_in_lag)
		return ROUTE_EXCL_LAG;
	return ROUTE_EXCL_BEHIND;
}

int route_choose_replica(struct route_candidate *cand, size_t n, enum cfg_load_balance lb,
			 int64_t max_lag_ms, const struct position *need, int sticky, unsigned *rr,
			 enum route_exclusion *why)
{
	unsigned cursor = rr ? *rr : 0;
	int best = -1;

	if (why)
		*why = ROUTE_EXCL_NONE;
	if (n == 0) {
		if (why)
			*why = ROUTE_EXCL_NO_REPLICAS;
		return -1;
	}
	/* Monotonic reads: stay where the client read last while it can. */
	if (sticky >= 0 && (size_t)sticky < n && usable(&cand[sticky], lb, max_lag_ms, need))
		return sticky;

	switch (lb) {
	case CFG_LB_LEAST_CONN:
		/* Fewest connections; among equals the first at or after the
		 * cursor. The cursor moves past the one chosen on every call, so
		 * equal replicas take turns. */
		for (size_t k = 0; k < n; k++) {
			size_t i = (cursor + k) % n;
			if (usable(&cand[i], lb, max_lag_ms, need) &&
			    (best < 0 || cand[i].connections < cand[best].connections))
				best = (int)i;
		}
		if (rr)
			*rr = best >= 0 ? (unsigned)best + 1 : cursor + 1;
		break;
	case CFG_LB_ROUND_ROBIN:
		/* The cursor is the next index to try. */
		for (size_t k = 0; k < n; k++) {
			size_t i = (cursor + k) % n;
			if (usable(&cand[i], lb, max_lag_ms, need)) {
				best = (int)i;
				if (rr)
					*rr = (unsigned)i + 1;
				break;
			}
		}
		break;
	case CFG_LB_WEIGHTED: {
		/* Smooth weighted round robin (nginx): every usable replica gains
		 * its weight, the one with the most is chosen and pays back the
		 * total. Over sum(weights) calls each gets exactly its weight,
		 * spread out rather than in bursts. */
		int total = 0;
		for (size_t i = 0; i < n; i++) {
			struct route_candidate *c = &cand[i];
			if (!usable(c, lb, max_lag_ms, need))
				continue;
			c->current_weight += c->weight;
			total += c->weight;
			if (best < 0 || c->current_weight > cand[best].current_weight)
				best = (int)i;
		}
		if (best >= 0)
			cand[best].current_weight -= total;
		break;
	}
	}
	if (best < 0 && why)
		*why = exclusion(cand, n, lb, max_lag_ms);
	return best;
}
