/* fuzz-sources: proxy/mysql/myc.c proxy/mysql/myc_cmd.c proxy/mysql/myc_resp.c util/buf.c */
/*
 * fuzz_myc_server.c — libFuzzer target for the MySQL codec, server side.
 *
 * The input is what a server writes to the proxy: frames. The first two
 * bytes choose the command being answered and the client capabilities
 * (DEPRECATE_EOF, SESSION_TRACK, CLIENT_MYSQL, cache metadata, optional
 * metadata). The first frame is parsed as a handshake (and rebuilt);
 * then every frame goes through the response tracker, restarted with the
 * same command when an answer completes, and through every server packet
 * parser (OK with session state, ERR, EOF, AuthSwitchRequest,
 * AuthMoreData, column count and definition, PREPARE_OK, text rows).
 * Contracts are checked with abort(): slices lie inside the input, the
 * tracker never accepts a frame after it is done, its counters are
 * consistent. Links the codec alone.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proxy/mysql/myc.h"
#include "proxy/mysql/myc_resp.h"
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

static const uint8_t commands[] = {
	COM_QUERY, COM_STMT_EXECUTE, COM_STMT_PREPARE, COM_STMT_FETCH, COM_FIELD_LIST,
	COM_STATISTICS, COM_CHANGE_USER, COM_PING, COM_SET_OPTION, COM_INIT_DB,
	COM_RESET_CONNECTION, COM_STMT_RESET, COM_PROCESS_INFO, COM_STMT_BULK_EXECUTE,
	COM_QUIT, COM_BINLOG_DUMP,
};

static void check_handshake(const uint8_t *p, size_t n)
{
	struct myc_handshake h;
	if (myc_parse_handshake(p, n, &h) != 0)
		return;
	inside(h.server_version, p, n);
	inside(h.plugin, p, n);
	check(h.auth_data_len <= sizeof(h.auth_data));
	if (h.auth_data_len != 20 || memchr(h.server_version.p, 0, h.server_version.len) ||
	    memchr(h.plugin.p, 0, h.plugin.len) || !(h.caps & CLIENT_SECURE_CONNECTION))
		return;
	char *ver = strndup((const char *)h.server_version.p, h.server_version.len);
	char *plugin = strndup((const char *)h.plugin.p, h.plugin.len);
	check(ver && plugin);
	struct myc_handshake_params hp = { .server_version = ver, .conn_id = h.conn_id,
					   .scramble = h.auth_data, .caps = h.caps,
					   .ext_caps = h.ext_caps, .charset = h.charset,
					   .status = h.status, .plugin = plugin };
	struct buf b;
	buf_init(&b);
	myc_put_handshake(&b, &hp);
	struct myc_handshake h2;
	check(!b.oom && myc_parse_handshake(b.data + 4, b.len - 4, &h2) == 0);
	check(h2.conn_id == h.conn_id && h2.caps == h.caps && h2.ext_caps == h.ext_caps);
	check(memcmp(h2.auth_data, h.auth_data, 20) == 0);
	check(myc_str_eq(h2.server_version, ver));
	if (h.caps & CLIENT_PLUGIN_AUTH)
		check(myc_str_eq(h2.plugin, plugin));
	buf_free(&b);
	free(ver);
	free(plugin);
}

static void check_packet(const uint8_t *p, size_t n, uint32_t caps, uint32_t ext)
{
	struct myc_ok ok;
	if (myc_parse_ok(p, n, caps, &ok) == 0) {
		inside(ok.info, p, n);
		inside(ok.state, p, n);
		inside(ok.schema, p, n);
		inside(ok.gtids, p, n);
		inside(ok.last_gtid, p, n);
		inside(ok.trx_state, p, n);
		size_t off = 0;
		struct myc_track t;
		while (myc_track_next(ok.state, &off, &t)) {
			inside(t.data, p, n);
			inside(t.name, p, n);
			inside(t.value, p, n);
		}
		check(off == ok.state.len); /* validated by myc_parse_ok */
		/* The FOUND_ROWS rewrite: another valid OK, the same but for
		 * the affected-rows count. */
		struct buf fr;
		buf_init(&fr);
		if (myc_ok_found_rows(p, n, caps, &fr) == 1) {
			struct myc_ok ok2;
			check(myc_parse_ok(fr.data, fr.len, caps, &ok2) == 0);
			check(ok2.last_insert_id == ok.last_insert_id && ok2.status == ok.status);
			check(ok2.affected_rows != ok.affected_rows);
		}
		buf_free(&fr);
	}
	struct myc_errp e;
	if (myc_parse_err(p, n, &e) == 0) {
		inside(e.message, p, n);
		check(strlen(e.sqlstate) <= 5);
	}
	struct myc_eof eof;
	if (myc_parse_eof(p, n, &eof) == 0)
		check(myc_is_eof(p, n));
	struct myc_auth_switch as;
	if (myc_parse_auth_switch(p, n, &as) == 0) {
		inside(as.plugin, p, n);
		inside(as.data, p, n);
	}
	struct myc_str d;
	if (myc_parse_auth_more_data(p, n, &d) == 0)
		inside(d, p, n);
	uint64_t count;
	bool meta;
	(void)myc_parse_column_count(p, n, caps, ext, &count, &meta);
	struct myc_column c;
	if (myc_parse_column(p, n, ext, &c) == 0) {
		inside(c.catalog, p, n);
		inside(c.name, p, n);
		inside(c.org_name, p, n);
		inside(c.ext_info, p, n);
		inside(c.default_value, p, n);
	}
	struct myc_stmt_prepare_ok po;
	(void)myc_parse_stmt_prepare_ok(p, n, &po);
	size_t off = 0;
	struct myc_str v;
	bool null;
	int rc;
	while ((rc = myc_text_row_next(p, n, &off, &v, &null)) == 1) {
		inside(v, p, n);
		check(off <= n);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 2)
		return 0;
	uint8_t cmd = commands[data[0] % sizeof(commands)];
	uint8_t fl = data[1];
	uint32_t caps = CLIENT_PROTOCOL_41 | CLIENT_TRANSACTIONS | CLIENT_SECURE_CONNECTION;
	if (fl & 1)
		caps |= CLIENT_DEPRECATE_EOF;
	if (fl & 2)
		caps |= CLIENT_SESSION_TRACK;
	if (fl & 4)
		caps |= CLIENT_MYSQL;
	if (fl & 8)
		caps |= CLIENT_OPTIONAL_RESULTSET_METADATA;
	uint32_t ext = (fl & 16) ? MARIADB_CLIENT_CACHE_METADATA | MARIADB_CLIENT_EXTENDED_METADATA : 0;
	data += 2;
	size -= 2;

	const struct myc_limits lim = { .max_packet_size = FUZZ_MAX_PACKET };
	struct myc_split sp = { 0 };
	struct myc_resp r;
	int rc = myc_resp_init(&r, cmd, caps, ext);
	check(rc == 0 || (rc == MYC_ERR_UNSUPPORTED && myc_resp_done(&r)));
	size_t off = 0;
	bool first = true;
	while (off < size) {
		struct myc_frame f;
		ssize_t n = myc_frame_next(data + off, size - off, &lim, &sp, &f);
		if (n <= 0)
			break;
		if (first)
			check_handshake(f.payload, f.len);
		first = false;
		if (!f.cont)
			check_packet(f.payload, f.len, caps, ext);
		if (myc_resp_done(&r)) {
			check(myc_resp_feed(&r, f.payload, f.len, f.cont) == MYC_ERR_UNEXPECTED);
			rc = myc_resp_init(&r, cmd, caps, ext);
			if (myc_resp_done(&r)) {
				off += (size_t)n;
				continue;
			}
		}
		unsigned sets = r.result_sets;
		uint64_t rows = r.rows;
		rc = myc_resp_feed(&r, f.payload, f.len, f.cont);
		check(rc >= MYC_ERR_UNSUPPORTED && rc <= MYC_RESP_CLIENT);
		if (rc == MYC_RESP_DONE)
			check(myc_resp_done(&r));
		if (rc >= 0) {
			check(r.result_sets >= sets && r.result_sets <= sets + 1);
			check(r.rows >= rows && r.rows <= rows + 1);
		} else {
			/* out of step: a session closes the server; start afresh */
			myc_resp_init(&r, cmd, caps, ext);
		}
		off += (size_t)n;
	}
	return 0;
}
