/* pg_evbuf.c — framing PostgreSQL messages in evbuffers; see pg_evbuf.h. */
#include "proxy/pg/pg_evbuf.h"

#include <event2/buffer.h>
#include <event2/bufferevent.h>

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

int pg_bev_send(struct bufferevent *bev, const struct buf *b)
{
	if (b->oom)
		return -1;
	return bufferevent_write(bev, b->data, b->len);
}
