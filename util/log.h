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

enum log_level { LOG_ERROR = 0, LOG_WARNING, LOG_INFO, LOG_DEBUG };

void log_set_level(enum log_level lvl);
void log_set_json(bool json);
/* Send lines to `path` (appending) instead of stderr; returns -1 on error. */
int log_set_file(const char *path);
bool log_enabled(enum log_level lvl);
/* The current thread's name in log lines ("main", "worker-0", ...). */
void log_set_thread_name(const char *name);

void log_msg(enum log_level lvl, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void log_vmsg(enum log_level lvl, const char *fmt, va_list ap);

#define log_error(...) log_msg(LOG_ERROR, __VA_ARGS__)
#define log_warning(...) log_msg(LOG_WARNING, __VA_ARGS__)
#define log_info(...) log_msg(LOG_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)

#endif
