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
 * It also finds the calls of CONNECTION_ID(), which the relay replaces
 * with the client's proxy connection id (the one KILL through the proxy
 * takes), since a pooled server's thread id means nothing to the client.
 *
 * Output slices point into the scanned text.
 */
#ifndef SWITCHYARD_MY_SQL_H
#define SWITCHYARD_MY_SQL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum my_sql_flags {
	MY_SQL_PIN = 1 << 0,       /* session state that cannot be tracked */
	MY_SQL_USE = 1 << 1,       /* USE db: out->use */
	MY_SQL_SET = 1 << 2,       /* tracked assignments in out->sets */
	MY_SQL_TRUNCATED = 1 << 3, /* the text ended inside a quote or comment */
	MY_SQL_KILL = 1 << 4,      /* KILL [QUERY|CONNECTION] id: server thread ids are not the client's */
	MY_SQL_LOCAL_INFILE = 1 << 5, /* LOAD DATA|XML [LOW_PRIORITY|CONCURRENT] LOCAL INFILE */
	MY_SQL_CONNECTION_ID = 1 << 6, /* calls of CONNECTION_ID(): out->calls */
	MY_SQL_INSERT_ID = 1 << 7, /* reads LAST_INSERT_ID(): the client's value is set on the server first */
};

#define MY_SQL_MAX_SETS 16
#define MY_SQL_MAX_CALLS 8

/* A call of the function CONNECTION_ID() (the name, bare or backquoted,
 * in any case; blanks or comments before and inside the parentheses; not
 * qualified like x.connection_id(), not inside quotes or comments other
 * than executable ones, not in a CREATE or ALTER statement, whose body
 * the server runs later). [off, off + len) is the call as written, from
 * the name to its ')'. alias: it stands alone as an item of a select list
 * with no alias of its own (after SELECT, its modifiers or a ',' of that
 * list, and before a ',', ')', ';', the end or a keyword that ends the
 * list: FROM, INTO, WHERE, LIMIT, ...), so that a server would name the
 * result column after the call's text. */
struct my_sql_call {
	size_t off, len;
	bool alias;
};

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
	/* MY_SQL_CONNECTION_ID: every call counted in n_calls, the first
	 * MY_SQL_MAX_CALLS in calls[] (my_sql_connection_ids() for all). A
	 * call near the end of a prefix may be cut or misjudged: use them
	 * only when the whole text was scanned. */
	struct my_sql_call calls[MY_SQL_MAX_CALLS];
	size_t n_calls;
	int statements;                   /* non-empty ones between ';' */
};

/* Scan `len` bytes of SQL (a COM_QUERY's text, possibly a prefix). */
void my_sql_scan(const char *sql, size_t len, struct my_sql_scan *out);

/* A cheap test (memchr over the text) that fails only when the text
 * cannot call CONNECTION_ID(): "connection_id" appears nowhere, in any
 * case. */
bool my_sql_mentions_connection_id(const char *sql, size_t len);

/* The calls of CONNECTION_ID() in `len` bytes of SQL, found as by
 * my_sql_scan(): fills calls[0 .. max) in text order and returns how many
 * there are (possibly more than max). */
size_t my_sql_connection_ids(const char *sql, size_t len, struct my_sql_call *calls, size_t max);

/* The text with each of the n calls (in text order, from the same text)
 * replaced by `id` as a decimal literal, or, for a call with alias set,
 * by "<id> AS `<the call as written>`" (backquotes in it doubled) so that
 * the column keeps the name a server gives it. A blank is added where the
 * number would run into the next word. Writes at most cap bytes to out
 * (no NUL) and returns the length of the whole rewritten text, as
 * snprintf does: a result above cap means out holds only its start. */
size_t my_sql_rewrite_connection_id(const char *sql, size_t len, const struct my_sql_call *calls, size_t n,
				    uint32_t id, char *out, size_t cap);

/* The canonical name of a session variable the proxy tracks instead of
 * pinning (autocommit, sql_mode, time_zone, ...), or NULL. */
const char *my_sql_tracked_var(const char *name, size_t len);

#endif
