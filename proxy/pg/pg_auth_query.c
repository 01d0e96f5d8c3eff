/*
 * pg_auth_query.c — user lookup on the server with auth_query; see
 * pg_auth_query.h for the flow.
 */
#include "proxy/pg/pg_auth_query.h"

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "health/health.h"
#include "pool/pg_server.h"
#include "pool/pool.h"
#include "proxy/pg/pg_client.h"
#include "proxy/pg/pg_evbuf.h"
#include "proxy/proxy.h"
#include "util/log.h"

static void aq_readable(void *link, struct server *s);
static void aq_failed(void *link, struct server *s, const char *why);

static const struct server_link_ops aq_ops = {
	.readable = aq_readable,
	.failed = aq_failed,
	.writable = NULL,
};

static struct pg_client *client_of(struct pool_waiter *w)
{
	return container_of(w, struct pg_aq, waiter)->c;
}

static void aq_on_server(struct pool_waiter *w, struct server *s)
{
	struct pg_client *c = client_of(w);
	c->aq->server = s;
	server_link(s, c, &aq_ops);
	const char *params[1] = { c->user };
	struct buf b;
	buf_init(&b);
	pgc_put_parse(&b, "", c->cfg->global.auth_query);
	pgc_put_bind_text(&b, "", "", 1, params);
	pgc_put_execute(&b, "", 0);
	pgc_put_sync(&b);
	if (pg_bev_send(s->bev, &b) < 0)
		pg_client_close(c, "53200", "out of memory");
	buf_free(&b);
}

static void aq_on_error(struct pool_waiter *w, const char *sqlstate, const char *msg)
{
	pg_client_close(client_of(w), sqlstate, "auth_query: cannot reach the server: %s", msg);
}

int pg_auth_query_start(struct pg_client *c)
{
	const struct cfg_global *g = &c->cfg->global;
	if (!g->auth_user || !g->auth_query || c->cl->n_nodes == 0)
		return -1;
	const struct cfg_user *au = cfg_find_user(c->cfg, g->auth_user);
	if (!au)
		return -1;
	int pri = health_primary_of(c->cl); /* after a failover: the promoted node */
	const struct cfg_node *node = &c->cl->nodes[pri > 0 ? pri : 0];
	struct pool *pool = pool_get(c->w->pools, CFG_PROTO_POSTGRES, &node->addr, c->cl->server_database,
				     au->server_user ? au->server_user : au->name, &c->cl->settings,
				     g->max_packet_size);
	if (!pool)
		return -1;
	struct pg_aq *aq = calloc(1, sizeof(*aq));
	if (!aq)
		return -1;
	aq->c = c;
	aq->pool = pool;
	c->aq = aq;
	struct pool_credentials cr = { 0 };
	cr.password = au->server_password;
	if (!cr.password && au->secret_kind == CFG_SECRET_PLAIN)
		cr.password = au->password;
	if (!cr.password && au->secret_kind == CFG_SECRET_MD5)
		cr.md5_stored = au->password;
	if (cr.password || cr.md5_stored)
		pool_set_credentials(pool, &cr);
	aq->waiter.on_server = aq_on_server;
	aq->waiter.on_error = aq_on_error;
	list_init(&aq->waiter.node);
	client_set_state(c, CL_AUTH_QUERY);
	pool_acquire(pool, &aq->waiter);
	return 0;
}

void pg_auth_query_stop(struct pg_client *c)
{
	struct pg_aq *aq = c->aq;
	if (!aq)
		return;
	c->aq = NULL;
	pool_cancel_wait(aq->pool, &aq->waiter);
	if (aq->server)
		pool_release(aq->server, false, false);
	free(aq->secret);
	free(aq);
}

/* Copy a DataRow column (length-prefixed, -1 for NULL) into a new string. */
static char *read_column(struct pgc_reader *r)
{
	uint32_t len = pgc_read_u32(r);
	if (r->bad || len == 0xffffffffu)
		return NULL;
	const uint8_t *p = pgc_read_bytes(r, len);
	if (!p)
		return NULL;
	return strndup((const char *)p, len);
}

/* The lookup is over: make the session's own user from the secret. */
static void lookup_done(struct pg_client *c, char *secret)
{
	enum cfg_secret_kind kind = CFG_SECRET_NONE;
	if (!secret || cfg_parse_secret(secret, &kind) < 0 || kind == CFG_SECRET_NONE) {
		free(secret);
		pg_client_close(c, "28P01", "password authentication failed for user \"%s\"", c->user);
		return;
	}
	struct cfg_user *u = calloc(1, sizeof(*u));
	char *name = strdup(c->user);
	if (!u || !name) {
		free(u);
		free(name);
		free(secret);
		pg_client_close(c, "53200", "out of memory");
		return;
	}
	u->name = name;
	u->server_user = name;
	u->password = secret;
	u->secret_kind = kind;
	/* An md5 hash can only check md5; everything else logs in with SCRAM. */
	u->auth_type = kind == CFG_SECRET_MD5 ? CFG_AUTH_MD5 : CFG_AUTH_SCRAM;
	c->dyn_user = u;
	c->u = u;
	log_debug("client %u: user %s found by auth_query", c->id, c->user);
	pg_client_begin_auth(c);
}

static void aq_readable(void *link, struct server *s)
{
	struct pg_client *c = link;
	struct evbuffer *in = bufferevent_get_input(s->bev);
	struct pgc_limits lim = { .max_packet_size = c->cfg->global.max_packet_size };
	for (;;) {
		struct pgc_msg m;
		ssize_t r = pg_evbuf_next(in, &lim, &m);
		if (r == 0)
			return;
		if (r < 0) {
			pg_client_close(c, "08P01", "auth_query: malformed reply from server");
			return;
		}
		struct pgc_reader rd;
		pgc_reader_init(&rd, m.body, m.body_len);
		switch (m.type) {
		case 'D': {
			uint16_t ncols = pgc_read_u16(&rd);
			if (ncols >= 2 && !c->aq->secret && !c->aq->found) {
				free(read_column(&rd)); /* the user name */
				c->aq->secret = read_column(&rd);
				c->aq->found = true;
			}
			break;
		}
		case 'E': {
			struct pgc_error_fields ef;
			if (pgc_parse_error(m.body, m.body_len, &ef) == 0)
				pg_client_set_sync_error(c, ef.message);
			else
				pg_client_set_sync_error(c, "malformed error");
			break;
		}
		case 'Z': {
			s->tx_status = m.body_len ? (char)m.body[0] : 'I';
			evbuffer_drain(in, (size_t)r);
			c->aq->server = NULL;
			pool_release(s, true, false);
			if (c->sync_error) {
				log_error("auth_query failed: %s", c->sync_error);
				pg_client_close(c, "08006", "auth_query failed: %s", c->sync_error);
				return;
			}
			char *secret = c->aq->secret;
			c->aq->secret = NULL;
			pg_auth_query_stop(c); /* done with it */
			lookup_done(c, secret);
			return;
		}
		default:
			break; /* ParseComplete, BindComplete, RowDescription, CommandComplete */
		}
		evbuffer_drain(in, (size_t)r);
	}
}

static void aq_failed(void *link, struct server *s, const char *why)
{
	struct pg_client *c = link;
	c->aq->server = NULL;
	pg_client_close(c, "08006", "auth_query: server connection lost: %s", why);
}
