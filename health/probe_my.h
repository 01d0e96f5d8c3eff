/*
 * probe_my.h — the MariaDB/MySQL half of a monitor connection (probe.h):
 * the server's handshake, HandshakeResponse41 with mysql_native_password
 * (or caching_sha2_password's fast path; its full path with the server's
 * RSA key), the AuthSwitchRequest, then text-protocol queries: the beat
 * is a two-statement query (variables, then SHOW SLAVE STATUS), read as
 * result sets whose columns are found by name.
 */
#ifndef SWITCHYARD_HEALTH_PROBE_MY_H
#define SWITCHYARD_HEALTH_PROBE_MY_H

#include "health/probe.h"

extern const struct probe_proto probe_my_proto;

#endif
