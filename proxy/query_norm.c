/*
 * query_norm.c — SQL text to its normalized shape and hash (see
 * query_norm.h for the rules). A small lexer yields tokens; the emitter
 * writes them with canonical spacing, literals as '?', and collapses
 * literal lists after IN / VALUES by looking ahead on a copy of the lexer
 * (each token is lexed at most twice).
 */
#include "proxy/query_norm.h"

#include <string.h>

uint64_t qn_fnv(uint64_t h, const void *p, size_t n)
{
	const unsigned char *b = p;
	for (size_t i = 0; i < n; i++) {
		h ^= b[i];
		h *= 0x100000001b3ULL;
	}
	return h;
}

enum tk { TK_END, TK_WORD, TK_QIDENT, TK_LIT, TK_PARAM, TK_PUNCT };

struct tok {
	enum tk kind;
	size_t start, len;
	bool space;                   /* whitespace or a comment before it */
};

struct lexer {
	const char *s;
	size_t n, i;
	enum qn_dialect d;
	enum tk prev;                 /* kind of the previous token */
	char prev_ch;                 /* the previous punctuation */
	size_t text_after;            /* a ';' before this is not trailing */
};

static bool is_digit(unsigned char c) { return c >= '0' && c <= '9'; }
static bool is_alpha(unsigned char c) { return (c | 0x20) >= 'a' && (c | 0x20) <= 'z'; }
static bool is_word_start(unsigned char c) { return is_alpha(c) || c == '_' || c >= 0x80; }
static bool is_word_char(unsigned char c) { return is_word_start(c) || is_digit(c) || c == '$'; }
static bool is_space(unsigned char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }

static unsigned char at(const struct lexer *l, size_t i) { return i < l->n ? (unsigned char)l->s[i] : 0; }

/* Skip whitespace and comments from *pi; true when anything was skipped. */
static bool skip_space(const struct lexer *l, size_t *pi)
{
	size_t i = *pi;
	for (;;) {
		unsigned char c = at(l, i);
		if (i >= l->n)
			break;
		if (is_space(c)) {
			i++;
		} else if ((c == '-' && at(l, i + 1) == '-') || (c == '#' && l->d == QN_MYSQL)) {
			while (i < l->n && l->s[i] != '\n')
				i++;
		} else if (c == '/' && at(l, i + 1) == '*') {
			int depth = 1;
			i += 2;
			while (i < l->n && depth > 0) {
				if (l->s[i] == '*' && at(l, i + 1) == '/') {
					depth--;
					i += 2;
				} else if (l->d == QN_PG && l->s[i] == '/' && at(l, i + 1) == '*') {
					depth++;
					i += 2;
				} else {
					i++;
				}
			}
		} else {
			break;
		}
	}
	bool moved = i != *pi;
	*pi = i;
	return moved;
}

/* A quoted run from l->i (at the opening quote q); backslash escapes when
 * `bs`; a doubled quote is the quote itself. Unterminated: to the end. */
static void skip_quoted(struct lexer *l, char q, bool bs)
{
	size_t i = l->i + 1;
	while (i < l->n) {
		char c = l->s[i];
		if (bs && c == '\\') {
			i += 2;
		} else if (c == q) {
			if (at(l, i + 1) == (unsigned char)q) {
				i += 2;
			} else {
				i++;
				break;
			}
		} else {
			i++;
		}
	}
	l->i = i < l->n ? i : l->n;
}

/* PostgreSQL $tag$…$tag$ at l->i; false when it is not one. */
static bool skip_dollar(struct lexer *l)
{
	size_t i = l->i + 1;
	while (i < l->n && (is_word_start((unsigned char)l->s[i]) || (i > l->i + 1 && is_digit((unsigned char)l->s[i]))))
		i++;
	if (at(l, i) != '$')
		return false;
	size_t tag = i + 1 - l->i; /* "$tag$" */
	const char *open = l->s + l->i;
	i++;
	while (i + tag <= l->n) {
		if (l->s[i] == '$' && memcmp(l->s + i, open, tag) == 0) {
			l->i = i + tag;
			return true;
		}
		i++;
	}
	l->i = l->n;
	return true;
}

static void skip_number(struct lexer *l)
{
	size_t i = l->i;
	if (l->s[i] == '-' || l->s[i] == '+')
		i++;
	bool hex = at(l, i) == '0' && (at(l, i + 1) | 0x20) == 'x';
	while (i < l->n) {
		unsigned char c = (unsigned char)l->s[i];
		if (c == '.' && at(l, i + 1) == '.')
			break; /* a range: 1..10 */
		if (!(is_digit(c) || is_alpha(c) || c == '_' || c == '.'))
			break;
		i++;
		if (!hex && (c | 0x20) == 'e' && (at(l, i) == '+' || at(l, i) == '-') && is_digit(at(l, i + 1)))
			i++;
	}
	l->i = i;
}

/* Is the word [start, start+len) one of the string prefixes? Sets *bs
 * when the string takes backslash escapes. */
static bool string_prefix(const struct lexer *l, size_t start, size_t len, bool *bs)
{
	char c = (char)(l->s[start] | 0x20);
	*bs = l->d == QN_MYSQL;
	if (l->d == QN_MYSQL && l->s[start] == '_')
		return true; /* _utf8mb4'…' */
	if (len != 1)
		return false;
	if (l->d == QN_PG && c == 'e') {
		*bs = true;
		return true;
	}
	return c == 'b' || c == 'x' || c == 'n';
}

static bool unary_context(const struct lexer *l)
{
	if (l->prev == TK_END)
		return true;
	return l->prev == TK_PUNCT && l->prev_ch != ')' && l->prev_ch != ']';
}

/* Only ';', whitespace and comments from i on? (Remembers where text
 * was found, so a run of ';' is scanned once.) */
static bool rest_is_empty(struct lexer *l, size_t i)
{
	if (i < l->text_after)
		return false;
	for (;;) {
		skip_space(l, &i);
		if (i >= l->n)
			return true;
		if (l->s[i] != ';') {
			l->text_after = i;
			return false;
		}
		i++;
	}
}

static struct tok lex(struct lexer *l)
{
	struct tok t = { .kind = TK_END };
	t.space = skip_space(l, &l->i);
	t.start = l->i;
	if (l->i >= l->n)
		return t;
	unsigned char c = (unsigned char)l->s[l->i];
	unsigned char c1 = at(l, l->i + 1);
	if (c == ';' && rest_is_empty(l, l->i + 1)) {
		l->i = l->n;
		t.start = l->i;
		return t;
	}
	if (is_digit(c) || (c == '.' && is_digit(c1)) ||
	    ((c == '-' || c == '+') && (is_digit(c1) || (c1 == '.' && is_digit(at(l, l->i + 2)))) && unary_context(l))) {
		skip_number(l);
		t.kind = TK_LIT;
	} else if (c == '\'') {
		skip_quoted(l, '\'', l->d == QN_MYSQL);
		t.kind = TK_LIT;
	} else if (c == '"') {
		skip_quoted(l, '"', l->d == QN_MYSQL);
		t.kind = l->d == QN_MYSQL ? TK_LIT : TK_QIDENT;
	} else if (c == '`' && l->d == QN_MYSQL) {
		skip_quoted(l, '`', false);
		t.kind = TK_QIDENT;
	} else if (c == '$' && l->d == QN_PG && is_digit(c1)) {
		l->i++;
		while (l->i < l->n && is_digit((unsigned char)l->s[l->i]))
			l->i++;
		t.kind = TK_PARAM;
	} else if (c == '$' && l->d == QN_PG && skip_dollar(l)) {
		t.kind = TK_LIT;
	} else if (c == '?' && l->d == QN_MYSQL) {
		l->i++;
		t.kind = TK_PARAM;
	} else if (l->d == QN_PG && (c | 0x20) == 'u' && c1 == '&' && at(l, l->i + 2) == '\'' &&
		   !(l->i > 0 && is_word_char((unsigned char)l->s[l->i - 1]))) {
		l->i += 2;
		skip_quoted(l, '\'', false);
		t.kind = TK_LIT;
	} else if (is_word_start(c)) {
		size_t st = l->i;
		while (l->i < l->n && is_word_char((unsigned char)l->s[l->i]))
			l->i++;
		bool bs;
		if (at(l, l->i) == '\'' && string_prefix(l, st, l->i - st, &bs)) {
			skip_quoted(l, '\'', bs);
			t.kind = TK_LIT;
		} else {
			t.kind = TK_WORD;
		}
	} else {
		l->i++;
		t.kind = TK_PUNCT;
		l->prev_ch = (char)c;
	}
	t.len = l->i - t.start;
	l->prev = t.kind;
	return t;
}

static bool punct_is(const struct lexer *l, const struct tok *t, char c)
{
	return t->kind == TK_PUNCT && l->s[t->start] == c;
}

/* After '(' (consumed from l): literals or parameters separated by ','
 * then ')'. Advances l past the ')' when true. */
static bool literal_list(struct lexer *l)
{
	struct lexer k = *l;
	for (;;) {
		struct tok t = lex(&k);
		if (t.kind != TK_LIT && t.kind != TK_PARAM)
			return false;
		t = lex(&k);
		if (punct_is(&k, &t, ')'))
			break;
		if (!punct_is(&k, &t, ','))
			return false;
	}
	*l = k;
	return true;
}

/* "(" literal_list */
static bool literal_group(struct lexer *l)
{
	struct lexer k = *l;
	struct tok t = lex(&k);
	if (!punct_is(&k, &t, '(') || !literal_list(&k))
		return false;
	*l = k;
	return true;
}

struct emitter {
	char *out;
	size_t cap, len;
	bool over;
	uint64_t h;
	char last;                    /* last byte emitted; 0 none */
};

static void put(struct emitter *e, const char *p, size_t n)
{
	if (n == 0)
		return;
	e->h = qn_fnv(e->h, p, n);
	e->last = p[n - 1];
	size_t room = e->cap - 1 - e->len;
	if (n > room) {
		e->over = true;
		n = room;
	}
	memcpy(e->out + e->len, p, n);
	e->len += n;
}

/* w is a literal: its length is known at compile time (sizeof - 1), so
 * that most words are turned away by their length alone. */
static bool word_is_n(const struct lexer *l, const struct tok *t, const char *w, size_t n)
{
	if (t->kind != TK_WORD || t->len != n)
		return false;
	for (size_t i = 0; i < n; i++)
		if ((l->s[t->start + i] | 0x20) != (w[i] | 0x20))
			return false;
	return true;
}

struct qn_result query_norm(enum qn_dialect d, const char *text, size_t len, char *out, size_t cap)
{
	struct qn_result r = { 0 };
	struct lexer l = { .s = text, .n = text ? len : 0, .d = d, .prev = TK_END };
	struct emitter e = { .out = out, .cap = cap, .h = QN_FNV_INIT };
	for (;;) {
		struct tok t = lex(&l);
		if (t.kind == TK_END)
			break;
		bool closing = t.kind == TK_PUNCT && (text[t.start] == ')' || text[t.start] == ',' || text[t.start] == ';');
		if (t.space && e.last && e.last != '(' && !closing)
			put(&e, " ", 1);
		if (t.kind == TK_LIT)
			put(&e, "?", 1);
		else
			put(&e, text + t.start, t.len);
		if (t.kind == TK_WORD && (word_is_n(&l, &t, "IN", 2) || word_is_n(&l, &t, "VALUES", 6)) && literal_group(&l)) {
			put(&e, " (?)", 4);
			/* further literal rows of VALUES: ", (…)" */
			while (word_is_n(&l, &t, "VALUES", 6)) {
				struct lexer k = l;
				struct tok c = lex(&k);
				if (!punct_is(&k, &c, ',') || !literal_group(&k))
					break;
				l = k;
			}
		}
	}
	if (e.over) {
		static const char ell[] = "\xe2\x80\xa6"; /* … */
		size_t cut = cap - 1 - 3;
		while (cut > 0 && ((unsigned char)out[cut] & 0xC0) == 0x80)
			cut--;
		memcpy(out + cut, ell, 3);
		e.len = cut + 3;
	}
	out[e.len] = '\0';
	r.len = e.len;
	r.truncated = e.over;
	r.hash = e.h ? e.h : 1;
	return r;
}
