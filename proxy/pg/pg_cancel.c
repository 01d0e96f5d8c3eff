/* pg_cancel.c — sending a CancelRequest to a server; see pg_cancel.h. */
#include "proxy/pg/pg_cancel.h"

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <netdb.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "proxy/pg/pgc.h"
#include "proxy/proxy.h"
#include "util/log.h"

static void cancel_write_cb(struct bufferevent *bev, void *arg)
{
	if (evbuffer_get_length(bufferevent_get_output(bev)) == 0)
		bufferevent_free(bev);
}

static void cancel_event_cb(struct bufferevent *bev, short what, void *arg)
{
	if (what & BEV_EVENT_CONNECTED)
		return;
	bufferevent_free(bev);
}

void pg_cancel_forward(struct worker *w, uint32_t pid, uint32_t key)
{
	struct cancel_target t;
	if (!cancel_lookup(&w->proxy->cancels, pid, key, &t)) {
		log_debug("cancel request for unknown or idle client pid %u ignored", pid);
		return;
	}
	struct sockaddr_storage ss;
	socklen_t sl;
	memset(&ss, 0, sizeof(ss));
	if (t.addr.kind == CFG_ADDR_UNIX) {
		struct sockaddr_un *un = (struct sockaddr_un *)&ss;
		un->sun_family = AF_UNIX;
		snprintf(un->sun_path, sizeof(un->sun_path), "%s", t.addr.path);
		sl = sizeof(*un);
	} else {
		struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV };
		struct addrinfo *res = NULL;
		char port[8];
		snprintf(port, sizeof(port), "%u", t.addr.port);
		if (getaddrinfo(t.addr.host, port, &hints, &res) != 0 || !res)
			return;
		memcpy(&ss, res->ai_addr, res->ai_addrlen);
		sl = res->ai_addrlen;
		freeaddrinfo(res);
	}
	struct bufferevent *bev = bufferevent_socket_new(w->base, -1, BEV_OPT_CLOSE_ON_FREE);
	if (!bev)
		return;
	struct buf b;
	buf_init(&b);
	pgc_put_cancel(&b, t.pid, t.key);
	bufferevent_setcb(bev, NULL, cancel_write_cb, cancel_event_cb, NULL);
	bufferevent_write(bev, b.data, b.len);
	buf_free(&b);
	struct timeval tv = { 5, 0 };
	bufferevent_set_timeouts(bev, &tv, &tv);
	if (bufferevent_socket_connect(bev, (struct sockaddr *)&ss, (int)sl) < 0) {
		bufferevent_free(bev);
		return;
	}
	bufferevent_enable(bev, EV_WRITE);
	log_debug("cancel for client pid %u sent to %s (server pid %u)", pid, t.addr.text, t.pid);
}
