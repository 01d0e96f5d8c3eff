/*
 * pg_sql.c — statement scan for pooling decisions; see pg_sql.h.
 */
#include "proxy/pg/pg_sql.h"

#include <ctype.h>
#include <string.h>
#include <strings.h>

struct cursor {
	const char *p;
	size_t n, i;
	bool truncated;
};

static const struct {
	const char *name;
	size_t len;
} tracked_params[] = {
	{ "application_name", 16 }, { "client_encoding", 15 }, { "datestyle", 9 },
	{ "intervalstyle", 13 },   { "timezone", 8 },         { "standard_conforming_strings", 27 },
};

bool pg_sql_is_tracked_param(const char *name, size_t len)
{
	/* On the path of every attach: compare lengths first. */
	for (size_t i = 0; i < sizeof(tracked_params) / sizeof(tracked_params[0]); i++)
		if (tracked_params[i].len == len && strncasecmp(tracked_params[i].name, name, len) == 0)
			return true;
	return false;
}

/* Skip blanks and comments (nested block comments, as PostgreSQL). */
static void skip_space(struct cursor *c)
{
	while (c->i < c->n) {
		char ch = c->p[c->i];
		if (isspace((unsigned char)ch)) {
			c->i++;
		} else if (ch == '-' && c->i + 1 < c->n && c->p[c->i + 1] == '-') {
			while (c->i < c->n && c->p[c->i] != '\n')
				c->i++;
		} else if (ch == '/' && c->i + 1 < c->n && c->p[c->i + 1] == '*') {
			int depth = 0;
			while (c->i < c->n) {
				if (c->p[c->i] == '/' && c->i + 1 < c->n && c->p[c->i + 1] == '*') {
					depth++;
					c->i += 2;
				} else if (c->p[c->i] == '*' && c->i + 1 < c->n && c->p[c->i + 1] == '/') {
					depth--;
					c->i += 2;
					if (depth == 0)
						break;
				} else {
					c->i++;
				}
			}
			if (depth > 0)
				c->truncated = true;
		} else {
			break;
		}
	}
}

/* The next identifier-like word; returns its length (0: none). Quoted
 * identifiers are returned without their quotes. */
static size_t next_word(struct cursor *c, const char **w)
{
	skip_space(c);
	if (c->i >= c->n)
		return 0;
	if (c->p[c->i] == '"') {
		size_t s = ++c->i;
		while (c->i < c->n && c->p[c->i] != '"')
			c->i++;
		*w = c->p + s;
		size_t len = c->i - s;
		if (c->i < c->n)
			c->i++;
		return len;
	}
	size_t s = c->i;
	while (c->i < c->n && (isalnum((unsigned char)c->p[c->i]) || c->p[c->i] == '_' ||
			       c->p[c->i] == '.'))
		c->i++;
	*w = c->p + s;
	return c->i - s;
}

static bool word_is(const char *w, size_t len, const char *kw)
{
	return strlen(kw) == len && strncasecmp(w, kw, len) == 0;
}

static bool is_ident_char(char ch) { return isalnum((unsigned char)ch) || ch == '_' || ch == '$'; }

/* Does the keyword `kw` stand at position i, as a whole word? */
static bool keyword_at(const struct cursor *c, size_t i, const char *kw)
{
	size_t kl = strlen(kw);
	if (c->n - i < kl || strncasecmp(c->p + i, kw, kl) != 0)
		return false;
	if (i > 0 && is_ident_char(c->p[i - 1]))
		return false;
	return i + kl == c->n || !is_ident_char(c->p[i + kl]);
}

/* After INTO at position i: is it INTO TEMP/TEMPORARY (a temp table)? */
static bool into_temp(struct cursor *c, size_t i)
{
	struct cursor t = *c;
	t.i = i + 4;
	const char *w;
	size_t len = next_word(&t, &w);
	return word_is(w, len, "temp") || word_is(w, len, "temporary");
}

static void scan_one(struct cursor *c, struct pg_sql_scan *out);

/* Move past the end of the current statement (the next ';' outside
 * quotes), noting on the way what pins wherever it appears: session
 * advisory locks, set_config(), SELECT … INTO TEMP. */
static void skip_statement(struct cursor *c, struct pg_sql_scan *out)
{
	while (c->i < c->n) {
		char ch = c->p[c->i];
		if (ch == ';') {
			c->i++;
			return;
		}
		if ((ch == 'e' || ch == 'E') && c->i + 1 < c->n && c->p[c->i + 1] == '\'' &&
		    (c->i == 0 || !is_ident_char(c->p[c->i - 1]))) {
			/* E'...': backslash escapes, so \' does not end it. */
			c->i += 2;
			while (c->i < c->n && c->p[c->i] != '\'') {
				if (c->p[c->i] == '\\')
					c->i++;
				else if (c->p[c->i] == '\'' && c->i + 1 < c->n && c->p[c->i + 1] == '\'')
					c->i++;
				c->i++;
			}
			if (c->i >= c->n) {
				c->truncated = true;
				return;
			}
			c->i++;
			continue;
		}
		if ((ch == 's' || ch == 'S') && keyword_at(c, c->i, "set_config")) {
			/* Session or transaction scope is an argument; assume session. */
			out->flags |= PG_SQL_PIN;
			out->pin_reason = "set_config()";
		} else if ((ch == 'i' || ch == 'I') && keyword_at(c, c->i, "into") && into_temp(c, c->i)) {
			out->flags |= PG_SQL_PIN;
			out->pin_reason = "temporary table";
		}
		if (ch == '\'' || ch == '"') {
			char q = ch;
			c->i++;
			while (c->i < c->n) {
				if (c->p[c->i] == q) {
					if (c->i + 1 < c->n && c->p[c->i + 1] == q) {
						c->i += 2;
						continue;
					}
					break;
				}
				c->i++;
			}
			if (c->i >= c->n) {
				c->truncated = true;
				return;
			}
			c->i++;
			continue;
		}
		if (ch == '$' && (c->i == 0 || !is_ident_char(c->p[c->i - 1]))) {
			/* $tag$ ... $tag$ (a '$' inside an identifier is not one) */
			size_t s = c->i + 1;
			while (s < c->n && (isalnum((unsigned char)c->p[s]) || c->p[s] == '_'))
				s++;
			if (s < c->n && c->p[s] == '$') {
				size_t taglen = s - c->i + 1;
				const char *tag = c->p + c->i;
				size_t j = s + 1;
				while (j + taglen <= c->n && memcmp(c->p + j, tag, taglen) != 0)
					j++;
				if (j + taglen > c->n) {
					c->truncated = true;
					c->i = c->n;
					return;
				}
				c->i = j + taglen;
				continue;
			}
			c->i++;
			continue;
		}
		if ((ch == '-' && c->i + 1 < c->n && c->p[c->i + 1] == '-') ||
		    (ch == '/' && c->i + 1 < c->n && c->p[c->i + 1] == '*')) {
			skip_space(c);
			continue;
		}
		if ((ch == 'p' || ch == 'P') && c->n - c->i >= 17 &&
		    strncasecmp(c->p + c->i, "pg_advisory_lock", 16) == 0) {
			out->flags |= PG_SQL_PIN;
			out->pin_reason = "session advisory lock";
		} else if ((ch == 'p' || ch == 'P') && c->n - c->i >= 21 &&
			   strncasecmp(c->p + c->i, "pg_try_advisory_lock", 20) == 0) {
			out->flags |= PG_SQL_PIN;
			out->pin_reason = "session advisory lock";
		}
		c->i++;
	}
}

static void pin(struct pg_sql_scan *out, const char *why)
{
	out->flags |= PG_SQL_PIN;
	out->pin_reason = why;
}

/* SET / RESET: tracked parameters are fine, anything else pins. */
static void scan_set(struct cursor *c, struct pg_sql_scan *out, bool reset)
{
	const char *w;
	size_t len = next_word(c, &w);
	if (!reset && word_is(w, len, "local"))
		return; /* lasts until the end of the transaction */
	if (!reset && (word_is(w, len, "transaction") || word_is(w, len, "constraints")))
		return;
	if (!reset && word_is(w, len, "session")) {
		len = next_word(c, &w);
		if (word_is(w, len, "characteristics") || word_is(w, len, "authorization")) {
			pin(out, "SET SESSION");
			return;
		}
	}
	if (reset && word_is(w, len, "all")) {
		pin(out, "RESET ALL");
		return;
	}
	if (len == 0)
		return;
	if (word_is(w, len, "time")) { /* SET TIME ZONE */
		const char *z;
		size_t zl = next_word(c, &z);
		if (word_is(z, zl, "zone"))
			return;
	}
	if (word_is(w, len, "names")) /* SET NAMES = client_encoding */
		return;
	if (word_is(w, len, "role")) {
		pin(out, "SET ROLE");
		return;
	}
	if (!pg_sql_is_tracked_param(w, len))
		pin(out, reset ? "RESET of an untracked parameter" : "SET of an untracked parameter");
}

static void scan_one(struct cursor *c, struct pg_sql_scan *out)
{
	const char *w;
	size_t len = next_word(c, &w);
	if (len == 0)
		return;
	if (word_is(w, len, "set")) {
		scan_set(c, out, false);
	} else if (word_is(w, len, "reset")) {
		scan_set(c, out, true);
	} else if (word_is(w, len, "listen")) {
		pin(out, "LISTEN");
	} else if (word_is(w, len, "prepare")) {
		const char *t;
		size_t tl = next_word(c, &t);
		if (!word_is(t, tl, "transaction")) /* PREPARE TRANSACTION is 2PC */
			pin(out, "PREPARE");
	} else if (word_is(w, len, "load")) {
		pin(out, "LOAD");
	} else if (word_is(w, len, "create")) {
		for (int k = 0; k < 3; k++) {
			const char *t;
			size_t tl = next_word(c, &t);
			if (word_is(t, tl, "temp") || word_is(t, tl, "temporary")) {
				pin(out, "temporary table");
				break;
			}
			if (!word_is(t, tl, "global") && !word_is(t, tl, "local") &&
			    !word_is(t, tl, "or") && !word_is(t, tl, "replace"))
				break;
		}
	} else if (word_is(w, len, "declare")) {
		/* DECLARE name ... WITH HOLD: look for HOLD before FOR. */
		size_t save = c->i;
		bool without = false;
		for (int k = 0; k < 12; k++) {
			const char *t;
			size_t tl = next_word(c, &t);
			if (tl == 0 || word_is(t, tl, "for"))
				break;
			if (word_is(t, tl, "without"))
				without = true;
			if (word_is(t, tl, "hold")) {
				if (!without)
					pin(out, "cursor WITH HOLD");
				break;
			}
		}
		c->i = save;
	} else if (word_is(w, len, "discard")) {
		const char *t;
		size_t tl = next_word(c, &t);
		if (word_is(t, tl, "all"))
			out->flags |= PG_SQL_DISCARD_ALL;
	} else if (word_is(w, len, "deallocate")) {
		const char *t;
		size_t tl = next_word(c, &t);
		if (word_is(t, tl, "prepare"))
			tl = next_word(c, &t);
		if (word_is(t, tl, "all"))
			out->flags |= PG_SQL_DEALLOCATE_ALL;
	} else if (word_is(w, len, "explain")) {
		/* EXPLAIN [ANALYZE] [VERBOSE] [(options)] statement: look at the
		 * statement (ANALYZE runs it). */
		for (int k = 0; k < 4; k++) {
			skip_space(c);
			if (c->i < c->n && c->p[c->i] == '(') {
				while (c->i < c->n && c->p[c->i] != ')')
					c->i++;
				if (c->i < c->n)
					c->i++;
				continue;
			}
			size_t save = c->i;
			const char *t;
			size_t tl = next_word(c, &t);
			if (!word_is(t, tl, "analyze") && !word_is(t, tl, "analyse") &&
			    !word_is(t, tl, "verbose")) {
				c->i = save;
				break;
			}
		}
		scan_one(c, out);
	} else if (word_is(w, len, "begin")) {
		out->flags |= PG_SQL_BEGIN;
	} else if (word_is(w, len, "start")) {
		const char *t;
		size_t tl = next_word(c, &t);
		if (word_is(t, tl, "transaction"))
			out->flags |= PG_SQL_BEGIN;
	}
}

void pg_sql_scan(const char *sql, size_t len, struct pg_sql_scan *out)
{
	struct cursor c = { .p = sql, .n = len, .i = 0, .truncated = false };
	out->flags = 0;
	out->pin_reason = NULL;
	out->statements = 0;
	while (c.i < c.n) {
		size_t before = c.i;
		skip_space(&c);
		if (c.i < c.n && c.p[c.i] != ';')
			out->statements++;
		scan_one(&c, out);
		skip_statement(&c, out);
		if (c.i == before)
			c.i++; /* always progress */
	}
	if (c.truncated)
		out->flags |= PG_SQL_TRUNCATED;
}
