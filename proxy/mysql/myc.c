/*
 * myc.c — MySQL/MariaDB framing, payload parsing and building.
 * Pure: see myc.h for the return conventions and the trust boundary.
 */
#include "proxy/mysql/myc.h"

#include <string.h>

#include "proxy/mysql/myle.h"

const char *myc_err_str(int err)
{
	switch (err) {
	case MYC_ERR_LENGTH:
		return "truncated packet";
	case MYC_ERR_TOO_BIG:
		return "packet exceeds max_packet_size";
	case MYC_ERR_FORMAT:
		return "malformed packet";
	case MYC_ERR_PROTOCOL:
		return "unsupported protocol";
	case MYC_ERR_UNEXPECTED:
		return "unexpected packet";
	case MYC_ERR_UNSUPPORTED:
		return "unsupported by the proxy";
	default:
		return "protocol error";
	}
}

const char *myc_com_name(uint8_t cmd)
{
	static const char *const names[] = {
		"COM_SLEEP", "COM_QUIT", "COM_INIT_DB", "COM_QUERY", "COM_FIELD_LIST",
		"COM_CREATE_DB", "COM_DROP_DB", "COM_REFRESH", "COM_SHUTDOWN",
		"COM_STATISTICS", "COM_PROCESS_INFO", "COM_CONNECT", "COM_PROCESS_KILL",
		"COM_DEBUG", "COM_PING", "COM_TIME", "COM_DELAYED_INSERT", "COM_CHANGE_USER",
		"COM_BINLOG_DUMP", "COM_TABLE_DUMP", "COM_CONNECT_OUT", "COM_REGISTER_SLAVE",
		"COM_STMT_PREPARE", "COM_STMT_EXECUTE", "COM_STMT_SEND_LONG_DATA",
		"COM_STMT_CLOSE", "COM_STMT_RESET", "COM_SET_OPTION", "COM_STMT_FETCH",
		"COM_DAEMON", "COM_BINLOG_DUMP_GTID", "COM_RESET_CONNECTION",
	};
	if (cmd < sizeof(names) / sizeof(names[0]))
		return names[cmd];
	if (cmd == COM_STMT_BULK_EXECUTE)
		return "COM_STMT_BULK_EXECUTE";
	return "COM_UNKNOWN";
}

bool myc_str_eq(struct myc_str s, const char *z)
{
	size_t zl = strlen(z);
	return s.len == zl && (zl == 0 || memcmp(s.p, z, zl) == 0);
}

/* ---- framing ---- */

ssize_t myc_parse_header(const uint8_t *p, size_t n, const struct myc_limits *lim,
			 struct myc_split *split, struct myc_frame *out)
{
	if (n < MYC_HEADER_LEN)
		return 0;
	size_t len = myle_get_u24(p);
	bool cont = split && split->pending;
	size_t total = (cont ? split->total : 0) + len;
	if (total > lim->max_packet_size)
		return MYC_ERR_TOO_BIG;
	out->seq = p[3];
	out->payload = NULL;
	out->len = len;
	out->cont = cont;
	out->more = len == MYC_MAX_FRAME;
	if (split) {
		split->pending = out->more;
		split->total = out->more ? total : 0;
	}
	return MYC_HEADER_LEN;
}

ssize_t myc_frame_next(const uint8_t *p, size_t n, const struct myc_limits *lim,
		       struct myc_split *split, struct myc_frame *out)
{
	if (n < MYC_HEADER_LEN)
		return 0;
	size_t len = myle_get_u24(p);
	if (n - MYC_HEADER_LEN < len)
		return 0;
	/* Complete: now the header check may update the split state. */
	ssize_t r = myc_parse_header(p, n, lim, split, out);
	if (r <= 0)
		return r;
	out->payload = p + MYC_HEADER_LEN;
	return (ssize_t)(MYC_HEADER_LEN + len);
}

/* ---- reader ---- */

void myc_reader_init(struct myc_reader *r, const uint8_t *p, size_t n)
{
	r->p = p ? p : (const uint8_t *)""; /* no NULL + 0 arithmetic */
	r->n = p ? n : 0;
	r->off = 0;
	r->bad = false;
}

size_t myc_reader_left(const struct myc_reader *r) { return r->n - r->off; }

static const uint8_t *take(struct myc_reader *r, size_t len)
{
	if (r->bad || len > r->n - r->off) {
		r->bad = true;
		return NULL;
	}
	const uint8_t *s = r->p + r->off;
	r->off += len;
	return s;
}

struct myc_str myc_read_bytes(struct myc_reader *r, size_t len)
{
	const uint8_t *s = take(r, len);
	return (struct myc_str){ s ? s : (const uint8_t *)"", s ? len : 0 };
}

uint8_t myc_read_u8(struct myc_reader *r)
{
	const uint8_t *s = take(r, 1);
	return s ? s[0] : 0;
}

uint16_t myc_read_u16(struct myc_reader *r)
{
	const uint8_t *s = take(r, 2);
	return s ? myle_get_u16(s) : 0;
}

uint32_t myc_read_u24(struct myc_reader *r)
{
	const uint8_t *s = take(r, 3);
	return s ? myle_get_u24(s) : 0;
}

uint32_t myc_read_u32(struct myc_reader *r)
{
	const uint8_t *s = take(r, 4);
	return s ? myle_get_u32(s) : 0;
}

uint64_t myc_read_u64(struct myc_reader *r)
{
	const uint8_t *s = take(r, 8);
	return s ? myle_get_u64(s) : 0;
}

/* lenenc with NULL (0xfb) reported; 0xff is always bad. */
static uint64_t read_lenenc_null(struct myc_reader *r, bool *is_null)
{
	uint8_t c = myc_read_u8(r);
	if (is_null)
		*is_null = false;
	if (r->bad)
		return 0;
	if (c < 0xfb)
		return c;
	switch (c) {
	case 0xfb:
		if (!is_null) {
			r->bad = true;
			return 0;
		}
		*is_null = true;
		return 0;
	case 0xfc:
		return myc_read_u16(r);
	case 0xfd:
		return myc_read_u24(r);
	case 0xfe:
		return myc_read_u64(r);
	default:
		r->bad = true;
		return 0;
	}
}

uint64_t myc_read_lenenc(struct myc_reader *r) { return read_lenenc_null(r, NULL); }

struct myc_str myc_read_lenenc_str(struct myc_reader *r, bool *is_null)
{
	bool null = false;
	uint64_t len = read_lenenc_null(r, &null);
	if (is_null)
		*is_null = null;
	else if (null)
		r->bad = true;
	if (r->bad || null)
		return (struct myc_str){ (const uint8_t *)"", 0 };
	if (len > myc_reader_left(r)) {
		r->bad = true;
		return (struct myc_str){ (const uint8_t *)"", 0 };
	}
	return myc_read_bytes(r, (size_t)len);
}

struct myc_str myc_read_cstr(struct myc_reader *r)
{
	if (r->bad)
		return (struct myc_str){ (const uint8_t *)"", 0 };
	const uint8_t *z = memchr(r->p + r->off, '\0', r->n - r->off);
	if (!z) {
		r->bad = true;
		return (struct myc_str){ (const uint8_t *)"", 0 };
	}
	struct myc_str s = { r->p + r->off, (size_t)(z - (r->p + r->off)) };
	r->off += s.len + 1;
	return s;
}

struct myc_str myc_read_rest(struct myc_reader *r)
{
	if (r->bad)
		return (struct myc_str){ (const uint8_t *)"", 0 };
	return myc_read_bytes(r, myc_reader_left(r));
}

static const struct myc_str empty_str = { (const uint8_t *)"", 0 };

/* ---- building ---- */

size_t myc_begin(struct buf *b, uint8_t seq)
{
	size_t start = b->len;
	uint8_t h[4] = { 0, 0, 0, seq };
	buf_put(b, h, 4);
	return start;
}

uint8_t myc_end(struct buf *b, size_t start)
{
	if (b->oom || start + MYC_HEADER_LEN > b->len)
		return 0;
	uint8_t seq = b->data[start + 3];
	size_t len = b->len - start - MYC_HEADER_LEN;
	if (len < MYC_MAX_FRAME) {
		myle_set_u24(b->data + start, (uint32_t)len);
		return (uint8_t)(seq + 1);
	}
	/* Split: one header per 0xffffff bytes, and a final (maybe empty)
	 * frame. Headers are inserted from the back. */
	size_t extra = len / MYC_MAX_FRAME;
	if (!buf_reserve(b, extra * MYC_HEADER_LEN))
		return 0;
	uint8_t *base = b->data + start + MYC_HEADER_LEN; /* payload start */
	size_t nframes = extra + 1;
	for (size_t i = nframes; i-- > 1;) {
		size_t src = i * MYC_MAX_FRAME;
		size_t flen = (i == nframes - 1) ? len - src : MYC_MAX_FRAME;
		uint8_t *dst = base + src + i * MYC_HEADER_LEN;
		memmove(dst, base + src, flen);
		myle_set_u24(dst - MYC_HEADER_LEN, (uint32_t)flen);
		dst[-1] = (uint8_t)(seq + i);
	}
	myle_set_u24(b->data + start, MYC_MAX_FRAME);
	b->len += extra * MYC_HEADER_LEN;
	return (uint8_t)(seq + nframes);
}

void myc_put_lenenc(struct buf *b, uint64_t v)
{
	if (v < 0xfb) {
		buf_put_u8(b, (uint8_t)v);
	} else if (v <= 0xffff) {
		buf_put_u8(b, 0xfc);
		myle_put_u16(b, (uint16_t)v);
	} else if (v <= 0xffffff) {
		buf_put_u8(b, 0xfd);
		myle_put_u24(b, (uint32_t)v);
	} else {
		buf_put_u8(b, 0xfe);
		myle_put_u64(b, v);
	}
}

void myc_put_lenenc_str(struct buf *b, const void *s, size_t len)
{
	myc_put_lenenc(b, len);
	buf_put(b, s, len);
}

void myc_put_raw(struct buf *b, uint8_t seq, const uint8_t *data, size_t len)
{
	size_t s = myc_begin(b, seq);
	buf_put(b, data, len);
	myc_end(b, s);
}

/* ---- server handshake ---- */

int myc_parse_handshake(const uint8_t *p, size_t n, struct myc_handshake *out)
{
	struct myc_reader r;
	myc_reader_init(&r, p, n);
	memset(out, 0, sizeof(*out));
	out->plugin = empty_str;
	out->protocol = myc_read_u8(&r);
	if (r.bad)
		return MYC_ERR_LENGTH;
	if (out->protocol == MYC_ERR)
		return MYC_ERR_UNEXPECTED; /* an ERR instead of a handshake */
	if (out->protocol != 10)
		return MYC_ERR_PROTOCOL;
	out->server_version = myc_read_cstr(&r);
	out->conn_id = myc_read_u32(&r);
	struct myc_str part1 = myc_read_bytes(&r, 8);
	myc_read_u8(&r); /* filler */
	out->caps = myc_read_u16(&r);
	if (r.bad)
		return MYC_ERR_LENGTH;
	memcpy(out->auth_data, part1.p, 8);
	out->auth_data_len = 8;
	if (myc_reader_left(&r) == 0)
		return 0; /* pre-4.1 short form */
	out->charset = myc_read_u8(&r);
	out->status = myc_read_u16(&r);
	out->caps |= (uint32_t)myc_read_u16(&r) << 16;
	uint8_t data_len = myc_read_u8(&r);
	myc_read_bytes(&r, 6);
	uint32_t ext = myc_read_u32(&r);
	if (r.bad)
		return MYC_ERR_LENGTH;
	if (!(out->caps & CLIENT_MYSQL))
		out->ext_caps = ext;
	if (out->caps & CLIENT_SECURE_CONNECTION) {
		size_t l2 = data_len > 8 ? (size_t)data_len - 8 : 0;
		if (l2 < 13)
			l2 = 13;
		struct myc_str part2 = myc_read_bytes(&r, l2);
		if (r.bad)
			return MYC_ERR_LENGTH;
		if (part2.len && part2.p[part2.len - 1] == 0)
			part2.len--;
		memcpy(out->auth_data + 8, part2.p, part2.len); /* l2 <= 247 */
		out->auth_data_len += part2.len;
	}
	if (out->caps & CLIENT_PLUGIN_AUTH) {
		/* Some servers (MySQL 5.5.7-) omit the final NUL. */
		if (memchr(r.p + r.off, 0, myc_reader_left(&r)))
			out->plugin = myc_read_cstr(&r);
		else
			out->plugin = myc_read_rest(&r);
	}
	return r.bad ? MYC_ERR_LENGTH : 0;
}

void myc_put_handshake(struct buf *b, const struct myc_handshake_params *hp)
{
	size_t s = myc_begin(b, 0);
	buf_put_u8(b, 10);
	buf_put_cstr(b, hp->server_version);
	myle_put_u32(b, hp->conn_id);
	buf_put(b, hp->scramble, 8);
	buf_put_u8(b, 0);
	myle_put_u16(b, (uint16_t)hp->caps);
	buf_put_u8(b, hp->charset);
	myle_put_u16(b, hp->status);
	myle_put_u16(b, (uint16_t)(hp->caps >> 16));
	buf_put_u8(b, (hp->caps & CLIENT_PLUGIN_AUTH) ? MYC_SCRAMBLE_LEN + 1 : 0);
	static const uint8_t zeros[10];
	buf_put(b, zeros, 6);
	myle_put_u32(b, (hp->caps & CLIENT_MYSQL) ? 0 : hp->ext_caps);
	if (hp->caps & CLIENT_SECURE_CONNECTION) {
		buf_put(b, hp->scramble + 8, MYC_SCRAMBLE_LEN - 8);
		buf_put_u8(b, 0);
	}
	if (hp->caps & CLIENT_PLUGIN_AUTH)
		buf_put_cstr(b, hp->plugin ? hp->plugin : "");
	myc_end(b, s);
}

/* ---- client handshake response ---- */

static bool attrs_valid(struct myc_str a)
{
	struct myc_reader r;
	myc_reader_init(&r, a.p, a.len);
	while (!r.bad && myc_reader_left(&r)) {
		myc_read_lenenc_str(&r, NULL);
		myc_read_lenenc_str(&r, NULL);
	}
	return !r.bad;
}

int myc_attr_next(struct myc_str attrs, size_t *off, struct myc_str *key, struct myc_str *val)
{
	if (*off >= attrs.len)
		return 0;
	struct myc_reader r;
	myc_reader_init(&r, attrs.p, attrs.len);
	r.off = *off;
	*key = myc_read_lenenc_str(&r, NULL);
	*val = myc_read_lenenc_str(&r, NULL);
	if (r.bad)
		return 0;
	*off = r.off;
	return 1;
}

int myc_parse_handshake_response(const uint8_t *p, size_t n, struct myc_handshake_response *out)
{
	struct myc_reader r;
	myc_reader_init(&r, p, n);
	memset(out, 0, sizeof(*out));
	out->user = out->auth = out->database = out->plugin = out->attrs = empty_str;
	out->caps = myc_read_u32(&r);
	out->max_packet = myc_read_u32(&r);
	out->charset = myc_read_u8(&r);
	myc_read_bytes(&r, 19);
	uint32_t ext = myc_read_u32(&r);
	if (r.bad)
		return MYC_ERR_LENGTH;
	if (!(out->caps & CLIENT_PROTOCOL_41))
		return MYC_ERR_PROTOCOL;
	if (!(out->caps & CLIENT_MYSQL))
		out->ext_caps = ext;
	if (myc_reader_left(&r) == 0) {
		if (!(out->caps & CLIENT_SSL))
			return MYC_ERR_FORMAT;
		out->ssl_request = true;
		return 0;
	}
	out->user = myc_read_cstr(&r);
	if (out->caps & CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA) {
		out->auth = myc_read_lenenc_str(&r, NULL);
	} else if (out->caps & CLIENT_SECURE_CONNECTION) {
		uint8_t l = myc_read_u8(&r);
		out->auth = myc_read_bytes(&r, l);
	} else {
		out->auth = myc_read_cstr(&r);
	}
	if (r.bad)
		return MYC_ERR_LENGTH;
	if ((out->caps & CLIENT_CONNECT_WITH_DB) && myc_reader_left(&r))
		out->database = myc_read_cstr(&r);
	if ((out->caps & CLIENT_PLUGIN_AUTH) && myc_reader_left(&r))
		out->plugin = myc_read_cstr(&r);
	if ((out->caps & CLIENT_CONNECT_ATTRS) && myc_reader_left(&r)) {
		uint64_t alen = myc_read_lenenc(&r);
		if (!r.bad && alen > myc_reader_left(&r))
			return MYC_ERR_LENGTH;
		out->attrs = myc_read_bytes(&r, (size_t)alen);
		if (!r.bad && !attrs_valid(out->attrs))
			return MYC_ERR_FORMAT;
	}
	if ((out->caps & CLIENT_ZSTD_COMPRESSION_ALGORITHM) && myc_reader_left(&r))
		out->zstd_level = myc_read_u8(&r);
	return r.bad ? MYC_ERR_LENGTH : 0;
}

static void put_response_head(struct buf *b, uint32_t caps, uint32_t ext_caps,
			      uint32_t max_packet, uint8_t charset)
{
	static const uint8_t zeros[19];
	myle_put_u32(b, caps);
	myle_put_u32(b, max_packet);
	buf_put_u8(b, charset);
	buf_put(b, zeros, 19);
	myle_put_u32(b, (caps & CLIENT_MYSQL) ? 0 : ext_caps);
}

void myc_put_ssl_request(struct buf *b, uint8_t seq, uint32_t caps, uint32_t ext_caps,
			 uint32_t max_packet, uint8_t charset)
{
	size_t s = myc_begin(b, seq);
	put_response_head(b, caps | CLIENT_SSL, ext_caps, max_packet, charset);
	myc_end(b, s);
}

void myc_put_handshake_response(struct buf *b, uint8_t seq, const struct myc_response_params *rp)
{
	uint32_t caps = rp->caps | CLIENT_PROTOCOL_41;
	caps = rp->database ? caps | CLIENT_CONNECT_WITH_DB : caps & ~CLIENT_CONNECT_WITH_DB;
	caps = rp->plugin ? caps | CLIENT_PLUGIN_AUTH : caps & ~CLIENT_PLUGIN_AUTH;
	caps = rp->attrs ? caps | CLIENT_CONNECT_ATTRS : caps & ~CLIENT_CONNECT_ATTRS;
	if (!(caps & CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA))
		caps |= CLIENT_SECURE_CONNECTION;
	size_t s = myc_begin(b, seq);
	put_response_head(b, caps, rp->ext_caps, rp->max_packet, rp->charset);
	buf_put_cstr(b, rp->user ? rp->user : "");
	if (caps & CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA) {
		myc_put_lenenc_str(b, rp->auth, rp->auth_len);
	} else {
		size_t l = rp->auth_len > 255 ? 255 : rp->auth_len;
		buf_put_u8(b, (uint8_t)l);
		buf_put(b, rp->auth, l);
	}
	if (rp->database)
		buf_put_cstr(b, rp->database);
	if (rp->plugin)
		buf_put_cstr(b, rp->plugin);
	if (rp->attrs)
		myc_put_lenenc_str(b, rp->attrs, rp->attrs_len);
	myc_end(b, s);
}

void myc_put_attr(struct buf *b, const char *key, const char *val)
{
	myc_put_lenenc_str(b, key, strlen(key));
	myc_put_lenenc_str(b, val, strlen(val));
}

/* ---- OK / ERR / EOF ---- */

/* Decode one state entry at r; false when malformed. */
static bool track_read(struct myc_reader *r, struct myc_track *t)
{
	t->type = myc_read_u8(r);
	t->data = myc_read_lenenc_str(r, NULL);
	t->name = t->value = empty_str;
	if (r->bad)
		return false;
	struct myc_reader d;
	myc_reader_init(&d, t->data.p, t->data.len);
	switch (t->type) {
	case SESSION_TRACK_SYSTEM_VARIABLES:
		t->name = myc_read_lenenc_str(&d, NULL);
		t->value = myc_read_lenenc_str(&d, NULL);
		break;
	case SESSION_TRACK_GTIDS:
		myc_read_u8(&d); /* encoding specification: 0 */
		t->value = myc_read_lenenc_str(&d, NULL);
		break;
	case SESSION_TRACK_SCHEMA:
	case SESSION_TRACK_STATE_CHANGE:
	case SESSION_TRACK_TRANSACTION_CHARACTERISTICS:
	case SESSION_TRACK_TRANSACTION_STATE:
		t->value = myc_read_lenenc_str(&d, NULL);
		break;
	default:
		return true; /* unknown: raw data only */
	}
	return !d.bad;
}

int myc_track_next(struct myc_str state, size_t *off, struct myc_track *t)
{
	if (*off >= state.len)
		return 0;
	struct myc_reader r;
	myc_reader_init(&r, state.p, state.len);
	r.off = *off;
	if (!track_read(&r, t))
		return 0;
	*off = r.off;
	return 1;
}

int myc_parse_ok(const uint8_t *p, size_t n, uint32_t caps, struct myc_ok *out)
{
	struct myc_reader r;
	myc_reader_init(&r, p, n);
	memset(out, 0, sizeof(*out));
	out->info = out->state = empty_str;
	uint8_t h = myc_read_u8(&r);
	if (r.bad)
		return MYC_ERR_LENGTH;
	if (h != MYC_OK && h != MYC_EOF)
		return MYC_ERR_FORMAT;
	out->affected_rows = myc_read_lenenc(&r);
	out->last_insert_id = myc_read_lenenc(&r);
	if (caps & CLIENT_PROTOCOL_41) {
		out->status = myc_read_u16(&r);
		out->warnings = myc_read_u16(&r);
	} else if (caps & CLIENT_TRANSACTIONS) {
		out->status = myc_read_u16(&r);
	}
	if (r.bad)
		return MYC_ERR_LENGTH;
	if (!(caps & CLIENT_SESSION_TRACK)) {
		out->info = myc_read_rest(&r);
		return 0;
	}
	if (myc_reader_left(&r))
		out->info = myc_read_lenenc_str(&r, NULL);
	if ((out->status & SERVER_SESSION_STATE_CHANGED) && myc_reader_left(&r)) {
		uint64_t slen = myc_read_lenenc(&r);
		if (!r.bad && slen > myc_reader_left(&r))
			return MYC_ERR_LENGTH;
		out->state = myc_read_bytes(&r, (size_t)slen);
	}
	if (r.bad)
		return MYC_ERR_LENGTH;
	struct myc_reader s;
	myc_reader_init(&s, out->state.p, out->state.len);
	while (myc_reader_left(&s)) {
		struct myc_track t;
		if (!track_read(&s, &t))
			return MYC_ERR_FORMAT;
		switch (t.type) {
		case SESSION_TRACK_SCHEMA:
			out->schema = t.value;
			break;
		case SESSION_TRACK_GTIDS:
			out->gtids = t.value;
			break;
		case SESSION_TRACK_TRANSACTION_STATE:
			out->trx_state = t.value;
			break;
		case SESSION_TRACK_SYSTEM_VARIABLES:
			if (myc_str_eq(t.name, "last_gtid"))
				out->last_gtid = t.value;
			break;
		default:
			break;
		}
	}
	return 0;
}

int myc_ok_found_rows(const uint8_t *p, size_t n, uint32_t caps, struct buf *out)
{
	static const char tag[] = "Rows matched: "; /* ER_UPDATE_INFO, English messages */
	struct myc_ok ok;
	if (n == 0 || p[0] != MYC_OK || myc_parse_ok(p, n, caps, &ok) < 0)
		return 0;
	/* Servers send the info length-prefixed even without SESSION_TRACK
	 * (net_store_data), where the protocol documents a plain string. */
	struct myc_str info = ok.info;
	if (info.len > 0 && info.p[0] < 251 && (size_t)info.p[0] == info.len - 1) {
		info.p++;
		info.len--;
	}
	size_t tl = sizeof(tag) - 1;
	if (info.len <= tl || memcmp(info.p, tag, tl) != 0)
		return 0;
	uint64_t matched = 0;
	size_t i = tl;
	for (; i < info.len && info.p[i] >= '0' && info.p[i] <= '9'; i++) {
		if (matched > (UINT64_MAX - 9) / 10)
			return 0;
		matched = matched * 10 + (uint64_t)(info.p[i] - '0');
	}
	if (i == tl || matched == ok.affected_rows)
		return 0;
	/* Everything after the affected-rows count is kept as it was. */
	struct myc_reader r;
	myc_reader_init(&r, p, n);
	myc_read_u8(&r);
	myc_read_lenenc(&r);
	if (r.bad)
		return 0;
	buf_put_u8(out, MYC_OK);
	myc_put_lenenc(out, matched);
	buf_put(out, p + r.off, n - r.off);
	return 1;
}

int myc_parse_err(const uint8_t *p, size_t n, struct myc_errp *out)
{
	struct myc_reader r;
	myc_reader_init(&r, p, n);
	memset(out, 0, sizeof(*out));
	out->message = empty_str;
	uint8_t h = myc_read_u8(&r);
	out->code = myc_read_u16(&r);
	if (r.bad)
		return MYC_ERR_LENGTH;
	if (h != MYC_ERR)
		return MYC_ERR_FORMAT;
	if (out->code == 0xffff) {
		/* MariaDB progress: stage(1) max_stage(1) progress(3) lenenc info */
		out->progress = true;
		memcpy(out->sqlstate, "00000", 6);
		myc_read_bytes(&r, 5);
		out->message = myc_read_lenenc_str(&r, NULL);
		return r.bad ? MYC_ERR_LENGTH : 0;
	}
	memcpy(out->sqlstate, "HY000", 6);
	if (myc_reader_left(&r) >= 6 && r.p[r.off] == '#') {
		memcpy(out->sqlstate, r.p + r.off + 1, 5);
		r.off += 6;
	}
	out->message = myc_read_rest(&r);
	return 0;
}

bool myc_is_eof(const uint8_t *p, size_t n) { return n > 0 && n < 9 && p[0] == MYC_EOF; }

bool myc_is_ok_eof(const uint8_t *p, size_t n)
{
	return n > 0 && n < MYC_MAX_FRAME && p[0] == MYC_EOF;
}

int myc_parse_eof(const uint8_t *p, size_t n, struct myc_eof *out)
{
	memset(out, 0, sizeof(*out));
	if (!myc_is_eof(p, n))
		return MYC_ERR_FORMAT;
	if (n >= 5) {
		out->warnings = myle_get_u16(p + 1);
		out->status = myle_get_u16(p + 3);
	}
	return 0;
}

void myc_put_ok(struct buf *b, uint8_t seq, uint32_t caps, uint64_t affected,
		uint64_t insert_id, uint16_t status, uint16_t warnings, const char *info)
{
	size_t s = myc_begin(b, seq);
	buf_put_u8(b, MYC_OK);
	myc_put_lenenc(b, affected);
	myc_put_lenenc(b, insert_id);
	myle_put_u16(b, status);
	myle_put_u16(b, warnings);
	if (info && *info) {
		if (caps & CLIENT_SESSION_TRACK)
			myc_put_lenenc_str(b, info, strlen(info));
		else
			buf_put(b, info, strlen(info));
	}
	myc_end(b, s);
}

void myc_put_ok_eof(struct buf *b, uint8_t seq, uint16_t status, uint16_t warnings)
{
	size_t s = myc_begin(b, seq);
	buf_put_u8(b, MYC_EOF);
	buf_put_u8(b, 0);
	buf_put_u8(b, 0);
	myle_put_u16(b, status);
	myle_put_u16(b, warnings);
	myc_end(b, s);
}

void myc_put_err(struct buf *b, uint8_t seq, uint16_t code, const char *sqlstate,
		 const char *msg)
{
	size_t s = myc_begin(b, seq);
	buf_put_u8(b, MYC_ERR);
	myle_put_u16(b, code);
	buf_put_u8(b, '#');
	char st[5] = { 'H', 'Y', '0', '0', '0' };
	if (sqlstate && strlen(sqlstate) == 5)
		memcpy(st, sqlstate, 5);
	buf_put(b, st, 5);
	buf_put(b, msg, strlen(msg));
	myc_end(b, s);
}

void myc_put_eof(struct buf *b, uint8_t seq, uint16_t warnings, uint16_t status)
{
	size_t s = myc_begin(b, seq);
	buf_put_u8(b, MYC_EOF);
	myle_put_u16(b, warnings);
	myle_put_u16(b, status);
	myc_end(b, s);
}

/* ---- result sets the proxy answers itself (text protocol) ---- */

uint8_t myc_put_column_count(struct buf *b, uint8_t seq, uint64_t n)
{
	size_t s = myc_begin(b, seq);
	myc_put_lenenc(b, n);
	return myc_end(b, s);
}

uint8_t myc_put_text_column(struct buf *b, uint8_t seq, const char *name)
{
	size_t s = myc_begin(b, seq);
	size_t nlen = strlen(name);
	myc_put_lenenc_str(b, "def", 3); /* catalog */
	myc_put_lenenc_str(b, "", 0);    /* schema */
	myc_put_lenenc_str(b, "", 0);    /* table */
	myc_put_lenenc_str(b, "", 0);    /* org_table */
	myc_put_lenenc_str(b, name, nlen);
	myc_put_lenenc_str(b, name, nlen); /* org_name */
	myc_put_lenenc(b, 0x0c);         /* length of the fixed fields */
	myle_put_u16(b, MYC_UTF8MB4_COLLATION);
	myle_put_u32(b, MYC_TEXT_COLUMN_LEN);
	buf_put_u8(b, MYSQL_TYPE_VAR_STRING);
	myle_put_u16(b, 0);              /* flags: nullable, nothing else */
	buf_put_u8(b, 0);                /* decimals */
	myle_put_u16(b, 0);              /* filler */
	return myc_end(b, s);
}

uint8_t myc_put_text_row(struct buf *b, uint8_t seq, const char *const *vals, int n)
{
	size_t s = myc_begin(b, seq);
	for (int i = 0; i < n; i++) {
		if (!vals[i])
			buf_put_u8(b, 0xfb); /* NULL */
		else
			myc_put_lenenc_str(b, vals[i], strlen(vals[i]));
	}
	return myc_end(b, s);
}

/* ---- authentication exchange ---- */

int myc_parse_auth_switch(const uint8_t *p, size_t n, struct myc_auth_switch *out)
{
	struct myc_reader r;
	myc_reader_init(&r, p, n);
	out->plugin = out->data = empty_str;
	if (myc_read_u8(&r) != MYC_AUTH_SWITCH || r.bad)
		return r.bad ? MYC_ERR_LENGTH : MYC_ERR_FORMAT;
	if (!myc_reader_left(&r))
		return 0; /* old: switch to mysql_old_password */
	out->plugin = myc_read_cstr(&r);
	if (r.bad)
		return MYC_ERR_FORMAT;
	out->data = myc_read_rest(&r);
	if (out->data.len && out->data.p[out->data.len - 1] == 0)
		out->data.len--;
	return 0;
}

void myc_put_auth_switch(struct buf *b, uint8_t seq, const char *plugin, const uint8_t *data,
			 size_t len)
{
	size_t s = myc_begin(b, seq);
	buf_put_u8(b, MYC_AUTH_SWITCH);
	buf_put_cstr(b, plugin);
	buf_put(b, data, len);
	buf_put_u8(b, 0);
	myc_end(b, s);
}

int myc_parse_auth_more_data(const uint8_t *p, size_t n, struct myc_str *out)
{
	*out = empty_str;
	if (n < 1)
		return MYC_ERR_LENGTH;
	if (p[0] != MYC_AUTH_MORE_DATA)
		return MYC_ERR_FORMAT;
	*out = (struct myc_str){ p + 1, n - 1 };
	return 0;
}

void myc_put_auth_more_data(struct buf *b, uint8_t seq, const uint8_t *data, size_t len)
{
	size_t s = myc_begin(b, seq);
	buf_put_u8(b, MYC_AUTH_MORE_DATA);
	buf_put(b, data, len);
	myc_end(b, s);
}

/* ---- results ---- */

int myc_parse_column_count(const uint8_t *p, size_t n, uint32_t caps, uint32_t ext_caps,
			   uint64_t *count, bool *metadata)
{
	struct myc_reader r;
	myc_reader_init(&r, p, n);
	*count = 0;
	*metadata = true;
	if (n == 0)
		return MYC_ERR_LENGTH;
	if (p[0] == MYC_OK || p[0] == MYC_ERR || p[0] == MYC_LOCAL_INFILE || p[0] == MYC_EOF)
		return MYC_ERR_FORMAT;
	*count = myc_read_lenenc(&r);
	if ((caps & CLIENT_OPTIONAL_RESULTSET_METADATA) ||
	    (!(caps & CLIENT_MYSQL) && (ext_caps & MARIADB_CLIENT_CACHE_METADATA)))
		*metadata = myc_read_u8(&r) != 0;
	if (r.bad)
		return MYC_ERR_LENGTH;
	if (myc_reader_left(&r))
		return MYC_ERR_FORMAT;
	return 0;
}

int myc_parse_column(const uint8_t *p, size_t n, uint32_t ext_caps, struct myc_column *out)
{
	struct myc_reader r;
	myc_reader_init(&r, p, n);
	memset(out, 0, sizeof(*out));
	out->catalog = myc_read_lenenc_str(&r, NULL);
	out->schema = myc_read_lenenc_str(&r, NULL);
	out->table = myc_read_lenenc_str(&r, NULL);
	out->org_table = myc_read_lenenc_str(&r, NULL);
	out->name = myc_read_lenenc_str(&r, NULL);
	out->org_name = myc_read_lenenc_str(&r, NULL);
	out->ext_info = empty_str;
	if (ext_caps & MARIADB_CLIENT_EXTENDED_METADATA)
		out->ext_info = myc_read_lenenc_str(&r, NULL);
	uint64_t fixed = myc_read_lenenc(&r);
	if (r.bad)
		return MYC_ERR_LENGTH;
	if (fixed < 12)
		return MYC_ERR_FORMAT;
	if (fixed > myc_reader_left(&r))
		return MYC_ERR_LENGTH;
	struct myc_str fs = myc_read_bytes(&r, (size_t)fixed);
	struct myc_reader f;
	myc_reader_init(&f, fs.p, fs.len);
	out->charset = myc_read_u16(&f);
	out->length = myc_read_u32(&f);
	out->type = myc_read_u8(&f);
	out->flags = myc_read_u16(&f);
	out->decimals = myc_read_u8(&f);
	if (myc_reader_left(&r)) {
		/* COM_FIELD_LIST appends the default value. */
		bool null = false;
		struct myc_str d = myc_read_lenenc_str(&r, &null);
		if (!null)
			out->default_value = d;
		if (r.bad)
			return MYC_ERR_LENGTH;
	}
	return myc_reader_left(&r) ? MYC_ERR_FORMAT : 0;
}

int myc_text_row_next(const uint8_t *p, size_t n, size_t *off, struct myc_str *val,
		      bool *is_null)
{
	if (*off >= n)
		return 0;
	struct myc_reader r;
	myc_reader_init(&r, p, n);
	r.off = *off;
	*val = myc_read_lenenc_str(&r, is_null);
	if (r.bad)
		return MYC_ERR_LENGTH;
	*off = r.off;
	return 1;
}

ssize_t myc_binary_value_len(uint8_t type, const uint8_t *p, size_t n)
{
	size_t need;
	switch (type) {
	case MYSQL_TYPE_NULL:
		return 0;
	case MYSQL_TYPE_TINY:
		need = 1;
		break;
	case MYSQL_TYPE_SHORT:
	case MYSQL_TYPE_YEAR:
		need = 2;
		break;
	case MYSQL_TYPE_LONG:
	case MYSQL_TYPE_INT24:
	case MYSQL_TYPE_FLOAT:
		need = 4;
		break;
	case MYSQL_TYPE_LONGLONG:
	case MYSQL_TYPE_DOUBLE:
		need = 8;
		break;
	case MYSQL_TYPE_DATE:
	case MYSQL_TYPE_DATETIME:
	case MYSQL_TYPE_TIMESTAMP:
	case MYSQL_TYPE_TIME:
	case MYSQL_TYPE_NEWDATE:
	case MYSQL_TYPE_TIMESTAMP2:
	case MYSQL_TYPE_DATETIME2:
	case MYSQL_TYPE_TIME2:
		if (n < 1)
			return MYC_ERR_LENGTH;
		need = 1 + (size_t)p[0];
		break;
	case MYSQL_TYPE_DECIMAL:
	case MYSQL_TYPE_VARCHAR:
	case MYSQL_TYPE_BIT:
	case MYSQL_TYPE_JSON:
	case MYSQL_TYPE_NEWDECIMAL:
	case MYSQL_TYPE_ENUM:
	case MYSQL_TYPE_SET:
	case MYSQL_TYPE_TINY_BLOB:
	case MYSQL_TYPE_MEDIUM_BLOB:
	case MYSQL_TYPE_LONG_BLOB:
	case MYSQL_TYPE_BLOB:
	case MYSQL_TYPE_VAR_STRING:
	case MYSQL_TYPE_STRING:
	case MYSQL_TYPE_GEOMETRY: {
		struct myc_reader r;
		myc_reader_init(&r, p, n);
		myc_read_lenenc_str(&r, NULL);
		if (r.bad)
			return MYC_ERR_LENGTH;
		return (ssize_t)r.off;
	}
	default:
		return MYC_ERR_FORMAT;
	}
	return need <= n ? (ssize_t)need : MYC_ERR_LENGTH;
}
