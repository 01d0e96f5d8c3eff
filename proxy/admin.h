/*
 * admin.h — the admin console's commands, independent of the wire
 * protocol that carries them.
 *
 * Both front ends offer the console: PostgreSQL (proxy/pg/pg_admin.c:
 * virtual database "switchyard") and MySQL (proxy/mysql/my_admin.c:
 * schema "switchyard"), to users listed in `admin_users`. They parse
 * nothing themselves: they hand each query text to admin_run(), which
 *   - answers a SHOW as a table: column names, then rows of strings, given
 *     to the caller's `struct admin_sink` one at a time (the front end
 *     encodes them as it goes: RowDescription/DataRow or column
 *     definitions/text rows);
 *   - runs RELOAD, SHUTDOWN (signals to this process, as kill -HUP/-TERM),
 *     KILL id (a client of either protocol, any worker), PAUSE [cluster]
 *     and RESUME [cluster] (any protocol's clusters);
 *   - reports an error as a class plus a message, which each front end
 *     maps to its codes (SQLSTATE, MySQL error number).
 * Figures come from the workers' published snapshots (proxy/stats.h): at
 * most one second old (this worker's is refreshed first); client and
 * server rows are built on request (see the waits below).
 *
 * Two commands may have to wait, and then admin_run() returns ADMIN_WAIT
 * with a started `struct admin_wait` that polls the snapshots and calls
 * the session's `wait_done` once; the front end owns the wait
 * (admin_wait_free()) and reads no further command before it is done:
 *   - PAUSE answers only once no server connection of the paused
 *     cluster(s) is linked to a client any more (open transactions have
 *     finished): the front end then sends PAUSE's completion;
 *   - SHOW CLIENTS, SHOW SERVERS and KILL need every worker's rows, which
 *     the workers build only on request (stats.h): when another worker's
 *     are not in yet, the front end is to run the command again
 *     (admin_wait_query()) with `rows_ready` set, once they are (or after
 *     ADMIN_ROWS_WAIT_MS, with what there is).
 */
#ifndef SWITCHYARD_ADMIN_H
#define SWITCHYARD_ADMIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct worker;
struct cfg;
struct stats_view;
struct admin_wait;

#define ADMIN_DATABASE "switchyard"

/* Where a table goes. `columns` is called once, before the rows; a NULL
 * value in `row` is SQL NULL. The strings are valid during the call. */
struct admin_sink {
	void *arg;
	void (*columns)(void *arg, const char *const *names, int n);
	void (*row)(void *arg, const char *const *values, int n);
};

enum admin_outcome {
	ADMIN_EMPTY,                  /* no command (an empty query) */
	ADMIN_TABLE,                  /* a table went to the sink: `rows` rows */
	ADMIN_DONE,                   /* a command ran: `tag` says which */
	ADMIN_ERROR,                  /* nothing ran: `err`, `msg` */
	ADMIN_WAIT,                   /* PAUSE, or rows to wait for: see wait_done */
};

/* Error classes; each front end maps them to its own codes. */
enum admin_err {
	ADMIN_ERR_SYNTAX,      /* not a command, bad arguments */
	ADMIN_ERR_NOT_FOUND,   /* no such client, cluster */
	ADMIN_ERR_STATE,       /* already paused, not paused */
	ADMIN_ERR_BUSY,        /* the proxy is stopping, queues full */
	ADMIN_ERR_NO_MEMORY,
};

struct admin_result {
	enum admin_outcome outcome;
	size_t rows;                  /* ADMIN_TABLE */
	char tag[16];                 /* ADMIN_TABLE ("SHOW") and ADMIN_DONE: the command word */
	enum admin_err err;           /* ADMIN_ERROR */
	char msg[256];
	struct admin_wait *wait;      /* ADMIN_WAIT: owned by the caller now */
};

/* Who is asking: for the log, the events and KILL's own-session check. */
struct admin_session {
	struct worker *w;
	uint32_t id;                  /* the console client's id */
	const char *user;
	const char *addr;
	/* A wait finished (it stays allocated: free it). */
	void (*wait_done)(void *arg);
	void *arg;
	/* Set when running a command again after its rows wait: answer with
	 * the rows there are, do not wait again. */
	bool rows_ready;
};

#define ADMIN_ROWS_WAIT_MS 1000

/* Run one console command (the query text, NUL-terminated; it is
 * modified). Fills `res`; tables go to `sink`. */
void admin_run(const struct admin_session *s, char *query, const struct admin_sink *sink,
	       struct admin_result *res);

/* A SHOW answered from a view (not CONFIG or HELP): `what` is the word
 * after SHOW, any case. 0 with the table sent and *rows set, or -1 when
 * `what` is not one of them (nothing sent). Pure; for tests. */
int admin_show_view(const struct stats_view *v, const char *what, const struct admin_sink *sink,
		    size_t *rows);

/* Is `user` in the configuration's admin_users? */
bool admin_is_admin(const struct cfg *c, const char *user);

/* Stop a PAUSE's wait (no callback) and free it; NULL is fine. */
void admin_wait_free(struct admin_wait *aw);
/* The cluster a PAUSE wait is for (NULL: all). */
const char *admin_wait_cluster(const struct admin_wait *aw);
/* A rows wait: the command to run again (with rows_ready); NULL for a
 * PAUSE wait. Valid until admin_wait_free(). */
const char *admin_wait_query(const struct admin_wait *aw);

#endif
