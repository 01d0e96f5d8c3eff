/*
 * pg_prepared.h — a client's named prepared statements in pooled modes.
 *
 * Each client's Parse of a named statement is remembered here: the
 * client's name maps to the server-side name (derived from a SHA-256 of
 * the query text and parameter types, so every client preparing the
 * same text shares one statement per server) and to the Parse message to
 * send to a server that does not have it yet.
 */
#ifndef SWITCHYARD_PG_PREPARED_H
#define SWITCHYARD_PG_PREPARED_H

#include <stddef.h>
#include <stdint.h>

#include "pool/pg_stmt_cache.h"
#include "router/classify.h"
#include "util/strmap.h"

struct pg_pstmt {
	char srvname[PG_STMT_NAME_MAX];   /* "sy_" + 24 hex digits */
	uint8_t *parse_msg;               /* a whole Parse message naming srvname */
	size_t parse_len;
	/* Routing: classified once, at the first Bind that needs it. */
	bool classified;
	struct route_stmt route;
	/* Server pipelining (pg_batch.h): 0 not looked at yet, 1 a single
	 * read that may be queued behind others, 2 not. */
	uint8_t batch_verdict;
};

/* The parts of a Parse body, as slices of it. */
struct pg_parse_body {
	const char *name;
	const char *query;
	const uint8_t *types;             /* int16 count + int32 OIDs, as sent */
	size_t types_len;
};

/* Split a Parse message body; -1 when malformed. */
int pg_parse_body_split(const uint8_t *body, size_t len, struct pg_parse_body *out);

/* Remember (or replace) the client's statement `pb->name`. Returns the
 * entry (owned by the map) or NULL on allocation failure. */
struct pg_pstmt *pg_prepared_add(struct strmap *reg, const struct pg_parse_body *pb);
void pg_prepared_remove(struct strmap *reg, const char *name);
/* A statement's query text (NUL-terminated, inside its Parse message). */
const char *pg_pstmt_query(const struct pg_pstmt *ps);
void pg_prepared_clear(struct strmap *reg);

#endif
