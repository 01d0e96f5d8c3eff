/* pg_evbuf.c — framing PostgreSQL messages in evbuffers; see pg_evbuf.h. */
#include "proxy/pg/pg_evbuf.h"

#include <event2/buffer.h>
#include <errno.h>
#include <event2/bufferevent.h>
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

void pg_io_flush(struct bufferevent *bev)
{
	if (bufferevent_get_enabled(bev) & EV_WRITE)
		return; /* libevent writes it (TLS, or a full socket being drained) */
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
