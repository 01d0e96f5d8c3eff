/*
 * config.c — cfg_load(): read the INI file with inih, route each key to its
 * section's struct through the key table (keys.c), then resolve what needs
 * the whole file (shard inheritance, nodes, user defaults, auth_file) and
 * hand over to validate.c. Also the snapshot's lifetime (ref/unref) and
 * lookups.
 *
 * Line numbers: Debian's libinih is built without INI_HANDLER_LINENO, so
 * inih reads the file through our reader(), which counts lines, handles
 * section headers itself (inih does not call the handler for a header, so
 * an empty section would be invisible), reports malformed lines (so that
 * every syntax error is reported, not just inih's first), strips leading
 * blanks (so that inih's multi-line continuation never applies) and takes
 * over lines longer than inih's fixed 200-byte buffer. inih still splits
 * `key = value`, trims, and strips inline `;` comments.
 *
 * The loader does not log; everything goes to struct cfg_errors.
 */
#include "config/config_int.h"

#include <ctype.h>
#include <errno.h>
#include <ini.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- sections ---- */

static bool name_ok(const char *s, size_t n, bool allow_dot)
{
	if (n == 0)
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)s[i];
		if (isspace(ch) || ch == '[' || ch == ']' || (!allow_dot && ch == '.'))
			return false;
	}
	return true;
}

static void *grow(void *arr, size_t n, size_t elem)
{
	arr = cfg_xrealloc(arr, (n + 1) * elem);
	memset((char *)arr + n * elem, 0, elem);
	return arr;
}

static char *strndup_x(const char *s, size_t n)
{
	char *r = cfg_xrealloc(NULL, n + 1);
	memcpy(r, s, n);
	r[n] = 0;
	return r;
}

/* Create the cfg object of a new section; returns its array index. */
static size_t create_object(struct cfg_parse *p, enum cfg_sec_kind kind, const char *a, size_t alen,
			    const char *b)
{
	struct cfg *c = p->c;
	size_t i;
	switch (kind) {
	case CFG_S_GLOBAL:
		return 0;
	case CFG_S_LISTEN:
		i = c->n_listens;
		c->listens = grow(c->listens, c->n_listens++, sizeof(*c->listens));
		c->listens[i].name = cfg_strdup(a);
		c->listens[i].line = p->line;
		return i;
	case CFG_S_CLUSTER:
		i = c->n_clusters;
		c->clusters = grow(c->clusters, c->n_clusters++, sizeof(*c->clusters));
		c->clusters[i].name = cfg_strdup(a);
		c->clusters[i].line = p->line;
		cfg_group_defaults(CFG_G_CLUSTER, &c->clusters[i]);
		cfg_group_defaults(CFG_G_POOL, &c->clusters[i].settings);
		return i;
	case CFG_S_SHARD:
		i = c->n_shards;
		c->shards = grow(c->shards, c->n_shards++, sizeof(*c->shards));
		c->shards[i].cluster = strndup_x(a, alen);
		c->shards[i].name = cfg_strdup(b);
		c->shards[i].line = p->line;
		cfg_group_defaults(CFG_G_POOL, &c->shards[i].settings);
		return i;
	case CFG_S_SHARD_RULE:
		i = c->n_shard_rules;
		c->shard_rules = grow(c->shard_rules, c->n_shard_rules++, sizeof(*c->shard_rules));
		c->shard_rules[i].cluster = strndup_x(a, alen);
		c->shard_rules[i].name = cfg_strdup(b);
		c->shard_rules[i].line = p->line;
		cfg_group_defaults(CFG_G_SHARD_RULE, &c->shard_rules[i]);
		return i;
	case CFG_S_USER:
		i = c->n_users;
		c->users = grow(c->users, c->n_users++, sizeof(*c->users));
		c->users[i].name = cfg_strdup(a);
		c->users[i].line = p->line;
		cfg_group_defaults(CFG_G_USER, &c->users[i]);
		return i;
	case CFG_S_ROUTE:
		i = c->n_routes;
		c->routes = grow(c->routes, c->n_routes++, sizeof(*c->routes));
		c->routes[i].cluster = strndup_x(a, alen);
		c->routes[i].name = cfg_strdup(b);
		c->routes[i].line = p->line;
		cfg_group_defaults(CFG_G_ROUTE, &c->routes[i]);
		return i;
	case CFG_S__COUNT:
		break;
	}
	abort();
}

/* `hdr` is the text between [ and ], trimmed. Sets p->cur. */
static void begin_section(struct cfg_parse *p, const char *hdr)
{
	static const char *const shapes[CFG_S__COUNT] = {
		[CFG_S_GLOBAL] = "[switchyard]", [CFG_S_LISTEN] = "[listen.NAME]",
		[CFG_S_CLUSTER] = "[cluster.NAME] (NAME without dots)",
		[CFG_S_SHARD] = "[shard.CLUSTER.SHARD]", [CFG_S_SHARD_RULE] = "[shard_rule.CLUSTER.NAME]",
		[CFG_S_USER] = "[user.NAME]", [CFG_S_ROUTE] = "[route.CLUSTER.NAME]",
	};
	int kind = -1;
	const char *rest = NULL;
	if (strcmp(hdr, "switchyard") == 0) {
		kind = CFG_S_GLOBAL;
		rest = "";
	} else {
		for (int k = CFG_S_LISTEN; k < CFG_S__COUNT; k++) {
			size_t pl = strlen(cfg_sections[k].prefix);
			if (strncmp(hdr, cfg_sections[k].prefix, pl) == 0 && hdr[pl] == '.') {
				kind = k;
				rest = hdr + pl + 1;
				break;
			}
		}
	}
	if (kind < 0) {
		cfg_err(p->errs, p->path, p->line, false,
			"unknown section [%s] (expected switchyard, listen.*, cluster.*, shard.*, shard_rule.*, "
			"user.* or route.*)", hdr);
		p->cur = -2;
		return;
	}

	/* split and check the name */
	const char *a = rest, *b = NULL;
	size_t alen = strlen(rest);
	bool ok = true;
	switch ((enum cfg_sec_kind)kind) {
	case CFG_S_GLOBAL:
		break;
	case CFG_S_LISTEN:
	case CFG_S_USER:
		ok = name_ok(a, alen, true);
		break;
	case CFG_S_CLUSTER:
		ok = name_ok(a, alen, false);
		break;
	default: {
		const char *dot = strchr(rest, '.');
		ok = dot && name_ok(rest, (size_t)(dot - rest), false) && name_ok(dot + 1, strlen(dot + 1), false);
		if (ok) {
			alen = (size_t)(dot - rest);
			b = dot + 1;
		}
		break;
	}
	}
	if (!ok) {
		cfg_err(p->errs, p->path, p->line, false, "bad section name [%s]: expected %s", hdr, shapes[kind]);
		p->cur = -2;
		return;
	}

	for (size_t i = 0; i < p->n_secs; i++) {
		if (strcmp(p->secs[i].name, hdr) == 0) {
			cfg_err(p->errs, p->path, p->line, false, "duplicate section [%s] (first at line %d)", hdr,
				p->secs[i].line);
			p->cur = (long)i;
			return;
		}
	}

	p->secs = grow(p->secs, p->n_secs, sizeof(*p->secs));
	struct cfg_sec *s = &p->secs[p->n_secs];
	s->kind = (enum cfg_sec_kind)kind;
	s->name = cfg_strdup(hdr);
	s->line = p->line;
	s->seen = calloc(cfg_n_keys, sizeof(int));
	if (!s->seen)
		abort();
	s->idx = create_object(p, s->kind, a, alen, b);
	p->cur = (long)p->n_secs++;
}

/* ---- reading ---- */

static char *trim(char *s)
{
	while (isspace((unsigned char)*s))
		s++;
	size_t n = strlen(s);
	while (n && isspace((unsigned char)s[n - 1]))
		s[--n] = 0;
	return s;
}

/* inih's inline comment rule: ';' at the start or after a blank. */
static void strip_inline_comment(char *s)
{
	for (char *q = s; *q; q++) {
		if (*q == ';' && (q == s || isspace((unsigned char)q[-1]))) {
			*q = 0;
			return;
		}
	}
}

/* Gives inih one line at a time; see the file comment. */
static char *reader(char *str, int num, void *stream)
{
	struct cfg_parse *p = stream;
	if (p->pos >= p->len)
		return NULL;
	const char *s = p->text + p->pos;
	const char *nl = memchr(s, '\n', p->len - p->pos);
	size_t n = nl ? (size_t)(nl - s) : p->len - p->pos;
	p->pos += n + (nl ? 1 : 0);
	p->line++;
	free(p->long_value);
	p->long_value = NULL;
	str[0] = 0; /* what inih sees for lines handled here: a blank line */

	char *buf = strndup_x(s, n);
	char *a = trim(buf);
	if (p->line == 1 && (unsigned char)a[0] == 0xEF && (unsigned char)a[1] == 0xBB &&
	    (unsigned char)a[2] == 0xBF)
		a = trim(a + 3); /* UTF-8 byte order mark */
	if (*a == 0 || *a == ';' || *a == '#') {
		/* blank or comment */
	} else if (*a == '[') {
		char *close = strchr(a, ']');
		if (!close) {
			cfg_err(p->errs, p->path, p->line, false, "section header without ']'");
			p->cur = -2;
		} else {
			char *after = trim(close + 1);
			*close = 0;
			if (*after && *after != ';' && *after != '#') {
				cfg_err(p->errs, p->path, p->line, false, "unexpected text after section header: '%s'",
					after);
				p->cur = -2;
			} else {
				begin_section(p, trim(a + 1));
			}
		}
	} else {
		size_t split = strcspn(a, "=:");
		if (!a[split] || split == 0) {
			cfg_err(p->errs, p->path, p->line, false, "expected 'key = value' or '[section]', got '%s'", a);
		} else if (strlen(a) + 3 <= (size_t)num) {
			snprintf(str, (size_t)num, "%s\n", a);
		} else {
			/* longer than inih's buffer: split it here, hand inih "key=" */
			a[split] = 0;
			char *key = trim(a);
			char *val = a + split + 1;
			strip_inline_comment(val);
			val = trim(val);
			if (strlen(key) + 3 > (size_t)num) {
				cfg_err(p->errs, p->path, p->line, false, "key name too long");
			} else {
				p->long_value = cfg_strdup(val);
				snprintf(str, (size_t)num, "%s=\n", key);
			}
		}
	}
	free(buf);
	return str;
}

static void *group_base(struct cfg_parse *p, struct cfg_sec *s, enum cfg_group g)
{
	struct cfg *c = p->c;
	switch (g) {
	case CFG_G_GLOBAL:
		return &c->global;
	case CFG_G_LISTEN:
		return &c->listens[s->idx];
	case CFG_G_CLUSTER:
		return &c->clusters[s->idx];
	case CFG_G_POOL:
		return s->kind == CFG_S_CLUSTER ? (void *)&c->clusters[s->idx].settings : (void *)&p->scratch;
	case CFG_G_NODES:
		return &s->nodes;
	case CFG_G_SHARD_RULE:
		return &c->shard_rules[s->idx];
	case CFG_G_USER:
		return &c->users[s->idx];
	case CFG_G_ROUTE:
		return &c->routes[s->idx];
	}
	abort();
}

static int handler(void *user, const char *section, const char *name, const char *value)
{
	struct cfg_parse *p = user;
	(void)section; /* always "": section headers are handled by reader() */
	if (p->long_value)
		value = p->long_value;
	if (p->cur == -2)
		return 1; /* inside a bad section: already reported */
	if (p->cur == -1) {
		cfg_err(p->errs, p->path, p->line, false, "key '%s' outside of any section", name);
		return 1;
	}
	struct cfg_sec *s = &p->secs[p->cur];
	const struct cfg_key *k = cfg_key_find(s->kind, name);
	if (!k) {
		cfg_err(p->errs, p->path, p->line, false, "unknown key '%s' in [%s]", name, s->name);
		return 1;
	}
	size_t ki = (size_t)(k - cfg_keys);
	if (s->seen[ki]) {
		cfg_err(p->errs, p->path, p->line, false, "duplicate key '%s' in [%s] (first set at line %d)", name,
			s->name, s->seen[ki]);
		return 1;
	}
	s->seen[ki] = p->line;
	char err[512];
	if (cfg_key_set(k, group_base(p, s, k->group), value, err, sizeof(err)) < 0) {
		cfg_err(p->errs, p->path, p->line, false, "%s", err);
		return 1;
	}
	if (s->kind == CFG_S_SHARD && k->group == CFG_G_POOL) {
		s->ov = cfg_xrealloc(s->ov, (s->n_ov + 1) * sizeof(*s->ov));
		s->ov[s->n_ov].key = k;
		s->ov[s->n_ov].value = cfg_strdup(value);
		s->n_ov++;
	}
	if (!k->implemented || !cfg_sections[s->kind].implemented)
		cfg_err(p->errs, p->path, p->line, true, "key '%s' is accepted but has no effect yet", name);
	return 1;
}

/* ---- resolving ---- */

int cfg_sec_key_line(const struct cfg_sec *s, const char *key)
{
	if (!s)
		return 0;
	const struct cfg_key *k = cfg_key_find(s->kind, key);
	if (k && s->seen[k - cfg_keys])
		return s->seen[k - cfg_keys];
	return s->line;
}

const struct cfg_sec *cfg_sec_of(const struct cfg_parse *p, enum cfg_sec_kind kind, size_t idx)
{
	for (size_t i = 0; i < p->n_secs; i++)
		if (p->secs[i].kind == kind && p->secs[i].idx == idx)
			return &p->secs[i];
	return NULL;
}

void cfg_build_nodes(struct cfg_parse *p, const struct cfg_sec *s, struct cfg_node **nodes, size_t *n,
		     bool *has_primary)
{
	const struct cfg_node_spec *ns = &s->nodes;
	size_t total = ns->replicas.n + (ns->primary.kind != CFG_ADDR_NONE);
	struct cfg_node *v = total ? calloc(total, sizeof(*v)) : NULL;
	size_t k = 0;
	if (total && !v)
		abort();
	*has_primary = ns->primary.kind != CFG_ADDR_NONE;
	if (*has_primary) {
		v[k].addr = ns->primary;
		v[k].is_primary = true;
		v[k++].weight = 1;
	}
	for (size_t i = 0; i < ns->replicas.n; i++) {
		const struct cfg_addr *ra = &ns->replicas.items[i];
		for (size_t j = 0; j < k; j++) {
			if (cfg_addr_equal(&v[j].addr, ra)) {
				cfg_err(p->errs, p->path, cfg_sec_key_line(s, "replicas"), false,
					"[%s]: server %s is listed twice", s->name, ra->text);
				break;
			}
		}
		v[k].addr = *ra;
		v[k++].weight = 1;
	}
	*nodes = v;
	*n = k;

	if (!ns->replica_weights)
		return;
	int line = cfg_sec_key_line(s, "replica_weights");
	struct cfg_strlist l;
	if (cfg_parse_list(ns->replica_weights, &l) < 0) {
		cfg_err(p->errs, p->path, line, false, "bad replica_weights: empty item");
		return;
	}
	for (size_t i = 0; i < l.n; i++) {
		char *eq = strrchr(l.items[i], '=');
		struct cfg_addr a;
		long w;
		if (!eq) {
			cfg_err(p->errs, p->path, line, false, "bad replica_weights item '%s': expected addr=weight",
				l.items[i]);
			continue;
		}
		*eq = 0;
		char *as = trim(l.items[i]), *ws = trim(eq + 1);
		if (cfg_parse_addr(as, &a) < 0 || cfg_parse_int(ws, 0, 1000000, &w) < 0) {
			cfg_err(p->errs, p->path, line, false,
				"bad replica_weights item '%s=%s': expected addr=weight (weight 0..1000000)", as, ws);
			continue;
		}
		bool found = false;
		for (size_t j = 0; j < k; j++) {
			if (!v[j].is_primary && cfg_addr_equal(&v[j].addr, &a)) {
				v[j].weight = (int)w;
				found = true;
			}
		}
		if (!found)
			cfg_err(p->errs, p->path, line, false, "replica_weights names %s, which is not one of the replicas",
				as);
	}
	cfg_strlist_free(&l);
}

static void resolve(struct cfg_parse *p)
{
	struct cfg *c = p->c;
	char err[512];

	if (c->global.workers == 0) {
		long n = sysconf(_SC_NPROCESSORS_ONLN);
		c->global.workers = n > 0 ? (n > 1024 ? 1024 : (int)n) : 1;
	}

	for (size_t i = 0; i < c->n_clusters; i++) {
		struct cfg_cluster *cl = &c->clusters[i];
		if (!cl->server_database)
			cl->server_database = cfg_strdup(cl->name);
		cfg_build_nodes(p, cfg_sec_of(p, CFG_S_CLUSTER, i), &cl->nodes, &cl->n_nodes, &cl->has_primary);
	}

	/* Shards: the cluster's settings, then the shard's own values, in file
	 * order; independent of where the sections are in the file. */
	for (size_t i = 0; i < c->n_shards; i++) {
		struct cfg_shard *sh = &c->shards[i];
		const struct cfg_sec *s = cfg_sec_of(p, CFG_S_SHARD, i);
		const struct cfg_cluster *cl = cfg_find_cluster(c, sh->cluster);
		if (cl) {
			cfg_group_free(CFG_G_POOL, &sh->settings);
			memcpy(&sh->settings, &cl->settings, sizeof(sh->settings));
			cfg_group_copy(CFG_G_POOL, &sh->settings, &cl->settings);
		}
		for (size_t j = 0; j < s->n_ov; j++)
			if (cfg_key_set(s->ov[j].key, &sh->settings, s->ov[j].value, err, sizeof(err)) < 0)
				abort(); /* already accepted once */
		cfg_build_nodes(p, s, &sh->nodes, &sh->n_nodes, &sh->has_primary);
	}

	for (size_t i = 0; i < c->n_users; i++) {
		struct cfg_user *u = &c->users[i];
		if (!u->server_user)
			u->server_user = cfg_strdup(u->name);
		if (!u->server_password && u->secret_kind == CFG_SECRET_PLAIN)
			u->server_password = cfg_strdup(u->password);
	}

	if (c->global.auth_file) {
		struct cfg_user *fu = NULL;
		size_t fn = 0;
		(void)cfg_load_auth_file(c->global.auth_file, &fu, &fn, p->errs);
		for (size_t i = 0; i < fn; i++) {
			if (cfg_find_user(c, fu[i].name)) { /* a [user.*] section wins */
				cfg_group_free(CFG_G_USER, &fu[i]);
				free(fu[i].name);
				continue;
			}
			c->users = grow(c->users, c->n_users, sizeof(*c->users));
			c->users[c->n_users++] = fu[i];
		}
		free(fu);
	}
}

/* ---- load ---- */

/* Sort the entries added by this load by line, keeping the config file's
 * entries before the auth_file's and equal lines in the order found
 * (an insertion sort: stable, and the lists are short). */
static void sort_errors(struct cfg_errors *errs, size_t from, const char *path)
{
	for (size_t i = from + 1; i < errs->n; i++) {
		struct cfg_error e = errs->items[i];
		int fe = strcmp(e.file, path) != 0;
		size_t j = i;
		while (j > from) {
			const struct cfg_error *q = &errs->items[j - 1];
			int fq = strcmp(q->file, path) != 0;
			if (fq < fe || (fq == fe && q->line <= e.line))
				break;
			errs->items[j] = *q;
			j--;
		}
		errs->items[j] = e;
	}
}

static int read_file(const char *path, char **text, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return -1;
	size_t cap = 4096, n = 0;
	char *buf = cfg_xrealloc(NULL, cap);
	size_t r;
	while ((r = fread(buf + n, 1, cap - n, f)) > 0) {
		n += r;
		if (n == cap)
			buf = cfg_xrealloc(buf, cap *= 2);
	}
	int bad = ferror(f);
	fclose(f);
	if (bad) {
		free(buf);
		errno = EIO;
		return -1;
	}
	*text = buf;
	*len = n;
	return 0;
}

struct cfg *cfg_load(const char *path, struct cfg_errors *errs)
{
	size_t first_err = errs->n;
	struct cfg_parse p;
	memset(&p, 0, sizeof(p));
	p.path = path;
	p.errs = errs;
	p.cur = -1;

	if (read_file(path, &p.text, &p.len) < 0) {
		cfg_err(errs, path, 0, false, "cannot read the configuration file: %s", strerror(errno));
		return NULL;
	}
	struct cfg *c = calloc(1, sizeof(*c));
	if (!c)
		abort();
	atomic_init(&c->refs, 1);
	c->path = cfg_strdup(path);
	p.c = c;
	cfg_group_defaults(CFG_G_GLOBAL, &c->global);
	cfg_group_defaults(CFG_G_POOL, &p.scratch);

	int rc = ini_parse_stream(reader, &p, handler, &p);
	if (rc == -2)
		cfg_err(errs, path, 0, false, "out of memory while parsing");
	else if (rc != 0 && cfg_errors_count(errs) == 0)
		cfg_err(errs, path, rc > 0 ? rc : 0, false, "syntax error");
	free(p.long_value);

	resolve(&p);
	cfg_validate(&p);

	for (size_t i = 0; i < p.n_secs; i++) {
		struct cfg_sec *s = &p.secs[i];
		free(s->name);
		free(s->seen);
		cfg_group_free(CFG_G_NODES, &s->nodes);
		for (size_t j = 0; j < s->n_ov; j++)
			free(s->ov[j].value);
		free(s->ov);
	}
	free(p.secs);
	cfg_group_free(CFG_G_POOL, &p.scratch);
	free(p.text);

	sort_errors(errs, first_err, path);
	for (size_t i = first_err; i < errs->n; i++) {
		if (!errs->items[i].warning) {
			cfg_free(c);
			return NULL;
		}
	}
	return c;
}

/* ---- lifetime ---- */

static void free_nodes(struct cfg_node *n) { free(n); }

void cfg_free(struct cfg *c)
{
	if (!c)
		return;
	cfg_group_free(CFG_G_GLOBAL, &c->global);
	for (size_t i = 0; i < c->n_listens; i++) {
		free(c->listens[i].name);
		cfg_group_free(CFG_G_LISTEN, &c->listens[i]);
	}
	for (size_t i = 0; i < c->n_clusters; i++) {
		free(c->clusters[i].name);
		cfg_group_free(CFG_G_CLUSTER, &c->clusters[i]);
		cfg_group_free(CFG_G_POOL, &c->clusters[i].settings);
		free_nodes(c->clusters[i].nodes);
	}
	for (size_t i = 0; i < c->n_shards; i++) {
		free(c->shards[i].cluster);
		free(c->shards[i].name);
		cfg_group_free(CFG_G_POOL, &c->shards[i].settings);
		free_nodes(c->shards[i].nodes);
	}
	for (size_t i = 0; i < c->n_shard_rules; i++) {
		free(c->shard_rules[i].cluster);
		free(c->shard_rules[i].name);
		cfg_group_free(CFG_G_SHARD_RULE, &c->shard_rules[i]);
	}
	for (size_t i = 0; i < c->n_users; i++) {
		free(c->users[i].name);
		cfg_group_free(CFG_G_USER, &c->users[i]);
	}
	for (size_t i = 0; i < c->n_routes; i++) {
		free(c->routes[i].cluster);
		free(c->routes[i].name);
		cfg_group_free(CFG_G_ROUTE, &c->routes[i]);
	}
	free(c->listens);
	free(c->clusters);
	free(c->shards);
	free(c->shard_rules);
	free(c->users);
	free(c->routes);
	free(c->path);
	free(c);
}

struct cfg *cfg_ref(struct cfg *c)
{
	if (c)
		atomic_fetch_add_explicit(&c->refs, 1, memory_order_relaxed);
	return c;
}

void cfg_unref(struct cfg *c)
{
	if (c && atomic_fetch_sub_explicit(&c->refs, 1, memory_order_acq_rel) == 1) {
		void *d = atomic_load(&c->derived);
		if (d) {
			void (**destroy)(void *) = d;
			(*destroy)(d);
		}
		cfg_free(c);
	}
}

/* ---- lookups ---- */

const struct cfg_cluster *cfg_find_cluster(const struct cfg *c, const char *name)
{
	for (size_t i = 0; i < c->n_clusters; i++)
		if (strcmp(c->clusters[i].name, name) == 0)
			return &c->clusters[i];
	return NULL;
}

const struct cfg_user *cfg_find_user(const struct cfg *c, const char *name)
{
	for (size_t i = 0; i < c->n_users; i++)
		if (strcmp(c->users[i].name, name) == 0)
			return &c->users[i];
	return NULL;
}

const struct cfg_shard *cfg_find_shard(const struct cfg *c, const char *cluster, const char *name)
{
	for (size_t i = 0; i < c->n_shards; i++)
		if (strcmp(c->shards[i].cluster, cluster) == 0 && strcmp(c->shards[i].name, name) == 0)
			return &c->shards[i];
	return NULL;
}

const struct cfg_listen *cfg_find_listen(const struct cfg *c, const char *name)
{
	for (size_t i = 0; i < c->n_listens; i++)
		if (strcmp(c->listens[i].name, name) == 0)
			return &c->listens[i];
	return NULL;
}

enum cfg_pool_mode cfg_pool_mode_for(const struct cfg_cluster *cl, const struct cfg_user *u)
{
	if (u && u->pool_mode != CFG_POOL_MODE_UNSET)
		return u->pool_mode;
	return cl->settings.pool_mode;
}
