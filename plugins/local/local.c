/* local.c: the `local` transport: the boot command as a child process of the master,
 * its stdin, stdout and stderr one end of a socketpair. */
#include "ecbuild.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "econtext/transport.h"

extern char **environ;

struct local {
	const struct ec_host *host;
	char *name;
	pid_t pid;
	int fd;
};

static int local_load(const struct ec_host *host, void **state, struct ec_error *err)
{
	(void)err;
	*state = (void *)host;
	return 0;
}

static int local_create(void *state, const struct ec_cfg *cfg, const struct ec_transport_info *info,
                        void **inst, struct ec_error *err)
{
	(void)cfg;
	const struct ec_host *host = state;
	if (info->below)
		return host->error_set(err, EC_ECONFIG, host->cfg_where(cfg, "via"),
		                       "context '%s': the local transport cannot run via another "
		                       "context", info->context_name);
	struct local *l = calloc(1, sizeof(*l));
	if (!l || !(l->name = strdup(info->context_name))) {
		free(l);
		return host->error_set(err, EC_ENOMEM, info->context_name, "out of memory");
	}
	l->host = host;
	l->pid = -1;
	l->fd = -1;
	*inst = l;
	return 0;
}

static int local_start(void *inst, const struct ec_argv *argv, struct ec_pollset *ps,
                       struct ec_error *err)
{
	struct local *l = inst;
	(void)ps;
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return l->host->error_set(err, EC_ESYS, l->name, "socketpair: %s", strerror(errno));
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	posix_spawn_file_actions_init(&fa);
	posix_spawnattr_init(&attr);
	/* dup2 clears FD_CLOEXEC on the copies; the originals close at exec. */
	posix_spawn_file_actions_adddup2(&fa, sv[1], 0);
	posix_spawn_file_actions_adddup2(&fa, sv[1], 1);
	posix_spawn_file_actions_adddup2(&fa, sv[1], 2);
	/* Its own session: a ^C at the master's terminal is the master's business; the
	 * context leaves when its stream ends. Default signal handling and mask. */
	sigset_t none, all;
	sigemptyset(&none);
	sigfillset(&all);
	posix_spawnattr_setsigmask(&attr, &none);
	posix_spawnattr_setsigdefault(&attr, &all);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSID | POSIX_SPAWN_SETSIGMASK |
	                                    POSIX_SPAWN_SETSIGDEF);
	int rc = posix_spawnp(&l->pid, argv->argv[0], &fa, &attr, argv->argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&attr);
	close(sv[1]);
	if (rc) {
		close(sv[0]);
		l->pid = -1;
		return l->host->error_set(err, EC_EBOOT, l->name, "cannot run %s: %s", argv->argv[0],
		                          strerror(rc));
	}
	l->fd = sv[0];
	fcntl(l->fd, F_SETFL, fcntl(l->fd, F_GETFL) | O_NONBLOCK);
	return 0;
}

static ssize_t local_send(void *inst, const void *buf, size_t len, struct ec_pollset *ps,
                          struct ec_error *err)
{
	struct local *l = inst;
	ssize_t n;
	do
		n = send(l->fd, buf, len, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	if (n >= 0)
		return n;
	if (errno == EAGAIN || errno == EWOULDBLOCK) {
		ps->fd = l->fd;
		ps->events = EC_POLL_OUT;
		return EC_EAGAIN;
	}
	return l->host->error_set(err, EC_ECLOSED, l->name, "writing to context '%s': %s", l->name,
	                          strerror(errno));
}

static ssize_t local_recv(void *inst, void *buf, size_t len, struct ec_pollset *ps,
                          struct ec_error *err)
{
	struct local *l = inst;
	ssize_t n;
	do
		n = recv(l->fd, buf, len, 0);
	while (n < 0 && errno == EINTR);
	if (n >= 0)
		return n;
	if (errno == EAGAIN || errno == EWOULDBLOCK) {
		ps->fd = l->fd;
		ps->events = EC_POLL_IN;
		return EC_EAGAIN;
	}
	if (errno == ECONNRESET)
		return 0;
	return l->host->error_set(err, EC_ECLOSED, l->name, "reading from context '%s': %s",
	                          l->name, strerror(errno));
}

static void local_pollset(void *inst, struct ec_pollset *ps)
{
	struct local *l = inst;
	ps->fd = l->fd;
	ps->events = EC_POLL_IN;
}

static void local_close(void *inst, int grace_ms)
{
	struct local *l = inst;
	if (l->fd >= 0) {
		close(l->fd);
		l->fd = -1;
	}
	if (l->pid <= 0)
		return;
	/* The context exits by itself at end of stream; give it grace_ms, then kill. */
	struct timespec step = {0, 1000000};
	for (int waited = 0;; waited++) {
		pid_t r = waitpid(l->pid, NULL, WNOHANG);
		if (r == l->pid || (r < 0 && errno == ECHILD)) {
			l->pid = -1;
			return;
		}
		if (waited >= grace_ms)
			break;
		nanosleep(&step, NULL);
	}
	kill(l->pid, SIGKILL);
	while (waitpid(l->pid, NULL, 0) < 0 && errno == EINTR)
		;
	l->pid = -1;
}

static void local_destroy(void *inst)
{
	struct local *l = inst;
	if (!l)
		return;
	local_close(l, 0);
	free(l->name);
	free(l);
}

static const struct ec_transport_ops local_ops = {
	.size = sizeof(struct ec_transport_ops),
	.create = local_create,
	.start = local_start,
	.send = local_send,
	.recv = local_recv,
	.pollset = local_pollset,
	.close = local_close,
	.destroy = local_destroy,
};

EC_PLUGIN_DEFINE(local, .version = "0.1.0", .kind = EC_PLUGIN_TRANSPORT, .params = NULL,
                 .load = local_load, .ops = &local_ops)
