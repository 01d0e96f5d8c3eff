/*
 * my_kill.h — KILL [QUERY|CONNECTION] <id> for MySQL sessions, across
 * workers.
 *
 * The id a client names is the proxy's connection id (the one in the
 * proxy's handshake and returned by CONNECTION_ID() through the proxy),
 * never a server thread id. A client id encodes its worker (id % 64 ==
 * worker id, see my_client_accept()), so each worker keeps its own box:
 *   - a registry of its logged-in MySQL clients (id -> user name), which
 *     any thread may read under the box's lock to answer the killer at
 *     once (ERR 1094 unknown thread, ERR 1095 not owner, or OK);
 *   - a queue of kill requests, run by the owning worker on
 *     WORKER_CMD_MY_KILL (its notify pipe): no thread touches another
 *     worker's clients.
 * KILL QUERY sends `KILL QUERY <server thread id>` on another connection
 * of the target's pool while the target's command runs (the target keeps
 * its server until that answer is in, so the KILL cannot reach the next
 * client of that connection); KILL CONNECTION closes the target (ERR
 * 1927 to it first), its server released as for a vanished client.
 */
#ifndef SWITCHYARD_MY_KILL_H
#define SWITCHYARD_MY_KILL_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct proxy;
struct worker;
struct my_client;

#define MY_KILL_BUCKETS 256
#define MY_KILL_MAX_REQS 64
#define MY_KILL_USER_MAX 64

/* A registered client (embedded in struct my_client). */
struct my_kill_ent {
	struct my_kill_ent *next;
	uint32_t id;
	char user[MY_KILL_USER_MAX];
	bool registered;
};

struct my_kill_req {
	uint32_t id;
	bool query;                   /* KILL QUERY; else KILL CONNECTION */
};

/* One per worker (a field of struct worker). */
struct my_kill_box {
	pthread_mutex_t lock;
	bool ready;
	struct my_kill_ent *buckets[MY_KILL_BUCKETS];
	struct my_kill_req reqs[MY_KILL_MAX_REQS];
	int n_reqs;
};

void my_kill_box_init(struct my_kill_box *b);
void my_kill_box_destroy(struct my_kill_box *b);

/* The owning worker: register (or re-register with a new user name after
 * COM_CHANGE_USER) / unregister one of its clients. */
void my_kill_register(struct worker *w, struct my_kill_ent *e, uint32_t id, const char *user);
void my_kill_unregister(struct worker *w, struct my_kill_ent *e);

/* Any worker: ask for KILL of `id` on behalf of `user` (`admin`: may kill
 * anyone's). 0 when queued (answer OK); 1094 unknown id; 1095 not the
 * owner; 1040 the target's queue is full or the proxy is stopping. */
int my_kill_request(struct proxy *px, uint32_t id, bool query, const char *user, bool admin);

/* The owning worker, on WORKER_CMD_MY_KILL: run its queued requests. */
void my_kill_run(struct worker *w);

/* Parse `KILL [HARD or SOFT] [CONNECTION or QUERY] <n>` (case-insensitive,
 * trailing ';' and spaces allowed). 0 with id and query set; -1 when it is
 * some other KILL form (e.g. KILL USER, KILL QUERY ID with an
 * expression) the proxy does not handle. */
int my_kill_parse(const char *sql, size_t len, uint32_t *id, bool *query);

#endif
