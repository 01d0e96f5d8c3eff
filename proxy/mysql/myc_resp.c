/*
 * myc_resp.c — the response tracker: a state machine over the server
 * frames answering one command. Pure: see myc_resp.h.
 */
#include "proxy/mysql/myc_resp.h"

#include <string.h>

bool myc_cmd_has_response(uint8_t cmd)
{
	return cmd != COM_QUIT && cmd != COM_STMT_CLOSE && cmd != COM_STMT_SEND_LONG_DATA;
}

int myc_resp_init(struct myc_resp *r, uint8_t cmd, uint32_t caps, uint32_t ext_caps)
{
	memset(r, 0, sizeof(*r));
	r->cmd = cmd;
	r->caps = caps;
	r->ext_caps = (caps & CLIENT_MYSQL) ? 0 : ext_caps;
	r->last = MYC_PKT_NONE;
	switch (cmd) {
	case COM_BINLOG_DUMP:
	case COM_BINLOG_DUMP_GTID:
	case COM_TABLE_DUMP:
		r->state = MYC_RS_DONE;
		return MYC_ERR_UNSUPPORTED;
	case COM_STMT_FETCH:
		r->state = MYC_RS_ROWS;
		break;
	case COM_FIELD_LIST:
		r->state = MYC_RS_FIELDS;
		break;
	case COM_CHANGE_USER:
		r->state = MYC_RS_AUTH;
		break;
	default:
		r->state = myc_cmd_has_response(cmd) ? MYC_RS_FIRST : MYC_RS_DONE;
		break;
	}
	return 0;
}

static bool deprecate_eof(const struct myc_resp *r) { return r->caps & CLIENT_DEPRECATE_EOF; }

/* Status of an EOF (5 bytes or fewer) or an OK-shaped terminator (7+). */
static int read_terminator(struct myc_resp *r, const uint8_t *p, size_t n)
{
	if (p[0] == MYC_EOF && n <= 5) {
		struct myc_eof e;
		if (myc_parse_eof(p, n, &e) < 0)
			return MYC_ERR_FORMAT;
		r->status = e.status;
		r->warnings = e.warnings;
		r->last = MYC_PKT_EOF;
		return 0;
	}
	struct myc_ok ok;
	int rc = myc_parse_ok(p, n, r->caps, &ok);
	if (rc < 0)
		return rc;
	r->status = ok.status;
	r->warnings = ok.warnings;
	r->last = MYC_PKT_OK;
	if (ok.last_insert_id)
		r->insert_id = ok.last_insert_id;
	return 0;
}

static bool is_terminator(const struct myc_resp *r, const uint8_t *p, size_t n)
{
	return deprecate_eof(r) ? myc_is_ok_eof(p, n) : myc_is_eof(p, n);
}

/* After an OK / end of a result set: another result follows or we are done. */
static int end_result(struct myc_resp *r)
{
	if (r->status & SERVER_MORE_RESULTS_EXISTS) {
		r->state = MYC_RS_FIRST;
		return MYC_RESP_MORE;
	}
	r->state = MYC_RS_DONE;
	return MYC_RESP_DONE;
}

static int on_err(struct myc_resp *r, const uint8_t *p, size_t n)
{
	struct myc_errp e;
	int rc = myc_parse_err(p, n, &e);
	if (rc < 0)
		return rc;
	if (e.progress) {
		r->last = MYC_PKT_PROGRESS;
		return MYC_RESP_MORE;
	}
	r->last = MYC_PKT_ERR;
	r->error = true;
	r->err_code = e.code;
	r->state = MYC_RS_DONE;
	return MYC_RESP_DONE;
}

static bool may_return_rows(uint8_t cmd)
{
	return cmd == COM_QUERY || cmd == COM_STMT_EXECUTE || cmd == COM_PROCESS_INFO ||
	       cmd == COM_STMT_BULK_EXECUTE;
}

static int on_first(struct myc_resp *r, const uint8_t *p, size_t n)
{
	if (r->cmd == COM_STATISTICS && p[0] != MYC_ERR) {
		r->last = MYC_PKT_STRING;
		r->state = MYC_RS_DONE;
		return MYC_RESP_DONE;
	}
	switch (p[0]) {
	case MYC_OK:
		if (r->cmd == COM_STMT_PREPARE) {
			struct myc_stmt_prepare_ok po;
			int rc = myc_parse_stmt_prepare_ok(p, n, &po);
			if (rc < 0)
				return rc;
			r->last = MYC_PKT_PREPARE_OK;
			r->stmt_id = po.stmt_id;
			r->num_columns = po.num_columns;
			r->warnings = po.warnings;
			if (po.num_params) {
				r->left = po.num_params;
				r->state = MYC_RS_PARAMS;
			} else if (po.num_columns) {
				r->left = po.num_columns;
				r->state = MYC_RS_PREP_COLUMNS;
			} else {
				r->state = MYC_RS_DONE;
				return MYC_RESP_DONE;
			}
			return MYC_RESP_MORE;
		} else {
			int rc = read_terminator(r, p, n);
			if (rc < 0)
				return rc;
			r->last = MYC_PKT_OK;
			return end_result(r);
		}
	case MYC_ERR:
		return on_err(r, p, n);
	case MYC_LOCAL_INFILE:
		if (r->cmd != COM_QUERY)
			return MYC_ERR_UNEXPECTED;
		r->last = MYC_PKT_LOCAL_INFILE;
		return MYC_RESP_CLIENT; /* the server answers OK/ERR after the file */
	case MYC_EOF:
		/* COM_SET_OPTION and COM_DEBUG answer with an EOF (an 0xfe OK
		 * under DEPRECATE_EOF); a column count never starts with 0xfe. */
		if (!myc_is_ok_eof(p, n))
			return MYC_ERR_FORMAT;
		if (read_terminator(r, p, n) < 0)
			return MYC_ERR_FORMAT;
		return end_result(r);
	default:
		break;
	}
	if (!may_return_rows(r->cmd))
		return MYC_ERR_UNEXPECTED;
	uint64_t count;
	bool metadata;
	int rc = myc_parse_column_count(p, n, r->caps, r->ext_caps, &count, &metadata);
	if (rc < 0)
		return rc;
	if (count == 0)
		return MYC_ERR_FORMAT;
	r->last = MYC_PKT_COLUMN_COUNT;
	r->result_sets++;
	if (metadata) {
		r->left = count;
		r->state = MYC_RS_COLUMNS;
	} else {
		/* MySQL docs and MariaDB agree: the EOF after the (skipped)
		 * definitions is still sent without DEPRECATE_EOF. */
		r->state = deprecate_eof(r) ? MYC_RS_ROWS : MYC_RS_COLUMNS_EOF;
	}
	return MYC_RESP_MORE;
}

static int on_rows(struct myc_resp *r, const uint8_t *p, size_t n)
{
	if (p[0] == MYC_ERR)
		return on_err(r, p, n);
	if (is_terminator(r, p, n)) {
		int rc = read_terminator(r, p, n);
		if (rc < 0)
			return rc;
		return end_result(r);
	}
	r->last = MYC_PKT_ROW;
	r->rows++;
	r->in_split = n == MYC_MAX_FRAME;
	return MYC_RESP_MORE;
}

/* A definition packet in a COLUMNS/PARAMS state. */
static int on_definition(struct myc_resp *r, const uint8_t *p, size_t n, enum myc_pkt kind)
{
	if (p[0] == MYC_ERR)
		return on_err(r, p, n);
	if (myc_is_eof(p, n) || p[0] == MYC_OK)
		return MYC_ERR_UNEXPECTED; /* a definition starts with lenenc "def" */
	r->last = kind;
	r->left--;
	return MYC_RESP_MORE;
}

/* The EOF that ends a block of definitions (without DEPRECATE_EOF). */
static int on_defs_eof(struct myc_resp *r, const uint8_t *p, size_t n)
{
	if (p[0] == MYC_ERR)
		return on_err(r, p, n);
	if (!myc_is_eof(p, n))
		return MYC_ERR_UNEXPECTED;
	return read_terminator(r, p, n);
}

static int after_params(struct myc_resp *r)
{
	if (r->num_columns) {
		r->left = r->num_columns;
		r->state = MYC_RS_PREP_COLUMNS;
		return MYC_RESP_MORE;
	}
	r->state = MYC_RS_DONE;
	return MYC_RESP_DONE;
}

static int on_auth(struct myc_resp *r, const uint8_t *p, size_t n)
{
	switch (p[0]) {
	case MYC_OK: {
		int rc = read_terminator(r, p, n);
		if (rc < 0)
			return rc;
		r->state = MYC_RS_DONE;
		return MYC_RESP_DONE;
	}
	case MYC_ERR:
		return on_err(r, p, n);
	case MYC_AUTH_SWITCH: {
		struct myc_auth_switch as;
		int rc = myc_parse_auth_switch(p, n, &as);
		if (rc < 0)
			return rc;
		r->last = MYC_PKT_AUTH_SWITCH;
		return MYC_RESP_CLIENT;
	}
	case MYC_AUTH_MORE_DATA:
		r->last = MYC_PKT_AUTH_MORE_DATA;
		/* caching_sha2 fast-auth success: the OK follows unasked. */
		if (n == 2 && p[1] == MYC_SHA2_FAST_AUTH_OK)
			return MYC_RESP_MORE;
		return MYC_RESP_CLIENT;
	default:
		return MYC_ERR_UNEXPECTED;
	}
}

int myc_resp_feed(struct myc_resp *r, const uint8_t *p, size_t n, bool cont)
{
	if (r->state == MYC_RS_DONE)
		return MYC_ERR_UNEXPECTED;
	if (cont || r->in_split) {
		if (!(cont && r->in_split))
			return MYC_ERR_UNEXPECTED;
		r->in_split = n == MYC_MAX_FRAME;
		r->last = MYC_PKT_CONT;
		return MYC_RESP_MORE;
	}
	if (n == 0)
		return MYC_ERR_LENGTH;
	if (n == MYC_MAX_FRAME && r->state != MYC_RS_ROWS)
		return MYC_ERR_UNSUPPORTED; /* only rows are ever that big */
	int rc;
	switch (r->state) {
	case MYC_RS_FIRST:
		return on_first(r, p, n);
	case MYC_RS_COLUMNS:
		rc = on_definition(r, p, n, MYC_PKT_COLUMN_DEF);
		if (rc == MYC_RESP_MORE && r->left == 0)
			r->state = deprecate_eof(r) ? MYC_RS_ROWS : MYC_RS_COLUMNS_EOF;
		return rc;
	case MYC_RS_COLUMNS_EOF:
		rc = on_defs_eof(r, p, n);
		if (rc != 0 || r->state == MYC_RS_DONE)
			return rc;
		if (r->cmd == COM_STMT_EXECUTE && (r->status & SERVER_STATUS_CURSOR_EXISTS)) {
			/* A cursor is open: rows come with COM_STMT_FETCH. */
			r->cursor = true;
			r->state = MYC_RS_DONE;
			return MYC_RESP_DONE;
		}
		r->state = MYC_RS_ROWS;
		return MYC_RESP_MORE;
	case MYC_RS_ROWS:
		rc = on_rows(r, p, n);
		if (rc >= 0 && r->cmd == COM_STMT_EXECUTE && r->rows == 0 &&
		    (r->status & SERVER_STATUS_CURSOR_EXISTS) && r->last == MYC_PKT_OK)
			r->cursor = true; /* DEPRECATE_EOF form of the cursor answer */
		return rc;
	case MYC_RS_PARAMS:
		rc = on_definition(r, p, n, MYC_PKT_PARAM_DEF);
		if (rc == MYC_RESP_MORE && r->left == 0) {
			if (!deprecate_eof(r)) {
				r->state = MYC_RS_PARAMS_EOF;
				return MYC_RESP_MORE;
			}
			return after_params(r);
		}
		return rc;
	case MYC_RS_PARAMS_EOF:
		rc = on_defs_eof(r, p, n);
		if (rc != 0 || r->state == MYC_RS_DONE)
			return rc;
		return after_params(r);
	case MYC_RS_PREP_COLUMNS:
		rc = on_definition(r, p, n, MYC_PKT_COLUMN_DEF);
		if (rc == MYC_RESP_MORE && r->left == 0) {
			if (!deprecate_eof(r)) {
				r->state = MYC_RS_PREP_COLUMNS_EOF;
				return MYC_RESP_MORE;
			}
			r->state = MYC_RS_DONE;
			return MYC_RESP_DONE;
		}
		return rc;
	case MYC_RS_PREP_COLUMNS_EOF:
		rc = on_defs_eof(r, p, n);
		if (rc != 0 || r->state == MYC_RS_DONE)
			return rc;
		r->state = MYC_RS_DONE;
		return MYC_RESP_DONE;
	case MYC_RS_FIELDS:
		if (p[0] == MYC_ERR)
			return on_err(r, p, n);
		if (myc_is_eof(p, n) || (deprecate_eof(r) && myc_is_ok_eof(p, n))) {
			rc = read_terminator(r, p, n);
			if (rc < 0)
				return rc;
			r->state = MYC_RS_DONE;
			return MYC_RESP_DONE;
		}
		r->last = MYC_PKT_COLUMN_DEF;
		return MYC_RESP_MORE;
	case MYC_RS_AUTH:
		return on_auth(r, p, n);
	case MYC_RS_DONE:
		break;
	}
	return MYC_ERR_UNEXPECTED;
}
