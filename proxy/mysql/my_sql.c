/*
 * my_sql.c — statement scan for MySQL pooling decisions; see my_sql.h.
 */
#include "proxy/mysql/my_sql.h"

#include <stdint.h>
#include <string.h>
#include <strings.h>

enum tok_kind { T_END, T_SEMI, T_WORD, T_QIDENT, T_STRING, T_NUMBER, T_UVAR, T_SYSVAR, T_PUNCT };

struct tok {
	enum tok_kind kind;
	const char *p;   /* word/identifier/literal text (string: with its quotes) */
	size_t len;
	char ch;         /* T_PUNCT */
};

struct cursor {
	const char *p;
	size_t n, i;
	bool truncated;
	/* CONNECTION_ID() calls, followed token by token in next() while
	 * `track` (the text mentions the name at all). */
	bool track;
	struct my_sql_call *calls;
	size_t max_calls, n_calls;
	size_t depth;            /* parentheses open */
	uint64_t select_list;    /* bit d: depth d is inside a select list */
	bool item_start;         /* the last token starts a select-list item */
	bool after_dot;          /* the last token was '.' (a qualified name follows) */
	bool stmt_start;         /* the next token is a statement's first */
	bool ddl;                /* the statement is a CREATE or ALTER */
};

static const char *const tracked_vars[] = {
	"autocommit", "sql_mode", "time_zone", "character_set_client", "character_set_results",
	"character_set_connection", "collation_connection", "transaction_isolation", "tx_isolation",
	"transaction_read_only", "tx_read_only", "sql_select_limit", "max_execution_time",
	"max_statement_time", "foreign_key_checks", "unique_checks", "sql_safe_updates",
	"wait_timeout", "interactive_timeout", "net_read_timeout", "net_write_timeout",
	"innodb_lock_wait_timeout", "lock_wait_timeout", "group_concat_max_len", "sql_auto_is_null",
	"sql_big_selects", "div_precision_increment", "sql_quote_show_create", "big_tables",
};

const char *my_sql_tracked_var(const char *name, size_t len)
{
	for (size_t i = 0; i < sizeof(tracked_vars) / sizeof(tracked_vars[0]); i++)
		if (strlen(tracked_vars[i]) == len && strncasecmp(tracked_vars[i], name, len) == 0)
			return tracked_vars[i];
	return NULL;
}

static bool ident_char(unsigned char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
	       ch == '_' || ch == '$' || ch >= 0x80;
}

static bool is_space(char ch)
{
	return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r' || ch == '\f' || ch == '\v';
}

/* Blanks and comments. MySQL's executable comments ("/_*!50100 ... *_/",
 * MariaDB's "/_*M!") are code: only their markers are skipped. */
static void skip_space(struct cursor *c)
{
	while (c->i < c->n) {
		char ch = c->p[c->i];
		char nx = c->i + 1 < c->n ? c->p[c->i + 1] : '\0';
		if (is_space(ch)) {
			c->i++;
		} else if (ch == '#' || (ch == '-' && nx == '-' && (c->i + 2 >= c->n || is_space(c->p[c->i + 2])))) {
			while (c->i < c->n && c->p[c->i] != '\n')
				c->i++;
		} else if (ch == '/' && nx == '*') {
			size_t j = c->i + 2;
			if (j < c->n && (c->p[j] == '!' || (c->p[j] == 'M' && j + 1 < c->n && c->p[j + 1] == '!'))) {
				j += c->p[j] == '!' ? 1 : 2;
				while (j < c->n && c->p[j] >= '0' && c->p[j] <= '9')
					j++;
				c->i = j;
				continue;
			}
			while (j + 1 < c->n && !(c->p[j] == '*' && c->p[j + 1] == '/'))
				j++;
			if (j + 1 >= c->n) {
				c->truncated = true;
				c->i = c->n;
				return;
			}
			c->i = j + 2;
		} else if (ch == '*' && nx == '/') {
			c->i += 2; /* the end of an executable comment */
		} else {
			break;
		}
	}
}

/* Skip a quoted run starting at c->i (quote q); backslash escapes and
 * doubled quotes. */
static void skip_quoted(struct cursor *c, char q)
{
	c->i++;
	while (c->i < c->n) {
		char ch = c->p[c->i];
		if (ch == '\\' && q != '`') {
			c->i += 2;
			continue;
		}
		if (ch == q) {
			if (c->i + 1 < c->n && c->p[c->i + 1] == q) {
				c->i += 2;
				continue;
			}
			c->i++;
			return;
		}
		c->i++;
	}
	c->i = c->n;
	c->truncated = true;
}

/* The next token, as written (see next() for the one the scanner uses). */
static void lex(struct cursor *c, struct tok *t)
{
	skip_space(c);
	memset(t, 0, sizeof(*t));
	if (c->i >= c->n) {
		t->kind = T_END;
		return;
	}
	size_t s = c->i;
	char ch = c->p[s];
	if (ch == ';') {
		c->i++;
		t->kind = T_SEMI;
		return;
	}
	if (ch == '\'' || ch == '"') {
		skip_quoted(c, ch);
		t->kind = T_STRING;
		t->p = c->p + s;
		t->len = c->i - s;
		return;
	}
	if (ch == '`') {
		skip_quoted(c, '`');
		t->kind = T_QIDENT;
		t->p = c->p + s + 1;
		t->len = c->i - s >= 2 ? c->i - s - 2 : 0;
		return;
	}
	if (ch == '@') {
		bool sys = s + 1 < c->n && c->p[s + 1] == '@';
		c->i += sys ? 2 : 1;
		if (!sys && c->i < c->n && (c->p[c->i] == '\'' || c->p[c->i] == '"' || c->p[c->i] == '`')) {
			skip_quoted(c, c->p[c->i]);
		} else {
			while (c->i < c->n && (ident_char((unsigned char)c->p[c->i]) || c->p[c->i] == '.'))
				c->i++;
		}
		t->kind = sys ? T_SYSVAR : T_UVAR;
		t->p = c->p + s;
		t->len = c->i - s;
		if (!sys && t->len == 1)
			t->kind = T_PUNCT, t->ch = '@'; /* 'user'@'host' and the like */
		return;
	}
	if ((ch >= '0' && ch <= '9') || (ch == '.' && s + 1 < c->n && c->p[s + 1] >= '0' && c->p[s + 1] <= '9')) {
		while (c->i < c->n && (ident_char((unsigned char)c->p[c->i]) || c->p[c->i] == '.'))
			c->i++;
		t->kind = T_NUMBER;
		t->p = c->p + s;
		t->len = c->i - s;
		return;
	}
	if (ident_char((unsigned char)ch)) {
		while (c->i < c->n && ident_char((unsigned char)c->p[c->i]))
			c->i++;
		t->kind = T_WORD;
		t->p = c->p + s;
		t->len = c->i - s;
		return;
	}
	c->i++;
	t->kind = T_PUNCT;
	t->ch = ch;
	t->p = c->p + s;
	t->len = 1;
}

static bool is_word(const struct tok *t, const char *w)
{
	return t->kind == T_WORD && strlen(w) == t->len && strncasecmp(t->p, w, t->len) == 0;
}

static bool at_end(const struct tok *t) { return t->kind == T_END || t->kind == T_SEMI; }

/* ---- CONNECTION_ID() ---- */

/* Words that may follow SELECT before its first item. */
static const char *const select_modifiers[] = {
	"ALL", "DISTINCT", "DISTINCTROW", "HIGH_PRIORITY", "STRAIGHT_JOIN", "SQL_SMALL_RESULT",
	"SQL_BIG_RESULT", "SQL_BUFFER_RESULT", "SQL_CACHE", "SQL_NO_CACHE", "SQL_CALC_FOUND_ROWS",
};

/* Reserved words that end a select list (so none of them can be an
 * alias). WINDOW is not one: MariaDB takes it as an alias. */
static const char *const select_list_ends[] = {
	"FROM", "INTO", "WHERE", "GROUP", "HAVING", "ORDER", "LIMIT", "OFFSET", "FETCH",
	"PROCEDURE", "FOR", "LOCK", "UNION", "EXCEPT", "INTERSECT",
};

static bool word_in(const struct tok *t, const char *const *words, size_t n)
{
	if (t->kind != T_WORD)
		return false;
	for (size_t i = 0; i < n; i++)
		if (is_word(t, words[i]))
			return true;
	return false;
}

static bool ends_select_list(const struct tok *t)
{
	return word_in(t, select_list_ends, sizeof(select_list_ends) / sizeof(select_list_ends[0]));
}

/* Depths past 63 are never taken as a select list: no alias there. */
static bool in_select_list(const struct cursor *c)
{
	return c->depth < 64 && ((c->select_list >> c->depth) & 1u);
}

static void set_select_list(struct cursor *c, bool on)
{
	if (c->depth >= 64)
		return;
	if (on)
		c->select_list |= (uint64_t)1 << c->depth;
	else
		c->select_list &= ~((uint64_t)1 << c->depth);
}

/* t names CONNECTION_ID: a call when "(" ")" follow (blanks and comments
 * allowed). Looks ahead without moving the cursor: the parentheses and
 * what follows are scanned as usual afterwards. */
static void note_call(struct cursor *c, const struct tok *t, bool item_start)
{
	size_t save = c->i;
	bool truncated = c->truncated;
	skip_space(c);
	if (c->i >= c->n || c->p[c->i] != '(')
		goto out;
	c->i++;
	skip_space(c);
	if (c->i >= c->n || c->p[c->i] != ')')
		goto out;
	c->i++;
	size_t end = c->i;
	bool alias = false;
	if (item_start && in_select_list(c)) {
		struct tok nx;
		lex(c, &nx);
		alias = at_end(&nx) || ends_select_list(&nx) ||
			(nx.kind == T_PUNCT && (nx.ch == ',' || (nx.ch == ')' && c->depth > 0)));
	}
	size_t off = (size_t)(t->p - c->p) - (t->kind == T_QIDENT ? 1 : 0);
	if (c->n_calls < c->max_calls)
		c->calls[c->n_calls] = (struct my_sql_call){ off, end - off, alias };
	c->n_calls++;
out:
	c->i = save;
	c->truncated = truncated;
}

/* Every token the scanner reads passes here (when tracking): parentheses,
 * select lists and the statement's kind, for the calls of
 * CONNECTION_ID(). */
static void track(struct cursor *c, const struct tok *t)
{
	bool item_start = c->item_start, after_dot = c->after_dot;
	c->item_start = c->after_dot = false;
	if (at_end(t)) {
		c->depth = 0;
		c->select_list = 0;
		c->stmt_start = true;
		c->ddl = false;
		return;
	}
	if (c->stmt_start) {
		/* A view's, routine's, trigger's or event's body runs later,
		 * for whoever uses it: the call must stay a call. */
		c->stmt_start = false;
		c->ddl = is_word(t, "CREATE") || is_word(t, "ALTER");
	}
	switch (t->kind) {
	case T_PUNCT:
		if (t->ch == '(') {
			c->depth++;
			set_select_list(c, false);
		} else if (t->ch == ')') {
			set_select_list(c, false);
			if (c->depth > 0)
				c->depth--;
		} else if (t->ch == ',') {
			c->item_start = in_select_list(c);
		} else if (t->ch == '.') {
			c->after_dot = true;
		}
		return;
	case T_QIDENT: /* `connection_id`() is the same function */
		if (t->len == 13 && strncasecmp(t->p, "CONNECTION_ID", 13) == 0 && !after_dot && !c->ddl)
			note_call(c, t, item_start);
		return;
	case T_WORD:
		if (is_word(t, "SELECT") || is_word(t, "RETURNING")) {
			set_select_list(c, true);
			c->item_start = true;
		} else if (item_start &&
			   word_in(t, select_modifiers, sizeof(select_modifiers) / sizeof(select_modifiers[0]))) {
			c->item_start = true;
		} else if (ends_select_list(t)) {
			set_select_list(c, false);
		} else if (is_word(t, "CONNECTION_ID") && !after_dot && !c->ddl) {
			note_call(c, t, item_start);
		}
		return;
	default:
		return;
	}
}

/* The scanner's tokens. */
static void next(struct cursor *c, struct tok *t)
{
	lex(c, t);
	if (c->track)
		track(c, t);
}

static void pin(struct my_sql_scan *out, const char *why)
{
	if (!(out->flags & MY_SQL_PIN))
		out->pin_reason = why;
	out->flags |= MY_SQL_PIN;
}

static void skip_statement(struct cursor *c, struct tok *t)
{
	while (!at_end(t))
		next(c, t);
}

static void add_set(struct my_sql_scan *out, const char *name, const char *v, size_t len)
{
	if (out->n_sets == MY_SQL_MAX_SETS) {
		pin(out, "SET of too many variables");
		return;
	}
	out->sets[out->n_sets++] = (struct my_sql_set){ name, v, len };
	out->flags |= MY_SQL_SET;
}

/* A value that can be set again as written: one literal token. */
static bool simple_value(const struct tok *t)
{
	return t->kind == T_STRING || t->kind == T_NUMBER || t->kind == T_WORD;
}

/* The end of token t as written: past a backquoted name's closing quote,
 * when the text has it (a text cut inside the name has none). */
static const char *tok_end(const struct cursor *c, const struct tok *t)
{
	const char *end = t->p + t->len;
	if (t->kind == T_QIDENT && end < c->p + c->n)
		end++;
	return end;
}

/* SET NAMES x [COLLATE y] | NAMES DEFAULT: the text after NAMES. */
static void scan_names(struct cursor *c, struct tok *t, struct my_sql_scan *out, const char *name)
{
	next(c, t);
	if (!(t->kind == T_WORD || t->kind == T_STRING || t->kind == T_QIDENT)) {
		pin(out, "SET NAMES");
		return;
	}
	const char *start = t->p - (t->kind == T_QIDENT ? 1 : 0);
	const char *end = tok_end(c, t);
	next(c, t);
	if (is_word(t, "COLLATE")) {
		next(c, t);
		if (!(t->kind == T_WORD || t->kind == T_STRING || t->kind == T_QIDENT)) {
			pin(out, "SET NAMES");
			return;
		}
		end = tok_end(c, t);
		next(c, t);
	}
	add_set(out, name, start, (size_t)(end - start));
}

static const char *isolation_value(struct cursor *c, struct tok *t)
{
	/* after ISOLATION LEVEL */
	next(c, t);
	if (is_word(t, "SERIALIZABLE"))
		return (next(c, t), "'SERIALIZABLE'");
	if (is_word(t, "REPEATABLE")) {
		next(c, t);
		return is_word(t, "READ") ? (next(c, t), "'REPEATABLE-READ'") : NULL;
	}
	if (is_word(t, "READ")) {
		next(c, t);
		if (is_word(t, "COMMITTED"))
			return (next(c, t), "'READ-COMMITTED'");
		if (is_word(t, "UNCOMMITTED"))
			return (next(c, t), "'READ-UNCOMMITTED'");
	}
	return NULL;
}

/* SET ...: tracked assignments, or a pin. *t is the token after SET. */
static void scan_set(struct cursor *c, struct tok *t, struct my_sql_scan *out)
{
	if (is_word(t, "PASSWORD") || is_word(t, "ROLE") || is_word(t, "DEFAULT")) {
		if (!is_word(t, "PASSWORD"))
			pin(out, "SET ROLE");
		skip_statement(c, t);
		return;
	}
	if (is_word(t, "STATEMENT")) { /* SET STATEMENT ... FOR stmt: no session state */
		skip_statement(c, t);
		return;
	}
	if (is_word(t, "TRANSACTION")) { /* the next transaction only: keep the server */
		pin(out, "SET TRANSACTION");
		skip_statement(c, t);
		return;
	}
	bool global = false;
	for (;;) {
		/* scope */
		if (is_word(t, "GLOBAL")) {
			global = true;
			next(c, t);
		} else if (is_word(t, "SESSION") || is_word(t, "LOCAL")) {
			global = false;
			next(c, t);
		}
		const char *name = NULL;
		size_t name_len = 0;
		bool this_global = global;
		if (t->kind == T_SYSVAR) {
			name = t->p + 2;
			name_len = t->len - 2;
			if (name_len > 7 && strncasecmp(name, "global.", 7) == 0) {
				this_global = true;
				name += 7, name_len -= 7;
			} else if (name_len > 8 && strncasecmp(name, "session.", 8) == 0) {
				this_global = false;
				name += 8, name_len -= 8;
			} else if (name_len > 6 && strncasecmp(name, "local.", 6) == 0) {
				this_global = false;
				name += 6, name_len -= 6;
			}
		} else if (t->kind == T_UVAR) {
			pin(out, "user variable");
			skip_statement(c, t);
			return;
		} else if (is_word(t, "NAMES")) {
			scan_names(c, t, out, "names");
			goto after_value;
		} else if (is_word(t, "CHARSET") || is_word(t, "CHARACTER")) {
			if (is_word(t, "CHARACTER")) {
				next(c, t);
				if (!is_word(t, "SET")) {
					pin(out, "SET CHARACTER");
					skip_statement(c, t);
					return;
				}
			}
			scan_names(c, t, out, "charset");
			goto after_value;
		} else if (is_word(t, "TRANSACTION")) {
			next(c, t);
			if (this_global) {
				skip_statement(c, t);
				return;
			}
			const char *v = NULL;
			if (is_word(t, "ISOLATION")) {
				next(c, t);
				if (is_word(t, "LEVEL"))
					v = isolation_value(c, t);
			}
			if (!v) {
				pin(out, "SET SESSION TRANSACTION");
				skip_statement(c, t);
				return;
			}
			add_set(out, "transaction_isolation", v, strlen(v));
			goto after_value;
		} else if (t->kind == T_WORD || t->kind == T_QIDENT) {
			name = t->p;
			name_len = t->len;
		} else {
			pin(out, "SET");
			skip_statement(c, t);
			return;
		}
		next(c, t);
		if (t->kind == T_PUNCT && t->ch == '.') { /* component.variable */
			pin(out, "SET");
			skip_statement(c, t);
			return;
		}
		if (t->kind == T_PUNCT && t->ch == ':')
			next(c, t);
		if (!(t->kind == T_PUNCT && t->ch == '=')) {
			pin(out, "SET");
			skip_statement(c, t);
			return;
		}
		next(c, t);
		{
			struct tok v = *t;
			bool neg = v.kind == T_PUNCT && (v.ch == '-' || v.ch == '+');
			if (neg) {
				next(c, t);
				if (t->kind != T_NUMBER) {
					pin(out, "SET");
					skip_statement(c, t);
					return;
				}
				v.kind = T_NUMBER;
				v.len = (size_t)(t->p + t->len - v.p);
			}
			next(c, t);
			bool list_end = at_end(t) || (t->kind == T_PUNCT && t->ch == ',');
			if (!this_global) {
				const char *canon = my_sql_tracked_var(name, name_len);
				if (!canon || !simple_value(&v) || !list_end) {
					pin(out, canon ? "SET with an expression" : "SET of a session variable");
					skip_statement(c, t);
					return;
				}
				add_set(out, canon, v.p, v.len);
			} else {
				/* GLOBAL: no session state; skip its value expression */
				while (!at_end(t) && !(t->kind == T_PUNCT && t->ch == ','))
					next(c, t);
			}
		}
	after_value:
		if (t->kind == T_PUNCT && t->ch == ',') {
			next(c, t);
			continue;
		}
		if (!at_end(t)) {
			pin(out, "SET");
			skip_statement(c, t);
		}
		return;
	}
}

static const char *const pin_functions[] = {
	"GET_LOCK", "FOUND_ROWS", "LAST_INSERT_ID", "ROW_COUNT",
};

/* At the '(' after LAST_INSERT_ID: is the argument list empty? */
static bool empty_call(struct cursor *c)
{
	size_t save = c->i;
	c->i++;
	skip_space(c);
	bool empty = c->i < c->n && c->p[c->i] == ')';
	c->i = save;
	return empty;
}

/* The rest of a statement: user variables and pinning functions. */
static void scan_rest(struct cursor *c, struct tok *t, struct my_sql_scan *out)
{
	while (!at_end(t)) {
		if (t->kind == T_UVAR) {
			pin(out, "user variable");
		} else if (is_word(t, "SQL_CALC_FOUND_ROWS")) {
			pin(out, "SQL_CALC_FOUND_ROWS");
		} else if (t->kind == T_WORD) {
			for (size_t i = 0; i < sizeof(pin_functions) / sizeof(pin_functions[0]); i++) {
				if (is_word(t, pin_functions[i])) {
					size_t save = c->i;
					skip_space(c);
					if (c->i < c->n && c->p[c->i] == '(') {
						/* LAST_INSERT_ID() reads the session's value, which
						 * the proxy knows (OK packets) and sets before the
						 * statement; LAST_INSERT_ID(expr) sets it: a pin. */
						if (strcmp(pin_functions[i], "LAST_INSERT_ID") == 0 && empty_call(c))
							out->flags |= MY_SQL_INSERT_ID;
						else
							pin(out, pin_functions[i]);
					}
					c->i = save;
				}
			}
		}
		next(c, t);
	}
}

/* my_sql_scan() into out, with the calls of CONNECTION_ID() into
 * calls[0 .. max); returns how many calls there are. */
static size_t scan(const char *sql, size_t len, struct my_sql_scan *out, struct my_sql_call *calls, size_t max)
{
	memset(out, 0, sizeof(*out));
	struct cursor c = {
		.p = sql,
		.n = len,
		.track = my_sql_mentions_connection_id(sql, len),
		.calls = calls,
		.max_calls = max,
		.stmt_start = true,
	};
	struct tok t;
	next(&c, &t);
	while (t.kind != T_END) {
		if (t.kind == T_SEMI) {
			next(&c, &t);
			continue;
		}
		out->statements++;
		if (is_word(&t, "USE")) {
			next(&c, &t);
			if (t.kind == T_WORD || t.kind == T_QIDENT) {
				out->flags |= MY_SQL_USE;
				out->use = t.p;
				out->use_len = t.len;
			}
			next(&c, &t);
		} else if (is_word(&t, "SET")) {
			next(&c, &t);
			scan_set(&c, &t, out);
		} else if (is_word(&t, "CREATE")) {
			next(&c, &t);
			if (is_word(&t, "OR")) {
				next(&c, &t);
				next(&c, &t); /* REPLACE */
			}
			if (is_word(&t, "TEMPORARY"))
				pin(out, "CREATE TEMPORARY TABLE");
		} else if (is_word(&t, "LOCK")) {
			pin(out, "LOCK TABLES");
		} else if (is_word(&t, "FLUSH")) {
			while (!at_end(&t)) {
				if (is_word(&t, "LOCK"))
					pin(out, "FLUSH ... WITH READ LOCK");
				next(&c, &t);
			}
		} else if (is_word(&t, "PREPARE") || is_word(&t, "EXECUTE") || is_word(&t, "DEALLOCATE")) {
			pin(out, "SQL prepared statement");
		} else if (is_word(&t, "HANDLER")) {
			pin(out, "HANDLER");
		} else if (is_word(&t, "KILL")) {
			out->flags |= MY_SQL_KILL;
		} else if (is_word(&t, "LOAD")) {
			next(&c, &t);
			if (is_word(&t, "DATA") || is_word(&t, "XML")) {
				next(&c, &t);
				if (is_word(&t, "LOW_PRIORITY") || is_word(&t, "CONCURRENT"))
					next(&c, &t);
				if (is_word(&t, "LOCAL"))
					out->flags |= MY_SQL_LOCAL_INFILE;
			}
		} else if (is_word(&t, "XA")) {
			pin(out, "XA transaction");
		}
		scan_rest(&c, &t, out);
	}
	if (c.truncated)
		out->flags |= MY_SQL_TRUNCATED;
	if (c.n_calls > 0)
		out->flags |= MY_SQL_CONNECTION_ID;
	return c.n_calls;
}

void my_sql_scan(const char *sql, size_t len, struct my_sql_scan *out)
{
	size_t n = scan(sql, len, out, out->calls, MY_SQL_MAX_CALLS);
	out->n_calls = n;
}

bool my_sql_mentions_connection_id(const char *sql, size_t len)
{
	/* The '_' by memchr, then "connection" before it and "id" after. */
	const char *end = sql + len;
	const char *p = len >= 13 ? memchr(sql + 10, '_', len - 10) : NULL;
	while (p) {
		if (end - p >= 3 && strncasecmp(p - 10, "connection", 10) == 0 && strncasecmp(p + 1, "id", 2) == 0)
			return true;
		p++;
		p = p < end ? memchr(p, '_', (size_t)(end - p)) : NULL;
	}
	return false;
}

size_t my_sql_connection_ids(const char *sql, size_t len, struct my_sql_call *calls, size_t max)
{
	if (!my_sql_mentions_connection_id(sql, len))
		return 0;
	struct my_sql_scan s;
	return scan(sql, len, &s, calls, max);
}

struct emitter {
	char *p;
	size_t cap, len;
};

static void emit(struct emitter *e, const char *s, size_t n)
{
	if (e->len < e->cap && n > 0) {
		size_t k = e->cap - e->len < n ? e->cap - e->len : n;
		memcpy(e->p + e->len, s, k);
	}
	e->len += n;
}

size_t my_sql_rewrite_connection_id(const char *sql, size_t len, const struct my_sql_call *calls, size_t n,
				    uint32_t id, char *out, size_t cap)
{
	struct emitter e = { out, cap, 0 };
	char num[10];
	size_t nl = 0;
	char rev[10];
	do {
		rev[nl++] = (char)('0' + id % 10);
		id /= 10;
	} while (id);
	for (size_t i = 0; i < nl; i++)
		num[i] = rev[nl - 1 - i];
	size_t at = 0;
	for (size_t k = 0; k < n; k++) {
		const struct my_sql_call *cl = &calls[k];
		if (cl->off < at || cl->off > len || cl->len > len - cl->off)
			continue; /* not from this text, or out of order */
		size_t end = cl->off + cl->len;
		emit(&e, sql + at, cl->off - at);
		/* "/_*!50000CONNECTION_ID()" must not become a version 500005,
		 * nor "/_*!CONNECTION_ID()" a version 429496 */
		if (cl->off > 0 && (ident_char((unsigned char)sql[cl->off - 1]) || sql[cl->off - 1] == '!'))
			emit(&e, " ", 1);
		emit(&e, num, nl);
		if (cl->alias) {
			emit(&e, " AS `", 5);
			for (size_t i = cl->off; i < end; i++) {
				emit(&e, sql + i, 1);
				if (sql[i] == '`')
					emit(&e, "`", 1);
			}
			emit(&e, "`", 1);
		} else if (end < len && (ident_char((unsigned char)sql[end]) || sql[end] == '.')) {
			emit(&e, " ", 1); /* CONNECTION_ID()x: x stays an alias */
		}
		at = end;
	}
	emit(&e, sql + at, len - at);
	return e.len;
}
