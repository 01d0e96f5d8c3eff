/*
 * my_admin.h — the admin console on a MySQL listener.
 *
 * A client whose handshake response names the schema "switchyard"
 * (ADMIN_DATABASE) and whose user is listed in `admin_users` authenticates
 * as any [user.*] does (its password from the config), then gets no
 * server: its COM_QUERY texts are the console's commands (proxy/admin.h),
 * answered as MySQL text result sets (column count, column definitions,
 * EOF, rows, EOF — or the OK that replaces the EOFs under
 * CLIENT_DEPRECATE_EOF), OK packets and ERR packets. COM_PING, COM_QUIT,
 * COM_INIT_DB of "switchyard" and COM_RESET_CONNECTION work; any other
 * command gets ERR 1047. SET statements (drivers send some when they
 * connect) are accepted and ignored. The mariadb client's start-up query
 * `select @@version_comment limit 1` gets one row. Other users asking for
 * the schema are refused with ERR 1044.
 */
#ifndef SWITCHYARD_MY_ADMIN_H
#define SWITCHYARD_MY_ADMIN_H

struct my_client;

/* The handshake response named the console's schema: a user not in
 * admin_users gets ERR 1044 and is closed (-1); else c->admin is set and
 * the login goes on (0). */
int my_admin_login(struct my_client *c);
/* Authentication succeeded: OK, then MY_CL_ADMIN. */
void my_admin_start(struct my_client *c);
/* Input while MY_CL_ADMIN. */
void my_admin_read(struct my_client *c);

#endif
