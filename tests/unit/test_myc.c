/*
 * test_myc.c — unit tests for the MySQL/MariaDB codec (proxy/mysql/myc.c,
 * myc_cmd.c).
 *
 * Framing (truncation, 0xffffff splits and their continuation flags,
 * max_packet_size), length-encoded integers and strings at every width
 * and truncation, and every parser on packets captured from MariaDB
 * 10.11.19 talking to the mariadb CLI (libmariadb 3.3), PyMySQL 1.0.2 and
 * a raw protocol client (see test_myc_resp.c for how): the server
 * handshake, HandshakeResponse41 and SSLRequest, OK packets with session
 * state (schema, last_gtid, transaction state and characteristics), ERR,
 * EOF and the 0xfe OK, AuthSwitchRequest, column definitions (plain,
 * MariaDB extended metadata, COM_FIELD_LIST defaults), rows, commands
 * (COM_QUERY ... COM_STMT_EXECUTE with statement id rewriting,
 * COM_CHANGE_USER). Builders are checked by parsing what they build.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "proxy/mysql/myc.h"
#include "proxy/mysql/myle.h"
#include "util/buf.h"

#define S(x) (const uint8_t *)(x), (sizeof(x) - 1)
/* The payload of a captured frame literal (after its 4-byte header). */
#define P(x) (const uint8_t *)(x) + 4, (sizeof(x) - 1 - 4)

static const struct myc_limits lim = { .max_packet_size = 1u << 20 };

static void assert_str(struct myc_str s, const char *z)
{
	if (!myc_str_eq(s, z))
		fail_msg("got \"%.*s\", want \"%s\"", (int)s.len, (const char *)s.p, z);
}

/* ---- captured packets (whole frames) ---- */

/* MariaDB 10.11.19's Initial Handshake (to the mariadb CLI) */
static const char cli_handshake[] =
	"h\x00\x00\x00\n5.5.5-10.11.19-MariaDB-0+deb12u1-log\x00\x1b\x00\x00\x00sYB~wX22\x00"
	"\xfe\xff\x08\x02\x00\xff\x81\x15\x00\x00\x00\x00\x00\x00\x1d\x00\x00\x00""A1nYTy$"
	"CcM6d\x00mysql_native_password\x00";

/* the mariadb CLI's HandshakeResponse41 (user app, password app, db shop) */
static const char cli_response[] =
	"\xd3\x00\x00\x01\x8c\xa2\xbf\x00\x00\x00\x10\x00!\x00\x00\x00\x00\x00\x00\x00\x00"
	"\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x1d\x00\x00\x00""app\x00\x14\x08\x9c"
	"o\xc3\xd8\x91""f\xa2{t\x06\xb3(\xa0""8\x81\xa3I\xb4\x01shop\x00mysql_native_passw"
	"ord\x00~\x03_os\x05Linux\x0c_client_name\nlibmariadb\x04_pid\x04""1059\x0f_client"
	"_version\x06""3.3.20\t_platform\x06x86_64\x0cprogram_name\x05mysql\x0c_server_hos"
	"t\t127.0.0.1";

/* the mariadb CLI's SSLRequest */
static const char ssl_request[] =
	" \x00\x00\x01\x8c\xaa\xbf\x00\x00\x00\x10\x00!\x00\x00\x00\x00\x00\x00\x00\x00\x00"
	"\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x1d\x00\x00\x00";

/* PyMySQL 1.0.2's HandshakeResponse41 */
static const char pymysql_response[] =
	"\x89\x00\x00\x01\x0d\xa2;\x00\xff\xff\xff\x00-\x00\x00\x00\x00\x00\x00\x00\x00\x00"
	"\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00""app\x00\x14t\xfa\x9f""C"
	"\x12\xca\xc8\xd3=\x92\xa0\xc1\x9d\xa9\x14\x14\xcas!\x87shop\x00mysql_native_passw"
	"ord\x00""4\x0c_client_name\x07pymysql\x04_pid\x03""953\x0f_client_version\x05""1."
	"0.2";

/* a HandshakeResponse41 naming caching_sha2_password */
static const char switch_response[] =
	"\x80\x00\x00\x01\x8d\xa2\xbf\x00\x00\x00\x00\x01-\x00\x00\x00\x00\x00\x00\x00\x00"
	"\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00""app\x00 \x01\x01\x01"
	"\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01"
	"\x01\x01\x01\x01\x01\x01\x01\x01shop\x00""caching_sha2_password\x00\x1f\x04_pid\x05"
	"12345\x0c_client_name\x06rawcli";

/* MariaDB's AuthSwitchRequest answering it */
static const char switch_request[] =
	",\x00\x00\x02\xfemysql_native_password\x00""1CA[&I~`FzW\"Bf]}~$1i\x00";

/* the handshake of that session */
static const char switch_handshake[] =
	"h\x00\x00\x00\n5.5.5-10.11.19-MariaDB-0+deb12u1-log\x00\x1e\x00\x00\x00""1CA[&I~`"
	"\x00\xfe\xff\x08\x02\x00\xff\x81\x15\x00\x00\x00\x00\x00\x00\x1d\x00\x00\x00""FzW"
	"\"Bf]}~$1i\x00mysql_native_password\x00";

/* the client's native_password reply to the switch */
static const char switch_reply[] =
	"\x14\x00\x00\x03\x1b*\x9aL\xfc\xf4\x7f>\xcf\x1b\x91\xf6\x95l\xf7=\xf0\xb1\xf5$";

/* COM_CHANGE_USER (app, shop, charset 33, native) */
static const char change_user[] =
	"8\x00\x00\x00\x11""app\x00\x14""fLy^\xde\x91j\x19\x06""bh\x80\x8b\x96\xde\xb2\x8d"
	"\xe8\xc6Xshop\x00!\x00mysql_native_password\x00\x00";

/* COM_FIELD_LIST column definition with a default value */
static const char field_def_default[] =
	"\"\x00\x00\x01\x03""def\x04shop\x01t\x01t\x02id\x02id\x0c\?\x00\x0b\x00\x00\x00\x03"
	"\x03""B\x00\x00\x00\x01""0";


/* ---- framing ---- */

static void test_frame(void **state)
{
	struct myc_frame f;
	size_t n = sizeof(cli_handshake) - 1;
	for (size_t i = 0; i < n; i++)
		assert_int_equal(myc_frame_next(S(cli_handshake) - (n - i), &lim, NULL, &f), 0);
	assert_int_equal(myc_frame_next(S(cli_handshake), &lim, NULL, &f), (ssize_t)n);
	assert_int_equal(f.seq, 0);
	assert_int_equal(f.len, n - 4);
	assert_ptr_equal(f.payload, (const uint8_t *)cli_handshake + 4);
	assert_false(f.cont);
	assert_false(f.more);
	/* only the header is needed for myc_parse_header */
	assert_int_equal(myc_parse_header(S(cli_handshake) - (n - 4), &lim, NULL, &f), 4);
	assert_null(f.payload);
	assert_int_equal(f.len, n - 4);
	/* too big */
	struct myc_limits small = { .max_packet_size = 50 };
	assert_int_equal(myc_frame_next(S(cli_handshake), &small, NULL, &f), MYC_ERR_TOO_BIG);
	assert_int_equal(myc_parse_header(S(cli_handshake), &small, NULL, &f), MYC_ERR_TOO_BIG);
	/* an empty frame is fine (end of LOCAL INFILE data) */
	assert_int_equal(myc_frame_next(S("\x00\x00\x00\x03"), &lim, NULL, &f), 4);
	assert_int_equal(f.len, 0);
}

static void test_frame_split(void **state)
{
	size_t total = 4 + MYC_MAX_FRAME + 4 + 3 + 4; /* three frames */
	uint8_t *p = calloc(1, total);
	assert_non_null(p);
	myle_set_u24(p, MYC_MAX_FRAME);
	p[3] = 5;
	uint8_t *q = p + 4 + MYC_MAX_FRAME;
	myle_set_u24(q, 3);
	q[3] = 6;
	memcpy(q + 4, "abc", 3);
	myle_set_u24(q + 7, 0);
	q[10] = 0;

	struct myc_limits big = { .max_packet_size = 32u << 20 };
	struct myc_split sp = { 0 };
	struct myc_frame f;
	/* incomplete: state untouched, can be repeated */
	assert_int_equal(myc_frame_next(p, 100, &big, &sp, &f), 0);
	assert_false(sp.pending);
	assert_int_equal(myc_frame_next(p, total, &big, &sp, &f), 4 + MYC_MAX_FRAME);
	assert_true(f.more);
	assert_false(f.cont);
	assert_true(sp.pending);
	assert_int_equal(myc_frame_next(q, 7, &big, &sp, &f), 7);
	assert_true(f.cont);
	assert_false(f.more);
	assert_int_equal(f.seq, 6);
	assert_false(sp.pending);
	/* the next frame starts a new packet */
	assert_int_equal(myc_frame_next(q + 7, 4, &big, &sp, &f), 4);
	assert_false(f.cont);

	/* max_packet_size counts the joined payload */
	struct myc_limits mid = { .max_packet_size = MYC_MAX_FRAME + 2 };
	memset(&sp, 0, sizeof(sp));
	assert_int_equal(myc_frame_next(p, total, &mid, &sp, &f), 4 + MYC_MAX_FRAME);
	assert_int_equal(myc_frame_next(q, 7, &mid, &sp, &f), MYC_ERR_TOO_BIG);
	/* without split tracking each frame stands alone */
	assert_int_equal(myc_frame_next(q, 7, &mid, NULL, &f), 7);
	assert_false(f.cont);
	free(p);
}

/* ---- reader ---- */

static void test_lenenc(void **state)
{
	static const struct {
		const char *bytes;
		size_t len;
		uint64_t v;
	} cases[] = {
		{ "\x00", 1, 0 },
		{ "\xfa", 1, 250 },
		{ "\xfc\xfb\x00", 3, 251 },
		{ "\xfc\xff\xff", 3, 65535 },
		{ "\xfd\x00\x00\x01", 4, 65536 },
		{ "\xfd\xff\xff\xff", 4, 0xffffff },
		{ "\xfe\x00\x00\x00\x01\x00\x00\x00\x00", 9, 0x1000000 },
		{ "\xfe\xff\xff\xff\xff\xff\xff\xff\xff", 9, UINT64_MAX },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct myc_reader r;
		myc_reader_init(&r, (const uint8_t *)cases[i].bytes, cases[i].len);
		assert_true(myc_read_lenenc(&r) == cases[i].v);
		assert_false(r.bad);
		assert_int_equal(r.off, cases[i].len);
		/* every truncation is bad */
		for (size_t k = 0; k < cases[i].len; k++) {
			myc_reader_init(&r, (const uint8_t *)cases[i].bytes, k);
			myc_read_lenenc(&r);
			assert_true(r.bad);
		}
		/* the builder writes the same bytes */
		struct buf b;
		buf_init(&b);
		myc_put_lenenc(&b, cases[i].v);
		assert_int_equal(b.len, cases[i].len);
		assert_memory_equal(b.data, cases[i].bytes, b.len);
		buf_free(&b);
	}
	struct myc_reader r;
	/* 0xff is never a length; 0xfb only where NULL is allowed */
	myc_reader_init(&r, S("\xff"));
	myc_read_lenenc(&r);
	assert_true(r.bad);
	myc_reader_init(&r, S("\xfb"));
	myc_read_lenenc(&r);
	assert_true(r.bad);
	bool null = false;
	myc_reader_init(&r, S("\xfb\x02hi"));
	struct myc_str s = myc_read_lenenc_str(&r, &null);
	assert_true(null);
	assert_int_equal(s.len, 0);
	s = myc_read_lenenc_str(&r, &null);
	assert_false(null);
	assert_str(s, "hi");
	assert_false(r.bad);
	/* a string longer than the bytes present, also with a 64-bit length */
	myc_reader_init(&r, S("\x05hi"));
	myc_read_lenenc_str(&r, NULL);
	assert_true(r.bad);
	myc_reader_init(&r, S("\xfe\xff\xff\xff\xff\xff\xff\xff\xffxx"));
	myc_read_lenenc_str(&r, NULL);
	assert_true(r.bad);
	/* NUL-terminated strings */
	myc_reader_init(&r, S("abc\0de"));
	assert_str(myc_read_cstr(&r), "abc");
	myc_read_cstr(&r);
	assert_true(r.bad);
	/* fixed integers */
	myc_reader_init(&r, S("\x01\x02\x03\x04\x05\x06\x07\x08\x09"));
	assert_int_equal(myc_read_u8(&r), 1);
	assert_int_equal(myc_read_u16(&r), 0x0302);
	assert_int_equal(myc_read_u24(&r), 0x060504);
	assert_int_equal(myc_read_u32(&r), 0);
	assert_true(r.bad);
	/* a NULL input is an empty one */
	myc_reader_init(&r, NULL, 5);
	assert_int_equal(myc_reader_left(&r), 0);
}

/* ---- handshake ---- */

static void test_handshake_mariadb(void **state)
{
	struct myc_handshake h;
	assert_int_equal(myc_parse_handshake(P(cli_handshake), &h), 0);
	assert_int_equal(h.protocol, 10);
	assert_str(h.server_version, "5.5.5-10.11.19-MariaDB-0+deb12u1-log");
	assert_int_equal(h.server_version.p[h.server_version.len], 0);
	assert_int_equal(h.conn_id, 27);
	/* MariaDB clears CLIENT_MYSQL and sends extended capabilities */
	assert_int_equal(h.caps, 0x81fffffe);
	assert_false(h.caps & CLIENT_MYSQL);
	assert_int_equal(h.ext_caps, MARIADB_CLIENT_PROGRESS | MARIADB_CLIENT_STMT_BULK_OPERATIONS |
					 MARIADB_CLIENT_EXTENDED_METADATA |
					 MARIADB_CLIENT_CACHE_METADATA);
	assert_int_equal(h.charset, 8);
	assert_int_equal(h.status, SERVER_STATUS_AUTOCOMMIT);
	assert_int_equal(h.auth_data_len, 20);
	assert_memory_equal(h.auth_data, "sYB~wX22A1nYTy$CcM6d", 20);
	assert_str(h.plugin, "mysql_native_password");
	/* every truncation before the plugin name fails cleanly (a plugin
	 * name without its NUL is accepted, as MySQL 5.5.7- sent it) */
	for (size_t i = 0; i < sizeof(cli_handshake) - 1 - 4 - 22; i++) {
		int rc = myc_parse_handshake((const uint8_t *)cli_handshake + 4, i, &h);
		/* the pre-4.1 short form ends right after the capabilities */
		if (i != 1 + 37 + 4 + 8 + 1 + 2)
			assert_true(rc < 0);
	}
	/* an ERR instead of a handshake (e.g. host blocked) */
	assert_int_equal(myc_parse_handshake(S("\xff\x69\x04Host is blocked"), &h),
			 MYC_ERR_UNEXPECTED);
	assert_int_equal(myc_parse_handshake(S("\x09" "3.23\0"), &h), MYC_ERR_PROTOCOL);
}

static void test_handshake_build(void **state)
{
	const uint8_t scramble[20] = "0123456789abcdefghij";
	struct myc_handshake_params hp = {
		.server_version = "5.5.5-10.11.6-switchyard",
		.conn_id = 77,
		.scramble = scramble,
		.caps = 0x81fffffe & ~CLIENT_SSL,
		.ext_caps = MARIADB_CLIENT_STMT_BULK_OPERATIONS,
		.charset = 45,
		.status = SERVER_STATUS_AUTOCOMMIT,
		.plugin = "mysql_native_password",
	};
	struct buf b;
	buf_init(&b);
	myc_put_handshake(&b, &hp);
	assert_false(b.oom);
	struct myc_frame f;
	assert_int_equal(myc_frame_next(b.data, b.len, &lim, NULL, &f), (ssize_t)b.len);
	assert_int_equal(f.seq, 0);
	struct myc_handshake h;
	assert_int_equal(myc_parse_handshake(f.payload, f.len, &h), 0);
	assert_str(h.server_version, "5.5.5-10.11.6-switchyard");
	assert_int_equal(h.conn_id, 77);
	assert_int_equal(h.caps, hp.caps);
	assert_int_equal(h.ext_caps, MARIADB_CLIENT_STMT_BULK_OPERATIONS);
	assert_int_equal(h.charset, 45);
	assert_int_equal(h.auth_data_len, 20);
	assert_memory_equal(h.auth_data, scramble, 20);
	assert_str(h.plugin, "mysql_native_password");
	/* the same layout as MariaDB's own (length aside) */
	assert_int_equal(f.len, 1 + strlen(hp.server_version) + 1 + 4 + 8 + 1 + 2 + 1 + 2 + 2 + 1 +
					10 + 13 + strlen(hp.plugin) + 1);
	buf_free(&b);
}

/* ---- client handshake response ---- */

static void test_response_mariadb_cli(void **state)
{
	struct myc_handshake_response r;
	assert_int_equal(myc_parse_handshake_response(P(cli_response), &r), 0);
	assert_false(r.ssl_request);
	assert_int_equal(r.caps, 0x00bfa28c);
	assert_true(r.caps & CLIENT_SESSION_TRACK);
	assert_false(r.caps & CLIENT_DEPRECATE_EOF);
	assert_false(r.caps & CLIENT_MYSQL);
	assert_int_equal(r.ext_caps, 0x1d);
	assert_int_equal(r.max_packet, 1u << 20);
	assert_int_equal(r.charset, 33);
	assert_str(r.user, "app");
	assert_int_equal(r.auth.len, 20);
	assert_str(r.database, "shop");
	assert_str(r.plugin, "mysql_native_password");
	size_t off = 0;
	struct myc_str k, v;
	int n = 0;
	bool saw_program = false;
	while (myc_attr_next(r.attrs, &off, &k, &v)) {
		if (n == 0) {
			assert_str(k, "_os");
			assert_str(v, "Linux");
		}
		if (myc_str_eq(k, "program_name")) {
			assert_str(v, "mysql");
			saw_program = true;
		}
		n++;
	}
	assert_int_equal(off, r.attrs.len);
	assert_int_equal(n, 7);
	assert_true(saw_program);
	/* every truncation: an error, or a shorter valid packet (optional tail) */
	for (size_t i = 0; i < sizeof(cli_response) - 1 - 4; i++) {
		int rc = myc_parse_handshake_response((const uint8_t *)cli_response + 4, i, &r);
		assert_true(rc <= 0);
	}
}

static void test_response_pymysql_and_switch(void **state)
{
	struct myc_handshake_response r;
	assert_int_equal(myc_parse_handshake_response(P(pymysql_response), &r), 0);
	assert_true(r.caps & CLIENT_MYSQL);
	assert_int_equal(r.ext_caps, 0);
	assert_true(r.caps & CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA);
	assert_str(r.user, "app");
	assert_int_equal(r.auth.len, 20);
	assert_str(r.database, "shop");
	assert_str(r.plugin, "mysql_native_password");
	size_t off = 0;
	struct myc_str k, v;
	assert_int_equal(myc_attr_next(r.attrs, &off, &k, &v), 1);
	assert_str(k, "_client_name");
	assert_str(v, "pymysql");

	assert_int_equal(myc_parse_handshake_response(P(switch_response), &r), 0);
	assert_str(r.plugin, "caching_sha2_password");
	assert_int_equal(r.auth.len, 32);
}

static void test_ssl_request(void **state)
{
	struct myc_handshake_response r;
	assert_int_equal(myc_parse_handshake_response(P(ssl_request), &r), 0);
	assert_true(r.ssl_request);
	assert_true(r.caps & CLIENT_SSL);
	assert_int_equal(r.ext_caps, 0x1d);
	assert_int_equal(r.user.len, 0);
	/* 32 bytes without CLIENT_SSL is not an SSLRequest */
	uint8_t p[32];
	memcpy(p, ssl_request + 4, 32);
	p[1] &= (uint8_t)~(CLIENT_SSL >> 8);
	assert_int_equal(myc_parse_handshake_response(p, 32, &r), MYC_ERR_FORMAT);
	/* no CLIENT_PROTOCOL_41 */
	memcpy(p, ssl_request + 4, 32);
	p[1] &= (uint8_t)~(CLIENT_PROTOCOL_41 >> 8);
	assert_int_equal(myc_parse_handshake_response(p, 32, &r), MYC_ERR_PROTOCOL);
	assert_int_equal(myc_parse_handshake_response(p, 31, &r), MYC_ERR_LENGTH);

	struct buf b;
	buf_init(&b);
	myc_put_ssl_request(&b, 1, CLIENT_PROTOCOL_41 | CLIENT_SECURE_CONNECTION, 0x1c, 1u << 24, 45);
	assert_int_equal(b.len, 4 + 32);
	assert_int_equal(b.data[3], 1);
	assert_int_equal(myc_parse_handshake_response(b.data + 4, b.len - 4, &r), 0);
	assert_true(r.ssl_request);
	assert_int_equal(r.ext_caps, 0x1c);
	assert_int_equal(r.charset, 45);
	buf_free(&b);
}

static void test_response_build(void **state)
{
	struct buf attrs, b;
	buf_init(&attrs);
	buf_init(&b);
	myc_put_attr(&attrs, "_client_name", "switchyard");
	myc_put_attr(&attrs, "_pid", "42");
	const uint8_t auth[20] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20 };
	for (int lenenc = 0; lenenc < 2; lenenc++) {
		struct myc_response_params rp = {
			.caps = CLIENT_PROTOCOL_41 | CLIENT_TRANSACTIONS | CLIENT_SESSION_TRACK |
				CLIENT_DEPRECATE_EOF |
				(lenenc ? CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA : 0),
			.ext_caps = MARIADB_CLIENT_STMT_BULK_OPERATIONS,
			.max_packet = 1u << 24,
			.charset = 45,
			.user = "app",
			.auth = auth,
			.auth_len = 20,
			.database = "shop",
			.plugin = "mysql_native_password",
			.attrs = attrs.data,
			.attrs_len = attrs.len,
		};
		buf_reset(&b);
		myc_put_handshake_response(&b, 1, &rp);
		assert_false(b.oom);
		struct myc_frame f;
		assert_int_equal(myc_frame_next(b.data, b.len, &lim, NULL, &f), (ssize_t)b.len);
		assert_int_equal(f.seq, 1);
		struct myc_handshake_response r;
		assert_int_equal(myc_parse_handshake_response(f.payload, f.len, &r), 0);
		assert_true(r.caps & CLIENT_CONNECT_WITH_DB);
		assert_true(r.caps & CLIENT_PLUGIN_AUTH);
		assert_true(r.caps & CLIENT_CONNECT_ATTRS);
		assert_int_equal(r.ext_caps, MARIADB_CLIENT_STMT_BULK_OPERATIONS);
		assert_str(r.user, "app");
		assert_int_equal(r.auth.len, 20);
		assert_memory_equal(r.auth.p, auth, 20);
		assert_str(r.database, "shop");
		assert_str(r.plugin, "mysql_native_password");
		size_t off = 0;
		struct myc_str k, v;
		assert_int_equal(myc_attr_next(r.attrs, &off, &k, &v), 1);
		assert_str(v, "switchyard");
		assert_int_equal(myc_attr_next(r.attrs, &off, &k, &v), 1);
		assert_str(k, "_pid");
		assert_int_equal(myc_attr_next(r.attrs, &off, &k, &v), 0);
	}
	/* no database, no plugin, no attributes: the flags follow */
	struct myc_response_params rp = { .caps = CLIENT_PROTOCOL_41 | CLIENT_CONNECT_WITH_DB,
					  .user = "u" };
	buf_reset(&b);
	myc_put_handshake_response(&b, 1, &rp);
	struct myc_handshake_response r;
	assert_int_equal(myc_parse_handshake_response(b.data + 4, b.len - 4, &r), 0);
	assert_false(r.caps & (CLIENT_CONNECT_WITH_DB | CLIENT_PLUGIN_AUTH | CLIENT_CONNECT_ATTRS));
	assert_int_equal(r.auth.len, 0);
	buf_free(&b);

	/* attributes whose inner lengths overrun their block */
	/* caps PROTOCOL_41 | CONNECT_ATTRS, auth NUL-terminated */
	static const char bad[] = "\x00\x02\x10\x00\x00\x00\x00\x01\x21\x00\x00\x00\x00\x00\x00\x00\x00"
				  "\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"
				  "u\x00\x00\x09xyz";
	assert_int_equal(myc_parse_handshake_response(S(bad), &r), MYC_ERR_LENGTH);
	static const char bad2[] = "\x00\x02\x10\x00\x00\x00\x00\x01\x21\x00\x00\x00\x00\x00\x00\x00\x00"
				   "\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"
				   "u\x00\x00\x03\x09xy";
	assert_int_equal(myc_parse_handshake_response(S(bad2), &r), MYC_ERR_FORMAT);
	buf_free(&attrs);
}

/* ---- OK / ERR / EOF ---- */

/* CLIENT_FOUND_ROWS emulated: an UPDATE's OK with 0 changed of 3 matched
 * (MariaDB's info, length-prefixed) becomes affected = 3, the rest kept. */
static void test_ok_found_rows(void **state)
{
	uint32_t caps = CLIENT_PROTOCOL_41;
	static const char upd[] = "\x00\x00\x00\x02\x00\x00\x00"
				  "\x28Rows matched: 3  Changed: 0  Warnings: 0";
	struct buf b;
	buf_init(&b);
	assert_int_equal(myc_ok_found_rows(S(upd), caps, &b), 1);
	assert_int_equal(b.len, sizeof(upd) - 1);
	assert_int_equal(b.data[1], 3);
	assert_memory_equal(b.data + 2, upd + 2, sizeof(upd) - 3);
	struct myc_ok ok;
	assert_int_equal(myc_parse_ok(b.data, b.len, caps, &ok), 0);
	assert_int_equal(ok.affected_rows, 3);
	assert_int_equal(ok.status, 2);
	buf_free(&b);
	/* a large count takes a longer length-encoded integer */
	static const char big[] = "\x00\x05\x00\x02\x00\x00\x00"
				  "\x2cRows matched: 70000  Changed: 5  Warnings: 0";
	buf_init(&b);
	assert_int_equal(myc_ok_found_rows(S(big), caps, &b), 1);
	assert_int_equal(b.len, sizeof(big) - 1 + 3);
	assert_int_equal(myc_parse_ok(b.data, b.len, caps, &ok), 0);
	assert_int_equal(ok.affected_rows, 70000);
	buf_free(&b);
	/* nothing to change: same count, no info, another statement's info, an EOF */
	static const char same[] = "\x00\x02\x00\x02\x00\x00\x00"
				   "\x28Rows matched: 2  Changed: 2  Warnings: 0";
	static const char noinfo[] = "\x00\x01\x00\x02\x00\x00\x00";
	static const char insert[] = "\x00\x02\x00\x02\x00\x00\x00"
				     "\x26Records: 2  Duplicates: 0  Warnings: 0";
	static const char garbage[] = "\x00\x00\x00\x02\x00\x00\x00\x0eRows matched: ";
	buf_init(&b);
	assert_int_equal(myc_ok_found_rows(S(same), caps, &b), 0);
	assert_int_equal(myc_ok_found_rows(S(noinfo), caps, &b), 0);
	assert_int_equal(myc_ok_found_rows(S(insert), caps, &b), 0);
	assert_int_equal(myc_ok_found_rows(S(garbage), caps, &b), 0);
	assert_int_equal(myc_ok_found_rows(S("\xfe\x00\x00\x02\x00"), caps, &b), 0);
	assert_int_equal(myc_ok_found_rows(S("\x00"), caps, &b), 0);
	assert_int_equal(b.len, 0);
	buf_free(&b);
}

static void test_ok_session_track(void **state)
{
	uint32_t caps = CLIENT_PROTOCOL_41 | CLIENT_SESSION_TRACK;
	struct myc_ok ok;
	/* captured: the login OK (schema "shop") */
	assert_int_equal(myc_parse_ok(S("\x00\x00\x00\x02@\x00\x00\x00\x07\x01\x05\x04shop"), caps, &ok), 0);
	assert_int_equal(ok.status, SERVER_STATUS_AUTOCOMMIT | SERVER_SESSION_STATE_CHANGED);
	assert_str(ok.schema, "shop");
	assert_null(ok.last_gtid.p);
	/* captured: insert with session_track_system_variables=last_gtid */
	assert_int_equal(myc_parse_ok(S("\x00\x01#\x02@\x00\x00\x00\x13\x00\x11\tlast_gtid\x06" "0-1-38"),
				      caps, &ok), 0);
	assert_int_equal(ok.affected_rows, 1);
	assert_int_equal(ok.last_insert_id, 0x23);
	assert_str(ok.last_gtid, "0-1-38");
	assert_int_equal(ok.info.len, 0);
	/* captured: commit with last_gtid and transaction state */
	static const char commit_ok[] =
		"\x00\x00\x00\x02@\x00\x00\x00\x1e\x00\x11\tlast_gtid\x06" "0-1-27\x05\t\x08________";
	assert_int_equal(myc_parse_ok(S(commit_ok), caps, &ok), 0);
	assert_str(ok.last_gtid, "0-1-27");
	assert_str(ok.trx_state, "________");
	size_t off = 0;
	struct myc_track t;
	assert_int_equal(myc_track_next(ok.state, &off, &t), 1);
	assert_int_equal(t.type, SESSION_TRACK_SYSTEM_VARIABLES);
	assert_str(t.name, "last_gtid");
	assert_str(t.value, "0-1-27");
	assert_int_equal(myc_track_next(ok.state, &off, &t), 1);
	assert_int_equal(t.type, SESSION_TRACK_TRANSACTION_STATE);
	assert_int_equal(myc_track_next(ok.state, &off, &t), 0);
	/* captured: insert inside a transaction (T___W___), read-only start */
	assert_int_equal(myc_parse_ok(S("\x00\x01\x14\x03@\x00\x00\x00\x0b\x05\t\x08T___W___"), caps, &ok), 0);
	assert_true(ok.status & SERVER_STATUS_IN_TRANS);
	assert_str(ok.trx_state, "T___W___");
	assert_int_equal(myc_parse_ok(S("\x00\x00\x00\x03`\x00\x00\x00\x0b\x05\t\x08T_______"), caps, &ok), 0);
	assert_true(ok.status & SERVER_STATUS_IN_TRANS_READONLY);
	/* captured: transaction state + characteristics (empty) */
	assert_int_equal(myc_parse_ok(S("\x00\x00\x00\x02@\x00\x00\x00\x0e\x05\t\x08________\x04\x01\x00"),
				      caps, &ok), 0);
	off = 0;
	myc_track_next(ok.state, &off, &t);
	assert_int_equal(myc_track_next(ok.state, &off, &t), 1);
	assert_int_equal(t.type, SESSION_TRACK_TRANSACTION_CHARACTERISTICS);
	assert_int_equal(t.value.len, 0);
	/* captured: LOAD DATA's OK with an info string */
	assert_int_equal(myc_parse_ok(S("\x00\x02\x00\x02\x00\x00\x00/Records: 2  Deleted: 0  Skipped: 0  Warnings: 0"),
				      caps, &ok), 0);
	assert_int_equal(ok.affected_rows, 2);
	assert_str(ok.info, "Records: 2  Deleted: 0  Skipped: 0  Warnings: 0");
	/* MySQL's SESSION_TRACK_GTIDS: encoding byte then the set */
	static const char mysql_gtids[] = "\x00\x00\x00\x02@\x00\x00\x00\x2c\x03\x2a\x00\x28"
					  "3E11FA47-71CA-11E1-9E33-C80AA9429562:1-5";
	assert_int_equal(myc_parse_ok(S(mysql_gtids), caps, &ok), 0);
	assert_str(ok.gtids, "3E11FA47-71CA-11E1-9E33-C80AA9429562:1-5");
	/* the 0xfe OK that ends a result set */
	assert_int_equal(myc_parse_ok(S("\xfe\x00\x00\x22\x00\x01\x00"), caps, &ok), 0);
	assert_int_equal(ok.status, 0x22);
	assert_int_equal(ok.warnings, 1);
	/* malformed: truncated, state longer than the packet, bad entry */
	assert_int_equal(myc_parse_ok(S("\x00\x00\x00\x02"), caps, &ok), MYC_ERR_LENGTH);
	assert_int_equal(myc_parse_ok(S("\x00\x00\x00\x02@\x00\x00\x00\x09\x01\x05\x04shop"), caps, &ok),
			 MYC_ERR_LENGTH);
	assert_int_equal(myc_parse_ok(S("\x00\x00\x00\x02@\x00\x00\x00\x07\x01\x05\x09shop"), caps, &ok),
			 MYC_ERR_FORMAT);
	assert_int_equal(myc_parse_ok(S("\x01\x00\x00\x02\x00\x00\x00"), caps, &ok), MYC_ERR_FORMAT);
	/* an unknown entry type is skipped by its length */
	assert_int_equal(myc_parse_ok(S("\x00\x00\x00\x02@\x00\x00\x00\x05\x63\x03xyz"), caps, &ok), 0);
	off = 0;
	assert_int_equal(myc_track_next(ok.state, &off, &t), 1);
	assert_int_equal(t.type, 0x63);
	assert_str(t.data, "xyz");
}

static void test_err(void **state)
{
	struct myc_errp e;
	assert_int_equal(myc_parse_err(S("\xff\x1e\x04#42S22Unknown column 'nosuch' in 'SELECT'"), &e), 0);
	assert_int_equal(e.code, 1054);
	assert_string_equal(e.sqlstate, "42S22");
	assert_str(e.message, "Unknown column 'nosuch' in 'SELECT'");
	assert_false(e.progress);
	/* before the handshake completes there is no SQL state */
	assert_int_equal(myc_parse_err(S("\xff\x69\x04Host '1.2.3.4' is blocked"), &e), 0);
	assert_int_equal(e.code, 1129);
	assert_string_equal(e.sqlstate, "HY000");
	assert_str(e.message, "Host '1.2.3.4' is blocked");
	/* MariaDB progress report */
	assert_int_equal(myc_parse_err(S("\xff\xff\xff\x01\x02\x50\xc3\x00\x04" "copy"), &e), 0);
	assert_true(e.progress);
	assert_str(e.message, "copy");
	assert_int_equal(myc_parse_err(S("\xff\xff\xff\x01"), &e), MYC_ERR_LENGTH);
	assert_int_equal(myc_parse_err(S("\xff\x01"), &e), MYC_ERR_LENGTH);
	assert_int_equal(myc_parse_err(S("\x00\x01\x02"), &e), MYC_ERR_FORMAT);

	struct buf b;
	buf_init(&b);
	myc_put_err(&b, 2, 1045, "28000", "Access denied for user 'x'");
	assert_int_equal(b.data[3], 2);
	assert_int_equal(myc_parse_err(b.data + 4, b.len - 4, &e), 0);
	assert_int_equal(e.code, 1045);
	assert_string_equal(e.sqlstate, "28000");
	assert_str(e.message, "Access denied for user 'x'");
	buf_reset(&b);
	myc_put_err(&b, 1, 1105, NULL, "x");
	assert_int_equal(myc_parse_err(b.data + 4, b.len - 4, &e), 0);
	assert_string_equal(e.sqlstate, "HY000");
	buf_free(&b);
}

static void test_eof(void **state)
{
	struct myc_eof e;
	assert_true(myc_is_eof(S("\xfe\x00\x00\x02\x00")));
	assert_int_equal(myc_parse_eof(S("\xfe\x00\x00\x42\x00"), &e), 0);
	assert_int_equal(e.status, SERVER_STATUS_AUTOCOMMIT | SERVER_STATUS_CURSOR_EXISTS);
	assert_int_equal(myc_parse_eof(S("\xfe\x01\x00\x02\x00"), &e), 0);
	assert_int_equal(e.warnings, 1);
	assert_true(myc_is_eof(S("\xfe")));
	assert_false(myc_is_eof(S("\xfe\x00\x00\x00\x00\x00\x00\x00\x00")));
	assert_false(myc_is_eof(S("\x00\x00\x00\x02\x00")));
	assert_true(myc_is_ok_eof(S("\xfe\x00\x00\x02\x00\x00\x00")));
	assert_false(myc_is_ok_eof(NULL, 0));
	assert_int_equal(myc_parse_eof(S("\xfe\x00\x00\x02\x00\x00\x00\x00\x00"), &e), MYC_ERR_FORMAT);

	struct buf b;
	buf_init(&b);
	myc_put_eof(&b, 5, 0, SERVER_STATUS_AUTOCOMMIT);
	assert_int_equal(b.len, 9);
	assert_memory_equal(b.data, "\x05\x00\x00\x05\xfe\x00\x00\x02\x00", 9);
	buf_reset(&b);
	myc_put_ok_eof(&b, 3, SERVER_STATUS_AUTOCOMMIT, 0);
	assert_memory_equal(b.data, "\x07\x00\x00\x03\xfe\x00\x00\x02\x00\x00\x00", 11);
	buf_reset(&b);
	myc_put_ok(&b, 2, CLIENT_PROTOCOL_41 | CLIENT_SESSION_TRACK, 300, 7,
		   SERVER_STATUS_IN_TRANS, 1, "Rows matched: 1");
	struct myc_ok ok;
	assert_int_equal(myc_parse_ok(b.data + 4, b.len - 4, CLIENT_PROTOCOL_41 | CLIENT_SESSION_TRACK, &ok), 0);
	assert_int_equal(ok.affected_rows, 300);
	assert_int_equal(ok.last_insert_id, 7);
	assert_int_equal(ok.status, SERVER_STATUS_IN_TRANS);
	assert_int_equal(ok.warnings, 1);
	assert_str(ok.info, "Rows matched: 1");
	buf_reset(&b);
	myc_put_ok(&b, 2, CLIENT_PROTOCOL_41, 0, 0, SERVER_STATUS_AUTOCOMMIT, 0, NULL);
	assert_memory_equal(b.data, "\x07\x00\x00\x02\x00\x00\x00\x02\x00\x00\x00", 11);
	buf_free(&b);
}

/* ---- authentication exchange ---- */

static void test_auth_switch(void **state)
{
	struct myc_auth_switch as;
	assert_int_equal(myc_parse_auth_switch(P(switch_request), &as), 0);
	assert_str(as.plugin, "mysql_native_password");
	assert_int_equal(as.data.len, 20);
	/* the switch repeats the handshake's nonce */
	struct myc_handshake h;
	assert_int_equal(myc_parse_handshake(P(switch_handshake), &h), 0);
	assert_memory_equal(as.data.p, h.auth_data, 20);
	assert_int_equal(myc_parse_auth_switch(S("\xfe"), &as), 0);
	assert_int_equal(as.plugin.len, 0);
	assert_int_equal(myc_parse_auth_switch(S("\xfemysql_native_password"), &as), MYC_ERR_FORMAT);
	assert_int_equal(myc_parse_auth_switch(S("\x00"), &as), MYC_ERR_FORMAT);
	assert_int_equal(myc_parse_auth_switch(NULL, 0, &as), MYC_ERR_LENGTH);

	struct buf b;
	buf_init(&b);
	myc_put_auth_switch(&b, 2, "mysql_native_password", h.auth_data, 20);
	assert_int_equal(b.len, sizeof(switch_request) - 1);
	assert_memory_equal(b.data, switch_request, b.len);
	buf_reset(&b);
	myc_put_auth_more_data(&b, 4, (const uint8_t *)"\x04", 1);
	struct myc_str d;
	assert_int_equal(myc_parse_auth_more_data(b.data + 4, b.len - 4, &d), 0);
	assert_int_equal(d.len, 1);
	assert_int_equal(d.p[0], MYC_SHA2_PERFORM_FULL_AUTH);
	assert_int_equal(myc_parse_auth_more_data(S("\x02"), &d), MYC_ERR_FORMAT);
	assert_int_equal(myc_parse_auth_more_data(NULL, 0, &d), MYC_ERR_LENGTH);
	buf_reset(&b);
	myc_put_raw(&b, 3, (const uint8_t *)switch_reply + 4, sizeof(switch_reply) - 1 - 4);
	assert_memory_equal(b.data, switch_reply, b.len);
	buf_free(&b);
}

/* ---- results ---- */

static void test_column(void **state)
{
	struct myc_column c;
	static const char id_def[] = "\x03" "def\x04shop\x01t\x01t\x02id\x02id\x0c?\x00\x0b\x00\x00\x00\x03\x03" "B\x00\x00\x00";
	assert_int_equal(myc_parse_column(S(id_def), 0, &c), 0);
	assert_str(c.catalog, "def");
	assert_str(c.schema, "shop");
	assert_str(c.table, "t");
	assert_str(c.name, "id");
	assert_int_equal(c.charset, 63);
	assert_int_equal(c.length, 11);
	assert_int_equal(c.type, MYSQL_TYPE_LONG);
	assert_int_equal(c.flags, 0x4203);
	assert_null(c.default_value.p);
	/* MariaDB extended metadata: an (empty) string before the fixed part */
	static const char ext_def[] = "\x03" "def\x04shop\x01t\x01t\x02id\x02id\x00\x0c?\x00\x0b\x00\x00\x00\x03\x03" "B\x00\x00\x00";
	assert_int_equal(myc_parse_column(S(ext_def), MARIADB_CLIENT_EXTENDED_METADATA, &c), 0);
	assert_int_equal(c.type, MYSQL_TYPE_LONG);
	assert_int_equal(myc_parse_column(S(ext_def), 0, &c), MYC_ERR_FORMAT);
	/* COM_FIELD_LIST adds the default value */
	assert_int_equal(myc_parse_column(P(field_def_default), 0, &c), 0);
	assert_str(c.default_value, "0");
	for (size_t i = 0; i < sizeof(id_def) - 1; i++)
		assert_true(myc_parse_column((const uint8_t *)id_def, i, 0, &c) < 0);

	uint64_t count;
	bool meta;
	assert_int_equal(myc_parse_column_count(S("\x03"), CLIENT_PROTOCOL_41, 0, &count, &meta), 0);
	assert_int_equal(count, 3);
	assert_true(meta);
	/* captured, MariaDB cache metadata: "2 columns, metadata skipped" */
	assert_int_equal(myc_parse_column_count(S("\x02\x00"), CLIENT_PROTOCOL_41,
						MARIADB_CLIENT_CACHE_METADATA, &count, &meta), 0);
	assert_int_equal(count, 2);
	assert_false(meta);
	/* ext caps count only when CLIENT_MYSQL is clear */
	assert_int_equal(myc_parse_column_count(S("\x02\x00"), CLIENT_PROTOCOL_41 | CLIENT_MYSQL,
						MARIADB_CLIENT_CACHE_METADATA, &count, &meta), MYC_ERR_FORMAT);
	assert_int_equal(myc_parse_column_count(S("\x00"), 0, 0, &count, &meta), MYC_ERR_FORMAT);
	assert_int_equal(myc_parse_column_count(S("\xfc\x01"), 0, 0, &count, &meta), MYC_ERR_LENGTH);
}

static void test_text_row(void **state)
{
	static const char row[] = "\x01" "1\x01x\xfb";
	size_t off = 0;
	struct myc_str v;
	bool null;
	assert_int_equal(myc_text_row_next(S(row), &off, &v, &null), 1);
	assert_str(v, "1");
	assert_false(null);
	assert_int_equal(myc_text_row_next(S(row), &off, &v, &null), 1);
	assert_str(v, "x");
	assert_int_equal(myc_text_row_next(S(row), &off, &v, &null), 1);
	assert_true(null);
	assert_int_equal(myc_text_row_next(S(row), &off, &v, &null), 0);
	off = 0;
	assert_int_equal(myc_text_row_next(S("\x05" "ab"), &off, &v, &null), MYC_ERR_LENGTH);
}

/* The proxy's own result sets (admin console): built, then parsed back. */
static void test_result_builders(void **state)
{
	struct buf b;
	buf_init(&b);
	uint8_t seq = myc_put_column_count(&b, 1, 2);
	assert_int_equal(seq, 2);
	seq = myc_put_text_column(&b, seq, "name");
	seq = myc_put_text_column(&b, seq, "value");
	static const char *const vals[2] = { "queries_total", NULL };
	seq = myc_put_text_row(&b, seq, vals, 2);
	assert_int_equal(seq, 5);
	assert_false(b.oom);

	size_t off = 0;
	struct myc_frame f;
	uint64_t count;
	bool meta;
	ssize_t r = myc_frame_next(b.data, b.len, &lim, NULL, &f);
	assert_true(r > 0);
	assert_int_equal(f.seq, 1);
	assert_int_equal(myc_parse_column_count(f.payload, f.len, CLIENT_PROTOCOL_41 | CLIENT_MYSQL, 0, &count, &meta), 0);
	assert_int_equal(count, 2);
	off += (size_t)r;
	static const char *const names[2] = { "name", "value" };
	for (int i = 0; i < 2; i++) {
		r = myc_frame_next(b.data + off, b.len - off, &lim, NULL, &f);
		assert_true(r > 0);
		assert_int_equal(f.seq, 2 + i);
		struct myc_column c;
		assert_int_equal(myc_parse_column(f.payload, f.len, 0, &c), 0);
		assert_str(c.catalog, "def");
		assert_str(c.name, names[i]);
		assert_str(c.org_name, names[i]);
		assert_int_equal(c.type, MYSQL_TYPE_VAR_STRING);
		assert_int_equal(c.charset, MYC_UTF8MB4_COLLATION);
		off += (size_t)r;
	}
	r = myc_frame_next(b.data + off, b.len - off, &lim, NULL, &f);
	assert_true(r > 0);
	assert_int_equal(f.seq, 4);
	size_t roff = 0;
	struct myc_str v;
	bool null;
	assert_int_equal(myc_text_row_next(f.payload, f.len, &roff, &v, &null), 1);
	assert_str(v, "queries_total");
	assert_false(null);
	assert_int_equal(myc_text_row_next(f.payload, f.len, &roff, &v, &null), 1);
	assert_true(null);
	assert_int_equal(myc_text_row_next(f.payload, f.len, &roff, &v, &null), 0);
	off += (size_t)r;
	assert_int_equal(off, b.len);
	buf_free(&b);
}

static void test_binary_values(void **state)
{
	assert_int_equal(myc_binary_value_len(MYSQL_TYPE_LONGLONG, S("12345678")), 8);
	assert_int_equal(myc_binary_value_len(MYSQL_TYPE_LONGLONG, S("1234567")), MYC_ERR_LENGTH);
	assert_int_equal(myc_binary_value_len(MYSQL_TYPE_TINY, S("1")), 1);
	assert_int_equal(myc_binary_value_len(MYSQL_TYPE_SHORT, S("12")), 2);
	assert_int_equal(myc_binary_value_len(MYSQL_TYPE_FLOAT, S("1234")), 4);
	assert_int_equal(myc_binary_value_len(MYSQL_TYPE_NULL, NULL, 0), 0);
	assert_int_equal(myc_binary_value_len(MYSQL_TYPE_VAR_STRING, S("\x02zz")), 3);
	assert_int_equal(myc_binary_value_len(MYSQL_TYPE_VAR_STRING, S("\x03zz")), MYC_ERR_LENGTH);
	assert_int_equal(myc_binary_value_len(MYSQL_TYPE_DATETIME, S("\x07\xe8\x07\x01\x02\x03\x04\x05")), 8);
	assert_int_equal(myc_binary_value_len(MYSQL_TYPE_DATE, S("\x00")), 1);
	assert_int_equal(myc_binary_value_len(MYSQL_TYPE_TIME, S("\x08\x00")), MYC_ERR_LENGTH);
	assert_int_equal(myc_binary_value_len(MYSQL_TYPE_TIME, NULL, 0), MYC_ERR_LENGTH);
	assert_int_equal(myc_binary_value_len(100, S("x")), MYC_ERR_FORMAT);
}

/* ---- commands ---- */

static void test_commands(void **state)
{
	uint32_t caps = CLIENT_PROTOCOL_41 | CLIENT_SECURE_CONNECTION | CLIENT_PLUGIN_AUTH |
			CLIENT_CONNECT_ATTRS;
	struct myc_cmd c;
	assert_int_equal(myc_parse_command(S("\x03select 1"), caps, &c), 0);
	assert_int_equal(c.cmd, COM_QUERY);
	assert_str(c.text, "select 1");
	assert_false(c.has_stmt_id);
	assert_int_equal(myc_parse_command(S("\x02shop"), caps, &c), 0);
	assert_int_equal(c.cmd, COM_INIT_DB);
	assert_str(c.text, "shop");
	assert_int_equal(myc_parse_command(S("\x16select id, v from t where id > ? and v <> ?"), caps, &c), 0);
	assert_int_equal(c.cmd, COM_STMT_PREPARE);
	assert_str(c.text, "select id, v from t where id > ? and v <> ?");
	assert_int_equal(myc_parse_command(S("\x04t\x00"), caps, &c), 0);
	assert_int_equal(c.cmd, COM_FIELD_LIST);
	assert_str(c.text, "t");
	assert_int_equal(c.arg.len, 0);
	assert_int_equal(myc_parse_command(S("\x04t"), caps, &c), MYC_ERR_LENGTH);
	assert_int_equal(myc_parse_command(S("\x1b\x01\x00"), caps, &c), 0);
	assert_int_equal(c.option, 1);
	assert_int_equal(myc_parse_command(S("\x0c\x2a\x00\x00\x00"), caps, &c), 0);
	assert_int_equal(c.process_id, 42);
	assert_int_equal(myc_parse_command(S("\x0e"), caps, &c), 0);
	assert_int_equal(c.cmd, COM_PING);
	assert_int_equal(myc_parse_command(S("\x09"), caps, &c), 0);
	assert_int_equal(c.cmd, COM_STATISTICS);
	assert_int_equal(myc_parse_command(S("\x1f"), caps, &c), 0);
	assert_string_equal(myc_com_name(c.cmd), "COM_RESET_CONNECTION");
	assert_int_equal(myc_parse_command(S("\x77zz"), caps, &c), 0);
	assert_string_equal(myc_com_name(c.cmd), "COM_UNKNOWN");
	assert_string_equal(myc_com_name(COM_STMT_BULK_EXECUTE), "COM_STMT_BULK_EXECUTE");
	assert_int_equal(myc_parse_command(NULL, 0, caps, &c), MYC_ERR_LENGTH);

	/* captured statement commands, ids rewritten in place */
	uint8_t exec[] = "\x17\x0e\x00\x00\x00\x00\x01\x00\x00\x00\x00\x01\x08\x00\xfd\x00"
			 "\x00\x00\x00\x00\x00\x00\x00\x00\x02zz";
	size_t exec_len = sizeof(exec) - 1;
	assert_int_equal(myc_parse_command(exec, exec_len, caps, &c), 0);
	assert_int_equal(c.cmd, COM_STMT_EXECUTE);
	assert_true(c.has_stmt_id);
	assert_int_equal(c.stmt_id, 14);
	assert_int_equal(c.stmt_id_off, 1);
	assert_int_equal(c.flags, 0);
	assert_int_equal(c.iterations, 1);
	myc_set_stmt_id(exec, c.stmt_id_off, 0x01020304);
	assert_int_equal(myc_parse_command(exec, exec_len, caps, &c), 0);
	assert_int_equal(c.stmt_id, 0x01020304);
	struct myc_exec_params ep;
	assert_int_equal(myc_parse_exec_params(&c, 2, NULL, &ep), 0);
	assert_int_equal(ep.null_bitmap.len, 1);
	assert_true(ep.new_params_bound);
	assert_int_equal(ep.bound_flag_off, 11);
	assert_int_equal(exec[ep.bound_flag_off], 1);
	assert_int_equal(ep.types.len, 4);
	assert_int_equal(ep.types.p[0], MYSQL_TYPE_LONGLONG);
	assert_int_equal(ep.types.p[2], MYSQL_TYPE_VAR_STRING);
	assert_int_equal(ep.values.len, 11);
	ssize_t l1 = myc_binary_value_len(ep.types.p[0], ep.values.p, ep.values.len);
	assert_int_equal(l1, 8);
	assert_int_equal(myc_binary_value_len(ep.types.p[2], ep.values.p + 8, ep.values.len - 8), 3);
	assert_int_equal(myc_parse_exec_params(&c, 0, NULL, &ep), 0);
	assert_int_equal(myc_parse_exec_params(&c, 200, NULL, &ep), MYC_ERR_LENGTH);
	/* captured: re-execute without rebinding (types from before), one NULL */
	static const char exec2[] = "\x17\x0e\x00\x00\x00\x00\x01\x00\x00\x00\x02\x00\x01\x00\x00\x00\x00\x00\x00\x00";
	assert_int_equal(myc_parse_command(S(exec2), caps, &c), 0);
	assert_int_equal(myc_parse_exec_params(&c, 2, (const uint8_t *)"\x08\x00\xfd\x00", &ep), 0);
	assert_false(ep.new_params_bound);
	assert_int_equal(ep.null_bitmap.p[0], 2);
	assert_int_equal(ep.types.len, 4);
	assert_int_equal(ep.values.len, 8);
	/* a cursor */
	assert_int_equal(myc_parse_command(S("\x17\x0e\x00\x00\x00\x01\x01\x00\x00\x00"), caps, &c), 0);
	assert_int_equal(c.flags, 1);
	assert_int_equal(myc_parse_command(S("\x17\x0e\x00\x00\x00\x01\x01\x00\x00"), caps, &c), MYC_ERR_LENGTH);

	assert_int_equal(myc_parse_command(S("\x1c\x0e\x00\x00\x00\x02\x00\x00\x00"), caps, &c), 0);
	assert_int_equal(c.cmd, COM_STMT_FETCH);
	assert_int_equal(c.stmt_id, 14);
	assert_int_equal(c.num_rows, 2);
	assert_int_equal(myc_parse_command(S("\x18\x0e\x00\x00\x00\x01\x00long"), caps, &c), 0);
	assert_int_equal(c.cmd, COM_STMT_SEND_LONG_DATA);
	assert_int_equal(c.stmt_id_off, 1);
	assert_int_equal(c.param_id, 1);
	assert_str(c.text, "long");
	assert_int_equal(myc_parse_command(S("\x19\x0e\x00\x00\x00"), caps, &c), 0);
	assert_int_equal(c.cmd, COM_STMT_CLOSE);
	assert_int_equal(c.stmt_id, 14);
	assert_int_equal(myc_parse_command(S("\x1a\x0e\x00\x00"), caps, &c), MYC_ERR_LENGTH);
	assert_int_equal(myc_parse_command(S("\xfa\x0e\x00\x00\x00\x80\x00"), caps, &c), 0);
	assert_int_equal(c.cmd, COM_STMT_BULK_EXECUTE);
	assert_int_equal(c.bulk_flags, 0x80);
	assert_int_equal(c.stmt_id, 14);

	/* MySQL 8 query attributes: none is fine, some are refused */
	assert_int_equal(myc_parse_command(S("\x03\x00\x01select 1"), caps | CLIENT_QUERY_ATTRIBUTES, &c), 0);
	assert_str(c.text, "select 1");
	assert_int_equal(myc_parse_command(S("\x03\x01\x01\x00\x01\x08\x00\x01x"), caps | CLIENT_QUERY_ATTRIBUTES, &c),
			 MYC_ERR_UNSUPPORTED);
}

static void test_change_user(void **state)
{
	uint32_t caps = CLIENT_PROTOCOL_41 | CLIENT_SECURE_CONNECTION | CLIENT_PLUGIN_AUTH |
			CLIENT_CONNECT_ATTRS;
	struct myc_cmd c;
	assert_int_equal(myc_parse_command(P(change_user), caps, &c), 0);
	assert_int_equal(c.cmd, COM_CHANGE_USER);
	assert_str(c.change_user.user, "app");
	assert_int_equal(c.change_user.auth.len, 20);
	assert_str(c.change_user.database, "shop");
	assert_int_equal(c.change_user.charset, 33);
	assert_str(c.change_user.plugin, "mysql_native_password");
	assert_int_equal(c.change_user.attrs.len, 0);
	/* attributes overrunning the packet */
	static const char bad[] = "\x11u\x00\x00\x00\x21\x00p\x00\x05\x01";
	assert_int_equal(myc_parse_command(S(bad), caps, &c), MYC_ERR_LENGTH);
	static const char bad2[] = "\x11u\x00\x00\x00\x21\x00p\x00\x02\x05x";
	assert_int_equal(myc_parse_command(S(bad2), caps, &c), MYC_ERR_FORMAT);
	assert_int_equal(myc_parse_command(S("\x11u\x00\x14xx"), caps, &c), MYC_ERR_LENGTH);
	/* the shortest: user and empty auth only */
	assert_int_equal(myc_parse_command(S("\x11u\x00\x00"), caps, &c), 0);
	assert_int_equal(c.change_user.database.len, 0);
}

static void test_prepare_ok(void **state)
{
	struct myc_stmt_prepare_ok po;
	assert_int_equal(myc_parse_stmt_prepare_ok(S("\x00\x0e\x00\x00\x00\x02\x00\x02\x00\x00\x00\x00"), &po), 0);
	assert_int_equal(po.stmt_id, 14);
	assert_int_equal(po.num_columns, 2);
	assert_int_equal(po.num_params, 2);
	assert_int_equal(po.warnings, 0);
	assert_int_equal(myc_parse_stmt_prepare_ok(S("\x00\x0e\x00\x00\x00\x02\x00\x02\x00"), &po),
			 MYC_ERR_LENGTH);
	assert_int_equal(myc_parse_stmt_prepare_ok(S("\xff\x0e\x00\x00\x00\x02\x00\x02\x00\x00"), &po),
			 MYC_ERR_FORMAT);
}

static void test_command_builders(void **state)
{
	struct buf b;
	buf_init(&b);
	myc_put_query(&b, "select 1");
	assert_memory_equal(b.data, "\x09\x00\x00\x00\x03select 1", b.len);
	buf_reset(&b);
	myc_put_init_db(&b, "shop");
	assert_memory_equal(b.data, "\x05\x00\x00\x00\x02shop", b.len);
	buf_reset(&b);
	myc_put_ping(&b);
	myc_put_quit(&b);
	myc_put_reset_connection(&b);
	assert_int_equal(b.len, 15);
	assert_memory_equal(b.data, "\x01\x00\x00\x00\x0e\x01\x00\x00\x00\x01\x01\x00\x00\x00\x1f", 15);
	buf_reset(&b);
	myc_put_stmt_prepare(&b, "select ?");
	myc_put_stmt_close(&b, 9);
	assert_memory_equal(b.data, "\x09\x00\x00\x00\x16select ?\x05\x00\x00\x00\x19\x09\x00\x00\x00", b.len);
	buf_free(&b);
}

/* A payload of 0xffffff bytes or more is split; frames carry consecutive
 * sequence ids and a final (maybe empty) frame. */
static void test_builder_split(void **state)
{
	static const size_t sizes[] = { MYC_MAX_FRAME - 1, MYC_MAX_FRAME, MYC_MAX_FRAME + 10,
					2 * (size_t)MYC_MAX_FRAME };
	struct myc_limits big = { .max_packet_size = 64u << 20 };
	for (size_t k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
		size_t len = sizes[k];
		struct buf b;
		buf_init(&b);
		buf_put(&b, "xx", 2); /* a frame already in the buffer */
		size_t s = myc_begin(&b, 7);
		assert_true(buf_reserve(&b, len));
		for (size_t i = 0; i < len; i++)
			b.data[b.len + i] = (uint8_t)(i * 31 + 7);
		b.len += len;
		uint8_t next = myc_end(&b, s);
		size_t nframes = len / MYC_MAX_FRAME + 1;
		assert_int_equal(next, 7 + nframes);
		assert_int_equal(b.len, 2 + len + 4 * nframes);
		/* reassemble */
		struct myc_split sp = { 0 };
		size_t off = 2, got = 0;
		uint8_t seq = 7;
		for (size_t fno = 0; fno < nframes; fno++) {
			struct myc_frame f;
			ssize_t r = myc_frame_next(b.data + off, b.len - off, &big, &sp, &f);
			assert_true(r > 0);
			assert_int_equal(f.seq, seq++);
			assert_int_equal(f.cont, fno > 0);
			assert_int_equal(f.more, fno + 1 < nframes);
			for (size_t i = 0; i < f.len; i += 4099)
				assert_int_equal(f.payload[i], (uint8_t)((got + i) * 31 + 7));
			got += f.len;
			off += (size_t)r;
		}
		assert_int_equal(got, len);
		assert_int_equal(off, b.len);
		buf_free(&b);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_frame),
		cmocka_unit_test(test_frame_split),
		cmocka_unit_test(test_lenenc),
		cmocka_unit_test(test_handshake_mariadb),
		cmocka_unit_test(test_handshake_build),
		cmocka_unit_test(test_response_mariadb_cli),
		cmocka_unit_test(test_response_pymysql_and_switch),
		cmocka_unit_test(test_ssl_request),
		cmocka_unit_test(test_response_build),
		cmocka_unit_test(test_ok_found_rows),
		cmocka_unit_test(test_ok_session_track),
		cmocka_unit_test(test_err),
		cmocka_unit_test(test_eof),
		cmocka_unit_test(test_auth_switch),
		cmocka_unit_test(test_column),
		cmocka_unit_test(test_text_row),
		cmocka_unit_test(test_result_builders),
		cmocka_unit_test(test_binary_values),
		cmocka_unit_test(test_commands),
		cmocka_unit_test(test_change_user),
		cmocka_unit_test(test_prepare_ok),
		cmocka_unit_test(test_command_builders),
		cmocka_unit_test(test_builder_split),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
