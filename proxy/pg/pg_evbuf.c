/* pg_evbuf.c — framing PostgreSQL messages in evbuffers; see pg_evbuf.h. */
#include "proxy/pg/pg_evbuf.h"

#include <event2/buffer.h>
#include <errno.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_struct.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <event2/event.h>

ssize_t pg_evbuf_peek_header(struct evbuffer *in, const struct pgc_limits *lim,
			     struct pgc_header *h)
{
	uint8_t hdr[PGC_HEADER_LEN];
	if (evbuffer_copyout(in, hdr, sizeof(hdr)) < (ssize_t)sizeof(hdr))
		return 0;
	return pgc_parse_header(hdr, sizeof(hdr), lim, h);
}

ssize_t pg_evbuf_next(struct evbuffer *in, const struct pgc_limits *lim, struct pgc_msg *m)
{
	struct pgc_header h;
	ssize_t r = pg_evbuf_peek_header(in, lim, &h);
	if (r <= 0)
		return r;
	size_t total = (size_t)h.len + 1;
	if (evbuffer_get_length(in) < total)
		return 0;
	const uint8_t *p = evbuffer_pullup(in, (ev_ssize_t)total);
	if (!p)
		return PGC_ERR_TOO_BIG;
	return pgc_frame_next(p, total, lim, m);
}

bool pg_evbuf_pass(struct evbuffer *in, struct evbuffer *out, size_t *left, bool hide)
{
	size_t n = evbuffer_get_length(in);
	if (n == 0)
		return false;
	if (n > *left)
		n = *left;
	if (hide)
		evbuffer_drain(in, n);
	else
		evbuffer_remove_buffer(in, out, n);
	*left -= n;
	return true;
}

int pg_bev_write(struct bufferevent *bev, const void *data, size_t len)
{
	if (bufferevent_write(bev, data, len) < 0)
		return -1;
	pg_io_flush(bev);
	return 0;
}

int pg_bev_send(struct bufferevent *bev, const struct buf *b)
{
	if (b->oom)
		return -1;
	return pg_bev_write(bev, b->data, b->len);
}

/* Deferred flushing (pg_evbuf.h): the bufferevents with output queued
 * during this loop batch, each held by a reference until written. */
#define FLUSH_PENDING_MAX 1024
static _Thread_local bool flush_batching;
static _Thread_local struct bufferevent *flush_pending[FLUSH_PENDING_MAX];
static _Thread_local size_t flush_n;

void pg_io_batch_begin(void) { flush_batching = true; }

static void flush_write(struct bufferevent *bev);

void pg_io_batch_end(void)
{
	flush_batching = false;
	for (size_t i = 0; i < flush_n; i++) {
		struct bufferevent *bev = flush_pending[i];
		flush_write(bev);
		bufferevent_decref(bev);
	}
	flush_n = 0;
}

void pg_io_flush(struct bufferevent *bev)
{
	if (bufferevent_get_enabled(bev) & EV_WRITE)
		return; /* libevent writes it (TLS, or a full socket being drained) */
	if (flush_batching) {
		/* Not looked up: noted twice, it is written once and then found
		 * empty (cheaper than a search on every flush). */
		if (flush_n < FLUSH_PENDING_MAX) {
			bufferevent_incref(bev);
			flush_pending[flush_n++] = bev;
			return;
		}
	}
	flush_write(bev);
}

void pg_io_flush_now(struct bufferevent *bev)
{
	if (!(bufferevent_get_enabled(bev) & EV_WRITE))
		flush_write(bev);
}

static void flush_write(struct bufferevent *bev)
{
	if (bufferevent_get_enabled(bev) & EV_WRITE)
		return;
	struct evbuffer *out = bufferevent_get_output(bev);
	if (evbuffer_get_length(out) == 0)
		return;
	/* A bufferevent keeps the front of its output frozen so that only it
	 * drains it; thaw it for this write, as its own write callback does. */
	evbuffer_unfreeze(out, 1);
	int r = evbuffer_write(out, bufferevent_getfd(bev));
	int err = errno;
	evbuffer_freeze(out, 1);
	errno = err;
	if (evbuffer_get_length(out) > 0 || (r < 0 && errno != EAGAIN && errno != EINTR))
		/* The rest when the socket has room; or an error, which
		 * libevent's write path then reports to the event callback. */
		bufferevent_enable(bev, EV_WRITE);
}

void pg_io_drained(struct bufferevent *bev, bool tls)
{
	/* Called for bufferevents in direct mode only: EV_WRITE was turned on
	 * by pg_io_flush for a full socket and goes off once it is empty. */
	if (!tls && evbuffer_get_length(bufferevent_get_output(bev)) == 0)
		bufferevent_disable(bev, EV_WRITE);
}

/* Byte counters of direct reads, by descriptor (a per-thread table grown
 * as needed): pg_io_direct_reads() clears a descriptor's entry, so that one
 * left by a closed socket never counts for the next socket of that number;
 * pg_io_count_reads() sets it. */
static _Thread_local uint64_t **read_meters;
static _Thread_local size_t n_read_meters;

void pg_io_thread_done(void)
{
	free(read_meters);
	read_meters = NULL;
	n_read_meters = 0;
}

static void meter_set(evutil_socket_t fd, uint64_t *counter)
{
	if (fd < 0)
		return;
	size_t i = (size_t)fd;
	if (i >= n_read_meters) {
		if (!counter)
			return;
		size_t n = n_read_meters ? n_read_meters : 256;
		while (n <= i)
			n *= 2;
		uint64_t **t = realloc(read_meters, n * sizeof(*t));
		if (!t)
			return; /* not counted */
		memset(t + n_read_meters, 0, (n - n_read_meters) * sizeof(*t));
		read_meters = t;
		n_read_meters = n;
	}
	read_meters[i] = counter;
}

#define DIRECT_READ_MAX 65536

/* One read buffer per thread: the bytes are copied into the input evbuffer
 * (which allocates a chain for just that much), so an idle connection
 * keeps no read buffer of its own. */
static _Thread_local uint8_t direct_read_buf[DIRECT_READ_MAX];

static void direct_read_cb(evutil_socket_t fd, short what, void *arg)
{
	struct bufferevent *bev = arg;
	if (what & EV_TIMEOUT && !(what & EV_READ)) {
		bufferevent_disable(bev, EV_READ);
		bufferevent_trigger_event(bev, BEV_EVENT_READING | BEV_EVENT_TIMEOUT, 0);
		return;
	}
	struct evbuffer *in = bufferevent_get_input(bev);
	size_t want = DIRECT_READ_MAX, high = 0;
	bufferevent_getwatermark(bev, EV_READ, NULL, &high);
	if (high > 0) {
		size_t have = evbuffer_get_length(in);
		if (have >= high)
			return; /* the input's watermark callback suspends reading */
		if (high - have < want)
			want = high - have;
	}
	ssize_t n = read(fd, direct_read_buf, want);
	if (n > 0) {
		if ((size_t)fd < n_read_meters && read_meters[fd])
			*read_meters[fd] += (uint64_t)n;
		/* The end of a bufferevent's input is frozen so that only the
		 * bufferevent adds to it; thaw it for this, as libevent does. */
		evbuffer_unfreeze(in, 0);
		int r = evbuffer_add(in, direct_read_buf, (size_t)n);
		evbuffer_freeze(in, 0);
		if (r < 0) {
			bufferevent_disable(bev, EV_READ);
			bufferevent_trigger_event(bev, BEV_EVENT_READING | BEV_EVENT_ERROR, 0);
			return;
		}
		bufferevent_trigger(bev, EV_READ, 0);
		return;
	}
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
		return;
	short ev = BEV_EVENT_READING | (n == 0 ? BEV_EVENT_EOF : BEV_EVENT_ERROR);
	bufferevent_disable(bev, EV_READ);
	bufferevent_trigger_event(bev, ev, 0);
}

bool pg_io_count_reads(struct bufferevent *bev, uint64_t *counter)
{
	if (event_get_callback(&bev->ev_read) != direct_read_cb)
		return false;
	meter_set(bufferevent_getfd(bev), counter);
	return (size_t)bufferevent_getfd(bev) < n_read_meters;
}

void pg_io_direct_reads(struct bufferevent *bev)
{
	evutil_socket_t fd = bufferevent_getfd(bev);
	if (fd < 0)
		return;
	meter_set(fd, NULL);
	/* The event belongs to the bufferevent (event2/bufferevent_struct.h):
	 * it stays the one that bufferevent_enable/disable add and delete;
	 * only its callback changes. A pending event must not be re-assigned. */
	struct event *ev = &bev->ev_read;
	bool pending = event_pending(ev, EV_READ, NULL);
	if (pending)
		event_del(ev);
	event_assign(ev, bufferevent_get_base(bev), fd, EV_READ | EV_PERSIST | EV_FINALIZE,
		     direct_read_cb, bev);
	if (pending)
		event_add(ev, NULL);
	/* libevent runs the events of a descriptor newest first: re-add a
	 * pending write event too, so that a connect's completion (reported
	 * from the write event) still comes before the first read, as it did. */
	if (pending && event_pending(&bev->ev_write, EV_WRITE, NULL)) {
		event_del(&bev->ev_write);
		event_add(&bev->ev_write, NULL);
	}
}

void pg_io_read_now(struct bufferevent *bev)
{
	evutil_socket_t fd = bufferevent_getfd(bev);
	if (fd >= 0)
		direct_read_cb(fd, EV_READ, bev);
}
