/*
 * myc_cmd.c — MySQL/MariaDB commands (client -> server): identification,
 * the fields the proxy routes and rewrites by, COM_STMT_PREPARE_OK, and
 * the commands the proxy itself sends. Pure: see myc.h.
 */
#include <string.h>

#include "proxy/mysql/myc.h"
#include "proxy/mysql/myle.h"

static const struct myc_str empty_str = { (const uint8_t *)"", 0 };

int myc_parse_stmt_prepare_ok(const uint8_t *p, size_t n, struct myc_stmt_prepare_ok *out)
{
	struct myc_reader r;
	myc_reader_init(&r, p, n);
	memset(out, 0, sizeof(*out));
	uint8_t h = myc_read_u8(&r);
	out->stmt_id = myc_read_u32(&r);
	out->num_columns = myc_read_u16(&r);
	out->num_params = myc_read_u16(&r);
	myc_read_u8(&r); /* reserved */
	if (r.bad)
		return MYC_ERR_LENGTH;
	if (h != MYC_OK)
		return MYC_ERR_FORMAT;
	if (myc_reader_left(&r) >= 2)
		out->warnings = myc_read_u16(&r);
	/* MySQL 8 may add a metadata_follows byte (OPTIONAL_RESULTSET_METADATA) */
	return 0;
}

static int parse_change_user(struct myc_reader *r, uint32_t caps, struct myc_change_user *cu)
{
	cu->user = myc_read_cstr(r);
	if (caps & CLIENT_SECURE_CONNECTION) {
		uint8_t l = myc_read_u8(r);
		cu->auth = myc_read_bytes(r, l);
	} else {
		cu->auth = myc_read_cstr(r);
	}
	if (r->bad)
		return MYC_ERR_LENGTH;
	if (myc_reader_left(r))
		cu->database = myc_read_cstr(r);
	if (myc_reader_left(r) >= 2)
		cu->charset = myc_read_u16(r);
	if ((caps & CLIENT_PLUGIN_AUTH) && myc_reader_left(r))
		cu->plugin = myc_read_cstr(r);
	if ((caps & CLIENT_CONNECT_ATTRS) && myc_reader_left(r)) {
		uint64_t alen = myc_read_lenenc(r);
		if (!r->bad && alen > myc_reader_left(r))
			return MYC_ERR_LENGTH;
		cu->attrs = myc_read_bytes(r, (size_t)alen);
		size_t off = 0;
		struct myc_str k, v;
		while (!r->bad && myc_attr_next(cu->attrs, &off, &k, &v))
			;
		if (off != cu->attrs.len)
			return MYC_ERR_FORMAT;
	}
	return r->bad ? MYC_ERR_LENGTH : 0;
}

static void read_stmt_id(struct myc_reader *r, struct myc_cmd *out)
{
	out->stmt_id_off = r->off;
	out->stmt_id = myc_read_u32(r);
	out->has_stmt_id = !r->bad;
}

int myc_parse_command(const uint8_t *p, size_t n, uint32_t caps, struct myc_cmd *out)
{
	struct myc_reader r;
	myc_reader_init(&r, p, n);
	memset(out, 0, sizeof(*out));
	out->text = out->arg = out->params = empty_str;
	struct myc_change_user *cu = &out->change_user;
	cu->user = cu->auth = cu->database = cu->plugin = cu->attrs = empty_str;
	out->cmd = myc_read_u8(&r);
	if (r.bad)
		return MYC_ERR_LENGTH;
	switch (out->cmd) {
	case COM_QUERY:
		if (caps & CLIENT_QUERY_ATTRIBUTES) {
			uint64_t nparams = myc_read_lenenc(&r);
			myc_read_lenenc(&r); /* parameter set count, always 1 */
			if (r.bad)
				return MYC_ERR_LENGTH;
			if (nparams)
				return MYC_ERR_UNSUPPORTED;
		}
		out->text = myc_read_rest(&r);
		break;
	case COM_INIT_DB:
	case COM_CREATE_DB:
	case COM_DROP_DB:
	case COM_STMT_PREPARE:
		out->text = myc_read_rest(&r);
		break;
	case COM_FIELD_LIST:
		out->text = myc_read_cstr(&r);
		out->arg = myc_read_rest(&r);
		break;
	case COM_PROCESS_KILL:
		out->process_id = myc_read_u32(&r);
		break;
	case COM_SET_OPTION:
		out->option = myc_read_u16(&r);
		break;
	case COM_STMT_EXECUTE:
		read_stmt_id(&r, out);
		out->flags = myc_read_u8(&r);
		out->iterations = myc_read_u32(&r);
		out->params = myc_read_rest(&r);
		break;
	case COM_STMT_BULK_EXECUTE:
		read_stmt_id(&r, out);
		out->bulk_flags = myc_read_u16(&r);
		out->params = myc_read_rest(&r);
		break;
	case COM_STMT_SEND_LONG_DATA:
		read_stmt_id(&r, out);
		out->param_id = myc_read_u16(&r);
		out->text = myc_read_rest(&r);
		break;
	case COM_STMT_FETCH:
		read_stmt_id(&r, out);
		out->num_rows = myc_read_u32(&r);
		break;
	case COM_STMT_CLOSE:
	case COM_STMT_RESET:
		read_stmt_id(&r, out);
		break;
	case COM_CHANGE_USER: {
		int rc = parse_change_user(&r, caps, cu);
		if (rc < 0)
			return rc;
		break;
	}
	default:
		/* COM_QUIT, COM_PING, COM_STATISTICS, COM_RESET_CONNECTION, ...:
		 * the byte is all; unknown bytes are the server's to refuse. */
		break;
	}
	if (r.bad)
		return MYC_ERR_LENGTH;
	return 0;
}

void myc_set_stmt_id(uint8_t *payload, size_t off, uint32_t id) { myle_set_u32(payload + off, id); }

int myc_parse_exec_params(const struct myc_cmd *c, uint16_t num_params,
			  const uint8_t *prev_types, struct myc_exec_params *out)
{
	memset(out, 0, sizeof(*out));
	out->null_bitmap = out->types = out->values = empty_str;
	if (c->cmd != COM_STMT_EXECUTE)
		return MYC_ERR_FORMAT;
	if (num_params == 0)
		return 0; /* whatever follows is ignored by the server */
	struct myc_reader r;
	myc_reader_init(&r, c->params.p, c->params.len);
	out->null_bitmap = myc_read_bytes(&r, ((size_t)num_params + 7) / 8);
	/* Offset in the payload: 1 cmd + 4 id + 1 flags + 4 iterations. */
	out->bound_flag_off = 10 + r.off;
	uint8_t bound = myc_read_u8(&r);
	if (r.bad)
		return MYC_ERR_LENGTH;
	if (bound > 1)
		return MYC_ERR_FORMAT;
	out->new_params_bound = bound;
	if (bound)
		out->types = myc_read_bytes(&r, (size_t)num_params * 2);
	else if (prev_types)
		out->types = (struct myc_str){ prev_types, (size_t)num_params * 2 };
	if (r.bad)
		return MYC_ERR_LENGTH;
	/* Values are not walked: a parameter sent with SEND_LONG_DATA has no
	 * value here and only the session knows which; myc_binary_value_len()
	 * walks them for a caller that does. */
	out->values = myc_read_rest(&r);
	return 0;
}

/* ---- commands the proxy sends ---- */

static void put_text_command(struct buf *b, uint8_t cmd, const char *text)
{
	size_t s = myc_begin(b, 0);
	buf_put_u8(b, cmd);
	buf_put(b, text, strlen(text));
	myc_end(b, s);
}

void myc_put_query(struct buf *b, const char *sql) { put_text_command(b, COM_QUERY, sql); }

void myc_put_init_db(struct buf *b, const char *schema)
{
	put_text_command(b, COM_INIT_DB, schema);
}

void myc_put_stmt_prepare(struct buf *b, const char *sql)
{
	put_text_command(b, COM_STMT_PREPARE, sql);
}

void myc_put_simple_command(struct buf *b, uint8_t cmd)
{
	size_t s = myc_begin(b, 0);
	buf_put_u8(b, cmd);
	myc_end(b, s);
}

void myc_put_set_option(struct buf *b, uint16_t option)
{
	size_t s = myc_begin(b, 0);
	buf_put_u8(b, COM_SET_OPTION);
	myle_put_u16(b, option);
	myc_end(b, s);
}

void myc_put_stmt_close(struct buf *b, uint32_t stmt_id)
{
	size_t s = myc_begin(b, 0);
	buf_put_u8(b, COM_STMT_CLOSE);
	myle_put_u32(b, stmt_id);
	myc_end(b, s);
}
