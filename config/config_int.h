/*
 * config_int.h — what the files of config/ share and nobody else uses.
 *
 * keys.c    the key table (every key once) and the typed setter
 * values.c  value parsers, enum name tables, base64, secrets
 * config.c  reading the file through inih, sections, resolving, ref/unref
 * validate.c cross-checks that need the whole file (references, TLS files)
 * userlist.c auth_file (PgBouncer's userlist.txt format)
 */
#ifndef SWITCHYARD_CONFIG_INT_H
#define SWITCHYARD_CONFIG_INT_H

#include "config/config.h"

#include <stdarg.h>

/* ---- errors ---- */
void cfg_err(struct cfg_errors *errs, const char *file, int line, bool warning, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));

/* ---- enum name tables (values.c) ---- */
struct cfg_enum {
	const char *name;
	int value;
};
extern const struct cfg_enum cfg_enum_protocol[];
extern const struct cfg_enum cfg_enum_pool_mode[];
extern const struct cfg_enum cfg_enum_log_level[];
extern const struct cfg_enum cfg_enum_log_format[];
extern const struct cfg_enum cfg_enum_client_tls[];
extern const struct cfg_enum cfg_enum_server_tls[];
extern const struct cfg_enum cfg_enum_auth_type[];
extern const struct cfg_enum cfg_enum_default_target[];
extern const struct cfg_enum cfg_enum_load_balance[];
extern const struct cfg_enum cfg_enum_fallback[];
extern const struct cfg_enum cfg_enum_ryw[];
extern const struct cfg_enum cfg_enum_scope[];
extern const struct cfg_enum cfg_enum_failover[];
extern const struct cfg_enum cfg_enum_pin_policy[];
extern const struct cfg_enum cfg_enum_ro_tx[];
extern const struct cfg_enum cfg_enum_shard_method[];

/* 0 and *out on a (case-insensitive) match, -1 otherwise. */
int cfg_enum_parse(const struct cfg_enum *e, const char *s, int *out);
const char *cfg_enum_name(const struct cfg_enum *e, int value);
/* "a, b or c" into buf, for error messages. */
void cfg_enum_list(const struct cfg_enum *e, char *buf, size_t len);

/* Split a comma-separated list, trimming items. Empty string: empty list.
 * Returns -1 on an empty item (",," or a trailing comma). */
int cfg_parse_list(const char *s, struct cfg_strlist *out);
void cfg_strlist_free(struct cfg_strlist *l);
int cfg_strlist_copy(struct cfg_strlist *dst, const struct cfg_strlist *src);
bool cfg_strlist_has(const struct cfg_strlist *l, const char *s);

char *cfg_strdup(const char *s); /* aborts on out of memory */
void *cfg_xrealloc(void *p, size_t n);

/* ---- the key table (keys.c) ---- */

/* Where a group of keys lives: the struct their offsets point into. */
enum cfg_group {
	CFG_G_GLOBAL,     /* struct cfg_global          [switchyard] */
	CFG_G_LISTEN,     /* struct cfg_listen          [listen.*] */
	CFG_G_CLUSTER,    /* struct cfg_cluster         [cluster.*] only */
	CFG_G_POOL,       /* struct cfg_pool_settings   [cluster.*] and [shard.*] */
	CFG_G_NODES,      /* struct cfg_node_spec       [cluster.*] and [shard.*] */
	CFG_G_SHARD_RULE, /* struct cfg_shard_rule */
	CFG_G_USER,       /* struct cfg_user */
	CFG_G_ROUTE,      /* struct cfg_route */
};

/* Section kinds as written in the file. */
enum cfg_sec_kind {
	CFG_S_GLOBAL,
	CFG_S_LISTEN,
	CFG_S_CLUSTER,
	CFG_S_SHARD,
	CFG_S_SHARD_RULE,
	CFG_S_USER,
	CFG_S_ROUTE,
	CFG_S__COUNT
};

enum cfg_type {
	CFG_T_INT,        /* int, in [min, INT_MAX] */
	CFG_T_WORKERS,    /* int >= 1 or "auto" (stored as 0 until resolved) */
	CFG_T_DURATION,   /* int64_t ms */
	CFG_T_SIZE,       /* uint64_t bytes, >= min */
	CFG_T_BOOL,
	CFG_T_ENUM,       /* an enum field; names from `enums` */
	CFG_T_STR,        /* char *; empty: NULL, or "" when min == 1 ... see keys.c */
	CFG_T_LIST,       /* struct cfg_strlist */
	CFG_T_ADDR,       /* struct cfg_addr; empty allowed when min == 0 */
	CFG_T_ADDR_LIST,  /* struct cfg_addr_list (replicas) */
	CFG_T_PASSWORD,   /* struct cfg_user: password + secret_kind */
	CFG_T_TARGET,     /* struct cfg_route: target + target_node */
	CFG_T_REGEX,      /* char *, must compile with pcre2 (caseless) */
	CFG_T_USERPASS,   /* char *, "user:password" */
	CFG_T_MAP,        /* char *, raw "a=b, ..." list, checked when resolved */
};

struct cfg_key {
	enum cfg_group group;
	const char *name;
	enum cfg_type type;
	size_t off;
	const char *def;            /* applied when a section is created; NULL: none */
	const struct cfg_enum *enums;
	long min;                   /* INT/SIZE: lowest value; STR: 1 keeps "" (not NULL);
	                               ADDR: 1 = may not be empty */
	bool reloadable;
	bool implemented;
};

extern const struct cfg_key cfg_keys[];
extern const size_t cfg_n_keys;

/* Sections: their name prefix, key groups, and whether any of their keys
 * has an effect yet. */
struct cfg_sec_info {
	const char *prefix;         /* "switchyard", "listen", ... */
	enum cfg_group groups[3];
	size_t n_groups;
	bool implemented;
};
extern const struct cfg_sec_info cfg_sections[CFG_S__COUNT];

/* The key `name` in a section of kind `sk`; NULL when unknown. */
const struct cfg_key *cfg_key_find(enum cfg_sec_kind sk, const char *name);
/* Parse `val` and store it at base + k->off (base is the group's struct).
 * Returns 0, or -1 with a message in err. */
int cfg_key_set(const struct cfg_key *k, void *base, const char *val, char *err, size_t errlen);
/* Apply the defaults of a group to its struct. */
void cfg_group_defaults(enum cfg_group g, void *base);
/* Deep copy / free of what a group owns (strings, lists, addr lists). */
void cfg_group_copy(enum cfg_group g, void *dst, const void *src);
void cfg_group_free(enum cfg_group g, void *base);

/* Primary/replicas/weights of a cluster or shard before they become nodes. */
struct cfg_addr_list {
	struct cfg_addr *items;
	size_t n;
};
struct cfg_node_spec {
	struct cfg_addr primary;    /* kind NONE when unset */
	struct cfg_addr_list replicas;
	char *replica_weights;      /* raw "addr=weight, ..." */
};

/* ---- the parse in progress (config.c, validate.c) ---- */

/* A value set in a [shard.*] section for a pool key: replayed over a copy
 * of its cluster's settings once the whole file is read. */
struct cfg_override {
	const struct cfg_key *key;
	char *value;
};

/* One section of the file. */
struct cfg_sec {
	enum cfg_sec_kind kind;
	char *name;                 /* as in the header: "cluster.app" */
	size_t idx;                 /* index in its array of struct cfg */
	int line;                   /* of the header */
	int *seen;                  /* per cfg_keys[] row: line where set, 0 = not set */
	struct cfg_node_spec nodes; /* cluster and shard sections */
	struct cfg_override *ov;    /* shard sections */
	size_t n_ov;
};

struct cfg_parse {
	const char *path;
	struct cfg *c;
	struct cfg_errors *errs;
	/* the file, fed to inih line by line */
	char *text;
	size_t len, pos;
	int line;
	char *long_value;           /* value of an over-long line, see reader() */
	struct cfg_sec *secs;
	size_t n_secs;
	long cur;                   /* index in secs; -1 before any section; -2 skip */
	struct cfg_pool_settings scratch; /* checks [shard.*] pool values */
};

/* The line where `key` was set in section `s`, or the section's line. */
int cfg_sec_key_line(const struct cfg_sec *s, const char *key);
/* The section record for [kind.name...] with array index idx; NULL if none. */
const struct cfg_sec *cfg_sec_of(const struct cfg_parse *p, enum cfg_sec_kind kind, size_t idx);
/* Build nodes from a section's primary/replicas/replica_weights. */
void cfg_build_nodes(struct cfg_parse *p, const struct cfg_sec *s, struct cfg_node **nodes, size_t *n,
		     bool *has_primary);
/* Cross-checks over the resolved snapshot (validate.c). */
void cfg_validate(struct cfg_parse *p);
/* Free everything a snapshot owns (refs ignored). */
void cfg_free(struct cfg *c);

#endif
