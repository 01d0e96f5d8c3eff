/*
 * probe_pg.h — the PostgreSQL half of a monitor connection (probe.h):
 * StartupMessage, authentication (trust, cleartext, md5, SCRAM-SHA-256,
 * with the codec pgc.h and scram.h/pgmd5.h as pool/pg_server.c uses
 * them), then simple-protocol queries whose one row is parsed by beat.h.
 */
#ifndef SWITCHYARD_HEALTH_PROBE_PG_H
#define SWITCHYARD_HEALTH_PROBE_PG_H

#include <stddef.h>
#include <stdint.h>

#include "health/probe.h"

extern const struct probe_proto probe_pg_proto;

/* Copy a DataRow body's first `max` values, NUL-terminated, into `store`
 * (cap bytes); vals[i] is NULL for SQL NULL and for columns beyond the
 * row. Returns the row's column count, or -1 when malformed or too big.
 * Pure (exposed for tests). */
int probe_pg_data_row(const uint8_t *body, size_t len, char *store, size_t cap,
		      const char **vals, int max);

#endif
