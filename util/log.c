/*
 * log.c — formatting and writing log lines (text or JSON) to stderr or a
 * file. Lines are written with one write() so that threads do not
 * interleave within a line.
 */
#include "log.h"

#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static atomic_int log_level_now = LOG_INFO;
static atomic_bool log_json_now = false;
static atomic_int log_fd = 2;
static _Thread_local char thread_name[32] = "main";

static const char *const level_names[] = { "error", "warning", "info", "debug" };

void log_set_level(enum log_level lvl) { atomic_store(&log_level_now, (int)lvl); }
void log_set_json(bool json) { atomic_store(&log_json_now, json); }
bool log_enabled(enum log_level lvl) { return (int)lvl <= atomic_load(&log_level_now); }

void log_set_thread_name(const char *name)
{
	snprintf(thread_name, sizeof(thread_name), "%s", name);
}

int log_set_file(const char *path)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
	if (fd < 0)
		return -1;
	int old = atomic_exchange(&log_fd, fd);
	if (old > 2)
		close(old);
	return 0;
}

/* Append `s` to `out` as a JSON string body (without quotes). */
static size_t json_escape(char *out, size_t cap, const char *s)
{
	size_t o = 0;
	for (; *s && o + 7 < cap; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\') {
			out[o++] = '\\';
			out[o++] = (char)c;
		} else if (c < 0x20) {
			o += (size_t)snprintf(out + o, cap - o, "\\u%04x", c);
		} else {
			out[o++] = (char)c;
		}
	}
	out[o] = '\0';
	return o;
}

void log_vmsg(enum log_level lvl, const char *fmt, va_list ap)
{
	if (!log_enabled(lvl))
		return;
	char msg[2048];
	vsnprintf(msg, sizeof(msg), fmt, ap);

	struct timeval tv;
	gettimeofday(&tv, NULL);
	struct tm tm;
	gmtime_r(&tv.tv_sec, &tm);
	char ts[40];
	size_t tl = strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(ts + tl, sizeof(ts) - tl, ".%03dZ", (int)(tv.tv_usec / 1000));

	char line[4096 + 64];
	int n;
	if (atomic_load(&log_json_now)) {
		char esc[4096];
		json_escape(esc, sizeof(esc), msg);
		n = snprintf(line, sizeof(line),
			     "{\"time\":\"%s\",\"level\":\"%s\",\"thread\":\"%s\",\"msg\":\"%s\"}\n",
			     ts, level_names[lvl], thread_name, esc);
	} else {
		n = snprintf(line, sizeof(line), "%s %s [%s] %s\n", ts, level_names[lvl],
			     thread_name, msg);
	}
	if (n < 0)
		return;
	if ((size_t)n >= sizeof(line))
		n = (int)sizeof(line) - 1;
	ssize_t w = write(atomic_load(&log_fd), line, (size_t)n);
	(void)w;
}

void log_msg(enum log_level lvl, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	log_vmsg(lvl, fmt, ap);
	va_end(ap);
}
