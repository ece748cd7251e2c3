/* test_child.c: core/child.c, the children of the local and sudo transports: a spawn in a
 * session of its own with one end of a socketpair as stdin, stdout and stderr (and more
 * descriptors, an environment, default signal handling), send and recv with EC_EAGAIN and
 * the pollset filled, 0 at end of stream and on a reset, EC_ECLOSED once the child is
 * gone, reaping a child that exits in its grace, one that ends on SIGTERM and one that
 * ignores it (SIGKILL), and the errors for a missing binary or #! interpreter.
 * The children are /bin/sh scripts; the test waits for what they print or for their
 * stream to end (poll), never for a time to pass. Off the broker thread, as here,
 * ec__child_reap waits for the child itself. */
#include "ecbuild.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "child.h"
#include "testutil.h"

/* A bound on every wait: reached only when something is broken. */
#define WAIT_MS 60000

static pid_t spawn_sh(const char *script, int *fd)
{
	char *argv[] = {"/bin/sh", "-c", (char *)script, NULL};
	pid_t pid = -1;
	struct ec_error err = {0};
	int rc = ec__child_spawn("childtest", argv, NULL, &pid, fd, &err);
	if (rc)
		fprintf(stderr, "spawn: %s\n", err.msg);
	return rc ? -1 : pid;
}

/* Wait for what a pollset asks for; 1 when it came. */
static int wait_for(const struct ec_pollset *ps)
{
	struct pollfd p = {.fd = ps->fds[0].fd,
	                   .events = (short)((ps->fds[0].events & EC_POLL_IN ? POLLIN : 0) |
	                                     (ps->fds[0].events & EC_POLL_OUT ? POLLOUT : 0))};
	int n;
	while ((n = poll(&p, 1, WAIT_MS)) < 0 && errno == EINTR)
		;
	return n == 1;
}

/* Receive into buf (a string) until it holds text (NULL: until the end of the stream).
 * Returns what recv returned last: 0 at the end, > 0 once text came, < 0 on an error. */
static ssize_t recv_until(int fd, char *buf, size_t cap, const char *text)
{
	size_t len = strlen(buf);
	for (;;) {
		if (text && strstr(buf, text))
			return 1;
		struct ec_pollset ps = {.cap = EC_POLLSET_CAP};
		struct ec_error err = {0};
		ssize_t n = ec__child_recv(fd, buf + len, cap - 1 - len, &ps, "childtest", &err);
		if (n == EC_EAGAIN) {
			if (!wait_for(&ps))
				return EC_ETIMEDOUT;
			continue;
		}
		if (n <= 0)
			return n;
		len += (size_t)n;
		buf[len] = '\0';
	}
}

/* 1 if pid has been reaped (it is no child of ours any more). */
static int reaped(pid_t pid)
{
	return waitpid(pid, NULL, WNOHANG) < 0 && errno == ECHILD;
}

static int open_fds(void)
{
	int n = 0;
	for (int fd = 0; fd < 1024; fd++)
		if (fcntl(fd, F_GETFD) >= 0)
			n++;
	return n;
}

/* ---- spawn ------------------------------------------------------------------------ */

static void t_spawn_session_stdio(void)
{
	int fd = -1;
	pid_t pid = spawn_sh("read x; echo \"out:$x\"; echo \"err:$x\" >&2", &fd);
	CU_ASSERT_FATAL(pid > 0);
	CU_ASSERT_FATAL(fd >= 0);
	/* The master's end: non-blocking, closed at exec. */
	CU_ASSERT_TRUE(fcntl(fd, F_GETFL) & O_NONBLOCK);
	CU_ASSERT_TRUE(fcntl(fd, F_GETFD) & FD_CLOEXEC);
	/* It waits for a line, so it is there to look at: a session of its own... */
	CU_ASSERT_EQUAL(getsid(pid), pid);
	CU_ASSERT_EQUAL(getpgid(pid), pid);
	CU_ASSERT_NOT_EQUAL(getsid(pid), getsid(0));
	/* ...whose stdin, stdout and stderr are one socket (the other end of ours). */
	char path[64], link[3][64];
	for (int i = 0; i < 3; i++) {
		snprintf(path, sizeof(path), "/proc/%ld/fd/%d", (long)pid, i);
		ssize_t n = readlink(path, link[i], sizeof(link[i]) - 1);
		link[i][n > 0 ? n : 0] = '\0';
	}
	CU_ASSERT_EQUAL(strncmp(link[0], "socket:[", 8), 0);
	CU_ASSERT_STRING_EQUAL(link[0], link[1]);
	CU_ASSERT_STRING_EQUAL(link[0], link[2]);
	struct stat st;
	CU_ASSERT_TRUE(fstat(fd, &st) == 0 && S_ISSOCK(st.st_mode));

	/* Nothing to read yet: EC_EAGAIN, and the pollset says wait for input. */
	char buf[256] = "";
	struct ec_pollset ps = {.cap = EC_POLLSET_CAP};
	struct ec_error err = {0};
	CU_ASSERT_EQUAL(ec__child_recv(fd, buf, sizeof(buf), &ps, "childtest", &err), EC_EAGAIN);
	CU_ASSERT_EQUAL(ps.fds[0].fd, fd);
	CU_ASSERT_EQUAL(ps.fds[0].events, EC_POLL_IN);
	/* Its stdin gets our bytes; its stdout and stderr come back, then the end. */
	CU_ASSERT_EQUAL(ec__child_send(fd, "hello\n", 6, &ps, "childtest", &err), 6);
	CU_ASSERT_EQUAL(recv_until(fd, buf, sizeof(buf), NULL), 0);
	CU_ASSERT_STRING_EQUAL(buf, "out:hello\nerr:hello\n");
	/* At the end it stays 0. */
	CU_ASSERT_EQUAL(ec__child_recv(fd, buf, sizeof(buf), &ps, "childtest", &err), 0);
	ec__child_reap(pid, WAIT_MS, -1);
	CU_ASSERT_TRUE(reaped(pid));
	close(fd);
}

static void t_spawn_fds_env_signals(void)
{
	/* Blocked and ignored here: neither is the child's. */
	sigset_t usr1, old;
	sigemptyset(&usr1);
	sigaddset(&usr1, SIGUSR1);
	pthread_sigmask(SIG_BLOCK, &usr1, &old);
	struct sigaction ignore = {.sa_handler = SIG_IGN}, was;
	sigaction(SIGUSR2, &ignore, &was);

	int pfd[2];
	CU_ASSERT_FATAL(pipe(pfd) == 0);
	const int dups[][2] = {{-1, 3}, {pfd[1], 4}};
	char *argv[] = {"any-name", "-c",
	                "echo \"$0 $EC_CHILD_TEST\"; echo via3 >&3; echo via4 >&4; "
	                "grep -E '^Sig(Blk|Ign):' /proc/self/status",
	                NULL};
	char *envp[] = {"EC_CHILD_TEST=42", "PATH=/usr/bin:/bin", NULL};
	pid_t pid = -1;
	int fd = -1;
	struct ec_error err = {0};
	int rc = ec__child_spawn_fds("childtest", "/bin/sh", argv, envp, dups, 2, &pid, &fd, &err);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	sigaction(SIGUSR2, &was, NULL);
	close(pfd[1]);
	CU_ASSERT_EQUAL_FATAL(rc, 0);
	char buf[512] = "", piped[64] = "";
	CU_ASSERT_EQUAL(recv_until(fd, buf, sizeof(buf), NULL), 0);
	ssize_t n = read(pfd[0], piped, sizeof(piped) - 1);
	piped[n > 0 ? n : 0] = '\0';
	close(pfd[0]);
	fprintf(stderr, "    child printed: %s", buf);
	/* argv[0] as given, the environment given, fd 3 the socket, fd 4 the pipe. */
	CU_ASSERT_PTR_NOT_NULL(strstr(buf, "any-name 42\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(buf, "via3\n"));
	CU_ASSERT_STRING_EQUAL(piped, "via4\n");
	/* Nothing blocked, no standard signal ignored (grep, the last exec, shows it; the
	 * real-time ones glibc keeps for itself are not posix_spawn's to reset). */
	const char *blk = strstr(buf, "SigBlk:"), *ign = strstr(buf, "SigIgn:");
	CU_ASSERT_TRUE(blk && strtoull(blk + 7, NULL, 16) == 0);
	CU_ASSERT_TRUE(ign && (strtoull(ign + 7, NULL, 16) & 0x7fffffffULL) == 0);
	ec__child_reap(pid, WAIT_MS, -1);
	CU_ASSERT_TRUE(reaped(pid));
	close(fd);
}

/* ---- send and recv ------------------------------------------------------------------ */

static void t_send_eagain_closed(void)
{
	/* A child that never reads: the socket fills up. Found in $PATH. */
	char *argv[] = {"sleep", "600", NULL};
	pid_t pid = -1;
	int fd = -1;
	struct ec_error err = {0};
	CU_ASSERT_EQUAL_FATAL(ec__child_spawn("childtest", argv, NULL, &pid, &fd, &err), 0);
	static char chunk[65536];
	memset(chunk, 'x', sizeof(chunk));
	struct ec_pollset ps = {.cap = EC_POLLSET_CAP};
	ssize_t n = 0;
	for (int i = 0; i < 4096 && n != EC_EAGAIN; i++)
		n = ec__child_send(fd, chunk, sizeof(chunk), &ps, "childtest", &err);
	CU_ASSERT_EQUAL(n, EC_EAGAIN);
	CU_ASSERT_EQUAL(ps.fds[0].fd, fd);
	CU_ASSERT_EQUAL(ps.fds[0].events, EC_POLL_OUT);
	/* Ends on SIGTERM, after no grace. */
	ec__child_reap(pid, 0, WAIT_MS);
	CU_ASSERT_TRUE(reaped(pid));
	/* It went with our bytes unread: a reset, which reads as the end... */
	char buf[64];
	CU_ASSERT_EQUAL(ec__child_recv(fd, buf, sizeof(buf), &ps, "childtest", &err), 0);
	/* ...and writing is an error that names the context. */
	memset(&err, 0, sizeof(err));
	CU_ASSERT_EQUAL(ec__child_send(fd, "x", 1, &ps, "childtest", &err), EC_ECLOSED);
	CU_ASSERT_EQUAL(err.code, EC_ECLOSED);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "writing to context 'childtest'"));
	close(fd);
}

static void t_recv_reset(void)
{
	/* sh's read takes one byte at a time: "extra" is still unread when it exits. */
	int fd = -1;
	pid_t pid = spawn_sh("read x; echo \"got $x\"", &fd);
	CU_ASSERT_FATAL(pid > 0);
	struct ec_pollset ps = {.cap = EC_POLLSET_CAP};
	struct ec_error err = {0};
	CU_ASSERT_EQUAL(ec__child_send(fd, "go\nextra", 8, &ps, "childtest", &err), 8);
	char buf[64] = "";
	CU_ASSERT_EQUAL(recv_until(fd, buf, sizeof(buf), NULL), 0);
	CU_ASSERT_STRING_EQUAL(buf, "got go\n");
	ec__child_reap(pid, WAIT_MS, -1);
	CU_ASSERT_TRUE(reaped(pid));
	close(fd);
}

/* ---- reap -------------------------------------------------------------------------- */

struct reap_args {
	pid_t pid;
	int grace_ms, term_ms;
};

static void *reap_thread(void *arg)
{
	struct reap_args *a = arg;
	ec__child_reap(a->pid, a->grace_ms, a->term_ms);
	return NULL;
}

/* Reap pid on a thread while this one sends line (if not NULL) and reads fd into buf to
 * the end of the stream; what recv_until returned (0: the end came). Should the end not
 * come, SIGKILL lets the thread go: a failure, not a hang. */
static ssize_t reap_reading(pid_t pid, int fd, int grace_ms, int term_ms, const char *line,
                            char *buf, size_t cap)
{
	struct reap_args a = {pid, grace_ms, term_ms};
	pthread_t t;
	if (pthread_create(&t, NULL, reap_thread, &a))
		return -1;
	struct ec_pollset ps = {.cap = EC_POLLSET_CAP};
	struct ec_error err = {0};
	if (line)
		CU_ASSERT_EQUAL(ec__child_send(fd, line, strlen(line), &ps, "childtest", &err),
		                (ssize_t)strlen(line));
	ssize_t end = recv_until(fd, buf, cap, NULL);
	if (end != 0)
		kill(pid, SIGKILL);
	pthread_join(t, NULL);
	return end;
}

/* A script that says "ready" once its traps are set; buf gets that. */
static pid_t spawn_ready(const char *script, int *fd, char *buf, size_t cap)
{
	pid_t pid = spawn_sh(script, fd);
	if (pid > 0 && recv_until(*fd, buf, cap, "ready\n") != 1) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		close(*fd);
		return -1;
	}
	return pid;
}

static void t_reap_exits_in_grace(void)
{
	/* Reaping starts while it still runs; it exits when told, well in its grace (no
	 * SIGTERM asked for: term_ms -1). */
	int fd = -1;
	pid_t pid = spawn_sh("read x; echo \"bye $x\"; exit 3", &fd);
	CU_ASSERT_FATAL(pid > 0);
	char buf[64] = "";
	CU_ASSERT_EQUAL(reap_reading(pid, fd, WAIT_MS, -1, "now\n", buf, sizeof(buf)), 0);
	CU_ASSERT_TRUE(reaped(pid));
	CU_ASSERT_STRING_EQUAL(buf, "bye now\n");
	close(fd);
}

static void t_reap_term(void)
{
	/* After the grace, SIGTERM: the child says so and exits. */
	int fd = -1;
	char buf[64] = "";
	pid_t pid = spawn_ready("trap 'echo term; exit 0' TERM; echo ready; read x", &fd, buf,
	                        sizeof(buf));
	CU_ASSERT_FATAL(pid > 0);
	CU_ASSERT_EQUAL(reap_reading(pid, fd, 0, WAIT_MS, NULL, buf, sizeof(buf)), 0);
	CU_ASSERT_TRUE(reaped(pid));
	CU_ASSERT_STRING_EQUAL(buf, "ready\nterm\n");
	close(fd);
}

static void t_reap_ignores_term(void)
{
	/* It ignores SIGTERM and waits for a line that never comes: only SIGKILL ends it. */
	int fd = -1;
	char buf[64] = "";
	pid_t pid = spawn_ready("trap '' TERM; echo ready; read x; echo read", &fd, buf,
	                        sizeof(buf));
	CU_ASSERT_FATAL(pid > 0);
	CU_ASSERT_EQUAL(reap_reading(pid, fd, 50, 50, NULL, buf, sizeof(buf)), 0);
	CU_ASSERT_TRUE(reaped(pid));
	CU_ASSERT_STRING_EQUAL(buf, "ready\n");
	close(fd);
}

static void t_reap_nothing(void)
{
	/* No child (a spawn that failed leaves pid -1): nothing to do. */
	ec__child_reap(-1, 0, 0);
	ec__child_reap(0, 0, 0);
	CU_PASS("returned");
}

/* ---- errors ------------------------------------------------------------------------ */

static void t_missing_binary(void)
{
	int before = open_fds();
	/* A path that does not exist. */
	char *argv[] = {"/nonexistent/ec-python3", "-c", "pass", NULL};
	pid_t pid = 1234;
	int fd = -7;
	struct ec_error err = {0};
	CU_ASSERT_EQUAL(ec__child_spawn("ctx1", argv, NULL, &pid, &fd, &err), EC_EBOOT);
	CU_ASSERT_EQUAL(err.code, EC_EBOOT);
	CU_ASSERT_STRING_EQUAL(err.where, "ctx1");
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "cannot run /nonexistent/ec-python3: "));
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, strerror(ENOENT)));
	CU_ASSERT_EQUAL(pid, -1);
	CU_ASSERT_EQUAL(fd, -7);
	/* A name not in $PATH. */
	char *argv2[] = {"ec-no-such-python-7f3a", NULL};
	memset(&err, 0, sizeof(err));
	CU_ASSERT_EQUAL(ec__child_spawn("ctx2", argv2, NULL, &pid, &fd, &err), EC_EBOOT);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "cannot run ec-no-such-python-7f3a: "));
	CU_ASSERT_EQUAL(fd, -7);
	/* Both ends of the socketpair were closed. */
	CU_ASSERT_EQUAL(open_fds(), before);
}

static void t_missing_interpreter(void)
{
	/* A script that exists, whose #! interpreter does not: the interpreter is named. */
	char *path = ec_test_tmpfile("#!/nonexistent/ec-interp -u\necho never\n");
	CU_ASSERT_PTR_NOT_NULL_FATAL(path);
	CU_ASSERT_EQUAL(chmod(path, 0755), 0);
	char *argv[] = {"script", NULL};
	pid_t pid = 1234;
	int fd = -7;
	struct ec_error err = {0};
	CU_ASSERT_EQUAL(ec__child_spawn_fds("ctx3", path, argv, NULL, NULL, 0, &pid, &fd, &err),
	                EC_EBOOT);
	char want[512];
	snprintf(want, sizeof(want),
	         "cannot run %s: the interpreter on its #! line, /nonexistent/ec-interp, was not "
	         "found", path);
	CU_ASSERT_STRING_EQUAL(err.msg, want);
	CU_ASSERT_EQUAL(pid, -1);
	CU_ASSERT_EQUAL(fd, -7);
	unlink(path);
	free(path);
}

/* ---- registration ------------------------------------------------------------------- */

static CU_TestInfo spawn_tests[] = {
	{"own session; stdin, stdout, stderr the socketpair", t_spawn_session_stdio},
	{"file, more fds, environment, default signals", t_spawn_fds_env_signals},
	CU_TEST_INFO_NULL,
};

static CU_TestInfo io_tests[] = {
	{"send: EC_EAGAIN, pollset filled; EC_ECLOSED once gone", t_send_eagain_closed},
	{"recv: a reset reads as the end", t_recv_reset},
	CU_TEST_INFO_NULL,
};

static CU_TestInfo reap_tests[] = {
	{"a child that exits in its grace", t_reap_exits_in_grace},
	{"SIGTERM after the grace", t_reap_term},
	{"SIGTERM ignored: SIGKILL", t_reap_ignores_term},
	{"no child", t_reap_nothing},
	CU_TEST_INFO_NULL,
};

static CU_TestInfo error_tests[] = {
	{"a missing binary is named", t_missing_binary},
	{"a missing #! interpreter is named", t_missing_interpreter},
	CU_TEST_INFO_NULL,
};

static CU_SuiteInfo suites[] = {
	{"child: spawn", NULL, NULL, NULL, NULL, spawn_tests},
	{"child: send and recv", NULL, NULL, NULL, NULL, io_tests},
	{"child: reap", NULL, NULL, NULL, NULL, reap_tests},
	{"child: errors", NULL, NULL, NULL, NULL, error_tests},
	CU_SUITE_INFO_NULL,
};

int main(void)
{
	if (ec_test_register(suites))
		return 2;
	/* valgrind runs posix_spawn's child as a fork, whose failed exec is an exit 127,
	 * not an error of the spawn. */
	const char *pre = getenv("LD_PRELOAD");
	ec_test_suite_skip_unless(CU_get_suite("child: errors"), !(pre && strstr(pre, "vgpreload")),
	                          "child: errors", "under valgrind, a failed exec is not seen");
	return ec_test_run();
}
