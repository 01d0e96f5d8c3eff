/*
 * classify.h — is a statement a read or a write, and what does it say
 * about routing (hints, transaction control)?
 *
 * Pure: text in, facts out. Used per statement on the hot path, so it
 * looks at keywords with a small hand-written scanner (no allocation, no
 * regex): leading whitespace and comments are skipped (a leading
 * `/ * switchyard: primary * /` or `replica` comment is a hint), CTEs are
 * followed to the statement they lead to, case is ignored.
 */
#ifndef SWITCHYARD_ROUTER_CLASSIFY_H
#define SWITCHYARD_ROUTER_CLASSIFY_H

#include <stdbool.h>
#include <stddef.h>

#include "config/config.h"

enum route_dialect { ROUTE_DIALECT_PG = 0, ROUTE_DIALECT_MYSQL };

enum route_class {
	ROUTE_CLASS_WRITE = 0, /* anything not known to be a read */
	ROUTE_CLASS_READ,      /* plain SELECT/SHOW/EXPLAIN/VALUES/TABLE/WITH…SELECT, … */
};

/* Transaction control the statement performs. */
enum route_txn {
	ROUTE_TXN_NONE = 0,
	ROUTE_TXN_BEGIN,       /* BEGIN / START TRANSACTION (READ ONLY: see tx_read_only) */
	ROUTE_TXN_END,         /* COMMIT / ROLLBACK / END / ABORT (not … TO SAVEPOINT) */
};

struct route_stmt {
	enum route_class cls;
	enum route_txn txn;
	bool tx_read_only;         /* BEGIN/START TRANSACTION … READ ONLY */
	enum cfg_target hint;      /* leading comment hint: PRIMARY or REPLICA; NONE otherwise */
	/* `SET switchyard.route = primary|replica|any|default` (PostgreSQL) or
	 * `SET @@session.switchyard_route = …` / `SET @switchyard_route = …`
	 * (MySQL): the session's routing override. `default` gives NONE. */
	bool sets_route;
	enum cfg_target session_route;
	/* `SET switchyard.key = '…'` (PostgreSQL) / `SET @@session.switchyard_key
	 * = '…'` or `SET @switchyard_key = '…'` (MySQL): the application key
	 * for consistency_scope = key. key points into the statement text. */
	bool sets_key;
	const char *key;
	size_t key_len;
	const char *reason;        /* static text, why WRITE (for debug logs), or "read" */
};

/* Classify `sql` (need not be NUL-terminated; may be a prefix of a longer
 * statement, in which case what is missing counts as unknown: a write).
 * `write_functions` are extra function names (case-insensitive) whose
 * call makes a SELECT a write, on top of the built-in list (nextval,
 * setval, pg_advisory_lock*, pg_try_advisory_lock*, lo_*, GET_LOCK,
 * RELEASE_LOCK, …). May be NULL. */
void route_classify(const char *sql, size_t len, enum route_dialect d,
		    const struct cfg_strlist *write_functions, struct route_stmt *out);

const char *route_target_name(enum cfg_target t);

#endif
