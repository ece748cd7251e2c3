/* child.c: see child.h. */
#include "ecbuild.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "child.h"
#include "error.h"
#include "fileio.h"
#include "reaper.h"

extern char **environ;

/* SO_SNDBUF of each end of a child's stream (the kernel doubles it). */
#define CHILD_SNDBUF (1 << 20)

int ec__child_spawn(const char *who, char *const argv[], char *const envp[], pid_t *pid,
                    int *fd, struct ec_error *err)
{
	return ec__child_spawn_fds(who, NULL, argv, envp, NULL, 0, pid, fd, err);
}

/* A script that exists but whose #! interpreter does not fails with ENOENT, which
 * would read as if the script were missing: 1 with the interpreter's path in out. */
static int shebang_of(const char *path, char *out, size_t outlen)
{
	if (!strchr(path, '/'))
		return 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	char line[256];
	ssize_t n = ec__read_full(fd, line, sizeof(line) - 1);
	close(fd);
	if (n < 3 || line[0] != '#' || line[1] != '!')
		return 0;
	line[n] = '\0';
	char *p = line + 2;
	p += strspn(p, " \t");
	size_t len = strcspn(p, " \t\r\n");
	if (!len || len >= outlen)
		return 0;
	memcpy(out, p, len);
	out[len] = '\0';
	return 1;
}

int ec__child_spawn_fds(const char *who, const char *file, char *const argv[],
                        char *const envp[], const int (*dups)[2], size_t ndups, pid_t *pid,
                        int *fd, struct ec_error *err)
{
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return ec__error_sys(err, who, "socketpair");
	/* Room for a whole file chunk's frame (256 KiB) and more each way: at the default
	 * (208 KiB here) every such frame took the master three sends and a poll, and the
	 * context three reads, in lockstep (docs/benchmarks.md, "Local put"). A limit,
	 * not an allocation; the kernel caps it at net.core.wmem_max (where lower, what
	 * it allows). */
	int sndbuf = CHILD_SNDBUF;
	for (int i = 0; i < 2; i++)
		setsockopt(sv[i], SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	posix_spawn_file_actions_init(&fa);
	posix_spawnattr_init(&attr);
	/* dup2 clears FD_CLOEXEC on the copies; the originals close at exec. */
	posix_spawn_file_actions_adddup2(&fa, sv[1], 0);
	posix_spawn_file_actions_adddup2(&fa, sv[1], 1);
	posix_spawn_file_actions_adddup2(&fa, sv[1], 2);
	for (size_t i = 0; i < ndups; i++)
		posix_spawn_file_actions_adddup2(&fa, dups[i][0] < 0 ? sv[1] : dups[i][0],
		                                 dups[i][1]);
	/* Its own session: a ^C at the master's terminal is the master's business (and
	 * no controlling terminal: sudo -S reads its password from the stream); the
	 * child leaves when its stream ends. Default signal handling and mask. */
	sigset_t none, all;
	sigemptyset(&none);
	sigfillset(&all);
	posix_spawnattr_setsigmask(&attr, &none);
	posix_spawnattr_setsigdefault(&attr, &all);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSID | POSIX_SPAWN_SETSIGMASK |
	                                    POSIX_SPAWN_SETSIGDEF);
	int rc = file ? posix_spawn(pid, file, &fa, &attr, argv, envp ? envp : environ)
	              : posix_spawnp(pid, argv[0], &fa, &attr, argv, envp ? envp : environ);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&attr);
	close(sv[1]);
	if (rc) {
		close(sv[0]);
		*pid = -1;
		const char *path = file ? file : argv[0];
		char interp[256];
		if (rc == ENOENT && shebang_of(path, interp, sizeof(interp)))
			return ec__error_set(err, EC_EBOOT, who,
			                     "cannot run %s: the interpreter on its #! line, %s, was not "
			                     "found", path, interp);
		return ec__error_set(err, EC_EBOOT, who, "cannot run %s: %s", path, strerror(rc));
	}
	*fd = sv[0];
	fcntl(*fd, F_SETFL, fcntl(*fd, F_GETFL) | O_NONBLOCK);
	return 0;
}

ssize_t ec__child_send(int fd, const void *buf, size_t len, struct ec_pollset *ps,
                       const char *who, struct ec_error *err)
{
	ssize_t n;
	do
		n = send(fd, buf, len, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	if (n >= 0)
		return n;
	if (errno == EAGAIN || errno == EWOULDBLOCK) {
		ec_pollset_add(ps, fd, EC_POLL_OUT);
		return EC_EAGAIN;
	}
	return ec__error_set(err, EC_ECLOSED, who, "writing to context '%s': %s", who,
	                     strerror(errno));
}

ssize_t ec__child_recv(int fd, void *buf, size_t len, struct ec_pollset *ps, const char *who,
                       struct ec_error *err)
{
	ssize_t n;
	do
		n = recv(fd, buf, len, 0);
	while (n < 0 && errno == EINTR);
	if (n >= 0)
		return n;
	if (errno == EAGAIN || errno == EWOULDBLOCK) {
		ec_pollset_add(ps, fd, EC_POLL_IN);
		return EC_EAGAIN;
	}
	if (errno == ECONNRESET)
		return 0;
	return ec__error_set(err, EC_ECLOSED, who, "reading from context '%s': %s", who,
	                     strerror(errno));
}

/* Wait up to ms for pid; 1 when it is gone (reaped). */
static int wait_gone(pid_t pid, int ms)
{
	struct timespec step = {0, 1000000};
	for (int waited = 0;; waited++) {
		pid_t r = waitpid(pid, NULL, WNOHANG);
		if (r == pid || (r < 0 && errno == ECHILD))
			return 1;
		if (waited >= ms)
			return 0;
		nanosleep(&step, NULL);
	}
}

void ec__child_reap(pid_t pid, int grace_ms, int term_ms)
{
	/* On the broker thread, the reaper waits in the broker's poll; elsewhere (a
	 * transport destroyed that no broker ran), here. */
	if (pid <= 0 || ec__reaper_adopt(pid, grace_ms, term_ms) == 0 || wait_gone(pid, grace_ms))
		return;
	if (term_ms >= 0) {
		kill(pid, SIGTERM);
		if (wait_gone(pid, term_ms))
			return;
	}
	kill(pid, SIGKILL);
	while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
		;
}
