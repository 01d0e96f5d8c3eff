/*
 * myc.h — the MySQL/MariaDB client/server protocol codec, pure.
 *
 * Framing, payload parsing and building over byte arrays: no sockets, no
 * globals, no logging, no allocation in the parsers. Limits come in as an
 * argument. Framing follows pgc's convention:
 *
 *     ssize_t r = myc_frame_next(p, n, lim, &split, &frame);
 *     r < 0   malformed (an enum myc_err): close the peer
 *     r == 0  not enough bytes yet; call again with more
 *     r > 0   one frame was parsed and r bytes were used
 *
 * Payload parsers take one whole payload (the bytes after the 4-byte
 * header) and return 0, or an enum myc_err (< 0).
 *
 * Ownership: every struct myc_str and pointer a parser outputs points
 * into the input bytes and is valid only as long as they are (for an
 * evbuffer: until they are drained). Builders append to a struct buf
 * (util/buf.h), which owns its memory; check b->oom once at the end.
 *
 * Trust boundary: everything here reads bytes from clients and servers that
 * may be hostile. Every length (frame, length-encoded integer and string,
 * fixed field) is checked against the bytes present, and a logical packet
 * (frames joined across 0xffffff splits) against lim->max_packet_size.
 *
 * MariaDB: a MariaDB server clears CLIENT_MYSQL (bit 0, the old
 * CLIENT_LONG_PASSWORD) in its handshake and puts its extended
 * capabilities (MARIADB_CLIENT_*) in the last 4 filler bytes; a client that
 * clears CLIENT_MYSQL in its answer does the same in its own filler.
 */
#ifndef SWITCHYARD_MYC_H
#define SWITCHYARD_MYC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "util/buf.h"

#define MYC_HEADER_LEN 4
#define MYC_MAX_FRAME 0xffffffu           /* payload of one frame; == means "more follows" */
#define MYC_SCRAMBLE_LEN 20               /* native / caching_sha2 nonce */
#define MYC_SSL_REQUEST_LEN 32

/* ---- capability flags (HandshakeV10 / HandshakeResponse41) ---- */
#define CLIENT_LONG_PASSWORD (1u << 0)    /* MariaDB: CLIENT_MYSQL */
#define CLIENT_MYSQL CLIENT_LONG_PASSWORD
#define CLIENT_FOUND_ROWS (1u << 1)
#define CLIENT_LONG_FLAG (1u << 2)
#define CLIENT_CONNECT_WITH_DB (1u << 3)
#define CLIENT_NO_SCHEMA (1u << 4)
#define CLIENT_COMPRESS (1u << 5)
#define CLIENT_ODBC (1u << 6)
#define CLIENT_LOCAL_FILES (1u << 7)
#define CLIENT_IGNORE_SPACE (1u << 8)
#define CLIENT_PROTOCOL_41 (1u << 9)
#define CLIENT_INTERACTIVE (1u << 10)
#define CLIENT_SSL (1u << 11)
#define CLIENT_IGNORE_SIGPIPE (1u << 12)
#define CLIENT_TRANSACTIONS (1u << 13)
#define CLIENT_RESERVED (1u << 14)
#define CLIENT_SECURE_CONNECTION (1u << 15) /* a.k.a. CLIENT_RESERVED2 */
#define CLIENT_MULTI_STATEMENTS (1u << 16)
#define CLIENT_MULTI_RESULTS (1u << 17)
#define CLIENT_PS_MULTI_RESULTS (1u << 18)
#define CLIENT_PLUGIN_AUTH (1u << 19)
#define CLIENT_CONNECT_ATTRS (1u << 20)
#define CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA (1u << 21)
#define CLIENT_CAN_HANDLE_EXPIRED_PASSWORDS (1u << 22)
#define CLIENT_SESSION_TRACK (1u << 23)
#define CLIENT_DEPRECATE_EOF (1u << 24)
#define CLIENT_OPTIONAL_RESULTSET_METADATA (1u << 25) /* MySQL 8 */
#define CLIENT_ZSTD_COMPRESSION_ALGORITHM (1u << 26)  /* MySQL 8 */
#define CLIENT_QUERY_ATTRIBUTES (1u << 27)            /* MySQL 8.0.23 */
#define CLIENT_MULTI_FACTOR_AUTHENTICATION (1u << 28) /* MySQL 8.0.27 */
#define CLIENT_PROGRESS_OBSOLETE (1u << 29)
#define CLIENT_SSL_VERIFY_SERVER_CERT (1u << 30)
#define CLIENT_REMEMBER_OPTIONS (1u << 31)

/* MariaDB extended capabilities (the 4 bytes after the filler). */
#define MARIADB_CLIENT_PROGRESS (1u << 0)
#define MARIADB_CLIENT_COM_MULTI (1u << 1)
#define MARIADB_CLIENT_STMT_BULK_OPERATIONS (1u << 2)
#define MARIADB_CLIENT_EXTENDED_METADATA (1u << 3)
#define MARIADB_CLIENT_CACHE_METADATA (1u << 4)
#define MARIADB_CLIENT_BULK_UNIT_RESULTS (1u << 5)

/* ---- server status flags (OK / EOF) ---- */
#define SERVER_STATUS_IN_TRANS 0x0001u
#define SERVER_STATUS_AUTOCOMMIT 0x0002u
#define SERVER_MORE_RESULTS_EXISTS 0x0008u
#define SERVER_QUERY_NO_GOOD_INDEX_USED 0x0010u
#define SERVER_QUERY_NO_INDEX_USED 0x0020u
#define SERVER_STATUS_CURSOR_EXISTS 0x0040u
#define SERVER_STATUS_LAST_ROW_SENT 0x0080u
#define SERVER_STATUS_DB_DROPPED 0x0100u
#define SERVER_STATUS_NO_BACKSLASH_ESCAPES 0x0200u
#define SERVER_STATUS_METADATA_CHANGED 0x0400u
#define SERVER_QUERY_WAS_SLOW 0x0800u
#define SERVER_PS_OUT_PARAMS 0x1000u
#define SERVER_STATUS_IN_TRANS_READONLY 0x2000u
#define SERVER_SESSION_STATE_CHANGED 0x4000u

/* ---- session state change types (OK packets with CLIENT_SESSION_TRACK) ---- */
enum myc_track_type {
	SESSION_TRACK_SYSTEM_VARIABLES = 0,
	SESSION_TRACK_SCHEMA = 1,
	SESSION_TRACK_STATE_CHANGE = 2,
	SESSION_TRACK_GTIDS = 3,
	SESSION_TRACK_TRANSACTION_CHARACTERISTICS = 4,
	SESSION_TRACK_TRANSACTION_STATE = 5,
};

/* ---- command bytes ---- */
enum myc_com {
	COM_SLEEP = 0x00,
	COM_QUIT = 0x01,
	COM_INIT_DB = 0x02,
	COM_QUERY = 0x03,
	COM_FIELD_LIST = 0x04,
	COM_CREATE_DB = 0x05,
	COM_DROP_DB = 0x06,
	COM_REFRESH = 0x07,
	COM_SHUTDOWN = 0x08,
	COM_STATISTICS = 0x09,
	COM_PROCESS_INFO = 0x0a,
	COM_CONNECT = 0x0b,
	COM_PROCESS_KILL = 0x0c,
	COM_DEBUG = 0x0d,
	COM_PING = 0x0e,
	COM_TIME = 0x0f,
	COM_DELAYED_INSERT = 0x10,
	COM_CHANGE_USER = 0x11,
	COM_BINLOG_DUMP = 0x12,
	COM_TABLE_DUMP = 0x13,
	COM_CONNECT_OUT = 0x14,
	COM_REGISTER_SLAVE = 0x15,
	COM_STMT_PREPARE = 0x16,
	COM_STMT_EXECUTE = 0x17,
	COM_STMT_SEND_LONG_DATA = 0x18,
	COM_STMT_CLOSE = 0x19,
	COM_STMT_RESET = 0x1a,
	COM_SET_OPTION = 0x1b,
	COM_STMT_FETCH = 0x1c,
	COM_DAEMON = 0x1d,
	COM_BINLOG_DUMP_GTID = 0x1e,
	COM_RESET_CONNECTION = 0x1f,
	COM_STMT_BULK_EXECUTE = 0xfa,      /* MariaDB */
};

/* COM_SET_OPTION's options. */
enum { MYC_OPTION_MULTI_STATEMENTS_ON = 0, MYC_OPTION_MULTI_STATEMENTS_OFF = 1 };

/* A command's name ("COM_QUERY"), or "COM_UNKNOWN". */
const char *myc_com_name(uint8_t cmd);

/* Packet header bytes. */
#define MYC_OK 0x00
#define MYC_AUTH_MORE_DATA 0x01
#define MYC_LOCAL_INFILE 0xfb
#define MYC_EOF 0xfe
#define MYC_AUTH_SWITCH 0xfe
#define MYC_ERR 0xff

/* caching_sha2_password AuthMoreData status bytes. */
#define MYC_SHA2_REQUEST_PUBLIC_KEY 0x02
#define MYC_SHA2_FAST_AUTH_OK 0x03
#define MYC_SHA2_PERFORM_FULL_AUTH 0x04

/* Column types (column definitions, binary protocol). */
enum myc_type {
	MYSQL_TYPE_DECIMAL = 0, MYSQL_TYPE_TINY = 1, MYSQL_TYPE_SHORT = 2, MYSQL_TYPE_LONG = 3,
	MYSQL_TYPE_FLOAT = 4, MYSQL_TYPE_DOUBLE = 5, MYSQL_TYPE_NULL = 6,
	MYSQL_TYPE_TIMESTAMP = 7, MYSQL_TYPE_LONGLONG = 8, MYSQL_TYPE_INT24 = 9,
	MYSQL_TYPE_DATE = 10, MYSQL_TYPE_TIME = 11, MYSQL_TYPE_DATETIME = 12,
	MYSQL_TYPE_YEAR = 13, MYSQL_TYPE_NEWDATE = 14, MYSQL_TYPE_VARCHAR = 15,
	MYSQL_TYPE_BIT = 16, MYSQL_TYPE_TIMESTAMP2 = 17, MYSQL_TYPE_DATETIME2 = 18,
	MYSQL_TYPE_TIME2 = 19, MYSQL_TYPE_JSON = 245, MYSQL_TYPE_NEWDECIMAL = 246,
	MYSQL_TYPE_ENUM = 247, MYSQL_TYPE_SET = 248, MYSQL_TYPE_TINY_BLOB = 249,
	MYSQL_TYPE_MEDIUM_BLOB = 250, MYSQL_TYPE_LONG_BLOB = 251, MYSQL_TYPE_BLOB = 252,
	MYSQL_TYPE_VAR_STRING = 253, MYSQL_TYPE_STRING = 254, MYSQL_TYPE_GEOMETRY = 255,
};

struct myc_limits {
	size_t max_packet_size;           /* logical payload (frames joined) */
};

enum myc_err {
	MYC_ERR_LENGTH = -1,              /* a length runs past the bytes present */
	MYC_ERR_TOO_BIG = -2,             /* logical packet above max_packet_size */
	MYC_ERR_FORMAT = -3,              /* content does not match the packet type */
	MYC_ERR_PROTOCOL = -4,            /* unsupported protocol version / capability */
	MYC_ERR_UNEXPECTED = -5,          /* a packet the response tracker did not expect */
	MYC_ERR_UNSUPPORTED = -6,         /* valid, but the proxy does not handle it */
};

/* A human-readable reason for an enum myc_err. */
const char *myc_err_str(int err);

/* A borrowed byte string (not NUL-terminated unless said so). */
struct myc_str {
	const uint8_t *p;
	size_t len;
};

/* True when s equals the C string z. */
bool myc_str_eq(struct myc_str s, const char *z);

/* ---- framing ---- */

/*
 * Frames of one logical packet: a payload of exactly 0xffffff bytes says
 * another frame follows (possibly empty). The caller keeps one struct
 * myc_split per direction, zeroed at the start; myc_frame_next() updates it
 * only when it returns > 0, so a call that returns 0 can be repeated.
 */
struct myc_split {
	bool pending;                     /* the last frame was 0xffffff long */
	size_t total;                     /* logical bytes so far, this packet */
};

struct myc_frame {
	uint8_t seq;
	const uint8_t *payload;
	size_t len;
	bool cont;                        /* continues the previous frame's packet */
	bool more;                        /* len == 0xffffff: another frame follows */
};

/* Parse only the 4-byte header, for streaming a long frame through without
 * holding it: out->payload is NULL. Same checks and split update as
 * myc_frame_next(); returns MYC_HEADER_LEN. */
ssize_t myc_parse_header(const uint8_t *p, size_t n, const struct myc_limits *lim,
			 struct myc_split *split, struct myc_frame *out);

/* Frame one whole frame; returns its total size (header included).
 * split may be NULL: no continuation tracking, each frame stands alone. */
ssize_t myc_frame_next(const uint8_t *p, size_t n, const struct myc_limits *lim,
		       struct myc_split *split, struct myc_frame *out);

/* ---- reading payloads ---- */

/* A bounds-checked cursor; any short read sets `bad` and returns zeroes /
 * empty slices, so a caller checks `bad` once. */
struct myc_reader {
	const uint8_t *p;
	size_t n;
	size_t off;
	bool bad;
};

void myc_reader_init(struct myc_reader *r, const uint8_t *p, size_t n);
size_t myc_reader_left(const struct myc_reader *r);
uint8_t myc_read_u8(struct myc_reader *r);
uint16_t myc_read_u16(struct myc_reader *r);
uint32_t myc_read_u24(struct myc_reader *r);
uint32_t myc_read_u32(struct myc_reader *r);
uint64_t myc_read_u64(struct myc_reader *r);
/* `len` raw bytes. */
struct myc_str myc_read_bytes(struct myc_reader *r, size_t len);
/* A length-encoded integer (0xfb, NULL, and 0xff are bad here). */
uint64_t myc_read_lenenc(struct myc_reader *r);
/* A length-encoded string; *is_null (may be NULL) tells a 0xfb NULL. */
struct myc_str myc_read_lenenc_str(struct myc_reader *r, bool *is_null);
/* A NUL-terminated string: the slice excludes the NUL, which is consumed
 * (so s.p is a valid C string). */
struct myc_str myc_read_cstr(struct myc_reader *r);
/* The rest of the payload. */
struct myc_str myc_read_rest(struct myc_reader *r);

/* ---- server handshake (Initial Handshake Packet, protocol 10) ---- */

struct myc_handshake {
	uint8_t protocol;                 /* 10 */
	struct myc_str server_version;    /* NUL-terminated in the input */
	uint32_t conn_id;
	uint32_t caps;                    /* lower | upper << 16 */
	uint32_t ext_caps;                /* MariaDB, when !(caps & CLIENT_MYSQL) */
	uint8_t charset;
	uint16_t status;
	/* The nonce: part 1 (8 bytes) and part 2 joined, the trailing NUL of
	 * part 2 dropped (20 bytes from MySQL and MariaDB). */
	uint8_t auth_data[255];
	size_t auth_data_len;
	struct myc_str plugin;            /* "" without CLIENT_PLUGIN_AUTH */
};

int myc_parse_handshake(const uint8_t *p, size_t n, struct myc_handshake *out);

struct myc_handshake_params {
	const char *server_version;       /* e.g. "5.5.5-10.11.6-switchyard" */
	uint32_t conn_id;
	const uint8_t *scramble;          /* MYC_SCRAMBLE_LEN bytes */
	uint32_t caps;                    /* clear CLIENT_MYSQL to send ext_caps */
	uint32_t ext_caps;
	uint8_t charset;
	uint16_t status;
	const char *plugin;               /* "mysql_native_password" */
};

/* A whole frame (header with seq 0 + payload). */
void myc_put_handshake(struct buf *b, const struct myc_handshake_params *hp);

/* ---- client HandshakeResponse41 / SSLRequest ---- */

struct myc_handshake_response {
	bool ssl_request;                 /* the 32-byte SSLRequest: only the next 4 fields */
	uint32_t caps;
	uint32_t max_packet;
	uint8_t charset;
	uint32_t ext_caps;                /* MariaDB, when !(caps & CLIENT_MYSQL) */
	struct myc_str user;              /* NUL-terminated in the input */
	struct myc_str auth;              /* auth response bytes */
	struct myc_str database;          /* "" when absent; NUL-terminated when present */
	struct myc_str plugin;            /* "" when absent */
	struct myc_str attrs;             /* key/value pairs, validated; see myc_attr_next() */
	uint8_t zstd_level;               /* with CLIENT_ZSTD_COMPRESSION_ALGORITHM */
};

/* Parse the client's first packet (HandshakeResponse41 or SSLRequest).
 * CLIENT_PROTOCOL_41 is required (MYC_ERR_PROTOCOL otherwise). Optional
 * trailing fields (database, plugin, attributes) may be missing at the end
 * of the packet even when their flag is set, as older clients do. */
int myc_parse_handshake_response(const uint8_t *p, size_t n, struct myc_handshake_response *out);

/* Iterate over validated connection attributes; *off starts at 0.
 * Returns 1 with key/val set, 0 at the end. */
int myc_attr_next(struct myc_str attrs, size_t *off, struct myc_str *key, struct myc_str *val);

struct myc_response_params {
	uint32_t caps;
	uint32_t ext_caps;                /* sent when !(caps & CLIENT_MYSQL) */
	uint32_t max_packet;
	uint8_t charset;
	const char *user;
	const uint8_t *auth;
	size_t auth_len;
	const char *database;             /* NULL: none (CLIENT_CONNECT_WITH_DB cleared) */
	const char *plugin;               /* NULL: none (CLIENT_PLUGIN_AUTH cleared) */
	const uint8_t *attrs;             /* encoded pairs (myc_put_attr), or NULL */
	size_t attrs_len;
};

/* HandshakeResponse41 / SSLRequest as whole frames with sequence `seq`
 * (1 after the server's handshake, 2 after an SSLRequest). The flags
 * written are rp->caps with CONNECT_WITH_DB / PLUGIN_AUTH / CONNECT_ATTRS
 * adjusted to the fields given; the auth response is written lenenc when
 * CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA is set, else with a 1-byte length. */
void myc_put_handshake_response(struct buf *b, uint8_t seq, const struct myc_response_params *rp);
void myc_put_ssl_request(struct buf *b, uint8_t seq, uint32_t caps, uint32_t ext_caps,
			 uint32_t max_packet, uint8_t charset);
/* Append one key/value connection attribute (to a buffer later passed as
 * rp->attrs). */
void myc_put_attr(struct buf *b, const char *key, const char *val);

/* ---- OK / ERR / EOF ---- */

struct myc_ok {
	uint64_t affected_rows;
	uint64_t last_insert_id;
	uint16_t status;
	uint16_t warnings;
	struct myc_str info;
	struct myc_str state;             /* session state block (validated); myc_track_next() */
	/* The last of each kind found in `state`; p == NULL when absent. */
	struct myc_str schema;            /* SESSION_TRACK_SCHEMA */
	struct myc_str gtids;             /* SESSION_TRACK_GTIDS (MySQL) */
	struct myc_str last_gtid;         /* system variable last_gtid (MariaDB) */
	struct myc_str trx_state;         /* SESSION_TRACK_TRANSACTION_STATE, 8 chars */
};

/* Parse an OK packet (header 0x00, or 0xfe when it ends a result set under
 * CLIENT_DEPRECATE_EOF). caps are the client's capabilities. */
int myc_parse_ok(const uint8_t *p, size_t n, uint32_t caps, struct myc_ok *out);

/* CLIENT_FOUND_ROWS for a client whose server connection lacks it: an
 * UPDATE's OK (payload p, n bytes) says "Rows matched: M  Changed: C  ..."
 * in its info, and with the flag its affected-rows count is M. Returns 1
 * with the OK payload carrying M appended to out, 0 when the OK is not
 * such an answer or already says M (nothing appended). */
int myc_ok_found_rows(const uint8_t *p, size_t n, uint32_t caps, struct buf *out);

/* One session state change. */
struct myc_track {
	uint8_t type;                     /* enum myc_track_type, or unknown */
	struct myc_str data;              /* raw data of the entry */
	struct myc_str name, value;       /* SYSTEM_VARIABLES: name, value;
					     SCHEMA, STATE_CHANGE, GTIDS, TRANSACTION_*:
					     value only */
};

/* Iterate over a validated state block; *off starts at 0. 1 with *t set,
 * 0 at the end. */
int myc_track_next(struct myc_str state, size_t *off, struct myc_track *t);

struct myc_errp {
	uint16_t code;
	bool progress;                    /* MariaDB progress report (code 0xffff): not an error */
	char sqlstate[6];                 /* "HY000" when the packet has none */
	struct myc_str message;
};

int myc_parse_err(const uint8_t *p, size_t n, struct myc_errp *out);

struct myc_eof {
	uint16_t warnings;
	uint16_t status;
};

/* The classic EOF packet: 0xfe and fewer than 9 bytes. */
bool myc_is_eof(const uint8_t *p, size_t n);
int myc_parse_eof(const uint8_t *p, size_t n, struct myc_eof *out);
/* The terminator under CLIENT_DEPRECATE_EOF: 0xfe and shorter than a frame
 * (a row starting with 0xfe is a lenenc of 2^24 bytes or more). */
bool myc_is_ok_eof(const uint8_t *p, size_t n);

/* Whole frames with sequence `seq`. info may be NULL. With
 * CLIENT_SESSION_TRACK in caps, info is written lenenc, else as the rest. */
void myc_put_ok(struct buf *b, uint8_t seq, uint32_t caps, uint64_t affected,
		uint64_t insert_id, uint16_t status, uint16_t warnings, const char *info);
/* The 0xfe OK that ends a result set under CLIENT_DEPRECATE_EOF. */
void myc_put_ok_eof(struct buf *b, uint8_t seq, uint16_t status, uint16_t warnings);
void myc_put_err(struct buf *b, uint8_t seq, uint16_t code, const char *sqlstate,
		 const char *msg);
void myc_put_eof(struct buf *b, uint8_t seq, uint16_t warnings, uint16_t status);

/* ---- authentication exchange ---- */

struct myc_auth_switch {
	struct myc_str plugin;            /* "" for the old 1-byte form */
	struct myc_str data;              /* plugin data, a trailing NUL dropped */
};

/* 0xfe, plugin name NUL, data. */
int myc_parse_auth_switch(const uint8_t *p, size_t n, struct myc_auth_switch *out);
/* data is written followed by a NUL (as servers do). */
void myc_put_auth_switch(struct buf *b, uint8_t seq, const char *plugin, const uint8_t *data,
			 size_t len);
/* 0x01 + data; out is the data. */
int myc_parse_auth_more_data(const uint8_t *p, size_t n, struct myc_str *out);
void myc_put_auth_more_data(struct buf *b, uint8_t seq, const uint8_t *data, size_t len);
/* A raw frame (e.g. an auth response after an AuthSwitchRequest). */
void myc_put_raw(struct buf *b, uint8_t seq, const uint8_t *data, size_t len);

/* ---- results ---- */

/* A column count packet. With MARIADB_CLIENT_CACHE_METADATA (ext_caps) or
 * CLIENT_OPTIONAL_RESULTSET_METADATA (caps) a "metadata follows" byte comes
 * after the count; *metadata is false when column definitions are skipped. */
int myc_parse_column_count(const uint8_t *p, size_t n, uint32_t caps, uint32_t ext_caps,
			   uint64_t *count, bool *metadata);

struct myc_column {
	struct myc_str catalog, schema, table, org_table, name, org_name;
	struct myc_str ext_info;          /* MariaDB extended metadata, else empty */
	uint16_t charset;
	uint32_t length;
	uint8_t type;
	uint16_t flags;
	uint8_t decimals;
	struct myc_str default_value;     /* COM_FIELD_LIST only; p NULL when absent */
};

/* Building a text result set the proxy answers itself: the column
 * count, one ColumnDefinition41 per column (a VARCHAR in utf8mb4, no
 * table; never MariaDB's extended metadata, which the proxy does not
 * offer), then one text row per row (NULL as 0xfb), each a whole frame of
 * sequence `seq`. Each returns the sequence id of the next frame (0 when
 * b->oom is set). The EOF / OK packets around them: myc_put_eof(),
 * myc_put_ok_eof() (CLIENT_DEPRECATE_EOF). */
#define MYC_UTF8MB4_COLLATION 45
#define MYC_TEXT_COLUMN_LEN 1024
uint8_t myc_put_column_count(struct buf *b, uint8_t seq, uint64_t n);
uint8_t myc_put_text_column(struct buf *b, uint8_t seq, const char *name);
uint8_t myc_put_text_row(struct buf *b, uint8_t seq, const char *const *vals, int n);

/* A ColumnDefinition41. ext_caps says whether MariaDB's extended
 * metadata string is present. */
int myc_parse_column(const uint8_t *p, size_t n, uint32_t ext_caps, struct myc_column *out);

/* A text-protocol row: iterate its values; *off starts at 0. Returns 1
 * with *val set (is_null for 0xfb), 0 at the end, <0 when malformed. */
int myc_text_row_next(const uint8_t *p, size_t n, size_t *off, struct myc_str *val,
		      bool *is_null);

/* Bytes of one binary-protocol value of `type` at p (n available):
 * >0 its size, MYC_ERR_LENGTH when truncated, MYC_ERR_FORMAT for an
 * unknown type. */
ssize_t myc_binary_value_len(uint8_t type, const uint8_t *p, size_t n);

/* ---- commands (client -> server) ---- */

struct myc_stmt_prepare_ok {
	uint32_t stmt_id;
	uint16_t num_columns;
	uint16_t num_params;
	uint16_t warnings;
};

int myc_parse_stmt_prepare_ok(const uint8_t *p, size_t n, struct myc_stmt_prepare_ok *out);

struct myc_change_user {
	struct myc_str user;
	struct myc_str auth;
	struct myc_str database;
	uint16_t charset;                 /* 0 when absent */
	struct myc_str plugin;
	struct myc_str attrs;
};

struct myc_cmd {
	uint8_t cmd;                      /* enum myc_com */
	/* COM_QUERY: the query; COM_INIT_DB, COM_CREATE_DB, COM_DROP_DB: the
	 * schema; COM_STMT_PREPARE: the statement; COM_FIELD_LIST: the table
	 * (wildcard in `arg`); COM_STMT_SEND_LONG_DATA: the data chunk. */
	struct myc_str text;
	struct myc_str arg;
	/* COM_STMT_EXECUTE/CLOSE/RESET/SEND_LONG_DATA/FETCH/BULK_EXECUTE: the
	 * statement id and its offset in the payload (for rewriting it in
	 * place with myc_set_stmt_id()). MariaDB: 0xffffffff in an EXECUTE
	 * means "the statement just prepared". */
	bool has_stmt_id;
	uint32_t stmt_id;
	size_t stmt_id_off;
	uint8_t flags;                    /* EXECUTE: cursor type flags */
	uint16_t bulk_flags;              /* BULK_EXECUTE */
	uint32_t iterations;              /* EXECUTE: iteration count (1) */
	struct myc_str params;            /* EXECUTE: what follows the iteration count */
	uint16_t param_id;                /* SEND_LONG_DATA */
	uint32_t num_rows;                /* FETCH */
	uint16_t option;                  /* SET_OPTION: MYC_OPTION_MULTI_STATEMENTS_ON (0) / _OFF (1) */
	uint32_t process_id;              /* PROCESS_KILL */
	struct myc_change_user change_user;
};

/* Identify a command and parse what the proxy needs. caps are the
 * client's (COM_QUERY's query attributes prefix with
 * CLIENT_QUERY_ATTRIBUTES: with parameters, MYC_ERR_UNSUPPORTED). An
 * unknown command byte is not an error: only out->cmd is set. */
int myc_parse_command(const uint8_t *p, size_t n, uint32_t caps, struct myc_cmd *out);

/* Overwrite the statement id at payload offset `off` (from myc_cmd). */
void myc_set_stmt_id(uint8_t *payload, size_t off, uint32_t id);

/* COM_STMT_EXECUTE parameters, given the statement's parameter count. */
struct myc_exec_params {
	struct myc_str null_bitmap;       /* (num_params + 7) / 8 bytes */
	bool new_params_bound;
	size_t bound_flag_off;            /* payload offset of new_params_bound */
	struct myc_str types;             /* 2 bytes per parameter when bound */
	struct myc_str values;            /* the non-NULL values, concatenated */
};

/* Split an EXECUTE's parameter block. When new_params_bound is 0 the
 * value sizes cannot be known here without the types of an earlier
 * execute: pass them as `prev_types` (2 * num_params bytes) or NULL; with
 * NULL the values are the rest of the packet, unchecked. */
int myc_parse_exec_params(const struct myc_cmd *c, uint16_t num_params,
			  const uint8_t *prev_types, struct myc_exec_params *out);

/* Commands the proxy sends (whole frames, sequence 0). */
void myc_put_query(struct buf *b, const char *sql);
void myc_put_init_db(struct buf *b, const char *schema);
void myc_put_simple_command(struct buf *b, uint8_t cmd); /* PING, QUIT, RESET_CONNECTION... */
void myc_put_stmt_prepare(struct buf *b, const char *sql);
void myc_put_stmt_close(struct buf *b, uint32_t stmt_id);
void myc_put_set_option(struct buf *b, uint16_t option); /* MYC_OPTION_MULTI_STATEMENTS_ON/OFF */
static inline void myc_put_ping(struct buf *b) { myc_put_simple_command(b, COM_PING); }
static inline void myc_put_quit(struct buf *b) { myc_put_simple_command(b, COM_QUIT); }
static inline void myc_put_reset_connection(struct buf *b)
{
	myc_put_simple_command(b, COM_RESET_CONNECTION);
}

/* Start a frame of sequence `seq`; returns the offset to pass to
 * myc_end(), which patches the length and splits a payload of 0xffffff
 * bytes or more into frames. Returns the sequence id after the last
 * frame (0 when b->oom is set). */
size_t myc_begin(struct buf *b, uint8_t seq);
uint8_t myc_end(struct buf *b, size_t start);

/* Length-encoded integer / string. */
void myc_put_lenenc(struct buf *b, uint64_t v);
void myc_put_lenenc_str(struct buf *b, const void *s, size_t len);

#endif
