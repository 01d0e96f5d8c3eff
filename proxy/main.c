/*
 * main.c — the switchyard process: command line, config check (-t),
 * start-up, signals (SIGHUP reload, SIGTERM/SIGINT graceful shutdown) and
 * the main thread's event loop.
 */
#include <errno.h>
#include <event2/event.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config/config.h"
#include "health/health.h"
#include "health/probe.h"
#include "proxy/listener.h"
#include "proxy/mysql/my_client.h"
#include "proxy/proxy.h"
#include "proxy/stats_http.h"
#include "proxy/tls.h"
#include "util/log.h"

#ifndef SWITCHYARD_VERSION
#define SWITCHYARD_VERSION "0.1.0"
#endif

struct main_ctx {
	struct proxy *px;
	struct event_base *base;
	const char *config_path;
	struct event *shutdown_timer;
	struct event *join_check;
	bool stopping;
};

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: switchyard [-t] -c FILE\n"
		"\n"
		"A PostgreSQL and MySQL/MariaDB proxy: pooling, routing, failover.\n"
		"\n"
		"  -c, --config FILE   configuration file (INI)\n"
		"  -t, --test          check the configuration and exit (0: valid)\n"
		"  -V, --version       print the version and exit\n"
		"  -h, --help          this text\n"
		"\n"
		"Signals: SIGHUP reloads the configuration; SIGTERM or SIGINT stop\n"
		"accepting, let clients finish for up to shutdown_timeout, then exit.\n");
}

/* Print every error and warning as FILE:LINE: message. */
static void print_errors(const struct cfg_errors *errs, bool to_log)
{
	for (size_t i = 0; i < errs->n; i++) {
		const struct cfg_error *e = &errs->items[i];
		const char *kind = e->warning ? "warning: " : "";
		if (to_log) {
			if (e->line > 0)
				log_msg(e->warning ? LOG_WARNING : LOG_ERROR, "%s:%d: %s", e->file, e->line, e->msg);
			else
				log_msg(e->warning ? LOG_WARNING : LOG_ERROR, "%s: %s", e->file, e->msg);
		} else if (e->line > 0) {
			fprintf(stderr, "%s:%d: %s%s\n", e->file, e->line, kind, e->msg);
		} else {
			fprintf(stderr, "%s: %s%s\n", e->file, kind, e->msg);
		}
	}
}

static void apply_logging(const struct cfg *c)
{
	log_set_level((enum log_level)c->global.log_level);
	log_set_json(c->global.log_format == CFG_LOG_JSON);
	if (c->global.log_file && log_set_file(c->global.log_file) < 0)
		log_error("cannot open log_file %s: %s", c->global.log_file, strerror(errno));
}

static bool listens_equal(const struct cfg *a, const struct cfg *b)
{
	if (a->n_listens != b->n_listens)
		return false;
	for (size_t i = 0; i < a->n_listens; i++)
		if (strcmp(a->listens[i].name, b->listens[i].name) != 0 ||
		    strcmp(a->listens[i].address.text, b->listens[i].address.text) != 0 ||
		    a->listens[i].protocol != b->listens[i].protocol)
			return false;
	return true;
}

static void reload(struct main_ctx *m)
{
	struct proxy *px = m->px;
	struct cfg_errors errs = { 0 };
	log_info("SIGHUP: reloading %s", m->config_path);
	struct cfg *c = cfg_load(m->config_path, &errs);
	print_errors(&errs, true);
	cfg_errors_free(&errs);
	if (!c) {
		log_error("reload refused: the new configuration has errors; keeping the current one");
		stats_reload_result(px->stats, false, "the new configuration has errors (see the log)");
		return;
	}
	char err[512];
	struct tls_contexts *t = tls_contexts_new(c, err, sizeof(err));
	if (!t) {
		log_error("reload refused: %s; keeping the current configuration", err);
		stats_reload_result(px->stats, false, err);
		cfg_unref(c);
		return;
	}
	if (!listens_equal(c, px->listen_cfg))
		log_warning("reload: [listen.*] changes take effect after a restart");
	pthread_mutex_lock(&px->lock);
	c->generation = px->cfg->generation + 1;
	struct cfg *old = px->cfg;
	struct tls_contexts *oldt = px->tls;
	px->cfg = c;
	px->tls = t;
	pthread_mutex_unlock(&px->lock);
	probe_set_tls(t); /* health probes: the new server_tls_* */
	cfg_unref(old);
	tls_contexts_unref(oldt);
	apply_logging(c);
	health_apply_config(c);
	workers_notify(px, WORKER_CMD_RELOAD);
	log_info("reload done: configuration generation %llu", (unsigned long long)c->generation);
	char done[64];
	snprintf(done, sizeof(done), "configuration generation %llu", (unsigned long long)c->generation);
	stats_reload_result(px->stats, true, done);
}

static void sighup_cb(evutil_socket_t sig, short what, void *arg) { reload(arg); }

/* The health thread's events (node down/up, failover) on the stats page. */
static void health_to_stats(void *arg, const char *level, const char *text)
{
	stats_event(arg, level, "%s", text);
}

static void shutdown_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
	struct main_ctx *m = arg;
	log_warning("shutdown_timeout reached: closing the remaining clients");
	workers_notify(m->px, WORKER_CMD_STOP);
}

static void sigterm_cb(evutil_socket_t sig, short what, void *arg)
{
	struct main_ctx *m = arg;
	if (m->stopping) {
		log_info("second signal: stopping now");
		workers_notify(m->px, WORKER_CMD_STOP);
		return;
	}
	m->stopping = true;
	atomic_store(&m->px->shutting_down, true);
	int64_t ms = m->px->cfg->global.shutdown_timeout_ms;
	log_info("%s: shutting down: no new clients; waiting up to %lld ms for connected ones",
		 sig == SIGINT ? "SIGINT" : "SIGTERM", (long long)ms);
	workers_notify(m->px, WORKER_CMD_SHUTDOWN);
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };
	evtimer_add(m->shutdown_timer, &tv);
	struct timeval poll = { 0, 50000 };
	event_add(m->join_check, &poll);
}

/* While shutting down: end the main loop once every worker has. */
static void join_check_cb(evutil_socket_t fd, short what, void *arg)
{
	struct main_ctx *m = arg;
	if (atomic_load(&m->px->workers_running) == 0)
		event_base_loopbreak(m->base);
}

static int write_pidfile(const char *path)
{
	FILE *f = fopen(path, "w");
	if (!f)
		return -1;
	fprintf(f, "%d\n", (int)getpid());
	return fclose(f);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "test", no_argument, NULL, 't' },
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *path = NULL;
	bool test_only = false;
	int ch;
	while ((ch = getopt_long(argc, argv, "c:tVh", opts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			path = optarg;
			break;
		case 't':
			test_only = true;
			break;
		case 'V':
			printf("switchyard %s\n", SWITCHYARD_VERSION);
			return 0;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (!path && optind < argc)
		path = argv[optind];
	if (!path) {
		usage(stderr);
		return 2;
	}

	struct cfg_errors errs = { 0 };
	struct cfg *c = cfg_load(path, &errs);
	print_errors(&errs, false);
	size_t nerr = cfg_errors_count(&errs);
	cfg_errors_free(&errs);
	if (!c) {
		fprintf(stderr, "%s: %zu error%s\n", path, nerr, nerr == 1 ? "" : "s");
		return 1;
	}
	char err[512];
	struct tls_contexts *t = tls_contexts_new(c, err, sizeof(err));
	if (!t) {
		fprintf(stderr, "%s: %s\n", path, err);
		cfg_unref(c);
		return 1;
	}
	if (test_only) {
		printf("%s: configuration is valid\n", path);
		tls_contexts_unref(t);
		cfg_unref(c);
		return 0;
	}

	signal(SIGPIPE, SIG_IGN);
	apply_logging(c);
	struct proxy px;
	memset(&px, 0, sizeof(px));
	pthread_mutex_init(&px.lock, NULL);
	cancel_registry_init(&px.cancels);
	struct stats_global stats;
	stats_global_init(&stats);
	px.stats = &stats;
	px.cfg = c;
	px.tls = t;
	probe_set_tls(t);
	px.listen_cfg = cfg_ref(c);
	px.n_workers = c->global.workers > 0 ? c->global.workers : 1;
	if (c->global.pidfile && write_pidfile(c->global.pidfile) < 0)
		log_error("cannot write pidfile %s: %s", c->global.pidfile, strerror(errno));

	struct main_ctx m = { .px = &px, .config_path = path };
	m.base = event_base_new();
	if (!m.base) {
		log_error("start-up failed: no event base");
		return 1;
	}
	/* The signal events go in before the listeners open: once a client
	 * (or a script) can see the port, SIGTERM/SIGINT/SIGHUP are caught.
	 * A signal that arrives during the rest of the start-up waits in the
	 * event base and is handled when the loop runs. (A shell starts a
	 * background job with SIGINT ignored, so an earlier SIGINT was lost.) */
	struct event *hup = evsignal_new(m.base, SIGHUP, sighup_cb, &m);
	struct event *term = evsignal_new(m.base, SIGTERM, sigterm_cb, &m);
	struct event *intr = evsignal_new(m.base, SIGINT, sigterm_cb, &m);
	m.shutdown_timer = evtimer_new(m.base, shutdown_timeout_cb, &m);
	m.join_check = event_new(m.base, -1, EV_PERSIST, join_check_cb, &m);
	event_add(hup, NULL);
	event_add(term, NULL);
	event_add(intr, NULL);
	health_set_event_sink(health_to_stats, &stats);
	if (health_start(c) < 0 || listeners_open(&px) < 0 || workers_start(&px) < 0) {
		log_error("start-up failed");
		return 1;
	}
	struct stats_http *stats_port = stats_http_start(&px, m.base, c);
	for (size_t i = 0; i < c->n_listens; i++)
		log_info("listening on %s (%s, %s)", c->listens[i].address.text,
			 c->listens[i].name, cfg_protocol_name(c->listens[i].protocol));
	log_info("switchyard %s started: %d worker%s, config %s", SWITCHYARD_VERSION, px.n_workers,
		 px.n_workers == 1 ? "" : "s", path);

	stats_event(&stats, "info", "switchyard %s started: %d worker%s", SWITCHYARD_VERSION, px.n_workers,
		    px.n_workers == 1 ? "" : "s");

	event_base_dispatch(m.base);

	/* The loop that handled signals is over: a further SIGTERM/SIGINT while
	 * the workers are joined must not kill the process mid-cleanup. */
	signal(SIGTERM, SIG_IGN);
	signal(SIGINT, SIG_IGN);
	stats_http_stop(stats_port);
	workers_join(&px);
	health_stop();
	listeners_close(&px);
	event_free(m.join_check);
	event_free(hup);
	event_free(term);
	event_free(intr);
	/* event_free() put back the dispositions from before event_add()
	 * (SIG_DFL): keep ignoring them until the process has exited (a
	 * sanitizer build's exit, with its leak check, takes a while). */
	signal(SIGTERM, SIG_IGN);
	signal(SIGINT, SIG_IGN);
	event_free(m.shutdown_timer);
	event_base_free(m.base);
	if (c->global.pidfile)
		unlink(px.cfg->global.pidfile);
	cancel_registry_destroy(&px.cancels);
	my_client_auth_shutdown();
	probe_set_tls(NULL);
	tls_contexts_unref(px.tls);
	cfg_unref(px.listen_cfg);
	cfg_unref(px.cfg);
	pthread_mutex_destroy(&px.lock);
	stats_global_destroy(&stats);
	log_info("switchyard stopped");
	return 0;
}
