/*
 * position.h — replication positions and their comparison.
 *
 * A position is where a node's data stands: a PostgreSQL WAL LSN
 * ("16/B374D848"), a MariaDB GTID list ("0-1-100,1-2-7": per replication
 * domain, the last sequence number) or a MySQL GTID set
 * ("3E11FA47-…:1-5:7-9,…"). Read-your-writes asks whether a replica's
 * position covers a client's; monotonic reads whether one node's covers
 * another's. Pure and fixed-size (no allocation), so it can be copied
 * between threads under a lock and compared on the hot path.
 */
#ifndef SWITCHYARD_ROUTER_POSITION_H
#define SWITCHYARD_ROUTER_POSITION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define POS_MAX_DOMAINS 16  /* MariaDB domains / MySQL source UUIDs kept */
#define POS_MAX_INTERVALS 4 /* per MySQL UUID */

enum pos_kind { POS_NONE = 0, POS_LSN, POS_MARIADB_GTID, POS_MYSQL_GTID };

struct pos_mariadb { uint32_t domain; uint32_t server; uint64_t seq; };
struct pos_mysql {
	uint8_t uuid[16];
	int n;
	struct { uint64_t lo, hi; } iv[POS_MAX_INTERVALS];
};

struct position {
	enum pos_kind kind;
	uint64_t lsn;                  /* POS_LSN */
	int n;                         /* entries used below */
	/* pos_merge could not keep everything (more than POS_MAX_DOMAINS
	 * domains / UUIDs): as a `need` it is never covered, so a client whose
	 * position overflowed reads from the primary instead of a replica that
	 * might lack what it saw. */
	bool overflow;
	union {
		struct pos_mariadb md[POS_MAX_DOMAINS];
		struct pos_mysql my[POS_MAX_DOMAINS];
	} u;
};

/* Parse; 0 on success, -1 on malformed input or too many entries.
 * An empty string parses as an empty GTID set (n == 0). */
int pos_parse_lsn(const char *s, size_t len, struct position *out);
int pos_parse_mariadb(const char *s, size_t len, struct position *out);
int pos_parse_mysql(const char *s, size_t len, struct position *out);

/* Does `have` (a replica's) include everything in `need` (a client's)?
 * A POS_NONE `need` is always covered; a POS_NONE `have` covers only
 * that; different kinds never cover each other. */
bool pos_covers(const struct position *have, const struct position *need);

/* Merge `b` into `a` (the later of the two per domain / the union of
 * intervals): what a client has seen after reading both. */
void pos_merge(struct position *a, const struct position *b);

/* Format for logs and stats; returns out. */
char *pos_format(const struct position *p, char *out, size_t cap);

#endif
