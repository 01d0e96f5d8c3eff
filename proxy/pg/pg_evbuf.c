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

static void count_out_added(struct bufferevent *bev, size_t len);
static void count_out_while_libevent_writes(struct bufferevent *bev, bool on);

static void flush_write(struct bufferevent *bev)
{
	if (bufferevent_get_enabled(bev) & EV_WRITE)
		return;
	struct evbuffer *out = bufferevent_get_output(bev);
	size_t len = evbuffer_get_length(out);
	if (len == 0)
		return;
	/* Everything queued is new since the last flush (which emptied the
	 * output or handed it to libevent): count it as sent. */
	count_out_added(bev, len);
	/* A bufferevent keeps the front of its output frozen so that only it
	 * drains it; thaw it for this write, as its own write callback does. */
	evbuffer_unfreeze(out, 1);
	int r = evbuffer_write(out, bufferevent_getfd(bev));
	int err = errno;
	evbuffer_freeze(out, 1);
	errno = err;
	if (evbuffer_get_length(out) > 0 || (r < 0 && errno != EAGAIN && errno != EINTR)) {
		/* The rest when the socket has room; or an error, which
		 * libevent's write path then reports to the event callback. */
		bufferevent_enable(bev, EV_WRITE);
		count_out_while_libevent_writes(bev, true);
	}
}

void pg_io_drained(struct bufferevent *bev, bool tls)
{
	/* Called for bufferevents in direct mode only: EV_WRITE was turned on
	 * by pg_io_flush for a full socket and goes off once it is empty. */
	if (!tls && evbuffer_get_length(bufferevent_get_output(bev)) == 0) {
		bufferevent_disable(bev, EV_WRITE);
		count_out_while_libevent_writes(bev, false);
	}
}

/*
 * Per-descriptor state of direct reads (a per-thread table grown as
 * needed): the counter its bytes in go to, its read high watermark, and
 * the input callback that exists only while reading is suspended by that
 * watermark. pg_io_direct_reads() resets a descriptor's slot, so that one
 * left by a closed socket never applies to the next socket of that number.
 *
 * Why not libevent's own read watermark: it installs a callback on the
 * input that runs on every change of the buffer and re-adds the read
 * event (event_add) whenever the input is below the mark, i.e. after every
 * message relayed — a sixth of the proxy's user-space instructions per
 * query. Here the mark is checked where the bytes come in, and only a
 * suspended socket has a callback (to resume once the input is drained).
 */
struct io_slot {
	uint64_t *bytes_in, *bytes_out;
	size_t high;                      /* 0: no limit */
	struct evbuffer_cb_entry *resume; /* while suspended */
	struct evbuffer_cb_entry *out_cb; /* while libevent writes (a full socket) */
};

static _Thread_local struct io_slot *io_slots;
static _Thread_local size_t n_io_slots;

/* libevent's own (exported) suspension of reading, kept apart from the
 * enabled flag that the relay turns on and off for backpressure; the flag
 * is libevent's BEV_SUSPEND_WM, unused for direct reads otherwise. */
void bufferevent_suspend_read_(struct bufferevent *bufev, ev_uint16_t what);
void bufferevent_unsuspend_read_(struct bufferevent *bufev, ev_uint16_t what);
#define SUSPEND_WM 0x01

void pg_io_thread_done(void)
{
	free(io_slots);
	io_slots = NULL;
	n_io_slots = 0;
}

static struct io_slot *slot_of(evutil_socket_t fd, bool grow)
{
	if (fd < 0)
		return NULL;
	size_t i = (size_t)fd;
	if (i >= n_io_slots) {
		if (!grow)
			return NULL;
		size_t n = n_io_slots ? n_io_slots : 256;
		while (n <= i)
			n *= 2;
		struct io_slot *t = realloc(io_slots, n * sizeof(*t));
		if (!t)
			return NULL;
		memset(t + n_io_slots, 0, (n - n_io_slots) * sizeof(*t));
		io_slots = t;
		n_io_slots = n;
	}
	return &io_slots[i];
}

static void resume_cb(struct evbuffer *in, const struct evbuffer_cb_info *info, void *arg)
{
	struct bufferevent *bev = arg;
	struct io_slot *sl = slot_of(bufferevent_getfd(bev), false);
	if (!sl || !sl->resume || (sl->high && evbuffer_get_length(in) >= sl->high))
		return;
	evbuffer_remove_cb_entry(in, sl->resume);
	sl->resume = NULL;
	bufferevent_unsuspend_read_(bev, SUSPEND_WM);
}

/* The input reached its mark: stop reading until it is drained below. */
static void suspend(struct bufferevent *bev, struct io_slot *sl)
{
	if (sl->resume)
		return;
	sl->resume = evbuffer_add_cb(bufferevent_get_input(bev), resume_cb, bev);
	if (sl->resume)
		bufferevent_suspend_read_(bev, SUSPEND_WM);
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
	struct io_slot *sl = slot_of(fd, false);
	size_t want = DIRECT_READ_MAX, high = sl ? sl->high : 0;
	if (high > 0) {
		size_t have = evbuffer_get_length(in);
		if (have >= high) {
			suspend(bev, sl);
			return;
		}
		if (high - have < want)
			want = high - have;
	}
	ssize_t n = read(fd, direct_read_buf, want);
	if (n > 0) {
		if (sl && sl->bytes_in)
			*sl->bytes_in += (uint64_t)n;
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
		if (high > 0 && evbuffer_get_length(in) >= high)
			suspend(bev, sl);
		bufferevent_trigger(bev, EV_READ, 0);
		return;
	}
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
		return;
	short ev = BEV_EVENT_READING | (n == 0 ? BEV_EVENT_EOF : BEV_EVENT_ERROR);
	bufferevent_disable(bev, EV_READ);
	bufferevent_trigger_event(bev, ev, 0);
}

static bool is_direct(struct bufferevent *bev)
{
	return event_get_callback(&bev->ev_read) == direct_read_cb;
}

bool pg_io_count_bytes(struct bufferevent *bev, uint64_t *in, uint64_t *out)
{
	if (!is_direct(bev))
		return false;
	struct io_slot *sl = slot_of(bufferevent_getfd(bev), true);
	if (!sl)
		return false;
	sl->bytes_in = in;
	sl->bytes_out = out;
	return true;
}

/* Bytes out: counted when flush_write takes them; while libevent writes
 * instead (EV_WRITE on: the socket was full), an output callback counts
 * what is added meanwhile. */
static void count_out_added(struct bufferevent *bev, size_t len)
{
	struct io_slot *sl = slot_of(bufferevent_getfd(bev), false);
	if (sl && sl->bytes_out)
		*sl->bytes_out += len;
}

static void out_cb(struct evbuffer *b, const struct evbuffer_cb_info *info, void *arg)
{
	*(uint64_t *)arg += info->n_added;
}

static void count_out_while_libevent_writes(struct bufferevent *bev, bool on)
{
	struct io_slot *sl = slot_of(bufferevent_getfd(bev), false);
	if (!sl || !sl->bytes_out)
		return;
	struct evbuffer *o = bufferevent_get_output(bev);
	if (on && !sl->out_cb) {
		sl->out_cb = evbuffer_add_cb(o, out_cb, sl->bytes_out);
	} else if (!on && sl->out_cb) {
		evbuffer_remove_cb_entry(o, sl->out_cb);
		sl->out_cb = NULL;
	}
}

void pg_io_set_read_high(struct bufferevent *bev, size_t high)
{
	struct io_slot *sl = is_direct(bev) ? slot_of(bufferevent_getfd(bev), true) : NULL;
	if (!sl) {
		bufferevent_setwatermark(bev, EV_READ, 0, high);
		return;
	}
	sl->high = high;
	struct evbuffer *in = bufferevent_get_input(bev);
	if (sl->resume && (high == 0 || evbuffer_get_length(in) < high)) {
		evbuffer_remove_cb_entry(in, sl->resume);
		sl->resume = NULL;
		bufferevent_unsuspend_read_(bev, SUSPEND_WM);
	}
}

void pg_io_direct_reads(struct bufferevent *bev)
{
	evutil_socket_t fd = bufferevent_getfd(bev);
	if (fd < 0)
		return;
	/* A fresh slot for this socket; a read watermark set on the
	 * bufferevent so far moves to it (see struct io_slot). */
	size_t high = 0;
	bufferevent_getwatermark(bev, EV_READ, NULL, &high);
	bufferevent_setwatermark(bev, EV_READ, 0, 0);
	struct io_slot *sl = slot_of(fd, true);
	if (sl)
		*sl = (struct io_slot){ .high = high };
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
