/* fuzz-sources: proxy/pg/pgc.c util/buf.c */
/*
 * fuzz_pgc_backend.c — libFuzzer target for the PostgreSQL codec, server side.
 *
 * The input is what a server writes to the proxy after the startup
 * packet: typed messages only. Each is framed with pgc_frame_next() and
 * its body read with the pgc_reader as the proxy reads it
 * (Authentication, ParameterStatus, BackendKeyData, ReadyForQuery,
 * ErrorResponse/NoticeResponse, RowDescription, DataRow, CommandComplete
 * and the rest). The codec's contracts are checked with abort(); where a
 * builder exists, the message it builds from the parsed fields must equal
 * the bytes framed. Links the codec alone.
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

static void check_rebuilt(struct buf *b, const uint8_t *p, size_t total)
{
	check(!b->oom);
	check(b->len == total && memcmp(b->data, p, total) == 0);
	buf_reset(b);
}

/* An ErrorResponse field value: "" (a constant) or a string inside the body. */
static void check_field(const char *v, const struct pgc_msg *m)
{
	if (*v != '\0')
		check(inside(v, m->body, m->body_len) &&
		      (const uint8_t *)v + strlen(v) < m->body + m->body_len);
}

static void read_auth(struct pgc_reader *r, const uint8_t *p, size_t total, const struct pgc_msg *m,
		      struct buf *b)
{
	uint32_t code = pgc_read_u32(r);
	if (r->bad)
		return;
	size_t rest = pgc_reader_left(r);
	const uint8_t *data = pgc_read_bytes(r, rest);
	check(data == m->body + 4);
	pgc_put_auth(b, code, data, rest);
	check_rebuilt(b, p, total);

	struct pgc_reader d;
	pgc_reader_init(&d, data, rest);
	switch (code) {
	case PGC_AUTH_OK:
	case PGC_AUTH_CLEARTEXT:
		break;
	case PGC_AUTH_MD5:
		(void)pgc_read_bytes(&d, 4); /* salt */
		break;
	case PGC_AUTH_SASL: {
		/* Mechanism names, then an empty string. */
		const char *mech = NULL;
		size_t count = 0;
		for (;;) {
			const char *s = read_cstr_checked(&d);
			if (d.bad || *s == '\0')
				break;
			if (!mech)
				mech = s;
			count++;
		}
		if (!d.bad && count == 1 && pgc_reader_left(&d) == 0) {
			pgc_put_auth_sasl(b, mech);
			check_rebuilt(b, p, total);
		}
		break;
	}
	case PGC_AUTH_SASL_CONTINUE:
	case PGC_AUTH_SASL_FINAL:
		(void)pgc_read_bytes(&d, pgc_reader_left(&d));
		break;
	default:
		break;
	}
	check_reader(&d);
}

static void read_message(const uint8_t *p, size_t total, const struct pgc_msg *m, struct buf *b)
{
	struct pgc_reader r;
	pgc_reader_init(&r, m->body, m->body_len);

	switch (m->type) {
	case 'R':
		read_auth(&r, p, total, m, b);
		break;
	case 'S': {
		const char *k = read_cstr_checked(&r);
		const char *v = read_cstr_checked(&r);
		if (!r.bad && pgc_reader_left(&r) == 0) {
			pgc_put_param_status(b, k, v);
			check_rebuilt(b, p, total);
		}
		break;
	}
	case 'K': {
		uint32_t pid = pgc_read_u32(&r);
		uint32_t key = pgc_read_u32(&r);
		if (!r.bad && pgc_reader_left(&r) == 0) {
			pgc_put_backend_key(b, pid, key);
			check_rebuilt(b, p, total);
		}
		break;
	}
	case 'Z': {
		uint8_t st = pgc_read_u8(&r);
		if (!r.bad && pgc_reader_left(&r) == 0) {
			pgc_put_ready(b, (char)st);
			check_rebuilt(b, p, total);
		}
		break;
	}
	case 'E':
	case 'N': {
		struct pgc_error_fields f;
		int rc = pgc_parse_error(m->body, m->body_len, &f);
		check(rc == 0 || rc == -1);
		check(f.severity && f.code && f.message);
		check_field(f.severity, m);
		check_field(f.code, m);
		check_field(f.message, m);
		if (rc == 0 && m->type == 'E' && *f.severity) {
			/* Rebuilding from the three fields must parse back to them. */
			pgc_put_error(b, f.severity, f.code, f.message);
			struct pgc_msg m2;
			struct pgc_limits big = { .max_packet_size = b->len + 1 };
			ssize_t r2 = pgc_frame_next(b->data, b->len, &big, &m2);
			check(r2 == (ssize_t)b->len && m2.type == 'E');
			struct pgc_error_fields g;
			check(pgc_parse_error(m2.body, m2.body_len, &g) == 0);
			check(strcmp(g.severity, f.severity) == 0 && strcmp(g.code, f.code) == 0 &&
			      strcmp(g.message, f.message) == 0);
			buf_reset(b);
		}
		break;
	}
	case 'T': {
		uint16_t n = pgc_read_u16(&r);
		for (uint16_t i = 0; i < n && !r.bad; i++) {
			(void)read_cstr_checked(&r); /* name */
			(void)pgc_read_u32(&r);      /* table OID */
			(void)pgc_read_u16(&r);      /* column number */
			(void)pgc_read_u32(&r);      /* type OID */
			(void)pgc_read_u16(&r);      /* type size */
			(void)pgc_read_u32(&r);      /* type modifier */
			(void)pgc_read_u16(&r);      /* format */
		}
		break;
	}
	case 'D': {
		uint16_t n = pgc_read_u16(&r);
		for (uint16_t i = 0; i < n && !r.bad; i++) {
			int32_t len = (int32_t)pgc_read_u32(&r);
			if (len >= 0) {
				const uint8_t *v = pgc_read_bytes(&r, (size_t)len);
				check(r.bad ? v == NULL : v != NULL);
			}
		}
		break;
	}
	case 'V': { /* FunctionCallResponse */
		int32_t len = (int32_t)pgc_read_u32(&r);
		if (len >= 0)
			(void)pgc_read_bytes(&r, (size_t)len);
		break;
	}
	case 't': { /* ParameterDescription */
		uint16_t n = pgc_read_u16(&r);
		for (uint16_t i = 0; i < n && !r.bad; i++)
			(void)pgc_read_u32(&r);
		break;
	}
	case 'G': /* CopyInResponse */
	case 'H': /* CopyOutResponse */
	case 'W': { /* CopyBothResponse */
		(void)pgc_read_u8(&r);
		uint16_t n = pgc_read_u16(&r);
		for (uint16_t i = 0; i < n && !r.bad; i++)
			(void)pgc_read_u16(&r);
		break;
	}
	case 'A': /* NotificationResponse */
		(void)pgc_read_u32(&r);
		(void)read_cstr_checked(&r);
		(void)read_cstr_checked(&r);
		break;
	case 'v': { /* NegotiateProtocolVersion */
		(void)pgc_read_u32(&r);
		uint32_t n = pgc_read_u32(&r);
		for (uint32_t i = 0; i < n && !r.bad; i++)
			(void)read_cstr_checked(&r);
		break;
	}
	case 'C':
		(void)read_cstr_checked(&r);
		break;
	case 'd':
		check(pgc_read_bytes(&r, m->body_len) == m->body);
		break;
	default: /* '1' '2' '3' 'n' 'I' 's' 'c': no body */
		break;
	}
	check_reader(&r);
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

	for (;;) {
		struct pgc_msg m;
		ssize_t r = pgc_frame_next(data + pos, size - pos, &lim, &m);
		struct pgc_header h;
		ssize_t hr = pgc_parse_header(data + pos, size - pos, &lim, &h);
		if (r < 0) {
			check(hr == r && pgc_err_str(r)[0] != '\0');
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
	buf_free(&b);
	return 0;
}
