/*
 * pgc.h — the PostgreSQL wire protocol codec (protocol 3.0), pure.
 *
 * Framing and building of messages over byte arrays: no sockets, no
 * globals, no logging, no allocation in the parsers. Limits come in as an
 * argument. Parsers follow one convention:
 *
 *     ssize_t r = pgc_parse_xxx(p, n, lim, &out);
 *     r < 0   the input is malformed (an enum pgc_err), close the peer
 *     r == 0  not enough bytes yet; call again with more
 *     r > 0   one item was parsed and r bytes were used
 *
 * Output slices point into the input and are valid only as long as the
 * input bytes are (for an evbuffer: until they are drained).
 * Trust boundary: everything here reads bytes from clients and servers
 * that may be hostile; every length is checked against the bytes present
 * and against lim->max_packet_size.
 */
#ifndef SWITCHYARD_PGC_H
#define SWITCHYARD_PGC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "util/buf.h"

#define PGC_PROTOCOL_3_0 196608u      /* 3 << 16 */
#define PGC_SSL_REQUEST_CODE 80877103u
#define PGC_GSSENC_REQUEST_CODE 80877104u
#define PGC_CANCEL_REQUEST_CODE 80877102u
#define PGC_HEADER_LEN 5              /* type byte + int32 length */

struct pgc_limits {
	size_t max_packet_size;           /* whole message, header included */
};

enum pgc_err {
	PGC_ERR_LENGTH = -1,              /* declared length below the minimum */
	PGC_ERR_TOO_BIG = -2,             /* declared length above max_packet_size */
	PGC_ERR_FORMAT = -3,              /* content does not match the message type */
	PGC_ERR_PROTOCOL = -4,            /* unsupported protocol version */
};

/* A human-readable reason for an enum pgc_err. */
const char *pgc_err_str(ssize_t err);

/* ---- startup phase (messages without a type byte) ---- */

enum pgc_startup_kind {
	PGC_STARTUP_MESSAGE,
	PGC_STARTUP_SSL_REQUEST,
	PGC_STARTUP_GSSENC_REQUEST,
	PGC_STARTUP_CANCEL,
};

struct pgc_startup {
	enum pgc_startup_kind kind;
	uint32_t protocol;                /* PGC_PROTOCOL_3_0 for a StartupMessage */
	const uint8_t *params;            /* key\0value\0...\0 (validated) */
	size_t params_len;
	uint32_t cancel_pid, cancel_key;  /* for PGC_STARTUP_CANCEL */
};

/* Parse the first packet from a client. A StartupMessage's parameter list
 * is checked to be well-formed (NUL-terminated pairs, final NUL). Protocol
 * versions other than 3.x are refused with PGC_ERR_PROTOCOL. */
ssize_t pgc_parse_startup(const uint8_t *p, size_t n, const struct pgc_limits *lim,
			  struct pgc_startup *out);

/* Iterate over a parsed StartupMessage's parameters. *off starts at 0.
 * Returns 1 with key/value set (NUL-terminated, inside the input), 0 at
 * the end. */
int pgc_startup_param_next(const struct pgc_startup *s, size_t *off, const char **key,
			   const char **val);

/* ---- regular messages: type byte + int32 length (self-inclusive) ---- */

struct pgc_header {
	uint8_t type;
	uint32_t len;                     /* as declared: body + 4 */
};

/* Parse only the 5-byte header (for streaming long messages through). */
ssize_t pgc_parse_header(const uint8_t *p, size_t n, const struct pgc_limits *lim,
			 struct pgc_header *out);

struct pgc_msg {
	uint8_t type;
	const uint8_t *body;
	size_t body_len;
};

/* Frame one whole message; returns its total size (header included). */
ssize_t pgc_frame_next(const uint8_t *p, size_t n, const struct pgc_limits *lim,
		       struct pgc_msg *out);

/* ---- reading message bodies ---- */

/* A bounds-checked cursor over a body; any short read sets `bad` and
 * returns zeroes/empty strings, so a caller checks `bad` once. */
struct pgc_reader {
	const uint8_t *p;
	size_t n;
	size_t off;
	bool bad;
};

void pgc_reader_init(struct pgc_reader *r, const uint8_t *p, size_t n);
uint8_t pgc_read_u8(struct pgc_reader *r);
uint16_t pgc_read_u16(struct pgc_reader *r);
uint32_t pgc_read_u32(struct pgc_reader *r);
/* A NUL-terminated string inside the body; "" and bad on failure. */
const char *pgc_read_cstr(struct pgc_reader *r);
/* `len` raw bytes; NULL and bad on failure. */
const uint8_t *pgc_read_bytes(struct pgc_reader *r, size_t len);
size_t pgc_reader_left(const struct pgc_reader *r);

/* ErrorResponse / NoticeResponse fields the proxy cares about. */
struct pgc_error_fields {
	const char *severity;             /* 'S' (localized) or 'V' */
	const char *code;                 /* 'C' SQLSTATE */
	const char *message;              /* 'M' */
};

/* Parse an 'E' or 'N' body. Missing fields are "". 0 ok, -1 malformed. */
int pgc_parse_error(const uint8_t *body, size_t len, struct pgc_error_fields *out);
/* A ParameterStatus body: its name and value (pointing into body); false
 * when it is malformed. */
bool pgc_parse_param_status(const uint8_t *body, size_t len, const char **key, const char **value);

/* ---- building messages (append to a struct buf) ---- */

/* Start a message of `type` (0: no type byte, for startup packets);
 * returns the offset to pass to pgc_end(), which patches the length. */
size_t pgc_begin(struct buf *b, uint8_t type);
void pgc_end(struct buf *b, size_t start);

/* Complete messages. */
void pgc_put_error(struct buf *b, const char *severity, const char *code, const char *msg);
void pgc_put_auth(struct buf *b, uint32_t code, const uint8_t *data, size_t len);
void pgc_put_auth_sasl(struct buf *b, const char *mechanism);
void pgc_put_param_status(struct buf *b, const char *key, const char *val);
void pgc_put_backend_key(struct buf *b, uint32_t pid, uint32_t key);
void pgc_put_ready(struct buf *b, char status);
void pgc_put_query(struct buf *b, const char *sql);
void pgc_put_terminate(struct buf *b);
void pgc_put_password(struct buf *b, const char *password);
void pgc_put_sasl_initial(struct buf *b, const char *mechanism, const char *data, size_t len);
void pgc_put_sasl_response(struct buf *b, const char *data, size_t len);
void pgc_put_ssl_request(struct buf *b);
/* Extended query: Parse (no parameter types given), Bind with text
 * parameters (NULL values are SQL NULL) and text results, Execute, Sync. */
void pgc_put_parse(struct buf *b, const char *stmt, const char *query);
void pgc_put_bind_text(struct buf *b, const char *portal, const char *stmt, int nparams,
		       const char *const *values);
void pgc_put_execute(struct buf *b, const char *portal, uint32_t max_rows);
void pgc_put_sync(struct buf *b);
void pgc_put_cancel(struct buf *b, uint32_t pid, uint32_t key);

/* Authentication request codes ('R' messages). */
enum {
	PGC_AUTH_OK = 0,
	PGC_AUTH_CLEARTEXT = 3,
	PGC_AUTH_MD5 = 5,
	PGC_AUTH_SASL = 10,
	PGC_AUTH_SASL_CONTINUE = 11,
	PGC_AUTH_SASL_FINAL = 12,
};

#endif
