/*
 * validate.c — checks that need more than one key: required keys,
 * references between sections, TLS files, pool limits, user secrets
 * against their auth_type, shard rules. Runs on the resolved snapshot
 * (after shard inheritance and auth_file) and reports every problem with
 * the line of the key concerned (or of its section header when a key is
 * missing).
 */
#include "config/config_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define ERR(line, ...) cfg_err(p->errs, p->path, (line), false, __VA_ARGS__)
#define WARN(line, ...) cfg_err(p->errs, p->path, (line), true, __VA_ARGS__)

static const struct cfg_sec *global_sec(const struct cfg_parse *p)
{
	return cfg_sec_of(p, CFG_S_GLOBAL, 0);
}

static void check_file(struct cfg_parse *p, const char *key, const char *path)
{
	if (!path)
		return;
	int line = cfg_sec_key_line(global_sec(p), key);
	FILE *f = fopen(path, "r");
	if (!f) {
		ERR(line, "cannot read %s '%s': %s", key, path, strerror(errno));
		return;
	}
	fclose(f);
}

static void check_global(struct cfg_parse *p)
{
	const struct cfg_global *g = &p->c->global;
	const struct cfg_sec *gs = global_sec(p);

	check_file(p, "client_tls_cert_file", g->client_tls_cert_file);
	check_file(p, "client_tls_key_file", g->client_tls_key_file);
	check_file(p, "client_tls_ca_file", g->client_tls_ca_file);
	check_file(p, "client_rsa_key_file", g->client_rsa_key_file);
	check_file(p, "server_tls_cert_file", g->server_tls_cert_file);
	check_file(p, "server_tls_key_file", g->server_tls_key_file);
	check_file(p, "server_tls_ca_file", g->server_tls_ca_file);
	check_file(p, "stats_tls_cert_file", g->stats_tls_cert_file);
	check_file(p, "stats_tls_key_file", g->stats_tls_key_file);
	check_file(p, "stats_tls_ca_file", g->stats_tls_ca_file);

	if (g->client_tls_mode != CFG_CTLS_DISABLE && (!g->client_tls_cert_file || !g->client_tls_key_file))
		ERR(cfg_sec_key_line(gs, "client_tls_mode"),
		    "client_tls_mode = %s needs client_tls_cert_file and client_tls_key_file",
		    cfg_client_tls_name(g->client_tls_mode));
	else if (!!g->client_tls_cert_file != !!g->client_tls_key_file)
		ERR(cfg_sec_key_line(gs, g->client_tls_cert_file ? "client_tls_cert_file" : "client_tls_key_file"),
		    "client_tls_cert_file and client_tls_key_file go together");
	if (!!g->server_tls_cert_file != !!g->server_tls_key_file)
		ERR(cfg_sec_key_line(gs, g->server_tls_cert_file ? "server_tls_cert_file" : "server_tls_key_file"),
		    "server_tls_cert_file and server_tls_key_file go together");
	if (g->server_tls_mode == CFG_STLS_DISABLE && (g->server_tls_ca_file || g->server_tls_cert_file))
		WARN(cfg_sec_key_line(gs, "server_tls_mode"),
		     "server TLS files are set but server_tls_mode = disable");
	if (!!g->stats_tls_cert_file != !!g->stats_tls_key_file)
		ERR(cfg_sec_key_line(gs, g->stats_tls_cert_file ? "stats_tls_cert_file" : "stats_tls_key_file"),
		    "stats_tls_cert_file and stats_tls_key_file go together");
	else if (g->stats_tls_ca_file && !g->stats_tls_cert_file)
		ERR(cfg_sec_key_line(gs, "stats_tls_ca_file"),
		    "stats_tls_ca_file needs stats_tls_cert_file and stats_tls_key_file");
	if (g->stats_tls_cert_file && g->stats_listen.kind == CFG_ADDR_NONE)
		WARN(cfg_sec_key_line(gs, "stats_tls_cert_file"), "stats TLS files are set but stats_listen is empty");
}

static void check_listens(struct cfg_parse *p)
{
	struct cfg *c = p->c;
	if (c->n_listens == 0)
		ERR(0, "no [listen.NAME] section: switchyard would accept no clients");
	for (size_t i = 0; i < c->n_listens; i++) {
		const struct cfg_listen *l = &c->listens[i];
		const struct cfg_sec *s = cfg_sec_of(p, CFG_S_LISTEN, i);
		if (l->protocol == CFG_PROTO_NONE)
			ERR(l->line, "[listen.%s]: missing required key 'protocol' (postgres or mysql)", l->name);
		if (l->address.kind == CFG_ADDR_NONE)
			ERR(l->line, "[listen.%s]: missing required key 'address'", l->name);
		if (l->protocol == CFG_PROTO_MYSQL && !l->cluster)
			ERR(l->line, "[listen.%s]: a mysql listener needs 'cluster'", l->name);
		if (l->cluster) {
			const struct cfg_cluster *cl = cfg_find_cluster(c, l->cluster);
			int line = cfg_sec_key_line(s, "cluster");
			if (!cl)
				ERR(line, "[listen.%s]: unknown cluster '%s'", l->name, l->cluster);
			else if (l->protocol != CFG_PROTO_NONE && cl->protocol != CFG_PROTO_NONE &&
				 cl->protocol != l->protocol)
				ERR(line, "[listen.%s] speaks %s but cluster '%s' is %s", l->name,
				    cfg_protocol_name(l->protocol), cl->name, cfg_protocol_name(cl->protocol));
		}
		if (l->address.kind == CFG_ADDR_NONE)
			continue;
		for (size_t j = 0; j < i; j++) {
			if (cfg_addr_equal(&c->listens[j].address, &l->address)) {
				ERR(cfg_sec_key_line(s, "address"), "[listen.%s]: address %s is already used by [listen.%s]",
				    l->name, l->address.text, c->listens[j].name);
				break;
			}
		}
		if (cfg_addr_equal(&c->global.stats_listen, &l->address))
			ERR(cfg_sec_key_line(s, "address"), "[listen.%s]: address %s is also stats_listen", l->name,
			    l->address.text);
	}
}

/* Limits of one set of pool settings (a cluster's or a shard's). */
static void check_pool(struct cfg_parse *p, const struct cfg_sec *s, const char *what,
		       const struct cfg_pool_settings *ps)
{
	if (ps->min_pool_size > ps->pool_size)
		ERR(cfg_sec_key_line(s, "min_pool_size"), "%s: min_pool_size (%d) is larger than pool_size (%d)", what,
		    ps->min_pool_size, ps->pool_size);
	if (ps->pipeline_depth > CFG_PIPELINE_DEPTH_MAX)
		ERR(cfg_sec_key_line(s, "pipeline_depth"), "%s: pipeline_depth (%d) is larger than %d", what,
		    ps->pipeline_depth, CFG_PIPELINE_DEPTH_MAX);
	if (ps->pipeline_busy_servers > ps->pool_size)
		ERR(cfg_sec_key_line(s, "pipeline_busy_servers"),
		    "%s: pipeline_busy_servers (%d) is larger than pool_size (%d)", what, ps->pipeline_busy_servers,
		    ps->pool_size);
	if (ps->failover == CFG_FAILOVER_COMMAND && !ps->failover_command)
		ERR(cfg_sec_key_line(s, "failover"), "%s: failover = command needs failover_command", what);
}

static void check_clusters(struct cfg_parse *p)
{
	struct cfg *c = p->c;
	char what[300];
	for (size_t i = 0; i < c->n_clusters; i++) {
		const struct cfg_cluster *cl = &c->clusters[i];
		const struct cfg_sec *s = cfg_sec_of(p, CFG_S_CLUSTER, i);
		snprintf(what, sizeof(what), "[cluster.%s]", cl->name);
		if (cl->protocol == CFG_PROTO_NONE)
			ERR(cl->line, "%s: missing required key 'protocol' (postgres or mysql)", what);
		if (cl->n_nodes == 0 && cl->shards.n == 0)
			ERR(cl->line, "%s: no servers: set primary and/or replicas, or shards", what);
		if (cl->n_nodes && cl->shards.n)
			ERR(cfg_sec_key_line(s, "shards"), "%s: a sharded cluster takes its servers from its shards; "
			    "remove primary/replicas", what);
		for (size_t j = 0; j < cl->shards.n; j++) {
			if (!cfg_find_shard(c, cl->name, cl->shards.items[j]))
				ERR(cfg_sec_key_line(s, "shards"), "%s: shard '%s' has no [shard.%s.%s] section", what,
				    cl->shards.items[j], cl->name, cl->shards.items[j]);
			for (size_t k = 0; k < j; k++)
				if (strcmp(cl->shards.items[k], cl->shards.items[j]) == 0)
					ERR(cfg_sec_key_line(s, "shards"), "%s: shard '%s' is listed twice", what,
					    cl->shards.items[j]);
		}
		check_pool(p, s, what, &cl->settings);
	}
}

static void check_shards(struct cfg_parse *p)
{
	struct cfg *c = p->c;
	char what[300];
	for (size_t i = 0; i < c->n_shards; i++) {
		const struct cfg_shard *sh = &c->shards[i];
		const struct cfg_sec *s = cfg_sec_of(p, CFG_S_SHARD, i);
		const struct cfg_cluster *cl = cfg_find_cluster(c, sh->cluster);
		snprintf(what, sizeof(what), "[shard.%s.%s]", sh->cluster, sh->name);
		if (!cl) {
			ERR(sh->line, "%s: unknown cluster '%s'", what, sh->cluster);
			continue;
		}
		if (!cfg_strlist_has(&cl->shards, sh->name))
			ERR(sh->line, "%s: cluster '%s' does not list '%s' in its shards", what, cl->name, sh->name);
		if (sh->n_nodes == 0)
			ERR(sh->line, "%s: no servers: set primary and/or replicas", what);
		check_pool(p, s, what, &sh->settings);
	}
}

/* "lo..hi=SHARD, ..." (range) or "value=SHARD, ..." (list). */
static void check_shard_map(struct cfg_parse *p, const struct cfg_sec *s, const char *key, const char *map,
			    bool range, const struct cfg_cluster *cl)
{
	int line = cfg_sec_key_line(s, key);
	struct cfg_strlist l;
	if (cfg_parse_list(map, &l) < 0) {
		ERR(line, "[%s]: bad %s: empty item", s->name, key);
		return;
	}
	for (size_t i = 0; i < l.n; i++) {
		char *item = l.items[i];
		char *eq = strrchr(item, '=');
		const char *shard = eq ? eq + 1 : "";
		while (*shard == ' ' || *shard == '\t')
			shard++;
		if (!eq || eq == item || !*shard) {
			ERR(line, "[%s]: bad %s item '%s': expected %s=SHARD", s->name, key, item,
			    range ? "lo..hi" : "value");
			continue;
		}
		if (range) {
			*eq = 0;
			if (!strstr(item, "..")) {
				ERR(line, "[%s]: bad ranges item '%s=%s': expected lo..hi=SHARD", s->name, item, shard);
				continue;
			}
		}
		if (cl && !cfg_strlist_has(&cl->shards, shard))
			ERR(line, "[%s]: %s names shard '%s', which cluster '%s' does not list", s->name, key, shard,
			    cl->name);
	}
	cfg_strlist_free(&l);
}

static void check_shard_rules(struct cfg_parse *p)
{
	struct cfg *c = p->c;
	for (size_t i = 0; i < c->n_shard_rules; i++) {
		const struct cfg_shard_rule *r = &c->shard_rules[i];
		const struct cfg_sec *s = cfg_sec_of(p, CFG_S_SHARD_RULE, i);
		const struct cfg_cluster *cl = cfg_find_cluster(c, r->cluster);
		if (!cl)
			ERR(r->line, "[%s]: unknown cluster '%s'", s->name, r->cluster);
		else if (cl->shards.n == 0)
			ERR(r->line, "[%s]: cluster '%s' has no shards", s->name, r->cluster);
		if (r->tables.n == 0)
			ERR(r->line, "[%s]: missing required key 'tables'", s->name);
		if (!r->key)
			ERR(r->line, "[%s]: missing required key 'key'", s->name);
		if (r->method == CFG_SHARD_RANGE && !r->ranges)
			ERR(cfg_sec_key_line(s, "method"), "[%s]: method = range needs 'ranges'", s->name);
		if (r->method == CFG_SHARD_LIST && !r->values)
			ERR(cfg_sec_key_line(s, "method"), "[%s]: method = list needs 'values'", s->name);
		if (r->ranges && r->method != CFG_SHARD_RANGE)
			ERR(cfg_sec_key_line(s, "ranges"), "[%s]: 'ranges' is only used with method = range", s->name);
		if (r->values && r->method != CFG_SHARD_LIST)
			ERR(cfg_sec_key_line(s, "values"), "[%s]: 'values' is only used with method = list", s->name);
		if (r->ranges)
			check_shard_map(p, s, "ranges", r->ranges, true, cl);
		if (r->values)
			check_shard_map(p, s, "values", r->values, false, cl);
	}
}

static bool cluster_has_node(const struct cfg *c, const struct cfg_cluster *cl, const struct cfg_addr *a)
{
	for (size_t i = 0; i < cl->n_nodes; i++)
		if (cfg_addr_equal(&cl->nodes[i].addr, a))
			return true;
	for (size_t i = 0; i < c->n_shards; i++) {
		const struct cfg_shard *sh = &c->shards[i];
		if (strcmp(sh->cluster, cl->name) != 0)
			continue;
		for (size_t j = 0; j < sh->n_nodes; j++)
			if (cfg_addr_equal(&sh->nodes[j].addr, a))
				return true;
	}
	return false;
}

static void check_routes(struct cfg_parse *p)
{
	struct cfg *c = p->c;
	for (size_t i = 0; i < c->n_routes; i++) {
		const struct cfg_route *r = &c->routes[i];
		const struct cfg_sec *s = cfg_sec_of(p, CFG_S_ROUTE, i);
		const struct cfg_cluster *cl = cfg_find_cluster(c, r->cluster);
		if (!cl)
			ERR(r->line, "[%s]: unknown cluster '%s'", s->name, r->cluster);
		if (r->target == CFG_TARGET_NONE)
			ERR(r->line, "[%s]: missing required key 'target' (primary, replica, any or a node address)",
			    s->name);
		if (cl && r->target == CFG_TARGET_NODE && !cluster_has_node(c, cl, &r->target_node))
			ERR(cfg_sec_key_line(s, "target"), "[%s]: target %s is not a server of cluster '%s'", s->name,
			    r->target_node.text, cl->name);
	}
}

static void check_users(struct cfg_parse *p)
{
	struct cfg *c = p->c;
	for (size_t i = 0; i < c->n_users; i++) {
		const struct cfg_user *u = &c->users[i];
		if (u->from_auth_file)
			continue; /* checked by userlist.c */
		const struct cfg_sec *s = cfg_sec_of(p, CFG_S_USER, i);
		int pline = cfg_sec_key_line(s, "password");
		int aline = cfg_sec_key_line(s, "auth_type");
		const char *at = cfg_auth_type_name(u->auth_type);
		switch (u->secret_kind) {
		case CFG_SECRET_NONE:
			/* a bad value was already reported where it was set */
			if (u->auth_type != CFG_AUTH_TRUST && pline == u->line)
				ERR(u->line, "[user.%s]: missing 'password' (required unless auth_type = trust)", u->name);
			break;
		case CFG_SECRET_PLAIN:
			break;
		case CFG_SECRET_MD5:
			if (u->auth_type != CFG_AUTH_MD5 && u->auth_type != CFG_AUTH_TRUST)
				ERR(aline > pline ? aline : pline,
				    "[user.%s]: an md5 verifier can only be checked with auth_type = md5 (auth_type is %s)",
				    u->name, at);
			break;
		case CFG_SECRET_SCRAM:
			if (u->auth_type != CFG_AUTH_SCRAM && u->auth_type != CFG_AUTH_TRUST)
				ERR(aline > pline ? aline : pline,
				    "[user.%s]: a SCRAM-SHA-256 verifier can only be checked with auth_type = "
				    "scram-sha-256 (auth_type is %s)", u->name, at);
			break;
		}
		/* A verifier without server_password is fine: switchyard logs in to
		 * the servers with the ClientKey recovered from the client's SCRAM
		 * proof, or answers md5 with the stored hash (pg_server.c). */
		(void)pline;
	}
	const struct cfg_sec *gs = global_sec(p);
	for (size_t i = 0; i < c->global.admin_users.n; i++)
		if (!cfg_find_user(c, c->global.admin_users.items[i]))
			WARN(cfg_sec_key_line(gs, "admin_users"), "admin_users names '%s', which is not a configured user",
			    c->global.admin_users.items[i]);
}

void cfg_validate(struct cfg_parse *p)
{
	check_global(p);
	check_listens(p);
	check_clusters(p);
	check_shards(p);
	check_shard_rules(p);
	check_routes(p);
	check_users(p);
}
