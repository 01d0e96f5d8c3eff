/* pg_cancel.c — sending a CancelRequest to a server; see pg_cancel.h. */
#include "proxy/pg/pg_cancel.h"

#include "pool/pg_server.h"
#include "proxy/proxy.h"
#include "util/log.h"

void pg_cancel_forward(struct worker *w, uint32_t pid, uint32_t key)
{
	struct cancel_target t;
	if (!cancel_lookup(&w->proxy->cancels, pid, key, &t)) {
		log_debug("cancel request for unknown or idle client pid %u ignored", pid);
		return;
	}
	server_send_cancel(w->base, &t.addr, t.pid, t.key);
	log_debug("cancel for client pid %u sent to %s (server pid %u)", pid, t.addr.text, t.pid);
}
