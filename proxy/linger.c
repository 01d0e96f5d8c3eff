/* linger.c — flush-then-close for clients; see linger.h. */
#include "proxy/linger.h"

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/socket.h>

#include "proxy/pg/pg_evbuf.h"

/* What a lingering client may still send before it is cut off. */
#define LINGER_DRAIN_MAX (64u * 1024 * 1024)

struct linger_state {
	struct bufferevent *bev;
	struct bufferevent *under;           /* a TLS filter's socket bufferevent */
	struct evbuffer *under_out;          /* ... whose output holds the records */
	struct evbuffer_cb_entry *under_cb;
	struct event *timer;
	size_t drained;
	bool shut;                           /* written, and half-closed */
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

/* Everything is on the wire: half-close, so that the client reads the
 * error and then an end of stream, and wait for its own close. Closing
 * at once with bytes of the client unread would send a reset, and a reset
 * makes the client's kernel drop the error before the client reads it
 * (a client refused while still sending a large packet never saw why). */
static void written(struct linger_state *l)
{
	if (l->shut)
		return;
	l->shut = true;
	if (!l->timer) { /* no bound on the wait: end here */
		linger_finish(l);
		return;
	}
	int fd = bufferevent_getfd(l->under ? l->under : l->bev);
	if (fd >= 0)
		shutdown(fd, SHUT_WR);
}

static void linger_write_cb(struct bufferevent *bev, void *arg)
{
	if (all_written(arg))
		written(arg);
}

/* Whatever the client still sends is read and dropped, up to a bound. */
static void linger_read_cb(struct bufferevent *bev, void *arg)
{
	struct linger_state *l = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	size_t n = evbuffer_get_length(in);
	evbuffer_drain(in, n);
	l->drained += n;
	if (l->drained > LINGER_DRAIN_MAX)
		linger_finish(l);
}

/* A TLS filter bufferevent (a client that asked for TLS after its first
 * bytes) hands its records to the socket bufferevent under it: its own
 * output empties before anything is on the wire. Written means that one
 * drained too. */
static void under_drained_cb(struct evbuffer *buf, const struct evbuffer_cb_info *info, void *arg)
{
	struct linger_state *l = arg;
	if (info->n_deleted && all_written(l))
		written(l);
}

/* End of stream, or an error: the client has gone. */
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
	l->under = bufferevent_get_underlying(bev);
	if (l->under) {
		l->under_out = bufferevent_get_output(l->under);
		l->under_cb = evbuffer_add_cb(l->under_out, under_drained_cb, l);
	}
	/* What is queued goes out now if it can (direct writes: also counted
	 * as sent), before libevent takes over the rest. */
	pg_io_flush_now(bev);
	bufferevent_setcb(bev, linger_read_cb, linger_write_cb, linger_event_cb, l);
	bufferevent_setwatermark(bev, EV_WRITE, 0, 0);
	bufferevent_setwatermark(bev, EV_READ, 0, 0);
	bufferevent_enable(bev, EV_READ | EV_WRITE); /* libevent writes the rest */
	if (l->timer) {
		struct timeval tv = { 1, 0 };
		evtimer_add(l->timer, &tv);
	}
	if (all_written(l)) /* nothing left to write: no write callback would come */
		written(l);
}
