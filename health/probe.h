/*
 * probe.h — one monitor connection from the health thread to a node.
 *
 * probe.c owns the transport (a non-blocking bufferevent; TLS per
 * server_tls_mode, as the pools' connections: the protocol half asks for it
 * in its protocol's way, then probe_start_tls() replaces the bufferevent)
 * and the common callbacks; probe_pg.c and probe_my.c speak the protocol: login, then
 * one query at a time, whose answer they turn into a struct health_beat
 * with the pure parsers of beat.h.
 *
 * The owner (health.c) keeps the timeouts: it calls probe_close() when a
 * connect or a query takes too long. Every outcome is reported through
 * probe_cb.event exactly once per step:
 *   PROBE_EV_READY        logged in; the probe is idle
 *   PROBE_EV_RESULT       the query in flight answered (beat != NULL); for
 *                         HEALTH_Q_COMMAND msg is the first value (or NULL)
 *   PROBE_EV_QUERY_ERROR  the query failed with an SQL error; still idle
 *   PROBE_EV_FAILED       the connection failed or closed; already
 *                         closed (msg says why)
 * The callback may call probe_close() or probe_query() on the probe.
 */
#ifndef SWITCHYARD_HEALTH_PROBE_H
#define SWITCHYARD_HEALTH_PROBE_H

#include <stdbool.h>
#include <stdint.h>

#include "config/config.h"
#include "health/beat.h"
#include "util/buf.h"

struct event_base;
struct bufferevent;
struct tls_contexts;

/* Who to log in as; copied out of a config snapshot. */
struct probe_params {
	char user[64];
	char password[256];
	bool has_password;
	char database[64];
};

enum probe_state {
	PROBE_CLOSED = 0,
	PROBE_CONNECTING,
	PROBE_LOGIN,
	PROBE_IDLE,
	PROBE_BUSY,
};

enum probe_event { PROBE_EV_READY, PROBE_EV_RESULT, PROBE_EV_QUERY_ERROR, PROBE_EV_FAILED };

struct probe;

struct probe_cb {
	void (*event)(void *owner, struct probe *p, enum probe_event ev, const struct health_beat *b,
		      const char *msg);
};

/* Protocol half (probe_pg.c / probe_my.c). */
struct probe_proto {
	/* TCP (or unix) connection established: start the login. */
	void (*connected)(struct probe *p);
	/* The TLS handshake that probe_start_tls() began is done. */
	void (*tls_ready)(struct probe *p);
	/* Bytes arrived. */
	void (*readable)(struct probe *p);
	/* Send the query for q (state PROBE_IDLE). 0, or -1 on no memory. */
	int (*query)(struct probe *p, enum health_query q, enum node_role role);
	/* Goodbye bytes (Terminate / COM_QUIT), sent best-effort before
	 * closing a logged-in connection; may be NULL. */
	void (*goodbye)(struct probe *p, struct buf *out);
	/* Free proto state (p->proto). */
	void (*free)(void *proto);
};

struct probe {
	enum cfg_protocol protocol;
	struct cfg_addr addr;
	struct probe_params params;
	struct event_base *base;
	struct bufferevent *bev;
	enum probe_state state;
	enum health_query query;      /* in flight while PROBE_BUSY */
	const struct probe_cb *cb;
	void *owner;
	const struct probe_proto *ops;
	void *proto;                  /* the protocol half's state */
	size_t max_packet;            /* answers above this fail the probe */
	const char *command;          /* HEALTH_Q_COMMAND's SQL; the caller's, kept until the answer */
	struct tls_contexts *tls;     /* set by probe_connect when TLS is wanted (a reference) */
	bool tls_handshake, tls_on;
};

/* The TLS contexts probes use from now on (server_tls_mode and the
 * connect context of the newest config); main sets them at start and on
 * every reload, NULL at exit. Safe from any thread. */
void probe_set_tls(struct tls_contexts *t);

/* Open the connection (state PROBE_CONNECTING). The probe struct is the
 * caller's; it is reusable after PROBE_EV_FAILED or probe_close(). 0, or
 * -1 with *why set (nothing to close). */
int probe_connect(struct probe *p, const char **why);

/* Send the query for q; the probe must be PROBE_IDLE. 0 or -1 (on -1 the
 * probe was failed: PROBE_EV_FAILED is not reported, the caller handles
 * it). */
int probe_query(struct probe *p, enum health_query q, enum node_role role);

/* Close now (no event reported). Safe on a closed probe. */
void probe_close(struct probe *p);

/* For the protocol halves: write bytes; fail the probe (reports
 * PROBE_EV_FAILED after closing); report an event. */
int probe_write(struct probe *p, const void *data, size_t len);
/* TLS for the halves: wanted (server_tls_mode is not disable, TCP); then
 * required (not prefer); probe_start_tls() once the protocol said yes
 * (0, or -1: the probe was failed); tls_ready follows. */
bool probe_tls_wanted(const struct probe *p);
bool probe_tls_required(const struct probe *p);
int probe_start_tls(struct probe *p);
void probe_fail(struct probe *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void probe_report(struct probe *p, enum probe_event ev, const struct health_beat *b,
		  const char *msg);

#endif
