/*
 * values.c — parsers for the value types of the INI format, the enum name
 * tables, base64 and secret classification.
 *
 * Every parser here is pure: it reads a NUL-terminated string (already
 * trimmed by inih, trimmed again here where it matters) and writes its
 * output only on success. Returns 0 or -1; no logging, no globals.
 */
#include "config/config_int.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

char *cfg_strdup(const char *s)
{
	char *p = strdup(s ? s : "");
	if (!p)
		abort();
	return p;
}

void *cfg_xrealloc(void *p, size_t n)
{
	void *q = realloc(p, n ? n : 1);
	if (!q)
		abort();
	return q;
}

void cfg_err(struct cfg_errors *errs, const char *file, int line, bool warning, const char *fmt, ...)
{
	char buf[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	errs->items = cfg_xrealloc(errs->items, (errs->n + 1) * sizeof(*errs->items));
	struct cfg_error *e = &errs->items[errs->n++];
	e->file = cfg_strdup(file ? file : "");
	e->line = line;
	e->msg = cfg_strdup(buf);
	e->warning = warning;
}

void cfg_errors_free(struct cfg_errors *errs)
{
	if (!errs)
		return;
	for (size_t i = 0; i < errs->n; i++) {
		free(errs->items[i].file);
		free(errs->items[i].msg);
	}
	free(errs->items);
	errs->items = NULL;
	errs->n = 0;
}

size_t cfg_errors_count(const struct cfg_errors *errs)
{
	size_t n = 0;
	for (size_t i = 0; i < errs->n; i++)
		if (!errs->items[i].warning)
			n++;
	return n;
}

int cfg_error_format(const struct cfg_error *e, char *buf, size_t len)
{
	const char *w = e->warning ? "warning: " : "";
	if (e->line > 0)
		return snprintf(buf, len, "%s:%d: %s%s", e->file, e->line, w, e->msg);
	return snprintf(buf, len, "%s: %s%s", e->file, w, e->msg);
}

/* ---- numbers ---- */

/* Digits only (after optional spaces); sets *end to the first non-digit. */
static int parse_u64(const char *s, uint64_t *v, const char **end)
{
	while (isspace((unsigned char)*s))
		s++;
	if (!isdigit((unsigned char)*s))
		return -1;
	uint64_t x = 0;
	while (isdigit((unsigned char)*s)) {
		unsigned d = (unsigned)(*s - '0');
		if (x > (UINT64_MAX - d) / 10)
			return -1;
		x = x * 10 + d;
		s++;
	}
	while (isspace((unsigned char)*s))
		s++;
	*v = x;
	*end = s;
	return 0;
}

int cfg_parse_int(const char *s, long min, long max, long *out)
{
	if (!s)
		return -1;
	while (isspace((unsigned char)*s))
		s++;
	bool neg = false;
	if (*s == '-' || *s == '+') {
		neg = *s == '-';
		s++;
	}
	uint64_t v;
	const char *end;
	if (parse_u64(s, &v, &end) < 0 || *end)
		return -1;
	if (v > (uint64_t)LONG_MAX)
		return -1;
	long x = neg ? -(long)v : (long)v;
	if (x < min || x > max)
		return -1;
	*out = x;
	return 0;
}

int cfg_parse_duration(const char *s, int64_t *ms)
{
	static const struct {
		const char *unit;
		uint64_t mult;
	} units[] = {
		{ "", 1000 }, { "ms", 1 }, { "s", 1000 }, { "m", 60000 }, { "min", 60000 },
		{ "h", 3600000 }, { "d", 86400000 },
	};
	uint64_t v;
	const char *end;
	if (!s || parse_u64(s, &v, &end) < 0)
		return -1;
	char unit[8];
	size_t n = strlen(end);
	while (n && isspace((unsigned char)end[n - 1]))
		n--;
	if (n >= sizeof(unit))
		return -1;
	memcpy(unit, end, n);
	unit[n] = 0;
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (strcmp(unit, units[i].unit) == 0) {
			if (v > (uint64_t)INT64_MAX / units[i].mult)
				return -1;
			*ms = (int64_t)(v * units[i].mult);
			return 0;
		}
	}
	return -1;
}

int cfg_parse_size(const char *s, uint64_t *bytes)
{
	static const struct {
		const char *unit;
		uint64_t mult;
	} units[] = {
		{ "", 1 }, { "b", 1 }, { "k", 1024 }, { "kb", 1024 }, { "m", 1024 * 1024 },
		{ "mb", 1024 * 1024 }, { "g", 1024ull * 1024 * 1024 }, { "gb", 1024ull * 1024 * 1024 },
		{ "tb", 1024ull * 1024 * 1024 * 1024 },
	};
	uint64_t v;
	const char *end;
	if (!s || parse_u64(s, &v, &end) < 0)
		return -1;
	char unit[8];
	size_t n = strlen(end);
	while (n && isspace((unsigned char)end[n - 1]))
		n--;
	if (n >= sizeof(unit))
		return -1;
	for (size_t i = 0; i < n; i++)
		unit[i] = (char)tolower((unsigned char)end[i]);
	unit[n] = 0;
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (strcmp(unit, units[i].unit) == 0) {
			if (v > UINT64_MAX / units[i].mult)
				return -1;
			*bytes = v * units[i].mult;
			return 0;
		}
	}
	return -1;
}

int cfg_parse_bool(const char *s, bool *b)
{
	static const char *const yes[] = { "on", "true", "yes", "1" };
	static const char *const no[] = { "off", "false", "no", "0" };
	if (!s)
		return -1;
	for (size_t i = 0; i < 4; i++) {
		if (strcasecmp(s, yes[i]) == 0) {
			*b = true;
			return 0;
		}
		if (strcasecmp(s, no[i]) == 0) {
			*b = false;
			return 0;
		}
	}
	return -1;
}

/* ---- addresses ---- */

static bool host_char_ok(char c)
{
	return isalnum((unsigned char)c) || c == '.' || c == '-' || c == '_' || c == '*';
}

int cfg_parse_addr(const char *s, struct cfg_addr *a)
{
	struct cfg_addr r;
	memset(&r, 0, sizeof(r));
	if (!s)
		return -1;
	while (isspace((unsigned char)*s))
		s++;
	size_t n = strlen(s);
	while (n && isspace((unsigned char)s[n - 1]))
		n--;
	if (n == 0 || n >= sizeof(r.text))
		return -1;
	memcpy(r.text, s, n);
	r.text[n] = 0;

	if (r.text[0] == '/') {
		if (n >= sizeof(r.path))
			return -1;
		memcpy(r.path, r.text, n + 1);
		r.kind = CFG_ADDR_UNIX;
		*a = r;
		return 0;
	}

	const char *host, *colon;
	size_t hlen;
	if (r.text[0] == '[') {
		const char *close = strchr(r.text, ']');
		if (!close || close[1] != ':')
			return -1;
		host = r.text + 1;
		hlen = (size_t)(close - host);
		if (hlen == 0)
			return -1;
		for (size_t i = 0; i < hlen; i++)
			if (!isxdigit((unsigned char)host[i]) && host[i] != ':' && host[i] != '.' &&
			    host[i] != '%' && !isalnum((unsigned char)host[i]))
				return -1;
		colon = close + 1;
	} else {
		colon = strchr(r.text, ':');
		if (!colon || strchr(colon + 1, ':'))  /* none, or an unbracketed IPv6 */
			return -1;
		host = r.text;
		hlen = (size_t)(colon - host);
		if (hlen == 0)
			return -1;
		for (size_t i = 0; i < hlen; i++)
			if (!host_char_ok(host[i]))
				return -1;
	}
	if (hlen >= sizeof(r.host))
		return -1;
	long port;
	const char *p = colon + 1;
	if (!*p || !isdigit((unsigned char)*p) || cfg_parse_int(p, 1, 65535, &port) < 0)
		return -1;
	memcpy(r.host, host, hlen);
	r.host[hlen] = 0;
	r.port = (uint16_t)port;
	r.kind = CFG_ADDR_TCP;
	*a = r;
	return 0;
}

bool cfg_addr_equal(const struct cfg_addr *a, const struct cfg_addr *b)
{
	if (a->kind != b->kind)
		return false;
	if (a->kind == CFG_ADDR_UNIX)
		return strcmp(a->path, b->path) == 0;
	if (a->kind == CFG_ADDR_TCP)
		return a->port == b->port && strcasecmp(a->host, b->host) == 0;
	return true;
}

/* ---- lists ---- */

void cfg_strlist_free(struct cfg_strlist *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->items[i]);
	free(l->items);
	l->items = NULL;
	l->n = 0;
}

int cfg_strlist_copy(struct cfg_strlist *dst, const struct cfg_strlist *src)
{
	dst->n = src->n;
	dst->items = src->n ? cfg_xrealloc(NULL, src->n * sizeof(char *)) : NULL;
	for (size_t i = 0; i < src->n; i++)
		dst->items[i] = cfg_strdup(src->items[i]);
	return 0;
}

bool cfg_strlist_has(const struct cfg_strlist *l, const char *s)
{
	for (size_t i = 0; i < l->n; i++)
		if (strcmp(l->items[i], s) == 0)
			return true;
	return false;
}

int cfg_parse_list(const char *s, struct cfg_strlist *out)
{
	struct cfg_strlist l = { NULL, 0 };
	const char *p = s ? s : "";
	while (isspace((unsigned char)*p))
		p++;
	if (!*p) {
		*out = l;
		return 0;
	}
	for (;;) {
		const char *comma = strchr(p, ',');
		const char *end = comma ? comma : p + strlen(p);
		const char *a = p, *b = end;
		while (a < b && isspace((unsigned char)*a))
			a++;
		while (b > a && isspace((unsigned char)b[-1]))
			b--;
		if (a == b) {
			cfg_strlist_free(&l);
			return -1;
		}
		l.items = cfg_xrealloc(l.items, (l.n + 1) * sizeof(char *));
		l.items[l.n] = cfg_xrealloc(NULL, (size_t)(b - a) + 1);
		memcpy(l.items[l.n], a, (size_t)(b - a));
		l.items[l.n][b - a] = 0;
		l.n++;
		if (!comma)
			break;
		p = comma + 1;
	}
	*out = l;
	return 0;
}

/* ---- enums ---- */

#define E_END { NULL, 0 }
const struct cfg_enum cfg_enum_protocol[] = { { "postgres", CFG_PROTO_POSTGRES }, { "mysql", CFG_PROTO_MYSQL }, E_END };
const struct cfg_enum cfg_enum_pool_mode[] = { { "session", CFG_POOL_SESSION },
	{ "transaction", CFG_POOL_TRANSACTION }, { "statement", CFG_POOL_STATEMENT }, E_END };
const struct cfg_enum cfg_enum_log_level[] = { { "error", CFG_LOG_ERROR }, { "warning", CFG_LOG_WARNING },
	{ "info", CFG_LOG_INFO }, { "debug", CFG_LOG_DEBUG }, E_END };
const struct cfg_enum cfg_enum_log_format[] = { { "text", CFG_LOG_TEXT }, { "json", CFG_LOG_JSON }, E_END };
const struct cfg_enum cfg_enum_client_tls[] = { { "disable", CFG_CTLS_DISABLE }, { "allow", CFG_CTLS_ALLOW },
	{ "require", CFG_CTLS_REQUIRE }, E_END };
const struct cfg_enum cfg_enum_server_tls[] = { { "disable", CFG_STLS_DISABLE }, { "prefer", CFG_STLS_PREFER },
	{ "require", CFG_STLS_REQUIRE }, { "verify-ca", CFG_STLS_VERIFY_CA },
	{ "verify-full", CFG_STLS_VERIFY_FULL }, E_END };
const struct cfg_enum cfg_enum_auth_type[] = { { "scram-sha-256", CFG_AUTH_SCRAM }, { "md5", CFG_AUTH_MD5 },
	{ "password", CFG_AUTH_PASSWORD }, { "trust", CFG_AUTH_TRUST },
	{ "mysql_native_password", CFG_AUTH_MYSQL_NATIVE }, { "caching_sha2_password", CFG_AUTH_MYSQL_SHA2 }, E_END };
const struct cfg_enum cfg_enum_default_target[] = { { "primary", CFG_TARGET_PRIMARY },
	{ "replica", CFG_TARGET_REPLICA }, E_END };
const struct cfg_enum cfg_enum_load_balance[] = { { "least_connections", CFG_LB_LEAST_CONN },
	{ "round_robin", CFG_LB_ROUND_ROBIN }, { "weighted", CFG_LB_WEIGHTED }, E_END };
const struct cfg_enum cfg_enum_fallback[] = { { "primary", CFG_FALLBACK_PRIMARY }, { "error", CFG_FALLBACK_ERROR }, E_END };
const struct cfg_enum cfg_enum_ryw[] = { { "off", CFG_RYW_OFF }, { "window", CFG_RYW_WINDOW }, { "lsn", CFG_RYW_LSN }, E_END };
const struct cfg_enum cfg_enum_scope[] = { { "connection", CFG_SCOPE_CONNECTION }, { "user", CFG_SCOPE_USER },
	{ "client_addr", CFG_SCOPE_CLIENT_ADDR }, { "key", CFG_SCOPE_KEY }, E_END };
const struct cfg_enum cfg_enum_failover[] = { { "off", CFG_FAILOVER_OFF }, { "auto", CFG_FAILOVER_AUTO },
	{ "command", CFG_FAILOVER_COMMAND }, E_END };
const struct cfg_enum cfg_enum_pin_policy[] = { { "pin", CFG_PIN_PIN }, { "error", CFG_PIN_ERROR }, E_END };
const struct cfg_enum cfg_enum_ro_tx[] = { { "primary", CFG_ROTX_PRIMARY }, { "replica", CFG_ROTX_REPLICA }, E_END };
const struct cfg_enum cfg_enum_shard_method[] = { { "hash", CFG_SHARD_HASH }, { "range", CFG_SHARD_RANGE },
	{ "list", CFG_SHARD_LIST }, E_END };
static const struct cfg_enum enum_secret_kind[] = { { "none", CFG_SECRET_NONE }, { "plain", CFG_SECRET_PLAIN },
	{ "md5", CFG_SECRET_MD5 }, { "scram-sha-256", CFG_SECRET_SCRAM }, E_END };
static const struct cfg_enum enum_target[] = { { "none", CFG_TARGET_NONE }, { "primary", CFG_TARGET_PRIMARY },
	{ "replica", CFG_TARGET_REPLICA }, { "any", CFG_TARGET_ANY }, { "node", CFG_TARGET_NODE }, E_END };

int cfg_enum_parse(const struct cfg_enum *e, const char *s, int *out)
{
	for (; e->name; e++) {
		if (strcasecmp(e->name, s) == 0) {
			*out = e->value;
			return 0;
		}
	}
	return -1;
}

const char *cfg_enum_name(const struct cfg_enum *e, int value)
{
	for (; e->name; e++)
		if (e->value == value)
			return e->name;
	return "?";
}

void cfg_enum_list(const struct cfg_enum *e, char *buf, size_t len)
{
	buf[0] = 0;
	for (size_t i = 0; e[i].name; i++) {
		const char *sep = i == 0 ? "" : e[i + 1].name ? ", " : " or ";
		size_t used = strlen(buf);
		snprintf(buf + used, len - used, "%s%s", sep, e[i].name);
	}
}

const char *cfg_pool_mode_name(enum cfg_pool_mode m)
{
	return m == CFG_POOL_MODE_UNSET ? "unset" : cfg_enum_name(cfg_enum_pool_mode, (int)m);
}
const char *cfg_protocol_name(enum cfg_protocol p)
{
	return p == CFG_PROTO_NONE ? "none" : cfg_enum_name(cfg_enum_protocol, (int)p);
}
const char *cfg_auth_type_name(enum cfg_auth_type t)
{
	return t == CFG_AUTH_UNSET ? "unset" : cfg_enum_name(cfg_enum_auth_type, (int)t);
}
const char *cfg_log_level_name(enum cfg_log_level l) { return cfg_enum_name(cfg_enum_log_level, (int)l); }
const char *cfg_log_format_name(enum cfg_log_format f) { return cfg_enum_name(cfg_enum_log_format, (int)f); }
const char *cfg_client_tls_name(enum cfg_client_tls m) { return cfg_enum_name(cfg_enum_client_tls, (int)m); }
const char *cfg_server_tls_name(enum cfg_server_tls m) { return cfg_enum_name(cfg_enum_server_tls, (int)m); }
const char *cfg_secret_kind_name(enum cfg_secret_kind k) { return cfg_enum_name(enum_secret_kind, (int)k); }
const char *cfg_target_name(enum cfg_target t) { return cfg_enum_name(enum_target, (int)t); }
const char *cfg_load_balance_name(enum cfg_load_balance lb) { return cfg_enum_name(cfg_enum_load_balance, (int)lb); }
const char *cfg_ryw_name(enum cfg_ryw r) { return cfg_enum_name(cfg_enum_ryw, (int)r); }
const char *cfg_scope_name(enum cfg_scope s) { return cfg_enum_name(cfg_enum_scope, (int)s); }
const char *cfg_failover_name(enum cfg_failover f) { return cfg_enum_name(cfg_enum_failover, (int)f); }
const char *cfg_shard_method_name(enum cfg_shard_method m) { return cfg_enum_name(cfg_enum_shard_method, (int)m); }

/* ---- base64 and secrets ---- */

static int b64_val(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

long cfg_base64_decode(const char *s, unsigned char *out, size_t cap)
{
	size_t n = strlen(s);
	if (n == 0 || n % 4)
		return -1;
	size_t o = 0;
	for (size_t i = 0; i < n; i += 4) {
		int v[4];
		int pad = 0;
		for (int j = 0; j < 4; j++) {
			char c = s[i + (size_t)j];
			if (c == '=') {
				/* padding: only in the last group, only at its end */
				if (i + 4 != n || j < 2)
					return -1;
				pad++;
				v[j] = 0;
			} else {
				if (pad)
					return -1;
				v[j] = b64_val(c);
				if (v[j] < 0)
					return -1;
			}
		}
		unsigned char b[3] = { (unsigned char)((v[0] << 2) | (v[1] >> 4)),
				       (unsigned char)(((v[1] & 15) << 4) | (v[2] >> 2)),
				       (unsigned char)(((v[2] & 3) << 6) | v[3]) };
		for (int j = 0; j < 3 - pad; j++) {
			if (o >= cap)
				return -1;
			out[o++] = b[j];
		}
	}
	return (long)o;
}

/* SCRAM-SHA-256$<iter>:<salt>$<StoredKey>:<ServerKey> */
static int scram_shape_ok(const char *s)
{
	const char *p = s + strlen("SCRAM-SHA-256$");
	const char *colon = strchr(p, ':');
	const char *dollar = colon ? strchr(colon + 1, '$') : NULL;
	const char *colon2 = dollar ? strchr(dollar + 1, ':') : NULL;
	if (!colon || !dollar || !colon2 || strchr(colon2 + 1, ':') || strchr(colon2 + 1, '$'))
		return -1;
	char buf[512];
	unsigned char raw[256];
	size_t len = strlen(p);
	if (len >= sizeof(buf))
		return -1;
	memcpy(buf, p, len + 1);
	buf[colon - p] = 0;
	buf[dollar - p] = 0;
	buf[colon2 - p] = 0;
	long iter;
	if (cfg_parse_int(buf, 1, INT_MAX, &iter) < 0 || !isdigit((unsigned char)buf[0]))
		return -1;
	if (cfg_base64_decode(buf + (colon - p) + 1, raw, sizeof(raw)) < 1)
		return -1;
	if (cfg_base64_decode(buf + (dollar - p) + 1, raw, sizeof(raw)) != 32)
		return -1;
	if (cfg_base64_decode(buf + (colon2 - p) + 1, raw, sizeof(raw)) != 32)
		return -1;
	return 0;
}

int cfg_parse_secret(const char *s, enum cfg_secret_kind *kind)
{
	if (!s || !*s) {
		*kind = CFG_SECRET_NONE;
		return 0;
	}
	if (strncmp(s, "SCRAM-SHA-256$", 14) == 0) {
		if (scram_shape_ok(s) < 0)
			return -1;
		*kind = CFG_SECRET_SCRAM;
		return 0;
	}
	if (strlen(s) == 35 && strncmp(s, "md5", 3) == 0) {
		bool hex = true;
		for (size_t i = 3; i < 35; i++)
			if (!isxdigit((unsigned char)s[i]))
				hex = false;
		if (hex) {
			*kind = CFG_SECRET_MD5;
			return 0;
		}
	}
	*kind = CFG_SECRET_PLAIN;
	return 0;
}
