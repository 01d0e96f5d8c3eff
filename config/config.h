/*
 * config.h — the typed, immutable configuration snapshot and its loader.
 *
 * config/ owns the INI format described in shared/CONFIG.md: it reads a
 * file with inih, checks every key and value, and produces a `struct cfg`
 * that nothing changes afterwards. A reload builds a new snapshot and the
 * proxy swaps pointers; sessions keep a reference (cfg_ref/cfg_unref) to
 * the snapshot they started with.
 *
 * Memory: every string and array in a snapshot belongs to it and is freed
 * by the last cfg_unref(). Durations are milliseconds, sizes are bytes.
 * This module depends on nothing else in the tree (util/ excepted).
 */
#ifndef SWITCHYARD_CONFIG_H
#define SWITCHYARD_CONFIG_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum cfg_protocol { CFG_PROTO_NONE = 0, CFG_PROTO_POSTGRES, CFG_PROTO_MYSQL };

enum cfg_pool_mode {
	CFG_POOL_MODE_UNSET = 0, /* only in [user.*]: use the cluster's */
	CFG_POOL_SESSION,
	CFG_POOL_TRANSACTION,
	CFG_POOL_STATEMENT,
};

enum cfg_log_level { CFG_LOG_ERROR = 0, CFG_LOG_WARNING, CFG_LOG_INFO, CFG_LOG_DEBUG };
enum cfg_log_format { CFG_LOG_TEXT = 0, CFG_LOG_JSON };

enum cfg_client_tls { CFG_CTLS_DISABLE = 0, CFG_CTLS_ALLOW, CFG_CTLS_REQUIRE };
enum cfg_server_tls {
	CFG_STLS_DISABLE = 0,
	CFG_STLS_PREFER,
	CFG_STLS_REQUIRE,
	CFG_STLS_VERIFY_CA,
	CFG_STLS_VERIFY_FULL,
};

enum cfg_auth_type {
	CFG_AUTH_UNSET = 0,
	CFG_AUTH_SCRAM,           /* scram-sha-256 (default for postgres) */
	CFG_AUTH_MD5,             /* md5 */
	CFG_AUTH_PASSWORD,        /* password (cleartext over the wire) */
	CFG_AUTH_TRUST,           /* trust */
	CFG_AUTH_MYSQL_NATIVE,    /* mysql_native_password */
	CFG_AUTH_MYSQL_SHA2,      /* caching_sha2_password */
};

/* What a [user.*] `password` holds. */
enum cfg_secret_kind {
	CFG_SECRET_NONE = 0,
	CFG_SECRET_PLAIN,   /* the password itself */
	CFG_SECRET_MD5,     /* "md5" + 32 hex digits: md5(password || user) */
	CFG_SECRET_SCRAM,   /* SCRAM-SHA-256$<iter>:<salt>$<StoredKey>:<ServerKey> */
};

enum cfg_target { CFG_TARGET_NONE = 0, CFG_TARGET_PRIMARY, CFG_TARGET_REPLICA, CFG_TARGET_ANY, CFG_TARGET_NODE };
enum cfg_load_balance { CFG_LB_LEAST_CONN = 0, CFG_LB_ROUND_ROBIN, CFG_LB_WEIGHTED };
enum cfg_replica_fallback { CFG_FALLBACK_PRIMARY = 0, CFG_FALLBACK_ERROR };
enum cfg_ryw { CFG_RYW_OFF = 0, CFG_RYW_WINDOW, CFG_RYW_LSN };
enum cfg_scope { CFG_SCOPE_CONNECTION = 0, CFG_SCOPE_USER, CFG_SCOPE_CLIENT_ADDR, CFG_SCOPE_KEY };
enum cfg_failover { CFG_FAILOVER_OFF = 0, CFG_FAILOVER_AUTO, CFG_FAILOVER_COMMAND };
enum cfg_pin_policy { CFG_PIN_PIN = 0, CFG_PIN_ERROR };
enum cfg_ro_tx { CFG_ROTX_PRIMARY = 0, CFG_ROTX_REPLICA };
enum cfg_shard_method { CFG_SHARD_HASH = 0, CFG_SHARD_RANGE, CFG_SHARD_LIST };

/* A listening or connecting address: TCP host:port / [v6]:port, or a unix
 * socket path (starts with '/'). `text` is the address as written. */
struct cfg_addr {
	enum { CFG_ADDR_NONE = 0, CFG_ADDR_TCP, CFG_ADDR_UNIX } kind;
	char host[256];  /* TCP: host name or literal, without brackets */
	uint16_t port;   /* TCP */
	char path[108];  /* UNIX */
	char text[300];
};

struct cfg_strlist {
	char **items;
	size_t n;
};

/* [switchyard] */
struct cfg_global {
	int workers;                      /* resolved: "auto" becomes the CPU count */
	int max_client_conn;
	enum cfg_log_level log_level;
	enum cfg_log_format log_format;
	char *log_file;                   /* NULL: stderr */
	char *pidfile;                    /* NULL: none */
	struct cfg_addr stats_listen;     /* kind NONE when disabled (empty value) */
	char *stats_auth;                 /* "user:password" or NULL */
	/* HTTPS on the stats port: cert and key go together; a CA file also
	 * asks clients for a certificate signed by it. NULL: plain HTTP. */
	char *stats_tls_cert_file, *stats_tls_key_file, *stats_tls_ca_file;
	struct cfg_strlist admin_users;
	char *auth_file;
	char *auth_user;
	char *auth_query;
	int64_t shutdown_timeout_ms;
	uint64_t max_packet_size;
	enum cfg_client_tls client_tls_mode;
	char *client_tls_cert_file, *client_tls_key_file, *client_tls_ca_file;
	char *client_rsa_key_file;    /* MySQL caching_sha2 full authentication without TLS */
	enum cfg_server_tls server_tls_mode;
	char *server_tls_ca_file, *server_tls_cert_file, *server_tls_key_file;
};

/* [listen.NAME] */
struct cfg_listen {
	char *name;
	enum cfg_protocol protocol;
	struct cfg_addr address;
	char *cluster;                    /* NULL when not set */
	int line;                         /* where the section starts */
};

/* The most clients' statements one server connection may hold at once. */
#define CFG_PIPELINE_DEPTH_MAX 16

/* Pool and routing settings of a cluster; a shard may override them. */
struct cfg_pool_settings {
	enum cfg_pool_mode pool_mode;
	int pool_size;
	int min_pool_size;
	int max_db_connections;
	char *server_reset_query;         /* "" disables */
	int64_t server_lifetime_ms;
	int64_t server_idle_timeout_ms;
	int64_t server_connect_timeout_ms;
	int64_t query_wait_timeout_ms;
	int64_t query_timeout_ms;
	int64_t idle_transaction_timeout_ms;
	int64_t client_idle_timeout_ms;
	int64_t client_login_timeout_ms;
	enum cfg_pin_policy pin_policy;
	int max_prepared_statements;
	/* Server pipelining (PostgreSQL, transaction/statement pooling): up
	 * to this many clients' single-statement reads queued on one server
	 * connection while every server is busy; 1 turns it off. Only
	 * statements whose shape takes pipeline_max_query_time or less on
	 * average queue behind one another (docs/pooling.md). */
	int pipeline_depth;
	int64_t pipeline_max_query_time_ms;
	/* Queue on busy servers once this many are busy, idle ones or not;
	 * 0 = once all pool_size are (docs/pooling.md). */
	int pipeline_busy_servers;
	bool read_write_split;
	enum cfg_ro_tx read_only_transactions;
	enum cfg_load_balance load_balance;
	enum cfg_replica_fallback replica_fallback;
	int64_t max_replica_lag_ms;
	enum cfg_ryw read_your_writes;
	int64_t ryw_window_ms;
	int64_t ryw_wait_ms;
	bool monotonic_reads;
	enum cfg_scope consistency_scope;
	struct cfg_strlist write_functions;
	int64_t heartbeat_interval_ms;
	int64_t replica_position_interval_ms;
	int down_after;
	int up_after;
	enum cfg_failover failover;
	char *failover_command;
	int64_t failover_command_timeout_ms;
	int64_t failover_wait_ms;
	char *replication_user;           /* failover: replicas follow the new primary as */
	char *replication_password;
	char *monitor_user;
	char *monitor_password;
};

/* One server: the primary or a replica of a cluster or shard. */
struct cfg_node {
	struct cfg_addr addr;
	bool is_primary;
	int weight;                       /* from replica_weights; default 1 */
};

/* [shard.CLUSTER.SHARD] */
struct cfg_shard {
	char *cluster;
	char *name;
	struct cfg_node *nodes;           /* nodes[0] is the primary when has_primary */
	size_t n_nodes;
	bool has_primary;
	struct cfg_pool_settings settings; /* the cluster's, with this section's overrides */
	int line;
};

/* [cluster.NAME] */
struct cfg_cluster {
	char *name;
	enum cfg_protocol protocol;
	char *server_database;            /* defaults to name */
	struct cfg_node *nodes;           /* nodes[0] is the primary when has_primary */
	size_t n_nodes;
	bool has_primary;
	struct cfg_strlist shards;        /* names, for a sharded cluster */
	struct cfg_pool_settings settings;
	int line;
};

/* [shard_rule.CLUSTER.NAME] */
struct cfg_shard_rule {
	char *cluster;
	char *name;
	struct cfg_strlist tables;
	char *key;
	enum cfg_shard_method method;
	char *ranges;                     /* raw, validated: lo..hi=SHARD, ... */
	char *values;                     /* raw, validated: value=SHARD, ... */
	int line;
};

/* [user.NAME], or a line of auth_file */
struct cfg_user {
	char *name;
	char *password;                   /* as written; NULL when absent */
	enum cfg_secret_kind secret_kind;
	enum cfg_auth_type auth_type;     /* resolved default: SCRAM */
	char *server_user;                /* defaults to name */
	char *server_password;            /* defaults to password when plain; may be NULL */
	enum cfg_pool_mode pool_mode;     /* UNSET: the cluster's */
	int max_user_connections;
	enum cfg_target default_target;   /* NONE or REPLICA */
	bool from_auth_file;
	int line;
};

/* [route.CLUSTER.NAME] */
struct cfg_route {
	char *cluster;
	char *name;
	char *match;                      /* pcre2 pattern; compiled by router/ */
	char *user, *database, *client_addr;
	enum cfg_target target;
	struct cfg_addr target_node;      /* when target == CFG_TARGET_NODE */
	int line;
};

struct cfg {
	atomic_int refs;
	char *path;
	uint64_t generation;              /* set by the proxy on each load */
	struct cfg_global global;
	struct cfg_listen *listens;       size_t n_listens;
	struct cfg_cluster *clusters;     size_t n_clusters;
	struct cfg_shard *shards;         size_t n_shards;
	struct cfg_shard_rule *shard_rules; size_t n_shard_rules;
	struct cfg_user *users;           size_t n_users;
	struct cfg_route *routes;         size_t n_routes;
	/* Derived data other modules attach to the snapshot (the router's
	 * compiled rules), set once with a compare-and-swap. It points to an
	 * object whose first member is its destructor, `void (*free)(void *)`,
	 * which the last cfg_unref calls; config/ never looks further. */
	_Atomic(void *) derived;
};

/* One problem found while loading: "file:line: message". line is 0 when
 * the problem is not tied to a line (e.g. a missing required section). */
struct cfg_error {
	char *file;
	int line;
	char *msg;
	bool warning;   /* accepted, but the operator should know (e.g. a key
	                   whose feature is not implemented yet) */
};

struct cfg_errors {
	struct cfg_error *items;
	size_t n;
};

/* Load and validate `path`. Returns a snapshot with refs == 1, or NULL
 * when any error was found; every error and warning is appended to
 * `errs` (which the caller frees with cfg_errors_free). A NULL return
 * always comes with at least one non-warning entry in `errs`. */
struct cfg *cfg_load(const char *path, struct cfg_errors *errs)
	__attribute__((warn_unused_result));

struct cfg *cfg_ref(struct cfg *c);
void cfg_unref(struct cfg *c);
void cfg_errors_free(struct cfg_errors *errs);
/* Number of entries that are errors, not warnings. */
size_t cfg_errors_count(const struct cfg_errors *errs);

/* Lookups; NULL when absent. */
const struct cfg_cluster *cfg_find_cluster(const struct cfg *c, const char *name);
const struct cfg_user *cfg_find_user(const struct cfg *c, const char *name);

/* The pool mode a user gets in a cluster: the user's override or the
 * cluster's. */
enum cfg_pool_mode cfg_pool_mode_for(const struct cfg_cluster *cl, const struct cfg_user *u);

/* Value parsers, exposed for tests and for other modules. Each returns 0
 * on success and -1 on a bad value. */
int cfg_parse_duration(const char *s, int64_t *ms);
int cfg_parse_size(const char *s, uint64_t *bytes);
int cfg_parse_bool(const char *s, bool *b);
int cfg_parse_addr(const char *s, struct cfg_addr *a);

const char *cfg_pool_mode_name(enum cfg_pool_mode m);
const char *cfg_protocol_name(enum cfg_protocol p);
const char *cfg_auth_type_name(enum cfg_auth_type t);

/* Parse PgBouncer's userlist.txt format: lines `"user" "secret"`, with ""
 * inside quotes standing for one ". Each user is appended to *users. */
int cfg_load_auth_file(const char *path, struct cfg_user **users, size_t *n_users,
		       struct cfg_errors *errs);

/* ---- Added by the config/ module (additions only; nothing above renamed) ---- */

/* Other parsers, exposed for tests and for other modules; 0 or -1. */
/* A whole decimal number in [min, max]. */
int cfg_parse_int(const char *s, long min, long max, long *out);
/* Classify a [user.*] or auth_file secret: md5 (exactly "md5" + 32 hex
 * digits), SCRAM (must be a well-formed SCRAM-SHA-256 verifier, else -1),
 * otherwise plain. */
int cfg_parse_secret(const char *s, enum cfg_secret_kind *kind);
/* Standard base64 (with '=' padding). Returns the decoded length, or -1
 * when `s` is not base64 or `out` (cap bytes) is too small. */
long cfg_base64_decode(const char *s, unsigned char *out, size_t cap);
/* Same endpoint: same kind and host/port, or same path. */
bool cfg_addr_equal(const struct cfg_addr *a, const struct cfg_addr *b);

/* More lookups; NULL when absent. */
const struct cfg_shard *cfg_find_shard(const struct cfg *c, const char *cluster, const char *name);
const struct cfg_listen *cfg_find_listen(const struct cfg *c, const char *name);

/* Names for log lines, the admin console and the stats page ("?" when out
 * of range). Static strings. */
const char *cfg_log_level_name(enum cfg_log_level l);
const char *cfg_log_format_name(enum cfg_log_format f);
const char *cfg_client_tls_name(enum cfg_client_tls m);
const char *cfg_server_tls_name(enum cfg_server_tls m);
const char *cfg_secret_kind_name(enum cfg_secret_kind k);
const char *cfg_target_name(enum cfg_target t);
const char *cfg_load_balance_name(enum cfg_load_balance lb);
const char *cfg_ryw_name(enum cfg_ryw r);
const char *cfg_scope_name(enum cfg_scope s);
const char *cfg_failover_name(enum cfg_failover f);
const char *cfg_shard_method_name(enum cfg_shard_method m);

/* One entry of the key table (config/keys.c), for `-t` output, the admin
 * console and tests. `section` is the section kind as written in the file
 * ("switchyard", "listen", "cluster", "shard", "shard_rule", "user",
 * "route"). `implemented` is false when setting the key only earns a
 * warning (the feature is not built yet). */
struct cfg_key_info {
	const char *section;
	const char *key;
	const char *type;        /* "int", "duration", "size", "bool", ... */
	const char *def;         /* default as written in the file; NULL: none */
	bool reloadable;         /* takes effect on SIGHUP */
	bool implemented;
};
/* Look a key up; returns 0 and fills *out, or -1 when the section kind has
 * no such key. */
int cfg_key_lookup(const char *section, const char *key, struct cfg_key_info *out);

/* "file:line: message" (or "file: message" when line is 0), with
 * "warning: " before the message for warnings. Returns snprintf's value. */
int cfg_error_format(const struct cfg_error *e, char *buf, size_t len);

#endif
