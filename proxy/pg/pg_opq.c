/* pg_opq.c — ring buffer of in-flight requests; see pg_opq.h. */
#include "proxy/pg/pg_opq.h"

#include <stdlib.h>
#include <string.h>

void pg_opq_init(struct pg_opq *q) { memset(q, 0, sizeof(*q)); }

void pg_opq_free(struct pg_opq *q)
{
	while (q->len)
		pg_opq_pop(q);
	free(q->ops);
	memset(q, 0, sizeof(*q));
}

struct pg_op *pg_opq_push(struct pg_opq *q, enum pg_op_kind kind)
{
	if (q->len == q->cap) {
		size_t ncap = q->cap ? q->cap * 2 : 4; /* a Query needs 1; pipelines grow it */
		struct pg_op *n = malloc(ncap * sizeof(*n));
		if (!n)
			return NULL;
		for (size_t i = 0; i < q->len; i++)
			n[i] = q->ops[(q->head + i) % q->cap];
		free(q->ops);
		q->ops = n;
		q->cap = ncap;
		q->head = 0;
	}
	struct pg_op *op = &q->ops[(q->head + q->len) % q->cap];
	memset(op, 0, sizeof(*op));
	op->kind = kind;
	q->len++;
	return op;
}

struct pg_op *pg_opq_head(struct pg_opq *q) { return q->len ? &q->ops[q->head] : NULL; }

const struct pg_op *pg_opq_at(const struct pg_opq *q, size_t i) { return &q->ops[(q->head + i) % q->cap]; }

const struct pg_op *pg_opq_tail(const struct pg_opq *q) { return q->len ? pg_opq_at(q, q->len - 1) : NULL; }

void pg_opq_pop(struct pg_opq *q)
{
	if (!q->len)
		return;
	struct pg_op *op = &q->ops[q->head];
	free(op->client_name);
	free(op->fake);
	q->head = (q->head + 1) % q->cap;
	q->len--;
}
