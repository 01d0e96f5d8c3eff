/*
 * log.h — one line per event, with level, time, and the caller's context.
 *
 * The level and format are process-wide settings (set from the config at
 * start-up and on reload; an atomic read on the hot path). Check
 * log_enabled() before building an expensive message; the log_*() helpers
 * check it themselves before formatting.
 */
#ifndef SWITCHYARD_LOG_H
#define SWITCHYARD_LOG_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>

enum log_level { LOG_ERROR = 0, LOG_WARNING, LOG_INFO, LOG_DEBUG };

void log_set_level(enum log_level lvl);
void log_set_json(bool json);
/* Send lines to `path` (appending) instead of stderr; returns -1 on error. */
int log_set_file(const char *path);
bool log_enabled(enum log_level lvl);
/* The current thread's name in log lines ("main", "worker-0", ...). */
void log_set_thread_name(const char *name);

void log_msg(enum log_level lvl, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Who a line is about: a client session (client != 0: its id, address,
 * user, database or schema) and/or a server connection (server != 0: its
 * id; node: the server's address). Text lines start with the conventional
 * "client 12 (10.0.0.9:5123 user=app db=app): " or "server 7 (node): ";
 * JSON lines carry them as fields ("client", "client_addr", "user",
 * "database", "protocol", "server", "node") next to "msg", so that they
 * can be filtered without parsing the message. NULL fields are left out. */
struct log_who {
	bool mysql;                   /* a MySQL client (else PostgreSQL) */
	uint32_t client;
	const char *addr, *user, *db;
	uint64_t server;
	const char *node;
};
void log_who_msg(enum log_level lvl, const struct log_who *who, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void log_vmsg(enum log_level lvl, const char *fmt, va_list ap);

#define log_error(...) log_msg(LOG_ERROR, __VA_ARGS__)
#define log_warning(...) log_msg(LOG_WARNING, __VA_ARGS__)
#define log_info(...) log_msg(LOG_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)

#endif
