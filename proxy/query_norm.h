/*
 * query_norm.h — the normalized form of a SQL statement, for query
 * statistics: one entry per statement *shape*, whatever its literals.
 *
 * Pure: no allocation, no globals, no logging. The caller gives the text
 * (not necessarily NUL-terminated) and an output buffer; the output is
 * always NUL-terminated and at most cap - 1 bytes.
 *
 * What it does (both dialects unless said):
 *  - whitespace runs and comments (-- to end of line, C comments, nested
 *    in PostgreSQL; '#' to end of line in MySQL) become one space; none is
 *    kept at the start or end, after '(' or before ')', ',' and ';'; trailing
 *    ';' are dropped;
 *  - literals become '?': numbers (12, -3, 1.5e-3, 0x1F, .5; a sign is part
 *    of the number where it cannot be a binary operator), strings
 *    ('…' with '' escapes; PostgreSQL: E'…' with backslash escapes,
 *    B'…', X'…', N'…', U&'…', $tag$…$tag$; MySQL: backslash escapes in
 *    '…' and "…" strings, x'…', b'…', N'…', _charset'…');
 *  - a parenthesized list of literals and parameters after IN or VALUES
 *    becomes one placeholder "(?)", and so do the further rows of a
 *    VALUES list of literal rows: IN (1, 2, 3) -> IN (?),
 *    VALUES (1,'a'), (2,'b') -> VALUES (?);
 *  - identifiers, keywords, quoted identifiers ("x" in PostgreSQL, `x` in
 *    MySQL), parameters ($1, ?) and operators are kept as written (no
 *    case folding: "select" and "SELECT" are two shapes).
 * The hash covers the whole normalized text, also what is cut from the
 * output when it is longer than cap - 1 bytes (the output then ends in
 * "…", cut on a UTF-8 character boundary).
 */
#ifndef SWITCHYARD_QUERY_NORM_H
#define SWITCHYARD_QUERY_NORM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum qn_dialect { QN_PG, QN_MYSQL };

#define QN_MAX 512 /* output buffer the proxy uses (with its NUL) */

struct qn_result {
	size_t len;      /* bytes written to out, without the NUL */
	uint64_t hash;   /* FNV-1a 64 of the whole normalized text; never 0 */
	bool truncated;  /* out was cut (and ends in "…") */
};

/* Normalize text[0..len) into out (cap >= 8). */
struct qn_result query_norm(enum qn_dialect d, const char *text, size_t len, char *out, size_t cap);

/* FNV-1a 64: start with QN_FNV_INIT, feed bytes. */
#define QN_FNV_INIT 0xcbf29ce484222325ULL
uint64_t qn_fnv(uint64_t h, const void *p, size_t n);

#endif
