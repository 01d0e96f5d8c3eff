/*
 * userlist.c — auth_file: PgBouncer's userlist.txt format.
 *
 *   ; comment            # comment
 *   "app" "secret"
 *   "bob" "md5c0ffee..."            (md5 verifier)
 *   "o""brien" "SCRAM-SHA-256$4096:...$...:..."
 *
 * One user per line: two double-quoted strings separated by blanks; a
 * doubled quote inside a string stands for one quote. Blank lines and lines
 * starting with ; or # are skipped. Anything else on a line is an error,
 * reported as AUTHFILE:LINE: message. A user's auth_type follows its
 * secret: md5 verifiers get md5, plain passwords and SCRAM verifiers get
 * scram-sha-256.
 */
#include "config/config_int.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Parse one quoted string at *pp; returns a new string or NULL on error
 * (with *why set). Advances *pp past the closing quote. */
static char *quoted(const char **pp, const char **why)
{
	const char *s = *pp;
	if (*s != '"') {
		*why = "expected a double-quoted string";
		return NULL;
	}
	s++;
	size_t cap = strlen(s) + 1, n = 0;
	char *out = cfg_xrealloc(NULL, cap);
	for (;;) {
		if (!*s) {
			free(out);
			*why = "unterminated quoted string";
			return NULL;
		}
		if (*s == '"') {
			if (s[1] == '"') {
				out[n++] = '"';
				s += 2;
				continue;
			}
			s++;
			break;
		}
		out[n++] = *s++;
	}
	out[n] = 0;
	*pp = s;
	return out;
}

static void skip_blanks(const char **pp)
{
	while (**pp == ' ' || **pp == '\t' || **pp == '\r')
		(*pp)++;
}

int cfg_load_auth_file(const char *path, struct cfg_user **users, size_t *n_users, struct cfg_errors *errs)
{
	FILE *f = fopen(path, "r");
	if (!f) {
		cfg_err(errs, path, 0, false, "cannot read auth_file: %s", strerror(errno));
		return -1;
	}
	size_t first = *n_users;
	int rc = 0, lineno = 0;
	char *line = NULL;
	size_t cap = 0;
	ssize_t len;
	while ((len = getline(&line, &cap, f)) >= 0) {
		lineno++;
		while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
			line[--len] = 0;
		const char *p = line;
		skip_blanks(&p);
		if (!*p || *p == ';' || *p == '#')
			continue;
		const char *why = NULL;
		char *name = quoted(&p, &why), *secret = NULL;
		if (name) {
			if (*p != ' ' && *p != '\t') {
				why = "expected blanks between the user name and the password";
			} else {
				skip_blanks(&p);
				secret = quoted(&p, &why);
			}
		}
		if (secret) {
			skip_blanks(&p);
			if (*p && *p != ';' && *p != '#')
				why = "unexpected text after the password";
			else if (!*name)
				why = "empty user name";
			else if (!*secret)
				why = "empty password";
		}
		enum cfg_secret_kind kind = CFG_SECRET_NONE;
		if (!why && cfg_parse_secret(secret, &kind) < 0)
			why = "malformed SCRAM-SHA-256 verifier (expected "
			      "SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>)";
		if (!why) {
			for (size_t i = first; i < *n_users; i++) {
				if (strcmp((*users)[i].name, name) == 0) {
					cfg_err(errs, path, lineno, false, "user '%s' is listed twice (first at line %d)",
						name, (*users)[i].line);
					why = "";
					break;
				}
			}
		}
		if (why) {
			if (*why)
				cfg_err(errs, path, lineno, false, "%s", why);
			free(name);
			free(secret);
			rc = -1;
			continue;
		}
		*users = cfg_xrealloc(*users, (*n_users + 1) * sizeof(**users));
		struct cfg_user *u = &(*users)[(*n_users)++];
		memset(u, 0, sizeof(*u));
		u->name = name;
		u->password = secret;
		u->secret_kind = kind;
		u->auth_type = kind == CFG_SECRET_MD5 ? CFG_AUTH_MD5 : CFG_AUTH_SCRAM;
		u->server_user = cfg_strdup(name);
		u->server_password = kind == CFG_SECRET_PLAIN ? cfg_strdup(secret) : NULL;
		u->pool_mode = CFG_POOL_MODE_UNSET;
		u->from_auth_file = true;
		u->line = lineno;
	}
	free(line);
	if (ferror(f)) {
		cfg_err(errs, path, 0, false, "error reading auth_file");
		rc = -1;
	}
	fclose(f);
	return rc;
}
