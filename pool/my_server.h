/*
 * my_server.h — one connection from the proxy to a MySQL/MariaDB server.
 *
 * The MySQL side of struct server (pool/pg_server.h): the generic part
 * (state, pool lists, link to a client, close and deferred free) is
 * pg_server.c's; this file owns what differs: connecting, reading the
 * server's handshake, TLS (SSLRequest then TLS), logging in with
 * mysql_native_password / caching_sha2_password (fast path; full path with
 * the cleartext password over TLS or a unix socket, else RSA with the
 * server's public key) or an AuthSwitchRequest, the reset on release
 * (ROLLBACK, COM_RESET_CONNECTION) and COM_QUIT on close. Its state hangs
 * off server->my (struct my_server), freed by server_reap().
 *
 * Capabilities. The proxy terminates both sides and relays result packets
 * unchanged, so every packet format a client sees must be the one its own
 * capabilities ask for. The proxy therefore uses ONE capability set
 * towards every server (MY_SERVER_CAPS, which the server must support)
 * and offers clients only that set (plus CONNECT_ATTRS and SSL, which do
 * not change result formats). CLIENT_DEPRECATE_EOF, CLIENT_SESSION_TRACK,
 * CLIENT_FOUND_ROWS, compression, MariaDB's extended
 * capabilities and MySQL 8's query attributes / optional metadata are
 * used on neither side.
 *
 * Everything runs on the pool's worker thread.
 */
#ifndef SWITCHYARD_MY_SERVER_H
#define SWITCHYARD_MY_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pool/pg_server.h"
#include "proxy/mysql/myc.h"
#include "proxy/mysql/myc_resp.h"
#include "util/strmap.h"

struct pool;

/* What the proxy asks of every server and offers every client. */
#define MY_SERVER_CAPS                                                                    \
	(CLIENT_MYSQL | CLIENT_LONG_FLAG | CLIENT_CONNECT_WITH_DB | CLIENT_PROTOCOL_41 |      \
	 CLIENT_TRANSACTIONS | CLIENT_SECURE_CONNECTION | CLIENT_MULTI_STATEMENTS |           \
	 CLIENT_MULTI_RESULTS | CLIENT_PS_MULTI_RESULTS | CLIENT_PLUGIN_AUTH |                 \
	 CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA | CLIENT_LOCAL_FILES)
/* A server without these cannot serve the proxy's clients. */
#define MY_SERVER_REQUIRED_CAPS                                                           \
	(CLIENT_PROTOCOL_41 | CLIENT_SECURE_CONNECTION | CLIENT_TRANSACTIONS |                \
	 CLIENT_MULTI_STATEMENTS | CLIENT_MULTI_RESULTS | CLIENT_PS_MULTI_RESULTS)
/* The collation servers are logged in with (utf8mb4_general_ci). */
#define MY_LOGIN_COLLATION 45

/* An ordered list of session variables (name -> value text), as a client
 * wants them or as they are set on a server. Names are the canonical
 * ones of my_sql_tracked_var(), or "names" / "charset". */
struct my_vars {
	int n;
	char **keys;
	char **vals;
};

void my_vars_set(struct my_vars *v, const char *key, const char *val, size_t len);
const char *my_vars_get(const struct my_vars *v, const char *key);
void my_vars_del(struct my_vars *v, const char *key);
void my_vars_clear(struct my_vars *v);

/* A statement prepared on a server by the proxy. */
struct my_sstmt {
	uint32_t id;                  /* the server's */
	uint16_t num_params, num_columns;
	uint64_t last_used;
};

enum my_login_step { MYS_HANDSHAKE, MYS_AUTH, MYS_PUBKEY };

/* A server session's multi-statements option (the login's
 * CLIENT_MULTI_STATEMENTS, then COM_SET_OPTION). */
enum my_multi { MY_MULTI_UNKNOWN, MY_MULTI_ON, MY_MULTI_OFF };

struct my_server {
	enum my_login_step step;
	uint8_t nonce[MYC_SCRAMBLE_LEN];
	char plugin[64];
	uint32_t caps;                /* negotiated: MY_SERVER_CAPS & the server's */
	uint32_t thread_id;           /* the server's connection id (KILL) */
	uint16_t status;              /* status flags of the last OK/EOF */
	char *schema;                 /* current default schema; NULL: unknown */
	/* Tracked variables set on this server; names_unknown after a reset
	 * (character set then unknown: always set before use). */
	struct my_vars vars;
	bool names_unknown;
	uint64_t insert_id;           /* its LAST_INSERT_ID() as last set (OK packets, DO LAST_INSERT_ID(n)) */
	enum my_multi multi;          /* its multi-statements option, as last set */
	struct strmap stmts;          /* "schema\x01sql" -> struct my_sstmt */
	int n_stmts;
	uint64_t stmt_clock;
	int resets_pending;
	/* Server pipelining (proxy/mysql/my_batch.c): the answer of a
	 * departed client being read and dropped, and whether its last
	 * frame was 0xffffff long (a split packet goes on). */
	struct myc_resp ghost_resp;
	bool ghost_more;
};

static inline struct my_server *my_server_of(const struct server *s)
{
	return (struct my_server *)s->my;
}

/* Start connecting a new MySQL server for pool p (server_connect() for
 * CFG_PROTO_MYSQL pools). NULL when that failed (counted as a failure). */
struct server *my_server_connect(struct pool *p);

/* Release-time cleanup: ROLLBACK when a transaction is open; with
 * run_reset, COM_RESET_CONNECTION (any non-empty server_reset_query
 * enables it; its text is not used). SV_RESETTING until answered. */
void my_server_start_reset(struct server *s, bool run_reset);

/* Append COM_QUIT to b (server_close() of an idle or active server). */
void my_server_goodbye(struct server *s, struct buf *b);

/* After a COM_RESET_CONNECTION succeeded: statements, variables and
 * the character set are gone; the schema is taken as unknown. */
void my_server_after_reset(struct server *s);

/* Free the MySQL state (server_reap()). */
void my_server_free(void *my);

/* Record the status flags of an OK/EOF: keeps s->tx_status ('T' inside
 * a transaction, else 'I') in step for pool_release(). */
void my_server_set_status(struct server *s, uint16_t status);

/* Set the server's current default schema. */
void my_server_set_schema(struct server *s, const char *schema, size_t len);

/* Prepared statements by key; put replaces (closing the older server
 * statement) and evicts the least recently used above max, with
 * COM_STMT_CLOSE (which has no answer) written to the server. */
struct my_sstmt *my_server_stmt_get(struct server *s, const char *key);
void my_server_stmt_put(struct server *s, const char *key, uint32_t id, uint16_t num_params,
			uint16_t num_columns, int max);

#endif
