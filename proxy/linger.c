/* linger.c — flush-then-close for clients; see linger.h. */
#include "proxy/linger.h"

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <stdbool.h>
#include <stdlib.h>

#include "proxy/pg/pg_evbuf.h"

struct linger_state {
	struct bufferevent *bev;
	struct evbuffer *under_out;          /* a TLS filter's: its records wait here */
	struct evbuffer_cb_entry *under_cb;
	struct event *timer;
	void (*done)(void *arg);
	void *arg;
};

static void linger_finish(struct linger_state *l)
{
	bufferevent_setcb(l->bev, NULL, NULL, NULL, NULL);
	bufferevent_disable(l->bev, EV_READ | EV_WRITE);
	if (l->under_cb)
		evbuffer_remove_cb_entry(l->under_out, l->under_cb);
	if (l->timer)
		event_free(l->timer);
	void (*done)(void *) = l->done;
	void *arg = l->arg;
	free(l);
	done(arg);
}

static bool all_written(const struct linger_state *l)
{
	return evbuffer_get_length(bufferevent_get_output(l->bev)) == 0 &&
	       (!l->under_out || evbuffer_get_length(l->under_out) == 0);
}

static void linger_write_cb(struct bufferevent *bev, void *arg)
{
	if (all_written(arg))
		linger_finish(arg);
}

/* A TLS filter bufferevent (a client that asked for TLS after its first
 * bytes) hands its records to the socket bufferevent under it: its own
 * output empties before anything is on the wire, so finishing then would
 * free the records unsent. Finish once the one underneath drains too —
 * from the timer, not inside libevent's write path. */
static void under_drained_cb(struct evbuffer *buf, const struct evbuffer_cb_info *info, void *arg)
{
	struct linger_state *l = arg;
	if (info->n_deleted && all_written(l))
		event_active(l->timer, EV_TIMEOUT, 1);
}

static void linger_event_cb(struct bufferevent *bev, short what, void *arg) { linger_finish(arg); }

static void linger_timer_cb(evutil_socket_t fd, short what, void *arg) { linger_finish(arg); }

void conn_linger(struct event_base *base, struct bufferevent *bev, void (*done)(void *arg),
		 void *arg)
{
	struct linger_state *l = calloc(1, sizeof(*l));
	if (!l) {
		bufferevent_setcb(bev, NULL, NULL, NULL, NULL);
		done(arg);
		return;
	}
	l->bev = bev;
	l->done = done;
	l->arg = arg;
	l->timer = evtimer_new(base, linger_timer_cb, l);
	struct bufferevent *under = bufferevent_get_underlying(bev);
	if (under && l->timer) {
		l->under_out = bufferevent_get_output(under);
		l->under_cb = evbuffer_add_cb(l->under_out, under_drained_cb, l);
	}
	/* What is queued goes out now if it can (direct writes: also counted
	 * as sent), before libevent takes over the rest. */
	pg_io_flush_now(bev);
	bufferevent_setcb(bev, NULL, linger_write_cb, linger_event_cb, l);
	bufferevent_setwatermark(bev, EV_WRITE, 0, 0);
	bufferevent_enable(bev, EV_WRITE); /* libevent writes the rest */
	if (l->timer) {
		struct timeval tv = { 1, 0 };
		evtimer_add(l->timer, &tv);
		if (all_written(l)) /* nothing left to write: no callback would come */
			event_active(l->timer, EV_TIMEOUT, 1);
	}
}
