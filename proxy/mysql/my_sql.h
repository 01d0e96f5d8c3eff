/*
 * my_sql.h — a cheap, pure scan of MySQL/MariaDB SQL text for what
 * matters to transaction pooling.
 *
 * A pooled server is shared between clients, so a statement that leaves
 * session state on it must be noticed: either the state is one the proxy
 * tracks and re-applies on every server the client uses (default schema
 * from USE, SET NAMES / CHARACTER SET, SET of a few session variables
 * drivers set on every connection), or it pins the server to the client
 * (user variables, temporary tables, LOCK TABLES, GET_LOCK, other SETs,
 * ...). The scanner splits on ';' outside quotes and comments, honours
 * MySQL's executable comments (slash-star-bang), never allocates and never
 * reads past `len`. It is not a parser: a statement it does not recognise
 * has no effect.
 *
 * Output slices point into the scanned text.
 */
#ifndef SWITCHYARD_MY_SQL_H
#define SWITCHYARD_MY_SQL_H

#include <stdbool.h>
#include <stddef.h>

enum my_sql_flags {
	MY_SQL_PIN = 1 << 0,       /* session state that cannot be tracked */
	MY_SQL_USE = 1 << 1,       /* USE db: out->use */
	MY_SQL_SET = 1 << 2,       /* tracked assignments in out->sets */
	MY_SQL_TRUNCATED = 1 << 3, /* the text ended inside a quote or comment */
	MY_SQL_KILL = 1 << 4,      /* KILL [QUERY|CONNECTION] id: server thread ids are not the client's */
	MY_SQL_LOCAL_INFILE = 1 << 5, /* LOAD DATA|XML [LOW_PRIORITY|CONCURRENT] LOCAL INFILE */
};

#define MY_SQL_MAX_SETS 16

/* One tracked assignment. name is the variable's canonical lower-case
 * name (a static string; "names" for SET NAMES / CHARACTER SET); value is
 * the text to set it back with: for "names" what follows SET NAMES
 * ("utf8mb4 COLLATE utf8mb4_bin"), else a literal as written ('x', 1, ON). */
struct my_sql_set {
	const char *name;
	const char *value;
	size_t value_len;
};

struct my_sql_scan {
	unsigned flags;
	const char *pin_reason;           /* static; for MY_SQL_PIN */
	const char *use;                  /* MY_SQL_USE: the schema (quotes removed) */
	size_t use_len;
	struct my_sql_set sets[MY_SQL_MAX_SETS];
	int n_sets;
};

/* Scan `len` bytes of SQL (a COM_QUERY's text, possibly a prefix). */
void my_sql_scan(const char *sql, size_t len, struct my_sql_scan *out);

/* The canonical name of a session variable the proxy tracks instead of
 * pinning (autocommit, sql_mode, time_zone, ...), or NULL. */
const char *my_sql_tracked_var(const char *name, size_t len);

#endif
