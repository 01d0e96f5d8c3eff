/*
 * pg_sql.h — a cheap, pure scan of SQL text for what matters to pooling.
 *
 * Transaction pooling shares a server between clients, so a statement
 * that leaves state on the server outside a transaction must be noticed.
 * This scanner reads the statements of a Query (splitting on ';' outside
 * quotes, dollar quotes and comments) and looks at their first keywords;
 * it never allocates and never reads past `len`. It is not a parser: a
 * statement it does not recognise has no effect (PG_SQL_NONE).
 */
#ifndef SWITCHYARD_PG_SQL_H
#define SWITCHYARD_PG_SQL_H

#include <stdbool.h>
#include <stddef.h>

enum pg_sql_flags {
	PG_SQL_PIN = 1 << 0,            /* session state that cannot be tracked */
	PG_SQL_DISCARD_ALL = 1 << 1,    /* DISCARD ALL */
	PG_SQL_DEALLOCATE_ALL = 1 << 2, /* DEALLOCATE [PREPARE] ALL */
	PG_SQL_BEGIN = 1 << 3,          /* BEGIN / START TRANSACTION */
	PG_SQL_TRUNCATED = 1 << 4,      /* the text ended before the scan did */
};

struct pg_sql_scan {
	unsigned flags;
	/* For PG_SQL_PIN: what pinned, for the log ("SET statement_timeout",
	 * "LISTEN", ...); points to a static string. */
	const char *pin_reason;
	/* Statements in the text (non-empty ones between ';'). */
	int statements;
};

/* Scan `len` bytes of SQL. The text may be a prefix of a longer query
 * (the caller need not buffer a huge statement): a cut-off scan sets
 * PG_SQL_TRUNCATED and reports what it saw. */
void pg_sql_scan(const char *sql, size_t len, struct pg_sql_scan *out);

/* Parameters PostgreSQL reports with ParameterStatus that a client may
 * SET: their values are tracked per client and re-applied instead of
 * pinning. */
bool pg_sql_is_tracked_param(const char *name, size_t len);

#endif
