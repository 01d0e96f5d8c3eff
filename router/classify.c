/*
 * classify.c — read or write, transaction control, routing hints and the
 * proxy's own SET statements, from a statement's text.
 *
 * A small hand-written tokenizer (no allocation, no regex, never reads
 * past `len`) turns the text into words, quoted identifiers, strings,
 * numbers and punctuation, skipping whitespace and comments. Strings,
 * quoted identifiers and dollar quotes are tokens of their own, so text
 * inside them ("… 'for update' …") never looks like a keyword.
 *
 * The rule is the safe one: a statement is a read only when it is known to
 * be (SELECT/SHOW/EXPLAIN/VALUES/TABLE, WITH … SELECT, MySQL DESCRIBE and
 * HELP) and nothing in it writes or depends on the session (locking
 * clauses, INTO, data-modifying CTEs, write functions). Anything unknown is
 * a write; a wrong "write" only costs the primary a read, a wrong "read"
 * sends a write to a replica.
 *
 * Several statements in one text: a write when any is; the last
 * transaction control holds; SET switchyard.* counts only when it is the
 * text's one statement (the proxy answers it without the server).
 *
 * Text that is cut off (len is a prefix) is judged on what is there; only
 * a locking clause cut right after FOR counts as a write ("truncated"),
 * since what follows decides.
 */
#include "router/classify.h"

#include <string.h>
#include <strings.h>

/* ---- tokenizer ---- */

enum tok_kind {
	TOK_EOF = 0,
	TOK_WORD,   /* keyword or identifier; s/n is the word */
	TOK_QIDENT, /* "…" (PG) or `…` (MySQL); s/n is the content */
	TOK_STRING, /* '…', E'…', $tag$…$tag$, MySQL "…"; s/n is the content */
	TOK_NUMBER,
	TOK_PARAM,  /* $1 */
	TOK_PUNCT,  /* one character, in c */
};

struct tok {
	enum tok_kind kind;
	const char *s;
	size_t n;
	char c;
};

struct scanner {
	const char *p, *end;
	enum route_dialect d;
	/* MySQL runs the content of an executable comment (slash-star-bang):
	 * what is inside is not looked at, so a statement holding one is a
	 * write. Set by skip_comment, per statement. */
	bool exec_comment;
};

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

static bool is_ident_start(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (unsigned char)c >= 0x80;
}

static bool is_ident_char(char c)
{
	return is_ident_start(c) || (c >= '0' && c <= '9') || c == '$';
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* Skip one comment starting at sc->p, if there is one. Sets *body / *blen
 * to a block comment's content (for hints). Returns false when sc->p does
 * not start a comment. */
static bool skip_comment(struct scanner *sc, const char **body, size_t *blen)
{
	const char *p = sc->p, *end = sc->end;
	if (body) {
		*body = NULL;
		*blen = 0;
	}
	if (p + 1 < end && p[0] == '-' && p[1] == '-') {
		/* MySQL wants whitespace or a control character after "--". */
		if (sc->d == ROUTE_DIALECT_MYSQL && p + 2 < end && !((unsigned char)p[2] <= ' '))
			return false;
		while (p < end && *p != '\n')
			p++;
		sc->p = p;
		return true;
	}
	if (sc->d == ROUTE_DIALECT_MYSQL && p < end && *p == '#') {
		while (p < end && *p != '\n')
			p++;
		sc->p = p;
		return true;
	}
	if (p + 1 < end && p[0] == '/' && p[1] == '*') {
		const char *start = p + 2;
		if (sc->d == ROUTE_DIALECT_MYSQL && p + 2 < end && p[2] == '!')
			sc->exec_comment = true;
		int depth = 1;
		p += 2;
		while (p < end) {
			if (p + 1 < end && p[0] == '*' && p[1] == '/') {
				p += 2;
				if (--depth == 0)
					break;
				continue;
			}
			/* PostgreSQL nests block comments; MySQL does not. */
			if (sc->d == ROUTE_DIALECT_PG && p + 1 < end && p[0] == '/' && p[1] == '*') {
				p += 2;
				depth++;
				continue;
			}
			p++;
		}
		if (body) {
			*body = start;
			*blen = (size_t)((depth == 0 ? p - 2 : p) - start);
		}
		sc->p = p;
		return true;
	}
	return false;
}

static void skip_space_comments(struct scanner *sc)
{
	for (;;) {
		while (sc->p < sc->end && is_space(*sc->p))
			sc->p++;
		if (!skip_comment(sc, NULL, NULL))
			return;
	}
}

/* Quoted text from sc->p (the opening quote) to its closing quote. A
 * doubled quote stands for one; with `backslash`, \x escapes x. */
static void read_quoted(struct scanner *sc, char q, bool backslash, struct tok *t)
{
	const char *p = sc->p + 1;
	t->s = p;
	while (p < sc->end) {
		if (backslash && *p == '\\') {
			if (sc->end - p < 2) {
				p = sc->end; /* a backslash as the last byte */
				break;
			}
			p += 2;
			continue;
		}
		if (*p == q) {
			if (p + 1 < sc->end && p[1] == q) {
				p += 2;
				continue;
			}
			break;
		}
		p++;
	}
	t->n = (size_t)(p - t->s);
	sc->p = p < sc->end ? p + 1 : p;
}

/* PostgreSQL $tag$ at sc->p? Returns the tag length including both '$'. */
static size_t dollar_tag(const struct scanner *sc)
{
	const char *p = sc->p + 1;
	if (p < sc->end && *p == '$')
		return 2;
	if (p >= sc->end || !is_ident_start(*p))
		return 0;
	while (p < sc->end && (is_ident_start(*p) || is_digit(*p)))
		p++;
	if (p < sc->end && *p == '$')
		return (size_t)(p - sc->p) + 1;
	return 0;
}

static void next_tok(struct scanner *sc, struct tok *t)
{
	skip_space_comments(sc);
	memset(t, 0, sizeof(*t));
	if (sc->p >= sc->end) {
		t->kind = TOK_EOF;
		return;
	}
	const char *p = sc->p;
	char c = *p;
	bool pg = sc->d == ROUTE_DIALECT_PG;

	if (c == '\'') {
		t->kind = TOK_STRING;
		read_quoted(sc, '\'', !pg, t);
		return;
	}
	if (c == '"') {
		/* MySQL (without ANSI_QUOTES) takes "…" as a string. */
		t->kind = pg ? TOK_QIDENT : TOK_STRING;
		read_quoted(sc, '"', !pg, t);
		return;
	}
	if (c == '`' && !pg) {
		t->kind = TOK_QIDENT;
		read_quoted(sc, '`', false, t);
		return;
	}
	if (pg && (c == 'e' || c == 'E') && p + 1 < sc->end && p[1] == '\'') {
		sc->p++;
		t->kind = TOK_STRING;
		read_quoted(sc, '\'', true, t);
		return;
	}
	if (c == '$' && pg) {
		if (p + 1 < sc->end && is_digit(p[1])) {
			t->kind = TOK_PARAM;
			t->s = p;
			p++;
			while (p < sc->end && is_digit(*p))
				p++;
			t->n = (size_t)(p - t->s);
			sc->p = p;
			return;
		}
		size_t tl = dollar_tag(sc);
		if (tl > 0) {
			const char *tag = p;
			const char *q = p + tl;
			t->kind = TOK_STRING;
			t->s = q;
			while (q < sc->end && !((size_t)(sc->end - q) >= tl && memcmp(q, tag, tl) == 0))
				q++;
			t->n = (size_t)(q - t->s);
			sc->p = q < sc->end ? q + tl : q;
			return;
		}
	}
	if (is_ident_start(c)) {
		t->kind = TOK_WORD;
		t->s = p;
		while (p < sc->end && is_ident_char(*p))
			p++;
		t->n = (size_t)(p - t->s);
		sc->p = p;
		return;
	}
	if (is_digit(c) || (c == '.' && p + 1 < sc->end && is_digit(p[1]))) {
		t->kind = TOK_NUMBER;
		t->s = p;
		while (p < sc->end && (is_ident_char(*p) || *p == '.'))
			p++;
		t->n = (size_t)(p - t->s);
		sc->p = p;
		return;
	}
	t->kind = TOK_PUNCT;
	t->c = c;
	t->s = p;
	t->n = 1;
	sc->p = p + 1;
}

static void peek_tok(const struct scanner *sc, struct tok *t)
{
	struct scanner copy = *sc;
	next_tok(&copy, t);
}

static bool ieq(const char *s, size_t n, const char *word)
{
	return strlen(word) == n && strncasecmp(s, word, n) == 0;
}

static bool is_word(const struct tok *t, const char *word)
{
	return t->kind == TOK_WORD && ieq(t->s, t->n, word);
}

static bool is_punct(const struct tok *t, char c)
{
	return t->kind == TOK_PUNCT && t->c == c;
}

/* ---- write functions ---- */

struct write_fn {
	const char *name;
	bool prefix; /* any name starting with `name` */
};

/* Functions that write, take locks, or whose result depends on the
 * session (a replica's session would answer differently). Both dialects'
 * names are checked whatever the dialect: they do not collide. */
static const struct write_fn builtin_write_fns[] = {
	/* PostgreSQL sequences and transaction ids */
	{ "nextval", false }, { "setval", false }, { "currval", false }, { "lastval", false },
	{ "txid_current", true }, { "pg_current_xact_id", true },
	/* PostgreSQL locks, large objects, settings, notifications, WAL */
	{ "pg_advisory_", true }, { "pg_try_advisory_", true }, { "lo_", true }, { "lowrite", false },
	{ "loread", false }, { "set_config", false }, { "pg_notify", false }, { "pg_switch_wal", false },
	{ "pg_create_restore_point", false }, { "pg_create_physical_replication_slot", false },
	{ "pg_create_logical_replication_slot", false }, { "pg_drop_replication_slot", false },
	/* MySQL / MariaDB user locks and session values */
	{ "get_lock", false }, { "release_lock", false }, { "release_all_locks", false },
	{ "last_insert_id", false }, { "found_rows", false }, { "row_count", false },
	/* MariaDB sequences (nextval/setval/lastval above) */
	{ "previous_value", false },
};

static bool is_write_fn(const char *s, size_t n, const struct cfg_strlist *extra)
{
	for (size_t i = 0; i < sizeof(builtin_write_fns) / sizeof(builtin_write_fns[0]); i++) {
		const struct write_fn *f = &builtin_write_fns[i];
		size_t fl = strlen(f->name);
		if (f->prefix ? (n >= fl && strncasecmp(s, f->name, fl) == 0) : ieq(s, n, f->name))
			return true;
	}
	if (extra)
		for (size_t i = 0; i < extra->n; i++)
			if (extra->items[i] && ieq(s, n, extra->items[i]))
				return true;
	return false;
}

/* ---- one statement ---- */

struct stmt {
	bool empty;
	enum route_class cls;
	const char *reason;
	enum route_txn txn;
	bool tx_read_only;
	bool sets_route;
	enum cfg_target session_route;
	bool sets_key;
	const char *key;
	size_t key_len;
};

#define MAX_NESTING 8 /* EXPLAIN EXPLAIN …: deeper is a write */

static void classify_stmt(struct scanner *sc, const struct cfg_strlist *wf, int nesting, struct stmt *st);

static void set_write(struct stmt *st, const char *reason)
{
	if (st->cls == ROUTE_CLASS_WRITE && st->reason)
		return; /* the first reason found is kept */
	st->cls = ROUTE_CLASS_WRITE;
	st->reason = reason;
}

/* Consume the rest of the statement: up to and including ';' or the end.
 * `compound`: the statement may hold a body of statements (CREATE
 * FUNCTION … BEGIN ATOMIC, a MySQL procedure), whose inner ';' do not end
 * it once BEGIN was seen. */
static void skip_rest(struct scanner *sc, bool compound)
{
	bool in_body = false;
	struct tok t;
	for (;;) {
		next_tok(sc, &t);
		if (t.kind == TOK_EOF || (is_punct(&t, ';') && !in_body))
			return;
		if (compound && is_word(&t, "begin"))
			in_body = true;
	}
}

/* A statement that may be a read: look at every token to its end for what
 * makes it a write. `with_mode`: the statement began with WITH, and the
 * first SELECT/INSERT/… outside the CTE bodies is the main statement.
 * `base` is the paren depth of the statement itself. */
static void scan_body(struct scanner *sc, const struct cfg_strlist *wf, bool with_mode, int base,
		      struct stmt *st)
{
	int depth = base;
	bool after_open = false; /* previous token was '(' */
	struct tok t, nx;
	for (;;) {
		next_tok(sc, &t);
		if (t.kind == TOK_EOF || is_punct(&t, ';'))
			break;
		bool was_open = after_open;
		after_open = false;
		if (t.kind == TOK_PUNCT) {
			if (t.c == '(') {
				depth++;
				after_open = true;
			} else if (t.c == ')') {
				depth--;
			}
			continue;
		}
		if (t.kind != TOK_WORD && t.kind != TOK_QIDENT)
			continue;
		peek_tok(sc, &nx);

		/* A function call: a name, then '(' (whitespace and comments
		 * between are skipped). Quoted names count too. */
		if (is_punct(&nx, '(') && is_write_fn(t.s, t.n, wf)) {
			set_write(st, "write function");
			continue;
		}
		if (t.kind != TOK_WORD)
			continue;

		bool dml = is_word(&t, "insert") || is_word(&t, "update") || is_word(&t, "delete") ||
			   is_word(&t, "merge");
		/* MySQL's INSERT(str, pos, len, new) is a string function. */
		if (is_word(&t, "insert") && is_punct(&nx, '('))
			dml = false;
		if (with_mode && depth == base) {
			if (is_word(&t, "select") || is_word(&t, "values") || is_word(&t, "table")) {
				with_mode = false; /* the main statement is a query */
				continue;
			}
			if (dml) {
				set_write(st, "dml");
				with_mode = false;
				continue;
			}
		}
		if (dml && was_open) {
			/* (INSERT …), (DELETE … RETURNING …): a data-modifying CTE */
			set_write(st, "cte write");
			continue;
		}
		if (is_word(&t, "for")) {
			struct scanner la = *sc;
			struct tok a, b;
			next_tok(&la, &a);
			if (a.kind == TOK_EOF) {
				set_write(st, "truncated");
			} else if (is_word(&a, "update")) {
				set_write(st, "for update");
			} else if (is_word(&a, "share")) {
				set_write(st, "for share");
			} else if (is_word(&a, "no") || is_word(&a, "key")) {
				next_tok(&la, &b);
				if (is_word(&a, "no") && is_word(&b, "key"))
					set_write(st, "for no key update");
				else if (is_word(&a, "key") && is_word(&b, "share"))
					set_write(st, "for key share");
			}
			continue;
		}
		if (is_word(&t, "lock") && is_word(&nx, "in")) {
			set_write(st, "lock in share mode");
			continue;
		}
		if (is_word(&t, "into")) {
			/* PostgreSQL SELECT INTO creates a table; MySQL stores
			 * into variables or files. */
			set_write(st, "select into");
			continue;
		}
		if ((is_word(&t, "next") || is_word(&t, "previous")) && is_word(&nx, "value")) {
			/* MariaDB NEXT VALUE FOR seq / PREVIOUS VALUE FOR seq */
			set_write(st, "sequence");
			continue;
		}
		if (is_word(&t, "sql_calc_found_rows")) {
			/* its FOUND_ROWS() will be asked on the same session */
			set_write(st, "found rows");
			continue;
		}
	}
	if (with_mode)
		set_write(st, "cte"); /* no main statement found */
}

/* EXPLAIN [ANALYZE] [VERBOSE] …, EXPLAIN (opt [value], …) …, MySQL
 * EXPLAIN/DESCRIBE [FORMAT=x] [ANALYZE] …: without ANALYZE nothing runs. */
static void classify_explain(struct scanner *sc, const struct cfg_strlist *wf, int nesting, struct stmt *st)
{
	bool analyze = false;
	struct tok t;
	for (;;) {
		peek_tok(sc, &t);
		if (is_word(&t, "analyze") || is_word(&t, "analyse")) {
			analyze = true;
			next_tok(sc, &t);
		} else if (is_word(&t, "verbose") || is_word(&t, "extended") || is_word(&t, "partitions")) {
			next_tok(sc, &t);
		} else if (is_word(&t, "format")) {
			next_tok(sc, &t);
			peek_tok(sc, &t);
			if (is_punct(&t, '=')) {
				next_tok(sc, &t);
				peek_tok(sc, &t);
			}
			if (t.kind == TOK_WORD || t.kind == TOK_STRING)
				next_tok(sc, &t);
		} else if (is_punct(&t, '(') && sc->d == ROUTE_DIALECT_PG) {
			/* (ANALYZE [true|false|on|off|1|0], BUFFERS, …) */
			next_tok(sc, &t);
			bool opt_start = true, last_analyze = false;
			for (;;) {
				next_tok(sc, &t);
				if (t.kind == TOK_EOF || is_punct(&t, ';'))
					break;
				if (is_punct(&t, ')')) {
					break;
				}
				if (is_punct(&t, ',')) {
					opt_start = true;
					last_analyze = false;
					continue;
				}
				if (opt_start && (is_word(&t, "analyze") || is_word(&t, "analyse"))) {
					analyze = true;
					last_analyze = true;
				} else if (last_analyze &&
					   (is_word(&t, "false") || is_word(&t, "off") ||
					    (t.kind == TOK_NUMBER && ieq(t.s, t.n, "0")) ||
					    (t.kind == TOK_STRING && (ieq(t.s, t.n, "false") || ieq(t.s, t.n, "off"))))) {
					analyze = false;
				}
				opt_start = false;
			}
			if (t.kind == TOK_EOF || is_punct(&t, ';')) {
				st->cls = ROUTE_CLASS_READ;
				st->reason = "explain";
				return;
			}
		} else {
			break;
		}
	}
	struct stmt inner = { 0 };
	classify_stmt(sc, wf, nesting + 1, &inner);
	if (analyze && !inner.empty) {
		st->cls = inner.cls;
		st->reason = inner.cls == ROUTE_CLASS_READ ? "explain" : inner.reason;
	} else {
		st->cls = ROUTE_CLASS_READ;
		st->reason = "explain";
	}
}

/* BEGIN [WORK|TRANSACTION] [modes] / START TRANSACTION [modes]. */
static void classify_begin(struct scanner *sc, struct stmt *st)
{
	struct tok t, prev = { 0 };
	st->txn = ROUTE_TXN_BEGIN;
	for (;;) {
		next_tok(sc, &t);
		if (t.kind == TOK_EOF || is_punct(&t, ';'))
			break;
		if (is_word(&prev, "read") && is_word(&t, "only"))
			st->tx_read_only = true;
		prev = t;
	}
	st->cls = st->tx_read_only ? ROUTE_CLASS_READ : ROUTE_CLASS_WRITE;
	st->reason = st->tx_read_only ? "begin read only" : "begin";
}

/* COMMIT / END / ROLLBACK / ABORT [WORK|TRANSACTION] [AND [NO] CHAIN];
 * ROLLBACK … TO SAVEPOINT and COMMIT/ROLLBACK PREPARED end nothing. */
static void classify_end(struct scanner *sc, struct stmt *st)
{
	struct tok t, prev = { 0 };
	bool ends = true, and_no = false;
	st->cls = ROUTE_CLASS_WRITE;
	st->reason = "transaction end";
	for (;;) {
		next_tok(sc, &t);
		if (t.kind == TOK_EOF || is_punct(&t, ';'))
			break;
		if (is_word(&t, "to") || is_word(&t, "prepared"))
			ends = false;
		if (is_word(&prev, "and"))
			and_no = is_word(&t, "no");
		if (is_word(&t, "chain") && !and_no)
			ends = false; /* AND CHAIN starts the next transaction at once */
		prev = t;
	}
	st->txn = ends ? ROUTE_TXN_END : ROUTE_TXN_NONE;
}

/* The value of a proxy SET: a word, a string or a quoted identifier. */
static bool set_value(struct scanner *sc, struct tok *v)
{
	struct tok t;
	peek_tok(sc, &t);
	if (is_word(&t, "to") || is_punct(&t, '=')) {
		next_tok(sc, &t);
	} else if (is_punct(&t, ':')) {
		next_tok(sc, &t); /* MySQL := */
		next_tok(sc, &t);
		if (!is_punct(&t, '='))
			return false;
	} else {
		return false;
	}
	next_tok(sc, v);
	return v->kind == TOK_WORD || v->kind == TOK_STRING || v->kind == TOK_QIDENT;
}

static bool target_of(const struct tok *v, enum cfg_target *out)
{
	static const struct { const char *name; enum cfg_target t; } names[] = {
		{ "primary", CFG_TARGET_PRIMARY }, { "replica", CFG_TARGET_REPLICA },
		{ "any", CFG_TARGET_ANY },         { "default", CFG_TARGET_NONE },
	};
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (ieq(v->s, v->n, names[i].name)) {
			*out = names[i].t;
			return true;
		}
	return false;
}

/* Which proxy variable a SET/RESET names: 1 route, 2 key, 0 neither.
 * PostgreSQL: [SESSION|LOCAL] switchyard.route; MySQL: [SESSION|LOCAL]
 * [@@session.|@@local.|@@|@]switchyard_route. Consumes the name. */
static int proxy_var(struct scanner *sc)
{
	struct tok t, u, w;
	next_tok(sc, &t);
	if (is_word(&t, "session") || is_word(&t, "local"))
		next_tok(sc, &t);
	if (sc->d == ROUTE_DIALECT_PG) {
		if (!(is_word(&t, "switchyard") || (t.kind == TOK_QIDENT && ieq(t.s, t.n, "switchyard"))))
			return 0;
		next_tok(sc, &u);
		if (!is_punct(&u, '.'))
			return 0;
		next_tok(sc, &w);
		if (w.kind != TOK_WORD && w.kind != TOK_QIDENT)
			return 0;
		return ieq(w.s, w.n, "route") ? 1 : ieq(w.s, w.n, "key") ? 2 : 0;
	}
	if (is_punct(&t, '@')) {
		/* @var is user variable: the name follows without a gap */
		const char *at = sc->p;
		if (at < sc->end && *at == '@') {
			next_tok(sc, &t); /* second '@' */
			next_tok(sc, &t);
			if (is_word(&t, "session") || is_word(&t, "local")) {
				next_tok(sc, &u);
				if (!is_punct(&u, '.'))
					return 0;
				next_tok(sc, &t);
			}
		} else {
			next_tok(sc, &t);
		}
	}
	if (t.kind != TOK_WORD && t.kind != TOK_QIDENT)
		return 0;
	return ieq(t.s, t.n, "switchyard_route") ? 1 : ieq(t.s, t.n, "switchyard_key") ? 2 : 0;
}

static void classify_set(struct scanner *sc, bool reset, struct stmt *st)
{
	struct scanner la = *sc;
	struct tok v;
	st->cls = ROUTE_CLASS_WRITE;
	st->reason = "set";
	int var = proxy_var(&la);
	if (var == 0)
		goto rest;
	if (reset) {
		struct tok t;
		peek_tok(&la, &t);
		if (!(t.kind == TOK_EOF || is_punct(&t, ';')))
			goto rest;
		v = (struct tok){ .kind = TOK_WORD, .s = "default", .n = 7 };
	} else if (!set_value(&la, &v)) {
		goto rest;
	}
	if (var == 1) {
		enum cfg_target target;
		if (!target_of(&v, &target))
			goto rest; /* not a value the proxy knows: left to the server */
		st->sets_route = true;
		st->session_route = target;
	} else {
		st->sets_key = true;
		if (v.kind == TOK_WORD && ieq(v.s, v.n, "default")) {
			st->key = NULL;
			st->key_len = 0;
		} else {
			st->key = v.s;
			st->key_len = v.n;
		}
	}
	st->reason = "set switchyard";
	*sc = la;
rest:
	skip_rest(sc, false);
}

struct kw_reason {
	const char *word;
	const char *reason;
};

/* Reasons for the statements that are always writes (for debug logs). */
static const struct kw_reason write_reasons[] = {
	{ "insert", "dml" },       { "update", "dml" },         { "delete", "dml" },
	{ "merge", "dml" },        { "replace", "dml" },        { "upsert", "dml" },
	{ "copy", "copy" },        { "load", "load" },          { "create", "ddl" },
	{ "alter", "ddl" },        { "drop", "ddl" },           { "truncate", "ddl" },
	{ "comment", "ddl" },      { "grant", "ddl" },          { "revoke", "ddl" },
	{ "rename", "ddl" },       { "reindex", "maintenance" }, { "vacuum", "maintenance" },
	{ "analyze", "maintenance" }, { "analyse", "maintenance" }, { "cluster", "maintenance" },
	{ "optimize", "maintenance" }, { "call", "call" },      { "do", "do" },
	{ "lock", "lock" },        { "unlock", "lock" },        { "savepoint", "savepoint" },
	{ "release", "savepoint" }, { "prepare", "prepare" },   { "execute", "execute" },
	{ "deallocate", "prepare" }, { "listen", "listen" },   { "notify", "listen" },
	{ "unlisten", "listen" },  { "discard", "session" },    { "declare", "cursor" },
	{ "fetch", "cursor" },     { "move", "cursor" },        { "close", "cursor" },
	{ "handler", "cursor" },   { "flush", "admin" },        { "kill", "admin" },
	{ "xa", "transaction" },   { "checkpoint", "admin" },   { "refresh", "ddl" },
	{ "import", "ddl" },       { "security", "ddl" },       { "reassign", "ddl" },
};

static const char *write_reason(const struct tok *t)
{
	if (t->kind != TOK_WORD)
		return "other";
	for (size_t i = 0; i < sizeof(write_reasons) / sizeof(write_reasons[0]); i++)
		if (ieq(t->s, t->n, write_reasons[i].word))
			return write_reasons[i].reason;
	return "other";
}

/* Classify the statement at sc->p and consume it (through its ';'). */
static void classify_stmt(struct scanner *sc, const struct cfg_strlist *wf, int nesting, struct stmt *st)
{
	struct tok t, nx;
	bool mysql = sc->d == ROUTE_DIALECT_MYSQL;
	bool exec_outer = sc->exec_comment;
	int parens = 0;

	sc->exec_comment = false;

	st->cls = ROUTE_CLASS_WRITE;
	st->reason = NULL;
	next_tok(sc, &t);
	while (is_punct(&t, '(')) {
		parens++;
		next_tok(sc, &t);
	}
	if ((t.kind == TOK_EOF || is_punct(&t, ';')) && parens == 0) {
		if (sc->exec_comment) /* a statement made only of a slash-star-bang comment */
			set_write(st, "mysql executable comment");
		else
			st->empty = true;
		sc->exec_comment = exec_outer || sc->exec_comment;
		return;
	}
	if (nesting > MAX_NESTING) {
		set_write(st, "too deep");
		skip_rest(sc, false);
		return;
	}

	if (is_word(&t, "select") || is_word(&t, "values") || is_word(&t, "table")) {
		st->cls = ROUTE_CLASS_READ;
		scan_body(sc, wf, false, parens, st);
	} else if (is_word(&t, "with")) {
		st->cls = ROUTE_CLASS_READ;
		scan_body(sc, wf, true, parens, st);
	} else if (parens > 0) {
		set_write(st, "other");
		skip_rest(sc, false);
	} else if (is_word(&t, "show") || (mysql && is_word(&t, "help"))) {
		st->cls = ROUTE_CLASS_READ;
		st->reason = "read";
		skip_rest(sc, false);
	} else if (is_word(&t, "explain") || (mysql && (is_word(&t, "describe") || is_word(&t, "desc")))) {
		classify_explain(sc, wf, nesting, st);
	} else if (is_word(&t, "begin")) {
		classify_begin(sc, st);
	} else if (is_word(&t, "start")) {
		peek_tok(sc, &nx);
		if (is_word(&nx, "transaction")) {
			classify_begin(sc, st);
		} else {
			set_write(st, "admin");
			skip_rest(sc, false);
		}
	} else if (is_word(&t, "commit") || is_word(&t, "rollback") || is_word(&t, "end") ||
		   is_word(&t, "abort")) {
		classify_end(sc, st);
	} else if (is_word(&t, "prepare") && (peek_tok(sc, &nx), is_word(&nx, "transaction"))) {
		/* PostgreSQL PREPARE TRANSACTION 'x' ends the transaction */
		set_write(st, "transaction end");
		st->txn = ROUTE_TXN_END;
		skip_rest(sc, false);
	} else if (is_word(&t, "set")) {
		classify_set(sc, false, st);
	} else if (is_word(&t, "reset")) {
		classify_set(sc, true, st);
	} else {
		set_write(st, write_reason(&t));
		skip_rest(sc, is_word(&t, "create") || is_word(&t, "alter"));
	}

	if (sc->exec_comment)
		set_write(st, "mysql executable comment");
	sc->exec_comment = exec_outer || sc->exec_comment;
	if (st->cls == ROUTE_CLASS_READ)
		st->reason = st->reason ? st->reason : "read";
	else if (!st->reason)
		st->reason = "other";
}

/* ---- hints ---- */

/* "switchyard: primary" / "switchyard:replica" anywhere in a comment. */
static enum cfg_target hint_in(const char *s, size_t n)
{
	static const char key[] = "switchyard";
	const size_t kl = sizeof(key) - 1;
	for (size_t i = 0; i + kl <= n; i++) {
		if (strncasecmp(s + i, key, kl) != 0)
			continue;
		size_t j = i + kl;
		while (j < n && is_space(s[j]))
			j++;
		if (j >= n || s[j] != ':')
			continue;
		j++;
		while (j < n && is_space(s[j]))
			j++;
		size_t w = j;
		while (j < n && is_ident_char(s[j]))
			j++;
		if (ieq(s + w, j - w, "primary"))
			return CFG_TARGET_PRIMARY;
		if (ieq(s + w, j - w, "replica"))
			return CFG_TARGET_REPLICA;
	}
	return CFG_TARGET_NONE;
}

static enum cfg_target leading_hint(const char *sql, size_t len, enum route_dialect d)
{
	struct scanner sc = { .p = sql, .end = sql + len, .d = d };
	for (;;) {
		const char *body;
		size_t blen;
		while (sc.p < sc.end && is_space(*sc.p))
			sc.p++;
		if (!skip_comment(&sc, &body, &blen))
			return CFG_TARGET_NONE;
		if (body) {
			enum cfg_target h = hint_in(body, blen);
			if (h != CFG_TARGET_NONE)
				return h;
		}
	}
}

/* ---- entry points ---- */

void route_classify(const char *sql, size_t len, enum route_dialect d,
		    const struct cfg_strlist *write_functions, struct route_stmt *out)
{
	memset(out, 0, sizeof(*out));
	out->cls = ROUTE_CLASS_READ;
	if (!sql || len == 0) {
		sql = "";
		len = 0;
	}
	struct scanner sc = { .p = sql, .end = sql + len, .d = d };
	out->hint = leading_hint(sql, len, d);

	size_t n_stmts = 0;
	while (sc.p < sc.end) {
		const char *before = sc.p;
		struct stmt st = { 0 };
		classify_stmt(&sc, write_functions, 0, &st);
		if (sc.p == before)
			sc.p++; /* cannot happen: every statement consumes a token */
		if (st.empty)
			continue;
		n_stmts++;
		if (st.cls == ROUTE_CLASS_WRITE && out->cls == ROUTE_CLASS_READ) {
			out->cls = ROUTE_CLASS_WRITE;
			out->reason = st.reason;
		}
		if (st.txn != ROUTE_TXN_NONE) {
			/* the last transaction control of the text is what holds after it */
			out->txn = st.txn;
			out->tx_read_only = st.tx_read_only;
		}
		if (st.sets_route) {
			out->sets_route = true;
			out->session_route = st.session_route;
		}
		if (st.sets_key) {
			out->sets_key = true;
			out->key = st.key;
			out->key_len = st.key_len;
		}
	}
	if (n_stmts != 1) {
		/* The proxy answers a SET switchyard.* itself; inside a text of
		 * several statements it cannot (the others must run), so there
		 * it is left to the server like any other SET. */
		out->sets_route = false;
		out->session_route = CFG_TARGET_NONE;
		out->sets_key = false;
		out->key = NULL;
		out->key_len = 0;
	}
	if (n_stmts == 0) {
		out->cls = ROUTE_CLASS_WRITE;
		out->reason = "empty";
	} else if (out->cls == ROUTE_CLASS_READ) {
		out->reason = "read";
	}
}

const char *route_target_name(enum cfg_target t)
{
	switch (t) {
	case CFG_TARGET_NONE:
		return "";
	case CFG_TARGET_PRIMARY:
		return "primary";
	case CFG_TARGET_REPLICA:
		return "replica";
	case CFG_TARGET_ANY:
		return "any";
	case CFG_TARGET_NODE:
		return "node";
	}
	return "";
}
