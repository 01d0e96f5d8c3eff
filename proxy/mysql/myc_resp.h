/*
 * myc_resp.h — follows a server's answer to one command, pure.
 *
 * The session feeds every server frame that answers one client command
 * to myc_resp_feed(), in order; the tracker says when the answer is
 * complete and what the final status flags are, which is what decides
 * whether the server connection can be released (SERVER_STATUS_IN_TRANS,
 * SERVER_STATUS_CURSOR_EXISTS, SERVER_MORE_RESULTS_EXISTS).
 *
 * Handled: OK / ERR; result sets (column count, column definitions,
 * EOF unless CLIENT_DEPRECATE_EOF, text or binary rows, EOF or 0xfe OK
 * terminator) and several of them chained with SERVER_MORE_RESULTS_EXISTS
 * (multi-statements, CALL); the "metadata follows" byte of MariaDB's
 * MARIADB_CLIENT_CACHE_METADATA and MySQL's OPTIONAL_RESULTSET_METADATA;
 * COM_STMT_PREPARE_OK with its parameter and column definitions;
 * COM_STMT_EXECUTE with a cursor (definitions, then an EOF carrying
 * SERVER_STATUS_CURSOR_EXISTS, no rows) and COM_STMT_FETCH; COM_FIELD_LIST;
 * COM_STATISTICS (one string packet); COM_SET_OPTION / COM_DEBUG (EOF);
 * LOCAL INFILE (0xfb: the client sends the file, then the server answers
 * OK/ERR); COM_CHANGE_USER's authentication exchange; MariaDB progress
 * reports (ERR 0xffff, skipped). Frames that continue a split packet
 * (myc_frame.cont) are passed through.
 *
 * The tracker keeps no pointer to the fed bytes.
 */
#ifndef SWITCHYARD_MYC_RESP_H
#define SWITCHYARD_MYC_RESP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proxy/mysql/myc.h"

/* What the last fed frame was. */
enum myc_pkt {
	MYC_PKT_NONE,
	MYC_PKT_OK,                       /* OK (0x00, or 0xfe under DEPRECATE_EOF) */
	MYC_PKT_ERR,
	MYC_PKT_EOF,
	MYC_PKT_PROGRESS,                 /* MariaDB progress report */
	MYC_PKT_COLUMN_COUNT,
	MYC_PKT_COLUMN_DEF,
	MYC_PKT_PARAM_DEF,
	MYC_PKT_ROW,
	MYC_PKT_PREPARE_OK,
	MYC_PKT_LOCAL_INFILE,
	MYC_PKT_AUTH_SWITCH,
	MYC_PKT_AUTH_MORE_DATA,
	MYC_PKT_STRING,                   /* COM_STATISTICS */
	MYC_PKT_CONT,                     /* continuation frame of a split packet */
};

enum myc_resp_state {
	MYC_RS_FIRST,                     /* a new answer or result set starts */
	MYC_RS_COLUMNS,                   /* column definitions */
	MYC_RS_COLUMNS_EOF,               /* EOF after the definitions */
	MYC_RS_ROWS,
	MYC_RS_PARAMS,                    /* PREPARE_OK: parameter definitions */
	MYC_RS_PARAMS_EOF,
	MYC_RS_PREP_COLUMNS,              /* PREPARE_OK: column definitions */
	MYC_RS_PREP_COLUMNS_EOF,
	MYC_RS_FIELDS,                    /* COM_FIELD_LIST definitions */
	MYC_RS_AUTH,                      /* COM_CHANGE_USER exchange */
	MYC_RS_DONE,
};

struct myc_resp {
	uint8_t cmd;
	uint32_t caps, ext_caps;          /* the client's, as negotiated */
	enum myc_resp_state state;
	enum myc_pkt last;
	bool in_split;                    /* inside a split row */
	uint64_t left;                    /* definitions still expected */
	uint16_t num_columns;             /* PREPARE_OK */
	uint16_t status;                  /* from the last OK / EOF */
	uint16_t warnings;
	bool error;                       /* ended with ERR */
	uint16_t err_code;
	bool cursor;                      /* EXECUTE opened a cursor */
	uint32_t stmt_id;                 /* PREPARE_OK's */
	unsigned result_sets;             /* started */
	uint64_t rows;                    /* in all result sets */
	uint64_t insert_id;               /* the last non-zero last_insert_id of its OKs */
};

/* Outcomes of myc_resp_feed() (errors are enum myc_err, < 0). */
enum {
	MYC_RESP_MORE = 0,                /* keep reading the server */
	MYC_RESP_DONE = 1,                /* the answer is complete */
	MYC_RESP_CLIENT = 2,              /* the client speaks next (file
					     contents, auth reply); then keep
					     feeding the server's frames */
};

/* Start tracking the answer to `cmd` sent by a client with these
 * capabilities. Commands the server does not answer (COM_QUIT,
 * COM_STMT_CLOSE, COM_STMT_SEND_LONG_DATA) start done; replication
 * streams (COM_BINLOG_DUMP*) return MYC_ERR_UNSUPPORTED. 0 otherwise. */
int myc_resp_init(struct myc_resp *r, uint8_t cmd, uint32_t caps, uint32_t ext_caps);

/* Feed one server frame (payload, length, and whether it continues a
 * split packet). Returns MYC_RESP_*, or <0 when the frame cannot be part
 * of this answer (the connection is out of step: close it). */
int myc_resp_feed(struct myc_resp *r, const uint8_t *p, size_t n, bool cont);

static inline bool myc_resp_done(const struct myc_resp *r) { return r->state == MYC_RS_DONE; }

/* Whether the command gets an answer at all. */
bool myc_cmd_has_response(uint8_t cmd);

#endif
