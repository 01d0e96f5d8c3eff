/*
 * my_route.c — read/write routing for MySQL/MariaDB sessions.
 *
 * The MySQL twin of pg_route.c: before a command that needs a server is
 * dispatched, route_pick() chooses the node from the command's statement
 * (COM_QUERY's text, COM_STMT_PREPARE's, or the prepared text an
 * EXECUTE runs), and the client is pointed at that node's pool. The GTID
 * of a transaction that wrote is read by my_relay.c with a hidden
 * `SELECT @@last_gtid` on the same server before it is released, and
 * recorded here (MariaDB; elsewhere the query fails and ryw_window covers
 * the write).
 */
#include "proxy/mysql/my_route.h"

#include <event2/event.h>
#include <stdlib.h>
#include <string.h>

#include "proxy/proxy.h"
#include "util/log.h"

#define ROUTE_RETRY_MS 2

int my_route_init(struct my_client *c)
{
	if (c->route)
		return 0;
	bool oom;
	c->route = route_session_new(c->cl, c->addr, &oom);
	return !c->route && oom ? -1 : 0;
}

void my_route_free(struct my_client *c)
{
	route_session_destroy(c->route);
	c->route = NULL;
	free(c->route_wait_sql);
	c->route_wait_sql = NULL;
	if (c->route_retry) {
		event_free(c->route_retry);
		c->route_retry = NULL;
	}
}

static void retry_cb(evutil_socket_t fd, short what, void *arg)
{
	struct my_client *c = arg;
	if (c->state != MY_CL_WAIT_SERVER)
		return;
	c->route_sql = c->route_wait_sql;
	c->route_sql_len = c->route_wait_sql ? strlen(c->route_wait_sql) : 0;
	int r = my_route_request(c);
	c->route_sql = NULL;
	if (r == 0)
		pool_acquire(c->pool, &c->waiter);
}

int my_route_request(struct my_client *c)
{
	if (!c->route)
		return 0;
	struct route_request rq = {
		.cfg = c->cfg, .cl = c->cl, .user = c->user, .u = c->u, .database = c->schema,
		.dialect = ROUTE_DIALECT_MYSQL, .sql = c->route_sql, .sql_len = c->route_sql_len,
		.stmt = c->route_sql == c->route_wait_sql ? NULL : c->route_stmt,
		.pools = c->w->pools, .now_ms = worker_now_ms(c->w),
	};
	struct route_decision d;
	route_pick(c->route, &rq, &d);
	if (d.outcome == ROUTE_WAIT) {
		if (!c->route_retry)
			c->route_retry = evtimer_new(c->w->base, retry_cb, c);
		if (c->route_sql && c->route_sql != c->route_wait_sql) {
			free(c->route_wait_sql);
			c->route_wait_sql = strndup(c->route_sql, c->route_sql_len);
		}
		if (c->route_retry && (c->route_wait_sql || !c->route_sql)) {
			int ms = d.retry_ms > 0 ? d.retry_ms : ROUTE_RETRY_MS;
			struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };
			evtimer_add(c->route_retry, &tv);
			return 1;
		}
		d.outcome = ROUTE_GO; /* out of memory: the primary serves it */
		d.node = 0;
	}
	if (c->route_wait_sql && c->route_sql != c->route_wait_sql) {
		free(c->route_wait_sql);
		c->route_wait_sql = NULL;
	}
	if (d.outcome == ROUTE_REFUSE) {
		my_client_close(c, 1290, "HY000", 1, "%s", d.refuse_msg);
		return -1;
	}
	c->route_wrote = c->route_wrote || (d.wrote && d.primary && c->route_sql);
	log_debug("mysql client %u: route to %s (%s%s%s)", c->id, c->cl->nodes[d.node].addr.text,
		  route_reason_name(d.reason), d.rule ? " " : "", d.rule ? d.rule : "");
	if (my_client_use_node(c, d.node) < 0) {
		my_client_close(c, 1105, "HY000", 1, "no server configured for cluster %s", c->cl->name);
		return -1;
	}
	return 0;
}

bool my_route_intercept(struct my_client *c, const char *sql, size_t len)
{
	if (!c->route)
		return false;
	struct route_stmt st;
	route_classify(sql, len, ROUTE_DIALECT_MYSQL, NULL, &st);
	if (!st.sets_route && !st.sets_key)
		return false;
	if (st.sets_route)
		c->route->session_route = st.session_route;
	else
		route_session_set_key(c->route, st.key, st.key_len);
	return true;
}

bool my_route_wants_gtid(struct my_client *c)
{
	if (!c->route || !c->route_wrote)
		return false;
	c->route_wrote = false;
	if (c->cl->settings.read_your_writes == CFG_RYW_LSN && !c->pinned) {
		/* Until the GTID is known, other connections of the scope see
		 * a write of unknown position (ryw_window); this one waits. */
		if (c->cl->settings.consistency_scope != CFG_SCOPE_CONNECTION)
			my_route_note_gtid(c, NULL, 0);
		c->route_gtid_ok = false;
		return true;
	}
	my_route_note_gtid(c, NULL, 0);
	return false;
}

void my_route_note_gtid(struct my_client *c, const char *gtid, size_t len)
{
	struct position p;
	memset(&p, 0, sizeof(p));
	if (gtid && pos_parse_mariadb(gtid, len, &p) < 0) {
		log_warning("mysql client %u: unreadable @@last_gtid \"%.*s\" (read-your-writes falls back to "
			    "ryw_window for it)",
			    c->id, (int)(len > 80 ? 80 : len), gtid);
		memset(&p, 0, sizeof(p));
	}
	route_note_write(c->route, c->cl, c->user, &p, worker_now_ms(c->w));
}
