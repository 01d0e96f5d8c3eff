/*
 * probe.c — the transport of a monitor connection: connect, write, fail,
 * close. The protocol halves (probe_pg.c, probe_my.c) do the talking.
 */
#include "health/probe.h"

#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <openssl/err.h>
#include <pthread.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "health/probe_my.h"
#include "health/probe_pg.h"
#include "pool/pg_server.h"
#include "proxy/tls.h"

static pthread_mutex_t tls_mu = PTHREAD_MUTEX_INITIALIZER;
static struct tls_contexts *tls_current;

void probe_set_tls(struct tls_contexts *t)
{
	t = tls_contexts_ref(t);
	pthread_mutex_lock(&tls_mu);
	struct tls_contexts *old = tls_current;
	tls_current = t;
	pthread_mutex_unlock(&tls_mu);
	tls_contexts_unref(old);
}

static void read_cb(struct bufferevent *bev, void *arg)
{
	struct probe *p = arg;
	if (p->state == PROBE_CLOSED)
		return;
	if (evbuffer_get_length(bufferevent_get_input(bev)) > p->max_packet + 16) {
		probe_fail(p, "answer larger than %zu bytes", p->max_packet);
		return;
	}
	p->ops->readable(p);
}

static void event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct probe *p = arg;
	if (what & BEV_EVENT_CONNECTED) {
		if (p->tls_handshake) {
			p->tls_handshake = false;
			p->tls_on = true;
			p->ops->tls_ready(p);
			return;
		}
		if (p->addr.kind == CFG_ADDR_TCP) {
			int one = 1;
			setsockopt(bufferevent_getfd(bev), IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		}
		p->state = PROBE_LOGIN;
		p->ops->connected(p);
		return;
	}
	int err = EVUTIL_SOCKET_ERROR();
	const char *detail = "connection closed";
	char sslmsg[200];
	unsigned long e = p->tls ? bufferevent_get_openssl_error(bev) : 0;
	if (e) {
		ERR_error_string_n(e, sslmsg, sizeof(sslmsg));
		detail = sslmsg;
	} else if ((what & BEV_EVENT_ERROR) && err) {
		detail = evutil_socket_error_to_string(err);
	}
	if (p->state == PROBE_CONNECTING)
		probe_fail(p, "could not connect: %s", detail);
	else
		probe_fail(p, "%s", detail);
}

int probe_connect(struct probe *p, const char **why)
{
	probe_close(p);
	p->ops = p->protocol == CFG_PROTO_MYSQL ? &probe_my_proto : &probe_pg_proto;
	if (p->max_packet == 0)
		p->max_packet = 1024 * 1024;
	struct sockaddr_storage ss;
	socklen_t sl;
	if (server_sockaddr(&p->addr, &ss, &sl) < 0) {
		*why = "could not resolve the address";
		return -1;
	}
	pthread_mutex_lock(&tls_mu);
	struct tls_contexts *t = tls_current;
	if (t && t->server_mode != CFG_STLS_DISABLE && t->connect_ctx && p->addr.kind == CFG_ADDR_TCP)
		p->tls = tls_contexts_ref(t);
	pthread_mutex_unlock(&tls_mu);
	p->bev = bufferevent_socket_new(p->base, -1, BEV_OPT_CLOSE_ON_FREE);
	if (!p->bev) {
		tls_contexts_unref(p->tls);
		p->tls = NULL;
		*why = "out of memory";
		return -1;
	}
	bufferevent_setcb(p->bev, read_cb, NULL, event_cb, p);
	bufferevent_enable(p->bev, EV_READ | EV_WRITE);
	p->state = PROBE_CONNECTING;
	if (bufferevent_socket_connect(p->bev, (struct sockaddr *)&ss, (int)sl) < 0) {
		bufferevent_free(p->bev);
		p->bev = NULL;
		tls_contexts_unref(p->tls);
		p->tls = NULL;
		p->state = PROBE_CLOSED;
		*why = "could not connect";
		return -1;
	}
	return 0;
}

int probe_query(struct probe *p, enum health_query q, enum node_role role)
{
	if (p->state != PROBE_IDLE)
		return -1;
	p->state = PROBE_BUSY;
	p->query = q;
	if (p->ops->query(p, q, role) < 0) {
		probe_close(p);
		return -1;
	}
	return 0;
}

void probe_close(struct probe *p)
{
	if (p->bev) {
		if ((p->state == PROBE_IDLE || p->state == PROBE_BUSY) && p->ops->goodbye && !p->tls_on &&
		    evbuffer_get_length(bufferevent_get_output(p->bev)) == 0) {
			/* Straight on the socket: bufferevent_free() drops its output.
			 * (Not over TLS: the server sees the connection end.) */
			struct buf b;
			buf_init(&b);
			p->ops->goodbye(p, &b);
			if (!b.oom && b.len)
				(void)!send(bufferevent_getfd(p->bev), b.data, b.len,
					    MSG_NOSIGNAL | MSG_DONTWAIT);
			buf_free(&b);
		}
		bufferevent_free(p->bev);
		p->bev = NULL;
	}
	if (p->proto && p->ops)
		p->ops->free(p->proto);
	p->proto = NULL;
	tls_contexts_unref(p->tls);
	p->tls = NULL;
	p->tls_handshake = p->tls_on = false;
	p->state = PROBE_CLOSED;
	p->query = HEALTH_Q_NONE;
}

int probe_write(struct probe *p, const void *data, size_t len)
{
	return bufferevent_write(p->bev, data, len);
}

bool probe_tls_wanted(const struct probe *p) { return p->tls != NULL; }

bool probe_tls_required(const struct probe *p) { return p->tls && p->tls->server_mode != CFG_STLS_PREFER; }

int probe_start_tls(struct probe *p)
{
	SSL *ssl = tls_new_server_ssl(p->tls, p->addr.host);
	int fd = ssl ? dup(bufferevent_getfd(p->bev)) : -1;
	if (fd < 0) {
		if (ssl)
			SSL_free(ssl);
		probe_fail(p, "could not start TLS");
		return -1;
	}
	/* The protocol's TLS request was answered: nothing else is in flight,
	 * so the plain bufferevent can go. */
	bufferevent_free(p->bev);
	p->bev = bufferevent_openssl_socket_new(p->base, fd, ssl, BUFFEREVENT_SSL_CONNECTING,
						BEV_OPT_CLOSE_ON_FREE);
	if (!p->bev) {
		SSL_free(ssl);
		close(fd);
		probe_fail(p, "could not start TLS");
		return -1;
	}
	bufferevent_openssl_set_allow_dirty_shutdown(p->bev, 1);
	bufferevent_setcb(p->bev, read_cb, NULL, event_cb, p);
	bufferevent_enable(p->bev, EV_READ | EV_WRITE);
	p->tls_handshake = true;
	return 0;
}

void probe_fail(struct probe *p, const char *fmt, ...)
{
	char msg[300];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	probe_close(p);
	p->cb->event(p->owner, p, PROBE_EV_FAILED, NULL, msg);
}

void probe_report(struct probe *p, enum probe_event ev, const struct health_beat *b,
		  const char *msg)
{
	if (ev == PROBE_EV_RESULT || ev == PROBE_EV_QUERY_ERROR || ev == PROBE_EV_READY) {
		p->state = PROBE_IDLE;
		p->query = HEALTH_Q_NONE;
	}
	p->cb->event(p->owner, p, ev, b, msg);
}
