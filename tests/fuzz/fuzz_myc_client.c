/* fuzz-sources: proxy/mysql/myc.c proxy/mysql/myc_cmd.c util/buf.c */
/*
 * fuzz_myc_client.c — libFuzzer target for the MySQL codec, client side.
 *
 * The input is what a client writes to the proxy: frames. The first is
 * parsed as a HandshakeResponse41 / SSLRequest (its capabilities then
 * drive the rest); every later frame goes through myc_parse_command() and
 * what it leads to (statement id rewriting, EXECUTE parameters, binary
 * value walking, COM_CHANGE_USER attributes). Contracts are checked with
 * abort(): outputs lie inside the input, a rewritten statement id reads
 * back, and a handshake response rebuilt from its parsed fields parses to
 * the same fields. Links the codec alone.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proxy/mysql/myc.h"
#include "util/buf.h"

#define FUZZ_MAX_PACKET 65536u

static void check(int ok)
{
	if (!ok)
		abort();
}

static void inside(struct myc_str s, const uint8_t *p, size_t n)
{
	if (s.len == 0)
		return;
	check(s.p >= p && s.len <= n && (size_t)(s.p - p) <= n - s.len);
}

static bool has_nul(struct myc_str s) { return s.len && memchr(s.p, 0, s.len) != NULL; }

static void check_response(const uint8_t *p, size_t n)
{
	struct myc_handshake_response r;
	if (myc_parse_handshake_response(p, n, &r) != 0)
		return;
	inside(r.user, p, n);
	inside(r.auth, p, n);
	inside(r.database, p, n);
	inside(r.plugin, p, n);
	inside(r.attrs, p, n);
	size_t off = 0;
	struct myc_str k, v;
	while (myc_attr_next(r.attrs, &off, &k, &v)) {
		inside(k, p, n);
		inside(v, p, n);
	}
	check(off == r.attrs.len);
	if (r.ssl_request)
		return;
	if (r.user.len && r.user.p[r.user.len] != 0)
		abort(); /* NUL-terminated in the input */
	/* rebuild from the parsed fields and parse again */
	if (has_nul(r.database) || has_nul(r.plugin) || r.auth.len > 255)
		return;
	char *user = strndup((const char *)r.user.p, r.user.len);
	char *db = strndup((const char *)r.database.p, r.database.len);
	char *plugin = strndup((const char *)r.plugin.p, r.plugin.len);
	check(user && db && plugin);
	struct myc_response_params rp = {
		.caps = r.caps,
		.ext_caps = r.ext_caps,
		.max_packet = r.max_packet,
		.charset = r.charset,
		.user = user,
		.auth = r.auth.p,
		.auth_len = r.auth.len,
		.database = (r.caps & CLIENT_CONNECT_WITH_DB) ? db : NULL,
		.plugin = (r.caps & CLIENT_PLUGIN_AUTH) ? plugin : NULL,
		.attrs = (r.caps & CLIENT_CONNECT_ATTRS) ? r.attrs.p : NULL,
		.attrs_len = r.attrs.len,
	};
	struct buf b;
	buf_init(&b);
	myc_put_handshake_response(&b, 1, &rp);
	check(!b.oom && b.len >= 4);
	struct myc_handshake_response r2;
	int rc = myc_parse_handshake_response(b.data + 4, b.len - 4, &r2);
	check(rc == 0);
	check(myc_str_eq(r2.user, user));
	check(r2.auth.len == r.auth.len && (r.auth.len == 0 || memcmp(r2.auth.p, r.auth.p, r.auth.len) == 0));
	check(myc_str_eq(r2.database, rp.database ? db : ""));
	check(myc_str_eq(r2.plugin, rp.plugin ? plugin : ""));
	check(r2.attrs.len == (rp.attrs ? r.attrs.len : 0));
	check(r2.ext_caps == r.ext_caps && r2.charset == r.charset);
	buf_free(&b);
	free(user);
	free(db);
	free(plugin);
}

static void check_command(const uint8_t *p, size_t n, uint32_t caps, uint16_t nparams)
{
	struct myc_cmd c;
	if (myc_parse_command(p, n, caps, &c) != 0)
		return;
	check(n > 0 && c.cmd == p[0]);
	inside(c.text, p, n);
	inside(c.arg, p, n);
	inside(c.params, p, n);
	inside(c.change_user.user, p, n);
	inside(c.change_user.auth, p, n);
	inside(c.change_user.database, p, n);
	inside(c.change_user.plugin, p, n);
	inside(c.change_user.attrs, p, n);
	(void)myc_com_name(c.cmd);
	if (c.has_stmt_id) {
		check(c.stmt_id_off + 4 <= n);
		uint8_t *copy = malloc(n);
		check(copy != NULL);
		memcpy(copy, p, n);
		myc_set_stmt_id(copy, c.stmt_id_off, c.stmt_id ^ 0x5a5a5a5au);
		struct myc_cmd c2;
		check(myc_parse_command(copy, n, caps, &c2) == 0);
		check(c2.stmt_id == (c.stmt_id ^ 0x5a5a5a5au));
		free(copy);
	}
	if (c.cmd == COM_STMT_EXECUTE) {
		struct myc_exec_params ep;
		static const uint8_t prev[2 * 64];
		if (myc_parse_exec_params(&c, nparams, nparams <= 64 ? prev : NULL, &ep) == 0 && nparams) {
			inside(ep.null_bitmap, p, n);
			inside(ep.values, p, n);
			check(ep.bound_flag_off < n && p[ep.bound_flag_off] == ep.new_params_bound);
			if (ep.new_params_bound)
				inside(ep.types, p, n);
			/* walk the values as a session knowing the types would */
			size_t off = 0;
			for (uint16_t i = 0; i < nparams && ep.types.len == 2u * nparams; i++) {
				if (ep.null_bitmap.p[i / 8] & (1u << (i % 8)))
					continue;
				ssize_t l = myc_binary_value_len(ep.types.p[2 * i], ep.values.p + off,
								 ep.values.len - off);
				if (l < 0)
					break;
				check((size_t)l <= ep.values.len - off);
				off += (size_t)l;
			}
		}
	}
	if (c.cmd == COM_QUERY && !has_nul(c.text) && !(caps & CLIENT_QUERY_ATTRIBUTES)) {
		char *q = strndup((const char *)c.text.p, c.text.len);
		check(q != NULL);
		struct buf b;
		buf_init(&b);
		myc_put_query(&b, q);
		check(b.len == n + 4 && memcmp(b.data + 4, p, n) == 0);
		buf_free(&b);
		free(q);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct myc_limits lim = { .max_packet_size = FUZZ_MAX_PACKET };
	struct myc_split sp = { 0 };
	size_t off = 0;
	bool first = true;
	uint32_t caps = CLIENT_PROTOCOL_41 | CLIENT_SECURE_CONNECTION | CLIENT_PLUGIN_AUTH |
			CLIENT_CONNECT_ATTRS;
	while (off < size) {
		struct myc_frame f;
		ssize_t r = myc_frame_next(data + off, size - off, &lim, &sp, &f);
		if (r <= 0)
			break;
		check((size_t)r == MYC_HEADER_LEN + f.len && (size_t)r <= size - off);
		if (first) {
			struct myc_handshake_response hr;
			if (myc_parse_handshake_response(f.payload, f.len, &hr) == 0 && !hr.ssl_request)
				caps = hr.caps;
			check_response(f.payload, f.len);
			first = false;
		} else if (!f.cont) {
			uint16_t nparams = f.len > 1 ? (uint16_t)(f.payload[f.len - 1] % 70) : 0;
			check_command(f.payload, f.len, caps, nparams);
			check_command(f.payload, f.len, caps ^ CLIENT_QUERY_ATTRIBUTES, nparams);
		}
		off += (size_t)r;
	}
	return 0;
}
