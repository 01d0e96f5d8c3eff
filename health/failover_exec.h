/*
 * failover_exec.h — run the operator's failover_command for failover =
 * command, without a shell parsing our values: the child runs
 *     /bin/sh -c 'COMMAND "$@"' switchyard-failover OLD NEW
 * so the command line is the operator's own text and the two addresses
 * (host:port) arrive as separate arguments, never re-parsed. The child
 * gets its own process group (a timeout kills all it started), stdin
 * /dev/null, the proxy's stdout/stderr. Health thread only.
 */
#ifndef SWITCHYARD_HEALTH_FAILOVER_EXEC_H
#define SWITCHYARD_HEALTH_FAILOVER_EXEC_H

#include <stddef.h>
#include <sys/types.h>

enum fo_exec_status { FO_EXEC_RUNNING = 0, FO_EXEC_OK, FO_EXEC_FAILED };

/* Start it. The child's pid, or -1 with why (cap bytes) set. */
pid_t fo_exec_start(const char *command, const char *old_primary, const char *new_primary, char *why,
		    size_t cap);
/* Has it ended? Reaps it when it has; why says how it failed. */
enum fo_exec_status fo_exec_poll(pid_t pid, char *why, size_t cap);
/* SIGKILL its process group and reap it. */
void fo_exec_kill(pid_t pid);

#endif
