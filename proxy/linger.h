/*
 * linger.h — closing a client after its last message (an error) is sent.
 *
 * Both protocols end a refused or failed session the same way: queue the
 * error; read and drop whatever the client still sends (up to 64 MB), so
 * that closing does not reset the connection under the error; half-close
 * once the error is written; and free the connection once the peer has
 * closed its side, or a second has passed — whichever comes first.
 */
#ifndef SWITCHYARD_LINGER_H
#define SWITCHYARD_LINGER_H

struct bufferevent;
struct event_base;

/* Take over `bev`'s callbacks until done(arg) is called, exactly once.
 * The caller frees the bufferevent afterwards (in done or later). If the
 * small linger state cannot be allocated, done(arg) runs at once. */
void conn_linger(struct event_base *base, struct bufferevent *bev, void (*done)(void *arg),
		 void *arg);

#endif
