/* fuzz-sources: proxy/pg/pgc.c util/buf.c */
/*
 * fuzz_pgc_frontend.c — libFuzzer target for the PostgreSQL codec, client side.
 *
 * The input is what a client writes to the proxy: startup packets (an
 * SSLRequest or GSSENCRequest may come first, as psql's sslmode=prefer
 * sends), then typed messages. Each message body is read with the
 * pgc_reader the way the proxy reads it, and the codec's contracts are
 * checked with abort(): consumed counts within the input, slices inside
 * the message, reader offset never past the end, and builders producing
 * the same bytes the parser accepted. Links the codec alone.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proxy/pg/pgc.h"
#include "util/buf.h"

#define FUZZ_MAX_PACKET 8192u

static void check(int ok)
{
	if (!ok)
		abort();
}

static int inside(const void *s, const uint8_t *p, size_t n)
{
	const uint8_t *c = s;
	return c >= p && c < p + n;
}

static void check_reader(const struct pgc_reader *r)
{
	check(r->off <= r->n);
	check(pgc_reader_left(r) == r->n - r->off);
}

/* A NUL-terminated string from the reader: inside the body or the "" of a failure. */
static const char *read_cstr_checked(struct pgc_reader *r)
{
	const char *s = pgc_read_cstr(r);
	if (r->bad)
		check(*s == '\0');
	else
		check(inside(s, r->p, r->n) && (const uint8_t *)s + strlen(s) < r->p + r->off);
	check_reader(r);
	return s;
}

/* An int32 length followed by that many bytes; -1 is NULL. */
static void read_value(struct pgc_reader *r)
{
	int32_t len = (int32_t)pgc_read_u32(r);
	if (len >= 0) {
		const uint8_t *v = pgc_read_bytes(r, (size_t)len);
		check(r->bad ? v == NULL : v != NULL);
	}
	check_reader(r);
}

static void read_formats(struct pgc_reader *r)
{
	uint16_t n = pgc_read_u16(r);
	for (uint16_t i = 0; i < n && !r->bad; i++)
		(void)pgc_read_u16(r);
}

static void check_startup(const uint8_t *p, size_t n, const struct pgc_limits *lim, ssize_t r,
			  const struct pgc_startup *s)
{
	check((size_t)r <= n && r <= 10000 && r >= 8);
	if (s->kind != PGC_STARTUP_MESSAGE) {
		size_t off = 0;
		const char *k, *v;
		check(pgc_startup_param_next(s, &off, &k, &v) == 0);
		return;
	}
	check((s->protocol >> 16) == 3);
	check(s->params == p + 8 && s->params_len == (size_t)r - 8);
	check(s->params_len >= 1 && s->params[s->params_len - 1] == '\0');
	size_t off = 0, pairs = 0;
	const char *k, *v;
	while (pgc_startup_param_next(s, &off, &k, &v)) {
		check(inside(k, s->params, s->params_len) && inside(v, s->params, s->params_len));
		check(*k != '\0');
		check(off < s->params_len);
		check(pairs++ < s->params_len);
	}
	check(off == s->params_len - 1);

	/* Every strict prefix is "need more". */
	struct pgc_startup t;
	check(pgc_parse_startup(p, (size_t)r - 1, lim, &t) == 0);
}

/* Rebuild a message with a builder and compare with what was framed. */
static void check_rebuilt(struct buf *b, const uint8_t *p, size_t total)
{
	check(!b->oom);
	check(b->len == total && memcmp(b->data, p, total) == 0);
	buf_reset(b);
}

static void read_message(const uint8_t *p, size_t total, const struct pgc_msg *m, struct buf *b)
{
	struct pgc_reader r;
	pgc_reader_init(&r, m->body, m->body_len);

	switch (m->type) {
	case 'p': {
		/* PasswordMessage, SASLInitialResponse or SASLResponse: which one
		 * depends on the auth state, so read it all three ways. */
		const char *pw = read_cstr_checked(&r);
		if (!r.bad && pgc_reader_left(&r) == 0) {
			pgc_put_password(b, pw);
			check_rebuilt(b, p, total);
		}
		pgc_reader_init(&r, m->body, m->body_len);
		const char *mech = read_cstr_checked(&r);
		int32_t len = (int32_t)pgc_read_u32(&r);
		if (len >= 0) {
			const uint8_t *data = pgc_read_bytes(&r, (size_t)len);
			if (!r.bad && pgc_reader_left(&r) == 0) {
				pgc_put_sasl_initial(b, mech, (const char *)data, (size_t)len);
				check_rebuilt(b, p, total);
			}
		}
		check_reader(&r);
		pgc_reader_init(&r, m->body, m->body_len);
		const uint8_t *all = pgc_read_bytes(&r, m->body_len);
		check(all == m->body && pgc_reader_left(&r) == 0);
		pgc_put_sasl_response(b, (const char *)all, m->body_len);
		check_rebuilt(b, p, total);
		break;
	}
	case 'Q': {
		const char *sql = read_cstr_checked(&r);
		if (!r.bad && pgc_reader_left(&r) == 0) {
			pgc_put_query(b, sql);
			check_rebuilt(b, p, total);
		}
		break;
	}
	case 'P': {
		(void)read_cstr_checked(&r); /* statement name */
		(void)read_cstr_checked(&r); /* query */
		uint16_t n = pgc_read_u16(&r);
		for (uint16_t i = 0; i < n && !r.bad; i++)
			(void)pgc_read_u32(&r); /* parameter type OID */
		break;
	}
	case 'B': {
		(void)read_cstr_checked(&r); /* portal */
		(void)read_cstr_checked(&r); /* statement */
		read_formats(&r);
		uint16_t n = pgc_read_u16(&r);
		for (uint16_t i = 0; i < n && !r.bad; i++)
			read_value(&r);
		read_formats(&r); /* result formats */
		break;
	}
	case 'E':
		(void)read_cstr_checked(&r); /* portal */
		(void)pgc_read_u32(&r);      /* max rows */
		break;
	case 'D':
	case 'C':
		(void)pgc_read_u8(&r); /* 'S' statement or 'P' portal */
		(void)read_cstr_checked(&r);
		break;
	case 'F': {
		(void)pgc_read_u32(&r); /* function OID */
		read_formats(&r);
		uint16_t n = pgc_read_u16(&r);
		for (uint16_t i = 0; i < n && !r.bad; i++)
			read_value(&r);
		(void)pgc_read_u16(&r); /* result format */
		break;
	}
	case 'd': {
		const uint8_t *data = pgc_read_bytes(&r, m->body_len);
		check(data == m->body);
		break;
	}
	case 'f':
		(void)read_cstr_checked(&r);
		break;
	case 'X':
		if (m->body_len == 0) {
			pgc_put_terminate(b);
			check_rebuilt(b, p, total);
		}
		break;
	case 'c':
	case 'H':
	case 'S':
		break;
	default:
		break;
	}
	check_reader(&r);
	/* Reading past the end always fails and leaves the offset alone. */
	size_t off = r.off;
	(void)pgc_read_bytes(&r, pgc_reader_left(&r) + 1);
	check(r.bad && r.off == off);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct pgc_limits lim = { .max_packet_size = FUZZ_MAX_PACKET };
	struct buf b;

	if (size == 0)
		return 0;
	buf_init(&b);
	size_t pos = 0;

	/* Startup: up to two encryption requests (refused), then the packet. */
	for (int tries = 0;; tries++) {
		struct pgc_startup s;
		ssize_t r = pgc_parse_startup(data + pos, size - pos, &lim, &s);
		if (r <= 0) {
			check(r == 0 || pgc_err_str(r)[0] != '\0');
			goto out;
		}
		check_startup(data + pos, size - pos, &lim, r, &s);
		pos += (size_t)r;
		if (s.kind == PGC_STARTUP_CANCEL) {
			pgc_put_cancel(&b, s.cancel_pid, s.cancel_key);
			check_rebuilt(&b, data + pos - 16, 16);
			goto out;
		}
		if (s.kind == PGC_STARTUP_MESSAGE)
			break;
		if (s.kind == PGC_STARTUP_SSL_REQUEST) {
			pgc_put_ssl_request(&b);
			check_rebuilt(&b, data + pos - 8, 8);
		}
		if (tries == 2)
			goto out;
	}

	/* Regular messages until an error or an incomplete one. */
	for (;;) {
		struct pgc_msg m;
		ssize_t r = pgc_frame_next(data + pos, size - pos, &lim, &m);
		struct pgc_header h;
		ssize_t hr = pgc_parse_header(data + pos, size - pos, &lim, &h);
		if (r < 0) {
			check(hr == r);
			break;
		}
		if (r == 0) {
			check(hr == 0 || (hr == PGC_HEADER_LEN && (size_t)h.len + 1 > size - pos));
			break;
		}
		check(hr == PGC_HEADER_LEN && h.type == m.type && (size_t)h.len + 1 == (size_t)r);
		check((size_t)r <= size - pos && (size_t)r <= FUZZ_MAX_PACKET);
		check(m.body == data + pos + PGC_HEADER_LEN);
		check(m.body_len == (size_t)r - PGC_HEADER_LEN);
		read_message(data + pos, (size_t)r, &m, &b);
		pos += (size_t)r;
	}
out:
	buf_free(&b);
	return 0;
}
