/*
 * pg_opq.h — the queue of requests a pooled client has in flight on its
 * server, in order, so that each server message can be matched to the
 * request it answers. That is what lets the proxy answer some requests
 * itself (a Parse of a statement the server already has, a Close of a
 * client's name) and hide the answers to requests it added (a Parse the
 * server lacked, a Close for eviction), in the right place in the stream.
 */
#ifndef SWITCHYARD_PG_OPQ_H
#define SWITCHYARD_PG_OPQ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pool/pg_stmt_cache.h"

enum pg_op_kind {
	PG_OP_PARSE,          /* answered by ParseComplete, forwarded */
	PG_OP_PARSE_HIDDEN,   /* added by the proxy: ParseComplete swallowed */
	PG_OP_BIND,           /* BindComplete */
	PG_OP_DESCRIBE_S,     /* ParameterDescription, then RowDescription/NoData */
	PG_OP_DESCRIBE_P,     /* RowDescription/NoData */
	PG_OP_EXECUTE,        /* rows, then CommandComplete/EmptyQuery/PortalSuspended */
	PG_OP_CLOSE,          /* CloseComplete */
	PG_OP_CLOSE_HIDDEN,   /* added by the proxy: CloseComplete swallowed */
	PG_OP_SYNC,           /* ReadyForQuery */
	PG_OP_QUERY,          /* simple query: everything up to ReadyForQuery */
	PG_OP_FUNC,           /* FunctionCall: up to ReadyForQuery */
	PG_OP_FAKE,           /* the proxy answers: `fake` bytes go to the client */
	PG_OP_LSN,            /* the proxy's own SELECT pg_current_wal_insert_lsn(): all swallowed */
};

struct pg_op {
	enum pg_op_kind kind;
	char srvname[PG_STMT_NAME_MAX];   /* parse ops: the server-side name ("" none) */
	char *client_name;                /* PG_OP_PARSE of a named statement (owned) */
	uint8_t *fake;                    /* PG_OP_FAKE (owned) */
	size_t fake_len;
};

struct pg_opq {
	struct pg_op *ops;
	size_t cap, head, len;
};

void pg_opq_init(struct pg_opq *q);
void pg_opq_free(struct pg_opq *q);
/* Append; returns the new op (zeroed but for kind) or NULL on failure. */
struct pg_op *pg_opq_push(struct pg_opq *q, enum pg_op_kind kind);
struct pg_op *pg_opq_head(struct pg_opq *q);
/* The i-th request in flight (0: the head); i < q->len. */
const struct pg_op *pg_opq_at(const struct pg_opq *q, size_t i);
/* The request sent last, NULL when empty. */
const struct pg_op *pg_opq_tail(const struct pg_opq *q);
/* Remove the head, freeing what it owns. */
void pg_opq_pop(struct pg_opq *q);

#endif
