/* pg_cancel.c — sending a CancelRequest to a server; see pg_cancel.h. */
#include "proxy/pg/pg_cancel.h"

#include <unistd.h>

#include "pool/pg_server.h"
#include "pool/pool.h"
#include "proxy/pg/pg_batch.h"
#include "proxy/pg/pg_client.h"
#include "proxy/proxy.h"
#include "util/log.h"

void pg_cancel_forward(struct worker *w, uint32_t pid, uint32_t key)
{
	struct proxy *px = w->proxy;
	int owner = cancel_request(&px->cancels, pid, key);
	if (owner == -2) {
		log_warning("cancel request for client pid %u dropped: too many cancels queued", pid);
		return;
	}
	if (owner < 0 || owner >= px->n_workers) {
		log_debug("cancel request for unknown client pid %u ignored", pid);
		return;
	}
	if (owner == w->id) {
		pg_cancel_run(w);
		return;
	}
	char cmd = WORKER_CMD_PG_CANCEL;
	ssize_t r = write(px->workers[owner].notify_fds[1], &cmd, 1);
	(void)r; /* a full pipe already holds a pending command */
}

static void cancel_one(struct worker *w, uint32_t pid)
{
	struct pg_client *c = NULL;
	for (struct list *n = w->clients.next; n != &w->clients; n = n->next) {
		struct pg_client *x = container_of(n, struct pg_client, node);
		if (x->cancel_pid == pid) {
			c = x;
			break;
		}
	}
	if (!c || !c->server || c->outstanding == 0) {
		log_debug("cancel for client pid %u ignored: no query running", pid);
		return;
	}
	if (pg_batch_cancel(c))
		return; /* queued with other clients' statements: answered here */
	struct server *s = c->server;
	server_send_cancel(w->base, &s->pool->addr, s->backend_pid, s->backend_key);
	log_debug("cancel for client %u (pid %u) sent to %s (server pid %u)", c->id, pid,
		  s->pool->addr.text, s->backend_pid);
}

void pg_cancel_run(struct worker *w)
{
	uint32_t pids[CANCEL_MAX_PENDING];
	int n = cancel_take(&w->proxy->cancels, w->id, pids, CANCEL_MAX_PENDING);
	for (int i = 0; i < n; i++)
		cancel_one(w, pids[i]);
}
