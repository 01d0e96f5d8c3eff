/* my_kill.c — KILL across workers: per-worker registries and queues (see my_kill.h). */
#include "proxy/mysql/my_kill.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "proxy/mysql/my_client.h"
#include "proxy/proxy.h"
#include "util/log.h"

void my_kill_box_init(struct my_kill_box *b)
{
	memset(b, 0, sizeof(*b));
	pthread_mutex_init(&b->lock, NULL);
	b->ready = true;
}

void my_kill_box_destroy(struct my_kill_box *b)
{
	if (!b->ready)
		return;
	pthread_mutex_destroy(&b->lock);
	b->ready = false;
}

static struct my_kill_ent **bucket_of(struct my_kill_box *b, uint32_t id)
{
	return &b->buckets[(id / 64) % MY_KILL_BUCKETS];
}

/* Caller holds the lock. */
static void unlink_locked(struct my_kill_box *b, struct my_kill_ent *e)
{
	for (struct my_kill_ent **p = bucket_of(b, e->id); *p; p = &(*p)->next) {
		if (*p == e) {
			*p = e->next;
			break;
		}
	}
	e->registered = false;
	e->next = NULL;
}

void my_kill_register(struct worker *w, struct my_kill_ent *e, uint32_t id, const char *user)
{
	struct my_kill_box *b = &w->my_kills;
	pthread_mutex_lock(&b->lock);
	if (e->registered)
		unlink_locked(b, e);
	e->id = id;
	snprintf(e->user, sizeof(e->user), "%s", user ? user : "");
	struct my_kill_ent **bk = bucket_of(b, id);
	e->next = *bk;
	*bk = e;
	e->registered = true;
	pthread_mutex_unlock(&b->lock);
}

void my_kill_unregister(struct worker *w, struct my_kill_ent *e)
{
	if (!e->registered)
		return;
	struct my_kill_box *b = &w->my_kills;
	pthread_mutex_lock(&b->lock);
	unlink_locked(b, e);
	pthread_mutex_unlock(&b->lock);
}

int my_kill_request(struct proxy *px, uint32_t id, bool query, const char *user, bool admin)
{
	int wid = (int)(id % 64);
	/* Not while shutting down: the worker's notify pipe may be closed. */
	if (wid >= px->n_workers || !px->workers)
		return 1094;
	if (atomic_load(&px->shutting_down))
		return 1040;
	struct worker *w = &px->workers[wid];
	struct my_kill_box *b = &w->my_kills;
	int rc = 1094;
	pthread_mutex_lock(&b->lock);
	for (struct my_kill_ent *e = *bucket_of(b, id); e; e = e->next) {
		if (e->id != id)
			continue;
		if (!admin && strcmp(e->user, user) != 0) {
			rc = 1095;
		} else if (b->n_reqs >= MY_KILL_MAX_REQS) {
			rc = 1040;
		} else {
			b->reqs[b->n_reqs].id = id;
			b->reqs[b->n_reqs].query = query;
			b->n_reqs++;
			rc = 0;
		}
		break;
	}
	pthread_mutex_unlock(&b->lock);
	if (rc == 0) {
		char c = WORKER_CMD_MY_KILL;
		ssize_t r = write(w->notify_fds[1], &c, 1);
		(void)r; /* a full pipe already holds a pending command */
	}
	return rc;
}

void my_kill_run(struct worker *w)
{
	struct my_kill_req reqs[MY_KILL_MAX_REQS];
	struct my_kill_box *b = &w->my_kills;
	pthread_mutex_lock(&b->lock);
	int n = b->n_reqs;
	memcpy(reqs, b->reqs, sizeof(reqs[0]) * (size_t)n);
	b->n_reqs = 0;
	pthread_mutex_unlock(&b->lock);
	for (int i = 0; i < n; i++) {
		struct my_client *c = my_client_find(w, reqs[i].id);
		if (!c)
			continue; /* gone meanwhile */
		if (reqs[i].query)
			my_client_kill_query(c);
		else
			my_client_kill_connection(c);
	}
}

/* ---- parsing ---- */

struct lex {
	const char *p, *end;
};

static void skip_space(struct lex *l)
{
	while (l->p < l->end && (isspace((unsigned char)*l->p)))
		l->p++;
}

static bool word(struct lex *l, const char *w)
{
	skip_space(l);
	size_t n = strlen(w);
	if ((size_t)(l->end - l->p) < n || strncasecmp(l->p, w, n) != 0)
		return false;
	if (l->p + n < l->end && (isalnum((unsigned char)l->p[n]) || l->p[n] == '_'))
		return false;
	l->p += n;
	return true;
}

int my_kill_parse(const char *sql, size_t len, uint32_t *id, bool *query)
{
	struct lex l = { sql, sql + len };
	if (!word(&l, "KILL"))
		return -1;
	if (!word(&l, "HARD"))
		(void)word(&l, "SOFT");
	*query = false;
	if (word(&l, "QUERY"))
		*query = true;
	else
		(void)word(&l, "CONNECTION");
	skip_space(&l);
	if (l.p >= l.end || !isdigit((unsigned char)*l.p))
		return -1; /* KILL USER, KILL QUERY ID <query id>, expressions */
	uint64_t v = 0;
	while (l.p < l.end && isdigit((unsigned char)*l.p)) {
		v = v * 10 + (uint64_t)(*l.p - '0');
		if (v > 0xffffffffu)
			return -1;
		l.p++;
	}
	skip_space(&l);
	while (l.p < l.end && *l.p == ';') {
		l.p++;
		skip_space(&l);
	}
	if (l.p != l.end)
		return -1;
	*id = (uint32_t)v;
	return 0;
}
