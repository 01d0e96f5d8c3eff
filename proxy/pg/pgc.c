/*
 * pgc.c — PostgreSQL protocol 3.0 framing, body reading and building.
 * Pure: see pgc.h for the return convention and the trust boundary.
 */
#include "proxy/pg/pgc.h"

#include <string.h>

const char *pgc_err_str(ssize_t err)
{
	switch (err) {
	case PGC_ERR_LENGTH:
		return "invalid message length";
	case PGC_ERR_TOO_BIG:
		return "message exceeds max_packet_size";
	case PGC_ERR_FORMAT:
		return "malformed message";
	case PGC_ERR_PROTOCOL:
		return "unsupported frontend protocol";
	default:
		return "protocol error";
	}
}

/* The startup packet: int32 length (self-inclusive), int32 code, body.
 * PostgreSQL caps it at 10000 bytes (MAX_STARTUP_PACKET_LENGTH); so do we,
 * whatever max_packet_size says, as nothing legitimate is larger. */
#define PGC_MAX_STARTUP 10000u

ssize_t pgc_parse_startup(const uint8_t *p, size_t n, const struct pgc_limits *lim,
			  struct pgc_startup *out)
{
	(void)lim;
	if (n < 4)
		return 0;
	uint32_t len = get_u32be(p);
	if (len < 8)
		return PGC_ERR_LENGTH;
	if (len > PGC_MAX_STARTUP)
		return PGC_ERR_TOO_BIG;
	if (n < len)
		return 0;
	uint32_t code = get_u32be(p + 4);
	memset(out, 0, sizeof(*out));
	switch (code) {
	case PGC_SSL_REQUEST_CODE:
		if (len != 8)
			return PGC_ERR_FORMAT;
		out->kind = PGC_STARTUP_SSL_REQUEST;
		return 8;
	case PGC_GSSENC_REQUEST_CODE:
		if (len != 8)
			return PGC_ERR_FORMAT;
		out->kind = PGC_STARTUP_GSSENC_REQUEST;
		return 8;
	case PGC_CANCEL_REQUEST_CODE:
		if (len != 16)
			return PGC_ERR_FORMAT;
		out->kind = PGC_STARTUP_CANCEL;
		out->cancel_pid = get_u32be(p + 8);
		out->cancel_key = get_u32be(p + 12);
		return 16;
	default:
		break;
	}
	if ((code >> 16) != 3)
		return PGC_ERR_PROTOCOL;
	out->kind = PGC_STARTUP_MESSAGE;
	out->protocol = code;
	out->params = p + 8;
	out->params_len = len - 8;

	/* Pairs of NUL-terminated strings, then one more NUL. */
	const uint8_t *q = out->params;
	size_t left = out->params_len;
	if (left == 0 || q[left - 1] != '\0')
		return PGC_ERR_FORMAT;
	size_t i = 0;
	int strings = 0;
	while (i < left - 1) {
		const uint8_t *z = memchr(q + i, '\0', left - 1 - i);
		if (!z)
			return PGC_ERR_FORMAT;
		size_t slen = (size_t)(z - (q + i));
		if (slen == 0 && strings % 2 == 0)
			return PGC_ERR_FORMAT; /* empty key */
		i += slen + 1;
		strings++;
	}
	if (strings % 2 != 0)
		return PGC_ERR_FORMAT;
	return (ssize_t)len;
}

int pgc_startup_param_next(const struct pgc_startup *s, size_t *off, const char **key,
			   const char **val)
{
	if (s->kind != PGC_STARTUP_MESSAGE || *off + 1 >= s->params_len)
		return 0;
	const char *k = (const char *)s->params + *off;
	size_t kl = strlen(k);
	const char *v = k + kl + 1;
	size_t vl = strlen(v);
	*off += kl + 1 + vl + 1;
	*key = k;
	*val = v;
	return 1;
}

ssize_t pgc_parse_header(const uint8_t *p, size_t n, const struct pgc_limits *lim,
			 struct pgc_header *out)
{
	if (n < PGC_HEADER_LEN)
		return 0;
	uint32_t len = get_u32be(p + 1);
	if (len < 4)
		return PGC_ERR_LENGTH;
	if ((size_t)len + 1 > lim->max_packet_size)
		return PGC_ERR_TOO_BIG;
	out->type = p[0];
	out->len = len;
	return PGC_HEADER_LEN;
}

ssize_t pgc_frame_next(const uint8_t *p, size_t n, const struct pgc_limits *lim,
		       struct pgc_msg *out)
{
	struct pgc_header h;
	ssize_t r = pgc_parse_header(p, n, lim, &h);
	if (r <= 0)
		return r;
	size_t total = (size_t)h.len + 1;
	if (n < total)
		return 0;
	out->type = h.type;
	out->body = p + PGC_HEADER_LEN;
	out->body_len = total - PGC_HEADER_LEN;
	return (ssize_t)total;
}

void pgc_reader_init(struct pgc_reader *r, const uint8_t *p, size_t n)
{
	r->p = p ? p : (const uint8_t *)""; /* no NULL + 0 arithmetic on empty bodies */
	r->n = n;
	r->off = 0;
	r->bad = false;
}

size_t pgc_reader_left(const struct pgc_reader *r) { return r->n - r->off; }

const uint8_t *pgc_read_bytes(struct pgc_reader *r, size_t len)
{
	if (r->bad || len > r->n - r->off) {
		r->bad = true;
		return NULL;
	}
	const uint8_t *s = r->p + r->off;
	r->off += len;
	return s;
}

uint8_t pgc_read_u8(struct pgc_reader *r)
{
	const uint8_t *s = pgc_read_bytes(r, 1);
	return s ? s[0] : 0;
}

uint16_t pgc_read_u16(struct pgc_reader *r)
{
	const uint8_t *s = pgc_read_bytes(r, 2);
	return s ? get_u16be(s) : 0;
}

uint32_t pgc_read_u32(struct pgc_reader *r)
{
	const uint8_t *s = pgc_read_bytes(r, 4);
	return s ? get_u32be(s) : 0;
}

const char *pgc_read_cstr(struct pgc_reader *r)
{
	if (r->bad)
		return "";
	const uint8_t *z = memchr(r->p + r->off, '\0', r->n - r->off);
	if (!z) {
		r->bad = true;
		return "";
	}
	const char *s = (const char *)(r->p + r->off);
	r->off = (size_t)(z - r->p) + 1;
	return s;
}

bool pgc_parse_param_status(const uint8_t *body, size_t len, const char **key, const char **value)
{
	struct pgc_reader rd;
	pgc_reader_init(&rd, body, len);
	*key = pgc_read_cstr(&rd);
	*value = pgc_read_cstr(&rd);
	return !rd.bad;
}

int pgc_parse_error(const uint8_t *body, size_t len, struct pgc_error_fields *out)
{
	struct pgc_reader r;
	pgc_reader_init(&r, body, len);
	out->severity = out->code = out->message = "";
	const char *localized = NULL;
	for (;;) {
		uint8_t f = pgc_read_u8(&r);
		if (r.bad)
			return -1;
		if (f == 0)
			break;
		const char *v = pgc_read_cstr(&r);
		if (r.bad)
			return -1;
		switch (f) {
		case 'S':
			localized = v;
			break;
		case 'V':
			out->severity = v;
			break;
		case 'C':
			out->code = v;
			break;
		case 'M':
			out->message = v;
			break;
		default:
			break;
		}
	}
	if (!*out->severity && localized)
		out->severity = localized;
	return 0;
}

size_t pgc_begin(struct buf *b, uint8_t type)
{
	if (type)
		buf_put_u8(b, type);
	size_t start = b->len;
	buf_put_u32be(b, 0);
	return start;
}

void pgc_end(struct buf *b, size_t start)
{
	buf_patch_u32be(b, start, (uint32_t)(b->len - start));
}

void pgc_put_error(struct buf *b, const char *severity, const char *code, const char *msg)
{
	size_t s = pgc_begin(b, 'E');
	buf_put_u8(b, 'S');
	buf_put_cstr(b, severity);
	buf_put_u8(b, 'V');
	buf_put_cstr(b, severity);
	buf_put_u8(b, 'C');
	buf_put_cstr(b, code);
	buf_put_u8(b, 'M');
	buf_put_cstr(b, msg);
	buf_put_u8(b, 0);
	pgc_end(b, s);
}

void pgc_put_auth(struct buf *b, uint32_t code, const uint8_t *data, size_t len)
{
	size_t s = pgc_begin(b, 'R');
	buf_put_u32be(b, code);
	buf_put(b, data, len);
	pgc_end(b, s);
}

void pgc_put_auth_sasl(struct buf *b, const char *mechanism)
{
	size_t s = pgc_begin(b, 'R');
	buf_put_u32be(b, PGC_AUTH_SASL);
	buf_put_cstr(b, mechanism);
	buf_put_u8(b, 0);
	pgc_end(b, s);
}

void pgc_put_param_status(struct buf *b, const char *key, const char *val)
{
	size_t s = pgc_begin(b, 'S');
	buf_put_cstr(b, key);
	buf_put_cstr(b, val);
	pgc_end(b, s);
}

void pgc_put_backend_key(struct buf *b, uint32_t pid, uint32_t key)
{
	size_t s = pgc_begin(b, 'K');
	buf_put_u32be(b, pid);
	buf_put_u32be(b, key);
	pgc_end(b, s);
}

void pgc_put_ready(struct buf *b, char status)
{
	size_t s = pgc_begin(b, 'Z');
	buf_put_u8(b, (uint8_t)status);
	pgc_end(b, s);
}

void pgc_put_query(struct buf *b, const char *sql)
{
	size_t s = pgc_begin(b, 'Q');
	buf_put_cstr(b, sql);
	pgc_end(b, s);
}

void pgc_put_terminate(struct buf *b)
{
	size_t s = pgc_begin(b, 'X');
	pgc_end(b, s);
}

void pgc_put_password(struct buf *b, const char *password)
{
	size_t s = pgc_begin(b, 'p');
	buf_put_cstr(b, password);
	pgc_end(b, s);
}

void pgc_put_sasl_initial(struct buf *b, const char *mechanism, const char *data, size_t len)
{
	size_t s = pgc_begin(b, 'p');
	buf_put_cstr(b, mechanism);
	buf_put_u32be(b, (uint32_t)len);
	buf_put(b, data, len);
	pgc_end(b, s);
}

void pgc_put_sasl_response(struct buf *b, const char *data, size_t len)
{
	size_t s = pgc_begin(b, 'p');
	buf_put(b, data, len);
	pgc_end(b, s);
}

void pgc_put_ssl_request(struct buf *b)
{
	size_t s = pgc_begin(b, 0);
	buf_put_u32be(b, PGC_SSL_REQUEST_CODE);
	pgc_end(b, s);
}

void pgc_put_cancel(struct buf *b, uint32_t pid, uint32_t key)
{
	size_t s = pgc_begin(b, 0);
	buf_put_u32be(b, PGC_CANCEL_REQUEST_CODE);
	buf_put_u32be(b, pid);
	buf_put_u32be(b, key);
	pgc_end(b, s);
}

void pgc_put_parse(struct buf *b, const char *stmt, const char *query)
{
	size_t s = pgc_begin(b, 'P');
	buf_put_cstr(b, stmt);
	buf_put_cstr(b, query);
	buf_put_u16be(b, 0);
	pgc_end(b, s);
}

void pgc_put_bind_text(struct buf *b, const char *portal, const char *stmt, int nparams,
		       const char *const *values)
{
	size_t s = pgc_begin(b, 'B');
	buf_put_cstr(b, portal);
	buf_put_cstr(b, stmt);
	buf_put_u16be(b, 0);               /* all parameters in text format */
	buf_put_u16be(b, (uint16_t)nparams);
	for (int i = 0; i < nparams; i++) {
		if (!values[i]) {
			buf_put_u32be(b, 0xffffffffu);
			continue;
		}
		size_t len = strlen(values[i]);
		buf_put_u32be(b, (uint32_t)len);
		buf_put(b, values[i], len);
	}
	buf_put_u16be(b, 0);               /* all results in text format */
	pgc_end(b, s);
}

void pgc_put_execute(struct buf *b, const char *portal, uint32_t max_rows)
{
	size_t s = pgc_begin(b, 'E');
	buf_put_cstr(b, portal);
	buf_put_u32be(b, max_rows);
	pgc_end(b, s);
}

void pgc_put_sync(struct buf *b)
{
	size_t s = pgc_begin(b, 'S');
	pgc_end(b, s);
}
