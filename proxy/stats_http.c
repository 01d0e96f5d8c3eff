/*
 * stats_http.c — the stats port's HTTP handlers (see stats_http.h). Each
 * request sums the workers' published snapshots (stats_collect) and
 * renders them; no worker is slowed beyond a mutex taken once per worker.
 * With stats_tls_* set, every new connection gets a TLS bufferevent from
 * the current TLS contexts (proxy->tls), so a reload turns HTTPS on or
 * off and rotates the certificate for the connections that follow.
 */
#include "proxy/stats_http.h"

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/listener.h>
#include <errno.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "config/config.h"
#include "proxy/proxy.h"
#include "proxy/stats.h"
#include "proxy/tls.h"
#include "util/buf.h"
#include "util/log.h"

#define PAGE_REFRESH_S 5

struct stats_http {
	struct proxy *px;
	struct evhttp *http;
	char unix_path[108];          /* removed on stop; "" for TCP */
};

/* true when no stats_auth is set or the request carries it. */
static bool authorized(struct stats_http *h, struct evhttp_request *req)
{
	struct cfg *c = proxy_cfg_get(h->px);
	bool ok = true;
	const char *want = c->global.stats_auth;
	if (want && *want) {
		ok = false;
		size_t n = strlen(want);
		unsigned char *enc = malloc(4 * ((n + 2) / 3) + 1);
		const char *got = evhttp_find_header(evhttp_request_get_input_headers(req), "Authorization");
		if (enc && got && strncasecmp(got, "Basic ", 6) == 0) {
			int elen = EVP_EncodeBlock(enc, (const unsigned char *)want, (int)n);
			got += 6;
			while (*got == ' ')
				got++;
			size_t glen = strlen(got);
			while (glen && (got[glen - 1] == ' ' || got[glen - 1] == '\r'))
				glen--;
			ok = elen >= 0 && glen == (size_t)elen && CRYPTO_memcmp(got, enc, glen) == 0;
		}
		free(enc);
	}
	cfg_unref(c);
	return ok;
}

static void reply(struct evhttp_request *req, int code, const char *reason, const char *type,
		  const struct buf *body)
{
	struct evkeyvalq *hd = evhttp_request_get_output_headers(req);
	evhttp_add_header(hd, "Content-Type", type);
	evhttp_add_header(hd, "Cache-Control", "no-store");
	struct evbuffer *out = evbuffer_new();
	if (out && body && body->len && !body->oom)
		evbuffer_add(out, body->data, body->len);
	evhttp_send_reply(req, code, reason, out);
	if (out)
		evbuffer_free(out);
}

static void reply_text(struct evhttp_request *req, int code, const char *reason, const char *text)
{
	struct buf b;
	buf_init(&b);
	buf_put(&b, text, strlen(text));
	reply(req, code, reason, "text/plain; charset=utf-8", &b);
	buf_free(&b);
}

/* With stats TLS on, only requests over TLS are served: a connection
 * whose TLS set-up failed, or one opened in plain HTTP before a reload
 * turned TLS on, is not. */
static bool transport_ok(struct stats_http *h, struct evhttp_request *req)
{
	struct tls_contexts *t = proxy_tls_get(h->px);
	bool want_tls = t && t->stats_ctx;
	tls_contexts_unref(t);
	if (!want_tls)
		return true;
	struct evhttp_connection *evcon = evhttp_request_get_connection(req);
	struct bufferevent *bev = evcon ? evhttp_connection_get_bufferevent(evcon) : NULL;
	return bev && bufferevent_openssl_get_ssl(bev) != NULL;
}

static void handle(struct evhttp_request *req, void *arg)
{
	struct stats_http *h = arg;
	if (!transport_ok(h, req)) {
		evhttp_add_header(evhttp_request_get_output_headers(req), "Connection", "close");
		reply_text(req, 403, "Forbidden", "this port serves HTTPS only (stats_tls_cert_file)\n");
		return;
	}
	enum evhttp_cmd_type cmd = evhttp_request_get_command(req);
	if (cmd != EVHTTP_REQ_GET && cmd != EVHTTP_REQ_HEAD) {
		evhttp_add_header(evhttp_request_get_output_headers(req), "Allow", "GET, HEAD");
		reply_text(req, 405, "Method Not Allowed", "only GET and HEAD\n");
		return;
	}
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
	const char *path = uri ? evhttp_uri_get_path(uri) : NULL;
	if (!path || !*path)
		path = "/";
	enum { P_PAGE, P_METRICS, P_JSON, P_HEALTH, P_QUERIES } what;
	if (strcmp(path, "/") == 0 || strcmp(path, "/index.html") == 0)
		what = P_PAGE;
	else if (strcmp(path, "/metrics") == 0)
		what = P_METRICS;
	else if (strcmp(path, "/stats.json") == 0)
		what = P_JSON;
	else if (strcmp(path, "/health") == 0)
		what = P_HEALTH;
	else if (strcmp(path, "/queries.json") == 0)
		what = P_QUERIES;
	else {
		reply_text(req, 404, "Not Found", "not found: try /, /metrics, /stats.json, /queries.json, /health\n");
		return;
	}
	if (what != P_HEALTH && !authorized(h, req)) {
		evhttp_add_header(evhttp_request_get_output_headers(req), "WWW-Authenticate",
				  "Basic realm=\"switchyard\", charset=\"UTF-8\"");
		reply_text(req, 401, "Unauthorized", "authentication required (stats_auth)\n");
		return;
	}
	struct stats_view v;
	if (stats_collect(h->px, &v, what == P_PAGE || what == P_QUERIES ? STATS_WANT_QUERIES : 0) < 0)
		log_warning("stats: out of memory while collecting; figures are partial");
	struct buf b;
	buf_init(&b);
	switch (what) {
	case P_PAGE:
		stats_render_html(&v, PAGE_REFRESH_S, &b);
		reply(req, 200, "OK", "text/html; charset=utf-8", &b);
		break;
	case P_METRICS:
		stats_render_prometheus(&v, &b);
		reply(req, 200, "OK", "text/plain; version=0.0.4; charset=utf-8", &b);
		break;
	case P_JSON:
		stats_render_json(&v, &b);
		reply(req, 200, "OK", "application/json", &b);
		break;
	case P_QUERIES:
		stats_render_queries_json(&v, &b);
		reply(req, 200, "OK", "application/json", &b);
		break;
	case P_HEALTH:
		if (v.healthy) {
			reply_text(req, 200, "OK", "ok\n");
		} else {
			buf_put(&b, v.health_reason, strlen(v.health_reason));
			buf_put(&b, "\n", 1);
			reply(req, 503, "Service Unavailable", "text/plain; charset=utf-8", &b);
		}
		break;
	}
	if (b.oom)
		log_warning("stats: out of memory while rendering %s", path);
	buf_free(&b);
	stats_view_free(&v);
}

/* evhttp's bufferevent for a new connection: TLS (accepting) when the
 * current contexts have a stats context, else NULL, which makes evhttp
 * use a plain socket bufferevent. A failed handshake closes the
 * connection (a plain HTTP request to an HTTPS port gets no answer). */
static struct bufferevent *new_conn_bev(struct event_base *base, void *arg)
{
	struct stats_http *h = arg;
	struct tls_contexts *t = proxy_tls_get(h->px);
	struct bufferevent *bev = NULL;
	if (t && t->stats_ctx) {
		SSL *ssl = SSL_new(t->stats_ctx); /* holds its own reference to the context */
		if (ssl) {
			bev = bufferevent_openssl_socket_new(base, -1, ssl, BUFFEREVENT_SSL_ACCEPTING,
							     BEV_OPT_CLOSE_ON_FREE);
			if (bev)
				bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
			else
				SSL_free(ssl);
		}
		if (!bev)
			log_warning("stats: cannot set up TLS for a connection; its requests are refused");
	}
	tls_contexts_unref(t);
	return bev;
}

/* A unix socket for evhttp (a stale socket file is replaced). */
static int bind_unix(struct stats_http *h, struct event_base *base, const char *path)
{
	struct sockaddr_un sun;
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun.sun_path))
		return -1;
	memcpy(sun.sun_path, path, strlen(path) + 1);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	unlink(path);
	if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0 || listen(fd, 128) < 0) {
		int e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	struct evconnlistener *l = evconnlistener_new(base, NULL, NULL, LEV_OPT_CLOSE_ON_FREE, -1, fd);
	if (!l) {
		close(fd);
		return -1;
	}
	if (!evhttp_bind_listener(h->http, l)) {
		evconnlistener_free(l);
		return -1;
	}
	return 0;
}

struct stats_http *stats_http_start(struct proxy *px, struct event_base *base, const struct cfg *c)
{
	const struct cfg_addr *a = &c->global.stats_listen;
	if (a->kind == CFG_ADDR_NONE)
		return NULL;
	struct stats_http *h = calloc(1, sizeof(*h));
	if (!h)
		return NULL;
	h->px = px;
	h->http = evhttp_new(base);
	if (!h->http)
		goto fail;
	evhttp_set_allowed_methods(h->http, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD | EVHTTP_REQ_POST);
	evhttp_set_timeout(h->http, 10);
	evhttp_set_max_headers_size(h->http, 16384);
	evhttp_set_max_body_size(h->http, 4096);
	evhttp_set_gencb(h->http, handle, h);
	evhttp_set_bevcb(h->http, new_conn_bev, h);
	if (a->kind == CFG_ADDR_UNIX ? bind_unix(h, base, a->path) < 0
				     : !evhttp_bind_socket_with_handle(h->http, a->host, a->port)) {
		log_error("stats_listen %s: cannot listen (%s); the stats port is off", a->text, strerror(errno));
		goto fail;
	}
	if (a->kind == CFG_ADDR_UNIX)
		memcpy(h->unix_path, a->path, sizeof(h->unix_path));
	bool tls = c->global.stats_tls_cert_file != NULL;
	log_info("stats port on %s%s (/, /metrics, /stats.json, /queries.json, /health)%s%s",
		 a->kind == CFG_ADDR_UNIX ? "unix socket " : tls ? "https://" : "http://", a->text,
		 a->kind == CFG_ADDR_UNIX && tls ? ", TLS" : "", c->global.stats_auth ? ", basic auth" : "");
	return h;
fail:
	stats_http_stop(h);
	return NULL;
}

void stats_http_stop(struct stats_http *h)
{
	if (!h)
		return;
	if (h->http)
		evhttp_free(h->http);
	if (h->unix_path[0])
		unlink(h->unix_path);
	free(h);
}
