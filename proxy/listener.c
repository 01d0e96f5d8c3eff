/* listener.c — creating and binding listening sockets; see listener.h. */
#include "proxy/listener.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "proxy/proxy.h"
#include "util/log.h"

#define LISTEN_BACKLOG 4096

static int tcp_listen(const struct cfg_addr *a)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE | AI_NUMERICSERV };
	struct addrinfo *res = NULL;
	char port[8];
	snprintf(port, sizeof(port), "%u", a->port);
	int rc = getaddrinfo(a->host[0] ? a->host : NULL, port, &hints, &res);
	if (rc != 0 || !res) {
		log_error("listen %s: cannot resolve: %s", a->text, gai_strerror(rc));
		return -1;
	}
	int fd = socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		goto fail;
	int one = 1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
	if (bind(fd, res->ai_addr, res->ai_addrlen) < 0 || listen(fd, LISTEN_BACKLOG) < 0)
		goto fail;
	freeaddrinfo(res);
	return fd;
fail:
	log_error("listen %s: %s", a->text, strerror(errno));
	if (fd >= 0)
		close(fd);
	freeaddrinfo(res);
	return -1;
}

/* Remove a unix socket file left by a previous run, but never one that a
 * running process still answers on. */
static int clear_stale_socket(const char *path)
{
	struct stat st;
	if (stat(path, &st) < 0)
		return 0;
	if (!S_ISSOCK(st.st_mode)) {
		log_error("listen %s: exists and is not a socket", path);
		return -1;
	}
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_un un = { .sun_family = AF_UNIX };
	snprintf(un.sun_path, sizeof(un.sun_path), "%s", path);
	int live = fd >= 0 && connect(fd, (struct sockaddr *)&un, sizeof(un)) == 0;
	if (fd >= 0)
		close(fd);
	if (live) {
		log_error("listen %s: another process is listening on it", path);
		return -1;
	}
	unlink(path);
	return 0;
}

static int unix_listen(const struct cfg_addr *a)
{
	if (clear_stale_socket(a->path) < 0)
		return -1;
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		goto fail;
	struct sockaddr_un un = { .sun_family = AF_UNIX };
	snprintf(un.sun_path, sizeof(un.sun_path), "%s", a->path);
	if (bind(fd, (struct sockaddr *)&un, sizeof(un)) < 0)
		goto fail;
	chmod(a->path, 0777); /* access is controlled by authentication, as PgBouncer does */
	if (listen(fd, LISTEN_BACKLOG) < 0)
		goto fail;
	return fd;
fail:
	log_error("listen %s: %s", a->path, strerror(errno));
	if (fd >= 0)
		close(fd);
	return -1;
}

int listeners_open(struct proxy *px)
{
	const struct cfg *c = px->listen_cfg;
	px->listen_fds = calloc(c->n_listens ? c->n_listens : 1, sizeof(int));
	if (!px->listen_fds)
		return -1;
	for (size_t i = 0; i < c->n_listens; i++) {
		px->listen_fds[i] = -1;
		const struct cfg_addr *a = &c->listens[i].address;
		if (a->kind == CFG_ADDR_UNIX) {
			px->listen_fds[i] = unix_listen(a);
			if (px->listen_fds[i] < 0)
				return -1;
		}
	}
	return 0;
}

int listener_fd_for_worker(struct proxy *px, size_t i, int worker_id)
{
	const struct cfg_addr *a = &px->listen_cfg->listens[i].address;
	if (a->kind == CFG_ADDR_UNIX) {
		int fd = fcntl(px->listen_fds[i], F_DUPFD_CLOEXEC, 0);
		if (fd < 0)
			log_error("listen %s: dup: %s", a->path, strerror(errno));
		return fd;
	}
	return tcp_listen(a);
}

void listeners_close(struct proxy *px)
{
	if (!px->listen_fds)
		return;
	const struct cfg *c = px->listen_cfg;
	for (size_t i = 0; i < c->n_listens; i++) {
		if (px->listen_fds[i] < 0)
			continue;
		close(px->listen_fds[i]);
		if (c->listens[i].address.kind == CFG_ADDR_UNIX)
			unlink(c->listens[i].address.path);
	}
	free(px->listen_fds);
	px->listen_fds = NULL;
}
