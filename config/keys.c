/*
 * keys.c — every configuration key, declared once, and the typed setter.
 *
 * A row says: which group of keys (which struct the offset points into),
 * the key's name, its value type, where it is stored, its default as it
 * would be written in the file, whether SIGHUP applies it, and whether the
 * feature behind it exists yet.
 *
 * WHAT HAS AN EFFECT YET lives in this file only:
 *   - the last column of each row: LIVE (implemented) or LATER (accepted,
 *     validated, but setting it earns the warning "key 'x' is accepted but
 *     has no effect yet");
 *   - the `implemented` column of cfg_sections[] at the bottom: when false,
 *     every key of that section kind earns the warning.
 * Flip a key by changing LATER to LIVE (and its status in
 * docs/configuration.md).
 */
#include "config/config_int.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#define LIVE true
#define LATER false
#define RELOAD true
#define RESTART false

_Static_assert(sizeof(enum cfg_pool_mode) == sizeof(int), "enum fields are stored as int");

#define K(grp, st, key, field, type, def, en, min, rel, impl) \
	{ grp, key, type, offsetof(st, field), def, en, min, rel, impl }
#define KG(key, type, def, en, min, rel, impl) K(CFG_G_GLOBAL, struct cfg_global, #key, key, type, def, en, min, rel, impl)
#define KL(key, type, def, en, min, rel, impl) K(CFG_G_LISTEN, struct cfg_listen, #key, key, type, def, en, min, rel, impl)
#define KC(key, type, def, en, min, rel, impl) K(CFG_G_CLUSTER, struct cfg_cluster, #key, key, type, def, en, min, rel, impl)
#define KN(key, type, def, en, min, rel, impl) K(CFG_G_NODES, struct cfg_node_spec, #key, key, type, def, en, min, rel, impl)
#define KP(key, field, type, def, en, min, rel, impl) \
	K(CFG_G_POOL, struct cfg_pool_settings, key, field, type, def, en, min, rel, impl)
#define KR(key, type, def, en, min, rel, impl) K(CFG_G_SHARD_RULE, struct cfg_shard_rule, #key, key, type, def, en, min, rel, impl)
#define KU(key, type, def, en, min, rel, impl) K(CFG_G_USER, struct cfg_user, #key, key, type, def, en, min, rel, impl)
#define KT(key, type, def, en, min, rel, impl) K(CFG_G_ROUTE, struct cfg_route, #key, key, type, def, en, min, rel, impl)

#define T_INT CFG_T_INT
#define T_DUR CFG_T_DURATION
#define T_SIZE CFG_T_SIZE
#define T_BOOL CFG_T_BOOL
#define T_ENUM CFG_T_ENUM
#define T_STR CFG_T_STR
#define T_LIST CFG_T_LIST
#define T_ADDR CFG_T_ADDR
#define T_MAP CFG_T_MAP

const struct cfg_key cfg_keys[] = {
	/* [switchyard] */
	KG(workers, CFG_T_WORKERS, "auto", NULL, 0, RESTART, LIVE),
	KG(max_client_conn, T_INT, "10000", NULL, 1, RELOAD, LIVE),
	KG(log_level, T_ENUM, "info", cfg_enum_log_level, 0, RELOAD, LIVE),
	KG(log_format, T_ENUM, "text", cfg_enum_log_format, 0, RELOAD, LIVE),
	KG(log_file, T_STR, NULL, NULL, 0, RELOAD, LIVE),
	KG(pidfile, T_STR, NULL, NULL, 0, RESTART, LIVE),
	KG(stats_listen, T_ADDR, "127.0.0.1:9930", NULL, 0, RESTART, LIVE),
	KG(stats_auth, CFG_T_USERPASS, NULL, NULL, 0, RELOAD, LIVE),
	KG(stats_tls_cert_file, T_STR, NULL, NULL, 0, RELOAD, LIVE),
	KG(stats_tls_key_file, T_STR, NULL, NULL, 0, RELOAD, LIVE),
	KG(stats_tls_ca_file, T_STR, NULL, NULL, 0, RELOAD, LIVE),
	KG(admin_users, T_LIST, NULL, NULL, 0, RELOAD, LIVE),
	KG(auth_file, T_STR, NULL, NULL, 0, RELOAD, LIVE),
	KG(auth_user, T_STR, NULL, NULL, 0, RELOAD, LIVE),
	KG(auth_query, T_STR, "SELECT usename, passwd FROM pg_shadow WHERE usename=$1", NULL, 0, RELOAD, LIVE),
	K(CFG_G_GLOBAL, struct cfg_global, "shutdown_timeout", shutdown_timeout_ms, T_DUR, "30s", NULL, 0, RELOAD, LIVE),
	KG(max_packet_size, T_SIZE, "64MB", NULL, 1024, RELOAD, LIVE),
	KG(client_tls_mode, T_ENUM, "disable", cfg_enum_client_tls, 0, RELOAD, LIVE),
	KG(client_tls_cert_file, T_STR, NULL, NULL, 0, RELOAD, LIVE),
	KG(client_tls_key_file, T_STR, NULL, NULL, 0, RELOAD, LIVE),
	KG(client_tls_ca_file, T_STR, NULL, NULL, 0, RELOAD, LIVE),
	KG(client_rsa_key_file, T_STR, NULL, NULL, 0, RELOAD, LIVE),
	KG(server_tls_mode, T_ENUM, "disable", cfg_enum_server_tls, 0, RELOAD, LIVE),
	KG(server_tls_ca_file, T_STR, NULL, NULL, 0, RELOAD, LIVE),
	KG(server_tls_cert_file, T_STR, NULL, NULL, 0, RELOAD, LIVE),
	KG(server_tls_key_file, T_STR, NULL, NULL, 0, RELOAD, LIVE),

	/* [listen.NAME] */
	KL(protocol, T_ENUM, NULL, cfg_enum_protocol, 0, RESTART, LIVE),
	KL(address, T_ADDR, NULL, NULL, 1, RESTART, LIVE),
	KL(cluster, T_STR, NULL, NULL, 0, RELOAD, LIVE),

	/* [cluster.NAME] only */
	KC(protocol, T_ENUM, NULL, cfg_enum_protocol, 0, RESTART, LIVE),
	KC(server_database, T_STR, NULL, NULL, 0, RELOAD, LIVE),
	KC(shards, T_LIST, NULL, NULL, 0, RELOAD, LATER),

	/* [cluster.NAME] and [shard.CLUSTER.SHARD]: the servers */
	KN(primary, T_ADDR, NULL, NULL, 0, RELOAD, LIVE),
	KN(replicas, CFG_T_ADDR_LIST, NULL, NULL, 0, RELOAD, LIVE),
	KN(replica_weights, T_MAP, NULL, NULL, 0, RELOAD, LIVE),

	/* [cluster.NAME] and [shard.CLUSTER.SHARD]: pool and routing */
	KP("pool_mode", pool_mode, T_ENUM, "transaction", cfg_enum_pool_mode, 0, RELOAD, LIVE),
	KP("pool_size", pool_size, T_INT, "20", NULL, 1, RELOAD, LIVE),
	KP("min_pool_size", min_pool_size, T_INT, "0", NULL, 0, RELOAD, LIVE),
	KP("max_db_connections", max_db_connections, T_INT, "0", NULL, 0, RELOAD, LIVE),
	KP("server_reset_query", server_reset_query, T_STR, "DISCARD ALL", NULL, 1, RELOAD, LIVE),
	KP("server_lifetime", server_lifetime_ms, T_DUR, "1h", NULL, 0, RELOAD, LIVE),
	KP("server_idle_timeout", server_idle_timeout_ms, T_DUR, "10m", NULL, 0, RELOAD, LIVE),
	KP("server_connect_timeout", server_connect_timeout_ms, T_DUR, "5s", NULL, 0, RELOAD, LIVE),
	KP("query_wait_timeout", query_wait_timeout_ms, T_DUR, "30s", NULL, 0, RELOAD, LIVE),
	KP("query_timeout", query_timeout_ms, T_DUR, "0", NULL, 0, RELOAD, LIVE),
	KP("idle_transaction_timeout", idle_transaction_timeout_ms, T_DUR, "0", NULL, 0, RELOAD, LIVE),
	KP("client_idle_timeout", client_idle_timeout_ms, T_DUR, "0", NULL, 0, RELOAD, LIVE),
	KP("client_login_timeout", client_login_timeout_ms, T_DUR, "10s", NULL, 0, RELOAD, LIVE),
	KP("pin_policy", pin_policy, T_ENUM, "pin", cfg_enum_pin_policy, 0, RELOAD, LIVE),
	KP("max_prepared_statements", max_prepared_statements, T_INT, "500", NULL, 0, RELOAD, LIVE),
	KP("pipeline_depth", pipeline_depth, T_INT, "1", NULL, 1, RELOAD, LIVE),
	KP("pipeline_max_query_time", pipeline_max_query_time_ms, T_DUR, "10ms", NULL, 1, RELOAD, LIVE),
	KP("pipeline_busy_servers", pipeline_busy_servers, T_INT, "0", NULL, 0, RELOAD, LIVE),
	KP("read_write_split", read_write_split, T_BOOL, "on", NULL, 0, RELOAD, LIVE),
	KP("read_only_transactions", read_only_transactions, T_ENUM, "primary", cfg_enum_ro_tx, 0, RELOAD, LIVE),
	KP("load_balance", load_balance, T_ENUM, "least_connections", cfg_enum_load_balance, 0, RELOAD, LIVE),
	KP("replica_fallback", replica_fallback, T_ENUM, "primary", cfg_enum_fallback, 0, RELOAD, LIVE),
	KP("max_replica_lag", max_replica_lag_ms, T_DUR, "10s", NULL, 0, RELOAD, LIVE),
	KP("read_your_writes", read_your_writes, T_ENUM, "lsn", cfg_enum_ryw, 0, RELOAD, LIVE),
	KP("ryw_window", ryw_window_ms, T_DUR, "2s", NULL, 0, RELOAD, LIVE),
	KP("ryw_wait", ryw_wait_ms, T_DUR, "100ms", NULL, 0, RELOAD, LIVE),
	KP("monotonic_reads", monotonic_reads, T_BOOL, "on", NULL, 0, RELOAD, LIVE),
	KP("consistency_scope", consistency_scope, T_ENUM, "connection", cfg_enum_scope, 0, RELOAD, LIVE),
	KP("write_functions", write_functions, T_LIST, NULL, NULL, 0, RELOAD, LIVE),
	KP("heartbeat_interval", heartbeat_interval_ms, T_DUR, "500ms", NULL, 0, RELOAD, LIVE),
	KP("replica_position_interval", replica_position_interval_ms, T_DUR, "50ms", NULL, 0, RELOAD, LIVE),
	KP("down_after", down_after, T_INT, "3", NULL, 1, RELOAD, LIVE),
	KP("up_after", up_after, T_INT, "3", NULL, 1, RELOAD, LIVE),
	KP("failover", failover, T_ENUM, "off", cfg_enum_failover, 0, RELOAD, LIVE),
	KP("failover_command", failover_command, T_STR, NULL, NULL, 0, RELOAD, LIVE),
	KP("failover_command_timeout", failover_command_timeout_ms, T_DUR, "30s", NULL, 0, RELOAD, LIVE),
	KP("failover_wait", failover_wait_ms, T_DUR, "10s", NULL, 0, RELOAD, LIVE),
	KP("replication_user", replication_user, T_STR, NULL, NULL, 0, RELOAD, LIVE),
	KP("replication_password", replication_password, T_STR, NULL, NULL, 0, RELOAD, LIVE),
	KP("monitor_user", monitor_user, T_STR, NULL, NULL, 0, RELOAD, LIVE),
	KP("monitor_password", monitor_password, T_STR, NULL, NULL, 0, RELOAD, LIVE),

	/* [shard_rule.CLUSTER.NAME] (the whole section is LATER, see below) */
	KR(tables, T_LIST, NULL, NULL, 0, RELOAD, LATER),
	KR(key, T_STR, NULL, NULL, 0, RELOAD, LATER),
	KR(method, T_ENUM, "hash", cfg_enum_shard_method, 0, RELOAD, LATER),
	KR(ranges, T_MAP, NULL, NULL, 0, RELOAD, LATER),
	KR(values, T_MAP, NULL, NULL, 0, RELOAD, LATER),

	/* [user.NAME] */
	KU(password, CFG_T_PASSWORD, NULL, NULL, 0, RELOAD, LIVE),
	KU(auth_type, T_ENUM, "scram-sha-256", cfg_enum_auth_type, 0, RELOAD, LIVE),
	KU(server_user, T_STR, NULL, NULL, 0, RELOAD, LIVE),
	KU(server_password, T_STR, NULL, NULL, 0, RELOAD, LIVE),
	KU(pool_mode, T_ENUM, NULL, cfg_enum_pool_mode, 0, RELOAD, LIVE),
	KU(max_user_connections, T_INT, "0", NULL, 0, RELOAD, LATER),
	KU(default_target, T_ENUM, NULL, cfg_enum_default_target, 0, RELOAD, LIVE),

	/* [route.CLUSTER.NAME] (the whole section is LATER, see below) */
	KT(match, CFG_T_REGEX, NULL, NULL, 0, RELOAD, LIVE),
	KT(user, T_STR, NULL, NULL, 0, RELOAD, LIVE),
	KT(database, T_STR, NULL, NULL, 0, RELOAD, LIVE),
	KT(client_addr, T_STR, NULL, NULL, 0, RELOAD, LIVE),
	KT(target, CFG_T_TARGET, NULL, NULL, 0, RELOAD, LIVE),
};
const size_t cfg_n_keys = sizeof(cfg_keys) / sizeof(cfg_keys[0]);

/* Section kinds: prefix, key groups, implemented. A section kind whose
 * `implemented` is false warns for every key set in it. */
const struct cfg_sec_info cfg_sections[CFG_S__COUNT] = {
	[CFG_S_GLOBAL] = { "switchyard", { CFG_G_GLOBAL }, 1, LIVE },
	[CFG_S_LISTEN] = { "listen", { CFG_G_LISTEN }, 1, LIVE },
	[CFG_S_CLUSTER] = { "cluster", { CFG_G_CLUSTER, CFG_G_NODES, CFG_G_POOL }, 3, LIVE },
	[CFG_S_SHARD] = { "shard", { CFG_G_NODES, CFG_G_POOL }, 2, LATER },
	[CFG_S_SHARD_RULE] = { "shard_rule", { CFG_G_SHARD_RULE }, 1, LATER },
	[CFG_S_USER] = { "user", { CFG_G_USER }, 1, LIVE },
	[CFG_S_ROUTE] = { "route", { CFG_G_ROUTE }, 1, LIVE },
};

static const char *const type_names[] = {
	[CFG_T_INT] = "int", [CFG_T_WORKERS] = "int or auto", [CFG_T_DURATION] = "duration",
	[CFG_T_SIZE] = "size", [CFG_T_BOOL] = "bool", [CFG_T_ENUM] = "enum", [CFG_T_STR] = "string",
	[CFG_T_LIST] = "list", [CFG_T_ADDR] = "address", [CFG_T_ADDR_LIST] = "address list",
	[CFG_T_PASSWORD] = "secret", [CFG_T_TARGET] = "target", [CFG_T_REGEX] = "pcre2 pattern",
	[CFG_T_USERPASS] = "user:password", [CFG_T_MAP] = "map",
};

const struct cfg_key *cfg_key_find(enum cfg_sec_kind sk, const char *name)
{
	const struct cfg_sec_info *si = &cfg_sections[sk];
	for (size_t i = 0; i < cfg_n_keys; i++) {
		for (size_t g = 0; g < si->n_groups; g++)
			if (cfg_keys[i].group == si->groups[g] && strcmp(cfg_keys[i].name, name) == 0)
				return &cfg_keys[i];
	}
	return NULL;
}

int cfg_key_lookup(const char *section, const char *key, struct cfg_key_info *out)
{
	for (int sk = 0; sk < CFG_S__COUNT; sk++) {
		if (strcmp(cfg_sections[sk].prefix, section) != 0)
			continue;
		const struct cfg_key *k = cfg_key_find((enum cfg_sec_kind)sk, key);
		if (!k)
			return -1;
		out->section = cfg_sections[sk].prefix;
		out->key = k->name;
		out->type = type_names[k->type];
		out->def = k->def;
		out->reloadable = k->reloadable;
		out->implemented = k->implemented && cfg_sections[sk].implemented;
		return 0;
	}
	return -1;
}

/* ---- the setter ---- */

#define FIELD(base, k, T) ((T *)(void *)((char *)(base) + (k)->off))

static void set_str(char **dst, const char *val, bool keep_empty)
{
	free(*dst);
	*dst = (*val || keep_empty) ? cfg_strdup(val) : NULL;
}

static int set_addr_list(struct cfg_addr_list *dst, const char *val, char *err, size_t errlen)
{
	struct cfg_strlist l;
	if (cfg_parse_list(val, &l) < 0) {
		snprintf(err, errlen, "empty item in address list '%s'", val);
		return -1;
	}
	struct cfg_addr_list r = { NULL, 0 };
	r.items = l.n ? cfg_xrealloc(NULL, l.n * sizeof(*r.items)) : NULL;
	for (size_t i = 0; i < l.n; i++) {
		if (cfg_parse_addr(l.items[i], &r.items[r.n]) < 0) {
			snprintf(err, errlen, "bad address '%s' (expected host:port, [v6]:port or /unix/path)",
				 l.items[i]);
			free(r.items);
			cfg_strlist_free(&l);
			return -1;
		}
		r.n++;
	}
	cfg_strlist_free(&l);
	free(dst->items);
	*dst = r;
	return 0;
}

int cfg_key_set(const struct cfg_key *k, void *base, const char *val, char *err, size_t errlen)
{
	switch (k->type) {
	case CFG_T_INT: {
		long v;
		if (cfg_parse_int(val, LONG_MIN, LONG_MAX, &v) < 0 || v > INT_MAX) {
			snprintf(err, errlen, "bad value '%s' for %s: expected a whole number", val, k->name);
			return -1;
		}
		if (v < k->min) {
			snprintf(err, errlen, "bad value '%s' for %s: must be at least %ld", val, k->name, k->min);
			return -1;
		}
		*FIELD(base, k, int) = (int)v;
		return 0;
	}
	case CFG_T_WORKERS: {
		long v;
		if (strcmp(val, "auto") == 0) {
			*FIELD(base, k, int) = 0;
			return 0;
		}
		if (cfg_parse_int(val, 1, 1024, &v) < 0) {
			snprintf(err, errlen, "bad value '%s' for %s: expected auto or a number from 1 to 1024",
				 val, k->name);
			return -1;
		}
		*FIELD(base, k, int) = (int)v;
		return 0;
	}
	case CFG_T_DURATION:
		if (cfg_parse_duration(val, FIELD(base, k, int64_t)) < 0) {
			snprintf(err, errlen,
				 "bad duration '%s' for %s: expected a whole number with ms, s, m, h or d "
				 "(bare number: seconds)", val, k->name);
			return -1;
		}
		return 0;
	case CFG_T_SIZE: {
		uint64_t v;
		if (cfg_parse_size(val, &v) < 0) {
			snprintf(err, errlen, "bad size '%s' for %s: expected a whole number with kB, MB or GB",
				 val, k->name);
			return -1;
		}
		if (v < (uint64_t)k->min) {
			snprintf(err, errlen, "bad size '%s' for %s: must be at least %ld bytes", val, k->name, k->min);
			return -1;
		}
		*FIELD(base, k, uint64_t) = v;
		return 0;
	}
	case CFG_T_BOOL:
		if (cfg_parse_bool(val, FIELD(base, k, bool)) < 0) {
			snprintf(err, errlen, "bad value '%s' for %s: expected on, off, true, false, yes, no, 1 or 0",
				 val, k->name);
			return -1;
		}
		return 0;
	case CFG_T_ENUM: {
		int v;
		if (cfg_enum_parse(k->enums, val, &v) < 0) {
			char names[256];
			cfg_enum_list(k->enums, names, sizeof(names));
			snprintf(err, errlen, "bad value '%s' for %s: expected %s", val, k->name, names);
			return -1;
		}
		*FIELD(base, k, int) = v;
		return 0;
	}
	case CFG_T_STR:
		set_str(FIELD(base, k, char *), val, k->min == 1);
		return 0;
	case CFG_T_MAP:
		set_str(FIELD(base, k, char *), val, false);
		return 0;
	case CFG_T_USERPASS: {
		const char *colon = strchr(val, ':');
		if (*val && (!colon || colon == val)) {
			snprintf(err, errlen, "bad value for %s: expected user:password", k->name);
			return -1;
		}
		set_str(FIELD(base, k, char *), val, false);
		return 0;
	}
	case CFG_T_LIST: {
		struct cfg_strlist l;
		if (cfg_parse_list(val, &l) < 0) {
			snprintf(err, errlen, "bad list '%s' for %s: empty item", val, k->name);
			return -1;
		}
		cfg_strlist_free(FIELD(base, k, struct cfg_strlist));
		*FIELD(base, k, struct cfg_strlist) = l;
		return 0;
	}
	case CFG_T_ADDR: {
		struct cfg_addr *a = FIELD(base, k, struct cfg_addr);
		if (!*val && k->min == 0) {
			memset(a, 0, sizeof(*a));
			return 0;
		}
		if (cfg_parse_addr(val, a) < 0) {
			snprintf(err, errlen, "bad address '%s' for %s: expected host:port, [v6]:port or /unix/path",
				 val, k->name);
			return -1;
		}
		return 0;
	}
	case CFG_T_ADDR_LIST:
		return set_addr_list(FIELD(base, k, struct cfg_addr_list), val, err, errlen);
	case CFG_T_PASSWORD: {
		struct cfg_user *u = base;
		enum cfg_secret_kind kind;
		if (cfg_parse_secret(val, &kind) < 0) {
			snprintf(err, errlen, "bad password: malformed SCRAM-SHA-256 verifier (expected "
				 "SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>, base64, 32-byte keys)");
			return -1;
		}
		set_str(&u->password, val, false);
		u->secret_kind = kind;
		return 0;
	}
	case CFG_T_TARGET: {
		struct cfg_route *r = base;
		int v;
		if (cfg_enum_parse((const struct cfg_enum[]){ { "primary", CFG_TARGET_PRIMARY },
							       { "replica", CFG_TARGET_REPLICA },
							       { "any", CFG_TARGET_ANY },
							       { NULL, 0 } },
				   val, &v) == 0) {
			r->target = (enum cfg_target)v;
			memset(&r->target_node, 0, sizeof(r->target_node));
			return 0;
		}
		if (cfg_parse_addr(val, &r->target_node) < 0) {
			snprintf(err, errlen, "bad target '%s': expected primary, replica, any or a node address", val);
			return -1;
		}
		r->target = CFG_TARGET_NODE;
		return 0;
	}
	case CFG_T_REGEX: {
		int code;
		PCRE2_SIZE off;
		if (!*val) {
			snprintf(err, errlen, "empty pattern for %s", k->name);
			return -1;
		}
		pcre2_code *re = pcre2_compile((PCRE2_SPTR)val, PCRE2_ZERO_TERMINATED, PCRE2_CASELESS, &code, &off, NULL);
		if (!re) {
			PCRE2_UCHAR msg[256];
			pcre2_get_error_message(code, msg, sizeof(msg));
			snprintf(err, errlen, "bad pattern for %s at offset %zu: %s", k->name, (size_t)off, (char *)msg);
			return -1;
		}
		pcre2_code_free(re);
		set_str(FIELD(base, k, char *), val, false);
		return 0;
	}
	}
	snprintf(err, errlen, "internal: unknown type for %s", k->name);
	return -1;
}

void cfg_group_defaults(enum cfg_group g, void *base)
{
	char err[256];
	for (size_t i = 0; i < cfg_n_keys; i++) {
		const struct cfg_key *k = &cfg_keys[i];
		if (k->group != g || !k->def)
			continue;
		if (cfg_key_set(k, base, k->def, err, sizeof(err)) < 0)
			abort(); /* a bad default in the table: a bug caught by the tests */
	}
}

static bool owns_string(enum cfg_type t)
{
	return t == CFG_T_STR || t == CFG_T_MAP || t == CFG_T_USERPASS || t == CFG_T_REGEX || t == CFG_T_PASSWORD;
}

void cfg_group_copy(enum cfg_group g, void *dst, const void *src)
{
	for (size_t i = 0; i < cfg_n_keys; i++) {
		const struct cfg_key *k = &cfg_keys[i];
		if (k->group != g)
			continue;
		if (owns_string(k->type)) {
			const char *s = *FIELD(src, k, char *);
			*FIELD(dst, k, char *) = s ? cfg_strdup(s) : NULL;
		} else if (k->type == CFG_T_LIST) {
			cfg_strlist_copy(FIELD(dst, k, struct cfg_strlist), FIELD(src, k, struct cfg_strlist));
		} else if (k->type == CFG_T_ADDR_LIST) {
			const struct cfg_addr_list *s = FIELD(src, k, struct cfg_addr_list);
			struct cfg_addr_list *d = FIELD(dst, k, struct cfg_addr_list);
			d->n = s->n;
			d->items = s->n ? cfg_xrealloc(NULL, s->n * sizeof(*s->items)) : NULL;
			if (s->n)
				memcpy(d->items, s->items, s->n * sizeof(*s->items));
		} else {
			/* plain values: copy the bytes of the field */
			size_t sz = k->type == CFG_T_DURATION ? sizeof(int64_t)
				  : k->type == CFG_T_SIZE     ? sizeof(uint64_t)
				  : k->type == CFG_T_BOOL     ? sizeof(bool)
				  : k->type == CFG_T_ADDR     ? sizeof(struct cfg_addr)
				  : k->type == CFG_T_TARGET   ? 0
							      : sizeof(int);
			memcpy((char *)dst + k->off, (const char *)src + k->off, sz);
		}
	}
}

void cfg_group_free(enum cfg_group g, void *base)
{
	for (size_t i = 0; i < cfg_n_keys; i++) {
		const struct cfg_key *k = &cfg_keys[i];
		if (k->group != g)
			continue;
		if (owns_string(k->type)) {
			free(*FIELD(base, k, char *));
			*FIELD(base, k, char *) = NULL;
		} else if (k->type == CFG_T_LIST) {
			cfg_strlist_free(FIELD(base, k, struct cfg_strlist));
		} else if (k->type == CFG_T_ADDR_LIST) {
			struct cfg_addr_list *l = FIELD(base, k, struct cfg_addr_list);
			free(l->items);
			l->items = NULL;
			l->n = 0;
		}
	}
}
