/*
 * pg_evbuf.h — the PostgreSQL codec applied to libevent's evbuffers.
 *
 * Glue between the pure codec (pgc.h) and the byte queues of
 * bufferevents: peek at a header without copying the message, frame a
 * whole (small) message contiguously, write a built message.
 */
#ifndef SWITCHYARD_PG_EVBUF_H
#define SWITCHYARD_PG_EVBUF_H

#include <stdbool.h>
#include <stdint.h>
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

/* Append a built buffer to a bufferevent's output and flush it (see
 * direct writes below); -1 on failure or when the buffer ran out of
 * memory while building. */
int pg_bev_send(struct bufferevent *bev, const struct buf *b);
/* The same for raw bytes. */
int pg_bev_write(struct bufferevent *bev, const void *data, size_t len);

/* Pass on (or, with hide, drop) up to *left more bytes of a message whose
 * header was already handled, from `in` to `out`. Returns false when
 * nothing could be moved (`in` is empty). */
bool pg_evbuf_pass(struct evbuffer *in, struct evbuffer *out, size_t *left, bool hide);

/*
 * Direct writes. libevent's socket bufferevents write from the loop: each
 * burst of output costs an epoll_ctl to arm EV_WRITE and another to disarm
 * it, on top of the write. The proxy instead keeps EV_WRITE disabled on
 * plain sockets and writes at once (pg_io_flush, after every place that
 * queues output); only when the socket is full does it enable EV_WRITE
 * and let libevent finish, turning it off again once the output is empty
 * (pg_io_drained, from the write callback). TLS bufferevents keep EV_WRITE
 * enabled and are left to libevent (their bytes go through OpenSSL); for
 * them both functions do nothing.
 */

/* Write what is queued now when in direct mode; no-op otherwise. Inside
 * a batch, the write waits for the batch's end. */
void pg_io_flush(struct bufferevent *bev);
/* Write at once, even inside a batch. */
void pg_io_flush_now(struct bufferevent *bev);
/*
 * Batches (a worker's event-loop turn): between pg_io_batch_begin() and
 * pg_io_batch_end() on one thread, pg_io_flush() only notes the
 * bufferevent (taking a reference, so that one freed meanwhile stays
 * valid and its socket open until its bytes are out); the batch's end
 * writes each noted bufferevent once, in the order they were noted, then
 * drops the references. A bufferevent noted again is written once. At
 * most FLUSH_PENDING_MAX are noted; more are written at once.
 */
void pg_io_batch_begin(void);
void pg_io_batch_end(void);
/* Free this thread's per-socket table (a worker thread, as it ends). */
void pg_io_thread_done(void);
/* From a write callback in direct mode: disarm EV_WRITE once empty. */
void pg_io_drained(struct bufferevent *bev, bool tls);

/*
 * Direct reads. libevent's socket bufferevents ask the kernel how much is
 * readable (ioctl FIONREAD) before every read: one system call in three
 * on the relay path. pg_io_direct_reads() points the bufferevent's read
 * event at a callback that reads at once (up to the read high watermark,
 * at most 64 KiB), then behaves as libevent's own: the read callback runs
 * through bufferevent_trigger (low watermark honoured), EOF and errors
 * reach the event callback, and the read high watermark (moved from the
 * bufferevent to the socket's slot, then set with pg_io_set_read_high)
 * suspends reading when the input reaches it. Enabling and disabling
 * EV_READ, freeing and the output side are unchanged.
 * Only for plain socket bufferevents with a descriptor (call it after
 * bufferevent_socket_new with an fd, or after bufferevent_socket_connect,
 * which re-creates the event); not for TLS ones.
 */
void pg_io_direct_reads(struct bufferevent *bev);
/* Count the bytes bev reads into *in and the bytes queued to it into *out
 * (counters that outlive the socket), in the direct reads and writes.
 * false when bev is not in direct mode (TLS): the caller counts some
 * other way. Cheaper than evbuffer callbacks, which run on every change
 * of a buffer. */
bool pg_io_count_bytes(struct bufferevent *bev, uint64_t *in, uint64_t *out);
/* The read high watermark (0: none): reading stops while the input holds
 * this much. For a bufferevent in direct-read mode it is kept with the
 * socket (see pg_evbuf.c); for others it is libevent's own watermark. */
void pg_io_set_read_high(struct bufferevent *bev, size_t high);
/* Read now what the socket has, as the read event would (direct reads
 * only): for a client woken from parking by its read event. */
void pg_io_read_now(struct bufferevent *bev);

#endif
