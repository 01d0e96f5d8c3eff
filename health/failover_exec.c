/*
 * failover_exec.c — the failover_command child (failover_exec.h).
 */
#include "health/failover_exec.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

pid_t fo_exec_start(const char *command, const char *old_primary, const char *new_primary, char *why,
		    size_t cap)
{
	char script[4200];
	if (snprintf(script, sizeof(script), "%s \"$@\"", command) >= (int)sizeof(script)) {
		snprintf(why, cap, "failover_command is too long");
		return -1;
	}
	char *const argv[] = { "/bin/sh", "-c", script, "switchyard-failover", (char *)old_primary,
			       (char *)new_primary, NULL };
	pid_t pid = fork();
	if (pid < 0) {
		snprintf(why, cap, "fork: %s", strerror(errno));
		return -1;
	}
	if (pid == 0) {
		/* Only async-signal-safe calls until exec. */
		sigset_t none;
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		signal(SIGPIPE, SIG_DFL);
		setpgid(0, 0);
		int fd = open("/dev/null", O_RDONLY);
		if (fd >= 0) {
			dup2(fd, 0);
			if (fd > 2)
				close(fd);
		}
		execv("/bin/sh", argv);
		_exit(127);
	}
	setpgid(pid, pid); /* also from here: no race with an early kill */
	return pid;
}

enum fo_exec_status fo_exec_poll(pid_t pid, char *why, size_t cap)
{
	int st = 0;
	pid_t r = waitpid(pid, &st, WNOHANG);
	if (r == 0)
		return FO_EXEC_RUNNING;
	if (r < 0) {
		snprintf(why, cap, "waitpid: %s", strerror(errno));
		return FO_EXEC_FAILED;
	}
	if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
		return FO_EXEC_OK;
	if (WIFEXITED(st))
		snprintf(why, cap, "failover_command exited with status %d", WEXITSTATUS(st));
	else if (WIFSIGNALED(st))
		snprintf(why, cap, "failover_command was killed by signal %d", WTERMSIG(st));
	else
		snprintf(why, cap, "failover_command ended abnormally");
	return FO_EXEC_FAILED;
}

void fo_exec_kill(pid_t pid)
{
	kill(-pid, SIGKILL);
	kill(pid, SIGKILL);
	int st;
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
}
