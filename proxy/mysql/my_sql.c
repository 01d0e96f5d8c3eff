/*
 * my_sql.c — statement scan for MySQL pooling decisions; see my_sql.h.
 */
#include "proxy/mysql/my_sql.h"

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

static void next(struct cursor *c, struct tok *t)
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

/* SET NAMES x [COLLATE y] | NAMES DEFAULT: the text after NAMES. */
static void scan_names(struct cursor *c, struct tok *t, struct my_sql_scan *out, const char *name)
{
	next(c, t);
	if (!(t->kind == T_WORD || t->kind == T_STRING || t->kind == T_QIDENT)) {
		pin(out, "SET NAMES");
		return;
	}
	const char *start = t->p - (t->kind == T_QIDENT ? 1 : 0);
	const char *end = t->p + t->len + (t->kind == T_QIDENT ? 1 : 0);
	next(c, t);
	if (is_word(t, "COLLATE")) {
		next(c, t);
		if (!(t->kind == T_WORD || t->kind == T_STRING || t->kind == T_QIDENT)) {
			pin(out, "SET NAMES");
			return;
		}
		end = t->p + t->len + (t->kind == T_QIDENT ? 1 : 0);
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
					if (c->i < c->n && c->p[c->i] == '(')
						pin(out, pin_functions[i]);
					c->i = save;
				}
			}
		}
		next(c, t);
	}
}

void my_sql_scan(const char *sql, size_t len, struct my_sql_scan *out)
{
	memset(out, 0, sizeof(*out));
	struct cursor c = { sql, len, 0, false };
	struct tok t;
	next(&c, &t);
	while (t.kind != T_END) {
		if (t.kind == T_SEMI) {
			next(&c, &t);
			continue;
		}
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
}
