/*
 * failover_sql.h — the statements each failover step sends, per protocol
 * (docs/failover.md lists them). Pure: strings in, strings out.
 *
 * Each function fills out[0..) with up to FO_SQL_MAX strings allocated
 * with malloc (the caller frees them with fo_sql_free()) and returns how
 * many, or -1 when out of memory or a value is too long or unsafe (the
 * new primary's host must be a plain host name or address).
 */
#ifndef SWITCHYARD_HEALTH_FAILOVER_SQL_H
#define SWITCHYARD_HEALTH_FAILOVER_SQL_H

#include "config/config.h"

#define FO_SQL_MAX 4

/* Make a replica the primary. PostgreSQL: SELECT pg_promote(true, 30)
 * (waits for the promotion; 'f' means it did not happen). MariaDB:
 * STOP SLAVE; RESET SLAVE ALL; SET GLOBAL read_only = 0. */
int fo_sql_promote(enum cfg_protocol p, char **out);
/* Point a replica at `primary`; user/password may be NULL (PostgreSQL:
 * then the conninfo has no user; MariaDB: the replica keeps its own).
 * PostgreSQL 13+: ALTER SYSTEM SET primary_conninfo, RESET
 * primary_slot_name, SELECT pg_reload_conf(). MariaDB: STOP SLAVE;
 * CHANGE MASTER TO ... MASTER_USE_GTID = slave_pos; START SLAVE. */
int fo_sql_repoint(enum cfg_protocol p, const struct cfg_addr *primary, const char *user,
		   const char *password, char **out);
/* Make an old primary read-only. PostgreSQL: ALTER SYSTEM SET
 * default_transaction_read_only = on, SELECT pg_reload_conf(). MariaDB:
 * SET GLOBAL read_only = 1. */
int fo_sql_fence(enum cfg_protocol p, char **out);

void fo_sql_free(char **s, int n);

#endif
