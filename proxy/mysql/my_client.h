/*
 * my_client.h — one MySQL/MariaDB client session at the proxy.
 *
 * my_client.c: accept, the proxy's handshake (protocol 10, a proxy-issued
 * connection id and nonce), TLS after an SSLRequest, the client's
 * authentication by the proxy (mysql_native_password, caching_sha2_password
 * fast path, AuthSwitchRequest), getting a server, closing.
 * my_relay.c: commands — forwarded to a linked server (with the client's
 * schema, character set, tracked variables and prepared statements
 * applied there first), answered by the proxy, or refused — and the
 * response relayed back until its end (myc_resp) decides whether the
 * server is given back (transaction pooling).
 *
 * One command at a time: the next command stays in the client's input
 * until the answer to the current one is complete. Every state change
 * goes through my_client_set_state(); every exit through my_client_close().
 */
#ifndef SWITCHYARD_MY_CLIENT_H
#define SWITCHYARD_MY_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "config/config.h"
#include "pool/my_server.h"
#include "pool/pool.h"
#include "proxy/query_stats.h"
#include "proxy/route_pick.h"
#include "proxy/mysql/my_kill.h"
#include "proxy/mysql/myc.h"
#include "proxy/mysql/myc_resp.h"
#include "util/list.h"
#include "util/log.h"
#include "util/strmap.h"

struct worker;
struct server;
struct bufferevent;
struct evbuffer;
struct event;
struct admin_wait;

#define MY_CLIENT_STATES(X)      \
	X(MY_CL_HANDSHAKE)       \
	X(MY_CL_TLS_HANDSHAKE)   \
	X(MY_CL_AUTH)            \
	X(MY_CL_AUTH_FULL)       \
	X(MY_CL_WAIT_SERVER)     \
	X(MY_CL_SYNC)            \
	X(MY_CL_ACTIVE)          \
	X(MY_CL_RIDING)          \
	X(MY_CL_IDLE)            \
	X(MY_CL_ADMIN)           \
	X(MY_CL_CLOSED)

#define MY_CLIENT_STATE_ENUM(name) name,
enum my_client_state { MY_CLIENT_STATES(MY_CLIENT_STATE_ENUM) };
#undef MY_CLIENT_STATE_ENUM

const char *my_client_state_name(enum my_client_state st);

/* At exit, after the workers stopped: forget the caching_sha2 cache and
 * the generated RSA key (my_sha2_cache.h, my_client.c). */
void my_client_auth_shutdown(void);

/* A client's prepared statement (proxy-issued id). */
struct my_pstmt {
	uint32_t id;
	char *sql;
	char *key;                    /* "schema\x01sql": the servers' cache key */
	uint16_t num_params, num_columns;
	uint8_t *types;               /* 2 * num_params, from the last EXECUTE that bound them */
	/* Routing: classified once, at the first EXECUTE that needs it. */
	bool classified;
	struct route_stmt route;
	uint64_t qs_id;               /* query statistics: a hash of sql (0: not yet) */
	bool reads_insert_id;         /* calls LAST_INSERT_ID() (MY_SQL_INSERT_ID) */
};

/* The command being served (copied out of the input: the frame stays in
 * the client's input buffer until it is forwarded or answered). */
struct my_cmd {
	bool login;                   /* the login's server check, not a command */
	uint8_t cmd;
	uint32_t stmt_id;             /* client's, for statement commands */
	bool needs_prepare;           /* statement commands: prepare where missing */
	char *text;                   /* PREPARE: the SQL; INIT_DB / USE: the schema */
	unsigned sql_flags;           /* my_sql_scan flags of a COM_QUERY */
	const char *pin_reason;
	uint8_t *frame;               /* COM_QUERY/PREPARE with CONNECTION_ID() replaced: */
	size_t frame_len;             /* sent instead of the client's frame (header included) */
	struct my_vars sets;          /* tracked assignments to apply on success */
	bool batchable;               /* a lone read COM_QUERY: may share a server's batch (my_batch.h) */
};

/* What the proxy sent on the server before the client's command. */
enum my_hidden {
	MY_HID_NONE,
	MY_HID_INIT_DB,
	MY_HID_SET_OPTION, /* multi-statements as the client has them */
	MY_HID_SET,
	MY_HID_INSERT_ID,
	MY_HID_PREPARE,
	MY_HID_GTID,
};

struct my_client {
	struct list node;             /* on worker->my_clients */
	struct list dead_node;        /* on worker->my_dead after close */
	struct worker *w;
	uint32_t id;                  /* also the connection id clients see */
	enum my_client_state state;
	struct bufferevent *bev;
	struct event *timer;          /* login timeout, then query_wait_timeout */
	char addr[80];
	char host[64];                /* for "Access denied for user 'x'@'host'" */
	const struct cfg_listen *listen;
	struct cfg *cfg;              /* the snapshot this session started with */
	struct tls_contexts *tls;
	bool tls_on;
	int64_t connected_ms;
	int64_t wait_start_ms;

	/* Login. */
	uint8_t nonce[MYC_SCRAMBLE_LEN];
	uint8_t seq;                  /* the next sequence id the proxy sends while logging in */
	uint32_t caps;                /* the client's, masked with what the proxy offered */
	uint8_t charset;
	char *user;
	char plugin[32];              /* the plugin the client is answering */
	const struct cfg_user *u;
	const struct cfg_cluster *cl;
	enum cfg_pool_mode pool_mode;
	bool have_sha1;               /* SHA1(password) recovered from a native login */
	uint8_t sha1[20];
	char *clear_password;         /* from caching_sha2 full authentication (hashed secrets) */
	bool logged_in;
	bool admin;                   /* logging in to the admin console (my_admin.h) */
	struct admin_wait *admin_wait; /* the console's PAUSE waiting for transactions */

	/* Session state, applied on every server the client uses. */
	char *schema;
	struct my_vars vars;
	struct strmap stmts;          /* decimal client id -> struct my_pstmt */
	uint32_t next_stmt_id;
	uint32_t last_prepared;

	struct pool *pool;
	struct pool_waiter waiter;
	struct server *server;
	bool held;                    /* in MY_CL_WAIT_SERVER, not queued: its cluster is paused */

	/* The command in progress. */
	struct my_cmd cur;
	bool cmd_pending;             /* cur is parsed; its frame is still in the input */
	enum my_hidden hidden;
	uint16_t hid_params;          /* parameters of a hidden PREPARE's statement */
	struct myc_resp resp;
	size_t c2s_left;              /* bytes of the command still to forward */
	bool c2s_more;                /* a split command: more frames follow */
	bool infile;                  /* LOCAL INFILE: the client's file packets go to the server up to the empty one */
	bool infile_cont;             /* the last file frame was 0xffffff long: the next continues it */
	size_t s2c_left;              /* bytes of a server frame still to forward */
	bool s2c_more;                /* the server's last frame was 0xffffff long */
	uint16_t status;              /* last status flags seen (COM_PING's answer) */
	bool pinned;                  /* session state on the server: keep it */
	uint64_t insert_id;           /* its LAST_INSERT_ID(): the last non-zero insert id its commands got */
	bool hold_long_data;          /* SEND_LONG_DATA waits for its EXECUTE */
	bool cursor_open;             /* EXECUTE opened a cursor: FETCH follows */
	bool hold_diag;               /* the last answer had warnings or an error:
					 SHOW WARNINGS must reach the same server */
	uint64_t queries;
	/* KILL: this client in its worker's registry (after login); KILL
	 * QUERYs in flight for its server (it keeps that server until their
	 * answers are in, so that a late KILL cannot hit another client). */
	struct my_kill_ent kill_ent;
	int kill_hold;
	int64_t last_activity_ms;
	int64_t query_start_ms;

	/* Read/write routing (clusters with replicas; NULL otherwise). */
	struct route_session *route;
	struct event *route_retry;    /* created on first use: a read waiting for a replica */
	const char *route_sql;        /* the command's statement while routing it (not owned) */
	size_t route_sql_len;
	const struct route_stmt *route_stmt; /* its classification when known (prepared) */
	char *route_wait_sql;         /* a copy while waiting for a replica (owned) */
	bool route_wrote;             /* the transaction may have written on the primary */
	bool route_gtid_ok;           /* the hidden SELECT @@last_gtid answered (and was noted) */

	struct qs_call qs;            /* query statistics: the statement in progress */
	uint64_t batch_key;           /* its key, found to queue it on a server (my_batch.c) */
};

/* Who c is, for log_who_msg() (util/log.h). */
static inline struct log_who my_client_who(const struct my_client *c)
{
	struct log_who w = { .mysql = true, .client = c->id, .addr = c->addr, .user = c->user, .db = c->schema };
	return w;
}

/* A new connection accepted on a mysql `listen`; takes ownership of fd. */
void my_client_accept(struct worker *w, const struct cfg_listen *listen, int fd,
		      const struct sockaddr *sa, int salen);

/* Close; with code != 0 an ERR (code, sqlstate, message) is sent first
 * with sequence id `seq`. */
void my_client_close(struct my_client *c, uint16_t code, const char *sqlstate, uint8_t seq,
		     const char *fmt, ...) __attribute__((format(printf, 5, 6)));

void my_client_set_state(struct my_client *c, enum my_client_state st);

/* Point c->pool at node `node` of the client's cluster. 0 or -1. */
int my_client_use_node(struct my_client *c, int node);

/* Queue for a server (MY_CL_WAIT_SERVER), on the node route_pick chooses
 * for c->route_sql (NULL: the login or a command without a statement). */
void my_client_request_server(struct my_client *c);

/* After RESUME: a client held by PAUSE queues for its server (if its
 * cluster is no longer paused). */
void my_client_resume(struct my_client *c);

/* Session timeouts (query_timeout, idle_transaction_timeout,
 * client_idle_timeout); may close c. Called by the worker's sweep. */
void my_client_sweep(struct my_client *c, int64_t now);

/* COM_CHANGE_USER (my_relay.c has released the server and reset the
 * session): authenticate c again as cu's user (AuthSwitchRequest with a
 * fresh nonce, then the login's checks and server check); OK, or ERR
 * 1045 and close. cu's slices are copied. */
void my_client_change_user(struct my_client *c, const struct myc_change_user *cu);

/* The worker's live client with this id, or NULL. */
struct my_client *my_client_find(struct worker *w, uint32_t id);
/* KILL QUERY: stop the command c runs on its server (KILL QUERY <thread
 * id> on another connection of the pool); nothing when c is idle. */
void my_client_kill_query(struct my_client *c);
/* KILL CONNECTION: ERR 1927 to c and close it (its running statement is
 * stopped as by my_client_kill_query()). */
void my_client_kill_connection(struct my_client *c);
/* KILL QUERY <thread_id> on another connection of pool (no holder). */
void my_client_kill_thread(struct pool *pool, uint32_t thread_id);

/* Free closed clients (worker's deferred frees). */
void my_client_reap(struct list *dead);

/* Send an ERR (no close). */
void my_client_send_err(struct my_client *c, uint8_t seq, uint16_t code, const char *sqlstate,
			const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* my_relay.c */

/* Client bytes while MY_CL_IDLE / MY_CL_ACTIVE (streaming a command). */
void my_relay_client_input(struct my_client *c);
/* A server was linked (MY_CL_WAIT_SERVER is over): apply the session
 * state on it and run the pending command (or finish the login). */
void my_relay_start(struct my_client *c);
/* Write what was queued on both sides now (direct writes). */
void my_relay_flush(struct my_client *c);
/* The client's output drained below the low watermark. */
void my_relay_client_drained(struct my_client *c);
/* Give the server back if nothing holds it (transaction pooling). */
void my_relay_maybe_release(struct my_client *c);
/* Free a pending command's copies. */
void my_cmd_clear(struct my_cmd *cmd);
/* Is server s in step with c (schema, multi-statements, tracked
 * variables): would c's COM_QUERY go out with no hidden command first? */
bool my_relay_in_step(const struct my_client *c, const struct server *s);
/* The next server frame of an answer tracked by `r`, as the tracker needs
 * it: pulled up whole when it is at most 64 kB, or not a row (or an ERR
 * in place of one); else only its first 16 bytes are copied (a large row:
 * the tracker reads its first byte). `cont`: the previous frame was
 * 0xffffff long, this one continues it. */
struct my_frame_peek {
	size_t len, total;            /* payload length; with the header */
	uint8_t *frame;               /* whole: the frame in the input; NULL otherwise */
	const uint8_t *payload;       /* what to feed the tracker */
	uint8_t head[MYC_HEADER_LEN + 16];
};
/* 1: *pk is ready; 0: more bytes needed; -1: out of memory. */
int my_relay_peek_frame(struct evbuffer *in, bool cont, const struct myc_resp *r, struct my_frame_peek *pk);

/* Send c's pending command to c->server now (server pipelining: c is
 * queued behind the linked client; my_batch.c). */
void my_relay_send_queued(struct my_client *c);
void my_pstmt_free(void *p);

extern const struct server_link_ops my_relay_link_ops;

#define MY_RELAY_HIGH (256 * 1024)
#define MY_RELAY_LOW (64 * 1024)

#endif
