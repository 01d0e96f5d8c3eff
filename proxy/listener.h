/*
 * listener.h — listening sockets for the [listen.*] front ends.
 *
 * TCP front ends get one socket per worker, bound with SO_REUSEPORT so
 * the kernel spreads connections across workers. A unix-socket front end
 * has a single socket (SO_REUSEPORT does not apply to them) that every
 * worker watches through its own dup()ed descriptor.
 */
#ifndef SWITCHYARD_LISTENER_H
#define SWITCHYARD_LISTENER_H

#include <stddef.h>

struct proxy;

/* Open shared sockets (unix) for the current config's listeners and
 * check TCP addresses can be bound. -1 on failure (logged). */
int listeners_open(struct proxy *px);
/* A descriptor for worker `worker_id` to accept on for listener `i`. */
int listener_fd_for_worker(struct proxy *px, size_t i, int worker_id);
/* Close shared sockets and remove unix socket files. */
void listeners_close(struct proxy *px);

#endif
