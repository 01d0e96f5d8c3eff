/* batch.c — server pipelining's queues and placement; see batch.h. */
#include "pool/batch.h"

#include <string.h>

#include "pool/pg_server.h"

void batch_push(struct server *s, void *c) { s->riders[s->n_riders++] = c; }

void *batch_pop(struct server *s)
{
	void *c = s->riders[0];
	s->n_riders--;
	memmove(s->riders, s->riders + 1, (size_t)s->n_riders * sizeof(s->riders[0]));
	s->riders[s->n_riders] = NULL;
	return c;
}

bool batch_live(const struct server *s)
{
	for (int i = 0; i < s->n_riders; i++)
		if (s->riders[i])
			return true;
	return false;
}

void batch_forget(struct server *s, const void *c)
{
	for (int i = 0; i < s->n_riders; i++)
		if (s->riders[i] == c)
			s->riders[i] = NULL;
}

void batch_clear(struct server *s)
{
	memset(s->riders, 0, sizeof(s->riders));
	s->n_riders = 0;
}

void batch_fill(struct pool *p, struct server *s, int depth)
{
	int looked = 0;
	struct list *n = p->waiters.next;
	while (n != &p->waiters && s->n_riders + 1 < depth && looked++ < 2 * depth) {
		struct list *next = n->next; /* the ride takes n off the list */
		struct pool_waiter *w = container_of(n, struct pool_waiter, node);
		if (w->ride)
			w->ride(w, s);
		n = next;
	}
}

struct server *batch_pick(struct pool *p, int depth, bool (*accepts)(const struct server *s, int depth))
{
	/* By default only once the pool is at its size: before that a
	 * connection of its own serves the client sooner, and the pool must
	 * grow. With pipeline_busy_servers set lower, statements queue once
	 * that many servers are busy although others are idle: fewer
	 * backends run at once, each wakes less often (docs/pooling.md). */
	if (depth <= 1 || p->retired)
		return NULL;
	if (p->n_active < p->st.pipeline_after && (p->n_idle > 0 || p->n_pending + p->n_active < p->st.size))
		return NULL;
	struct server *best = NULL;
	for (struct list *n = p->active.next; n != &p->active; n = n->next) {
		struct server *s = container_of(n, struct server, node);
		if ((best && s->n_riders >= best->n_riders) || !accepts(s, depth))
			continue;
		best = s;
		if (s->n_riders == 0)
			break; /* nothing queued there yet: the shortest wait */
	}
	return best;
}
