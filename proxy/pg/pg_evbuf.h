/*
 * pg_evbuf.h — the PostgreSQL codec applied to libevent's evbuffers.
 *
 * Glue between the pure codec (pgc.h) and the byte queues of
 * bufferevents: peek at a header without copying the message, frame a
 * whole (small) message contiguously, write a built message.
 */
#ifndef SWITCHYARD_PG_EVBUF_H
#define SWITCHYARD_PG_EVBUF_H

#include <sys/types.h>

#include "proxy/pg/pgc.h"

struct evbuffer;
struct bufferevent;

/* Peek at the next message's header. Same convention as pgc_parse_header. */
ssize_t pg_evbuf_peek_header(struct evbuffer *in, const struct pgc_limits *lim,
			     struct pgc_header *h);

/* Frame the next whole message, making it contiguous. Returns its total
 * size (drain that much when done with `m`), 0 when incomplete, <0 on a
 * malformed header. m's slices are valid until the input is drained. */
ssize_t pg_evbuf_next(struct evbuffer *in, const struct pgc_limits *lim, struct pgc_msg *m);

/* Append a built buffer to a bufferevent's output; -1 on failure or when
 * the buffer ran out of memory while building. */
int pg_bev_send(struct bufferevent *bev, const struct buf *b);

#endif
