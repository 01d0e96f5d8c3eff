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

/* The text prefix of a line about a connection:
 * "[mysql ]client 12 (10.0.0.9:5123 user=app db=app): " or
 * "server 7 (10.0.0.5:5432): ". */
static void who_text(const struct log_who *w, char *out, size_t cap)
{
	out[0] = '\0';
	if (!w)
		return;
	size_t o = 0;
	if (w->client) {
		o += (size_t)snprintf(out + o, cap - o, "%sclient %u (%s", w->mysql ? "mysql " : "", w->client,
				      w->addr ? w->addr : "?");
		if (w->user && o < cap)
			o += (size_t)snprintf(out + o, cap - o, " user=%s", w->user);
		if (w->db && o < cap)
			o += (size_t)snprintf(out + o, cap - o, " %s=%s", w->mysql ? "schema" : "db", w->db);
		if (o < cap)
			o += (size_t)snprintf(out + o, cap - o, "): ");
	} else if (w->server && o < cap) {
		o += (size_t)snprintf(out + o, cap - o, "server %llu (%s): ", (unsigned long long)w->server,
				      w->node ? w->node : "?");
	}
}

/* The JSON fields of the same ("client":12,"addr":"…",…), each followed
 * by a comma. */
static void who_json(const struct log_who *w, char *out, size_t cap)
{
	out[0] = '\0';
	if (!w)
		return;
	size_t o = 0;
	char esc[512];
	if (w->client) {
		o += (size_t)snprintf(out + o, cap - o, "\"protocol\":\"%s\",\"client\":%u,",
				      w->mysql ? "mysql" : "postgres", w->client);
		if (w->addr && o < cap) {
			json_escape(esc, sizeof(esc), w->addr);
			o += (size_t)snprintf(out + o, cap - o, "\"client_addr\":\"%s\",", esc);
		}
		if (w->user && o < cap) {
			json_escape(esc, sizeof(esc), w->user);
			o += (size_t)snprintf(out + o, cap - o, "\"user\":\"%s\",", esc);
		}
		if (w->db && o < cap) {
			json_escape(esc, sizeof(esc), w->db);
			o += (size_t)snprintf(out + o, cap - o, "\"database\":\"%s\",", esc);
		}
	}
	if (w->server && o < cap)
		o += (size_t)snprintf(out + o, cap - o, "\"server\":%llu,", (unsigned long long)w->server);
	if (w->node && o < cap) {
		json_escape(esc, sizeof(esc), w->node);
		o += (size_t)snprintf(out + o, cap - o, "\"node\":\"%s\",", esc);
	}
}

static void write_line(enum log_level lvl, const struct log_who *who, const char *msg);

void log_vmsg(enum log_level lvl, const char *fmt, va_list ap)
{
	if (!log_enabled(lvl))
		return;
	char msg[2048];
	vsnprintf(msg, sizeof(msg), fmt, ap);
	write_line(lvl, NULL, msg);
}

void log_who_msg(enum log_level lvl, const struct log_who *who, const char *fmt, ...)
{
	if (!log_enabled(lvl))
		return;
	char msg[2048];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	write_line(lvl, who, msg);
}

static void write_line(enum log_level lvl, const struct log_who *who, const char *msg)
{

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
		char esc[4096], fields[1024];
		json_escape(esc, sizeof(esc), msg);
		who_json(who, fields, sizeof(fields));
		n = snprintf(line, sizeof(line),
			     "{\"time\":\"%s\",\"level\":\"%s\",\"thread\":\"%s\",%s\"msg\":\"%s\"}\n",
			     ts, level_names[lvl], thread_name, fields, esc);
	} else {
		char prefix[512];
		who_text(who, prefix, sizeof(prefix));
		n = snprintf(line, sizeof(line), "%s %s [%s] %s%s\n", ts, level_names[lvl],
			     thread_name, prefix, msg);
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
