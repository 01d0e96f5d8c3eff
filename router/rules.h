/*
 * rules.h — the [route.CLUSTER.NAME] rules of a config snapshot, compiled.
 *
 * Patterns are compiled once per snapshot with pcre2 (caseless, JIT when
 * available) and matched against statement text; the first rule whose
 * pattern and conditions (user, database, client_addr) match wins. Each
 * rule counts its hits (atomically: every worker matches against the same
 * compiled table). A match_data block is per call (pcre2 needs one per
 * thread); it is taken from a small per-thread cache.
 */
#ifndef SWITCHYARD_ROUTER_RULES_H
#define SWITCHYARD_ROUTER_RULES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/config.h"

struct route_rules;

/* Compile every rule of `c`. On a bad pattern returns NULL and writes
 * "route.CLUSTER.NAME: pattern error at offset N: message" into err. */
struct route_rules *route_rules_compile(const struct cfg *c, char *err, size_t errlen);
void route_rules_free(struct route_rules *r);

struct route_rule_hit {
	int index;                    /* into the snapshot's c->routes; -1: no rule matched */
	const char *name;             /* the rule's NAME */
	enum cfg_target target;
	const struct cfg_addr *node;  /* target == CFG_TARGET_NODE */
};

/* First matching rule of `cluster` for this statement and client.
 * `client_addr` is the client's IP as text ("127.0.0.1"), NULL for unix
 * sockets. Returns true (and fills *hit, counting the hit) on a match. */
bool route_rules_match(struct route_rules *r, const char *cluster, const char *sql, size_t len,
		       const char *user, const char *database, const char *client_addr,
		       struct route_rule_hit *hit);

/* Hits of rule `index` (as in c->routes) since the snapshot was compiled. */
uint64_t route_rules_hits(const struct route_rules *r, size_t index);

/* Check one pattern (for config validation): 0, or -1 with the pcre2
 * message and offset in err. */
int route_pattern_check(const char *pattern, char *err, size_t errlen);

#endif
