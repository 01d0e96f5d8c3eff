/*
 * stats_http.h — the stats port: libevent's evhttp on `stats_listen`, in
 * the main thread.
 *
 *   GET /            the HTML status page (self-contained, refreshes itself)
 *   GET /metrics     Prometheus text format 0.0.4
 *   GET /stats.json  the same figures as one JSON document
 *   GET /health      200 "ok" or 503 with the reason (never asks for auth)
 *
 * With `stats_auth = user:password` every path but /health needs HTTP
 * basic auth; the value is read from the current config on each request,
 * so a reload changes it. The listening address needs a restart.
 */
#ifndef SWITCHYARD_STATS_HTTP_H
#define SWITCHYARD_STATS_HTTP_H

struct proxy;
struct event_base;
struct cfg;
struct stats_http;

/* Listen on c->global.stats_listen (TCP host:port, or a unix socket path)
 * with `base`. Returns
 * NULL when stats_listen is empty or on error (logged). */
struct stats_http *stats_http_start(struct proxy *px, struct event_base *base, const struct cfg *c);
/* Stop listening and free. NULL is fine. */
void stats_http_stop(struct stats_http *h);

#endif
