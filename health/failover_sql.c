/*
 * failover_sql.c — the statements of promotion, repointing and fencing
 * (failover_sql.h). Values are quoted here: a conninfo value inside a
 * PostgreSQL string literal, a MariaDB string literal.
 */
#include "health/failover_sql.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FO_SQL_LEN 1024

void fo_sql_free(char **s, int n)
{
	for (int i = 0; i < n; i++) {
		free(s[i]);
		s[i] = NULL;
	}
}

static int put(char **out, int *n, const char *text)
{
	out[*n] = strdup(text);
	if (!out[*n])
		return -1;
	(*n)++;
	return 0;
}

static int finish(char **out, int n, int rc)
{
	if (rc < 0) {
		fo_sql_free(out, n);
		return -1;
	}
	return n;
}

/* Append c to dst (cap bytes incl. NUL); false when full. */
static bool add(char *dst, size_t cap, size_t *len, char c)
{
	if (*len + 1 >= cap)
		return false;
	dst[(*len)++] = c;
	dst[*len] = '\0';
	return true;
}

static bool add_str(char *dst, size_t cap, size_t *len, const char *s)
{
	for (; *s; s++)
		if (!add(dst, cap, len, *s))
			return false;
	return true;
}

/* key='value' for a conninfo, written inside a SQL literal: in the
 * conninfo ' and \ are escaped with \, and every ' doubles for SQL. */
static bool add_conninfo(char *dst, size_t cap, size_t *len, const char *key, const char *v)
{
	if (!add_str(dst, cap, len, key) || !add_str(dst, cap, len, "=''"))
		return false;
	for (; *v; v++) {
		if (*v == '\'' || *v == '\\') {
			if (!add(dst, cap, len, '\\'))
				return false;
		}
		if (*v == '\'' ? !add_str(dst, cap, len, "''") : !add(dst, cap, len, *v))
			return false;
	}
	return add_str(dst, cap, len, "'' ");
}

/* 'value' as a MariaDB string literal (NO_BACKSLASH_ESCAPES off). */
static bool add_my_literal(char *dst, size_t cap, size_t *len, const char *v)
{
	if (!add(dst, cap, len, '\''))
		return false;
	for (; *v; v++) {
		if (*v == '\'' || *v == '\\') {
			if (!add(dst, cap, len, '\\'))
				return false;
		}
		if (!add(dst, cap, len, *v))
			return false;
	}
	return add(dst, cap, len, '\'');
}

static bool host_ok(const char *h)
{
	if (!*h)
		return false;
	for (; *h; h++)
		if (!(*h == '.' || *h == '-' || *h == ':' || *h == '_' || (*h >= '0' && *h <= '9') ||
		      (*h >= 'a' && *h <= 'z') || (*h >= 'A' && *h <= 'Z')))
			return false;
	return true;
}

int fo_sql_promote(enum cfg_protocol p, char **out)
{
	int n = 0, rc = 0;
	if (p == CFG_PROTO_POSTGRES) {
		rc = put(out, &n, "SELECT pg_promote(true, 30)");
	} else {
		rc = put(out, &n, "STOP SLAVE");
		if (rc == 0)
			rc = put(out, &n, "RESET SLAVE ALL");
		if (rc == 0)
			rc = put(out, &n, "SET GLOBAL read_only = 0");
	}
	return finish(out, n, rc);
}

int fo_sql_repoint(enum cfg_protocol p, const struct cfg_addr *primary, const char *user,
		   const char *password, char **out)
{
	if (primary->kind != CFG_ADDR_TCP || !host_ok(primary->host))
		return -1;
	char port[16];
	snprintf(port, sizeof(port), "%u", (unsigned)primary->port);
	char sql[FO_SQL_LEN] = "";
	size_t len = 0;
	int n = 0, rc = 0;
	if (p == CFG_PROTO_POSTGRES) {
		bool ok = add_str(sql, sizeof(sql), &len, "ALTER SYSTEM SET primary_conninfo = '") &&
			  add_conninfo(sql, sizeof(sql), &len, "host", primary->host) &&
			  add_conninfo(sql, sizeof(sql), &len, "port", port) &&
			  (!user || add_conninfo(sql, sizeof(sql), &len, "user", user)) &&
			  (!password || add_conninfo(sql, sizeof(sql), &len, "password", password)) &&
			  add_conninfo(sql, sizeof(sql), &len, "application_name", "switchyard_failover") &&
			  add(sql, sizeof(sql), &len, '\'');
		if (!ok)
			return -1;
		rc = put(out, &n, sql);
		if (rc == 0)
			rc = put(out, &n, "ALTER SYSTEM RESET primary_slot_name");
		if (rc == 0)
			rc = put(out, &n, "SELECT pg_reload_conf()");
		return finish(out, n, rc);
	}
	bool ok = add_str(sql, sizeof(sql), &len, "CHANGE MASTER TO MASTER_HOST = ") &&
		  add_my_literal(sql, sizeof(sql), &len, primary->host) &&
		  add_str(sql, sizeof(sql), &len, ", MASTER_PORT = ") && add_str(sql, sizeof(sql), &len, port) &&
		  (!user || (add_str(sql, sizeof(sql), &len, ", MASTER_USER = ") &&
			     add_my_literal(sql, sizeof(sql), &len, user))) &&
		  (!password || (add_str(sql, sizeof(sql), &len, ", MASTER_PASSWORD = ") &&
				 add_my_literal(sql, sizeof(sql), &len, password))) &&
		  add_str(sql, sizeof(sql), &len, ", MASTER_USE_GTID = slave_pos");
	if (!ok)
		return -1;
	rc = put(out, &n, "STOP SLAVE");
	if (rc == 0)
		rc = put(out, &n, sql);
	if (rc == 0)
		rc = put(out, &n, "START SLAVE");
	return finish(out, n, rc);
}

int fo_sql_fence(enum cfg_protocol p, char **out)
{
	int n = 0, rc;
	if (p == CFG_PROTO_POSTGRES) {
		rc = put(out, &n, "ALTER SYSTEM SET default_transaction_read_only = on");
		if (rc == 0)
			rc = put(out, &n, "SELECT pg_reload_conf()");
	} else {
		rc = put(out, &n, "SET GLOBAL read_only = 1");
	}
	return finish(out, n, rc);
}
