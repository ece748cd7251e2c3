/* test_reaper.c: the reaper (core/reaper.h) bound to the test thread and driven by hand
 * as the loop drives it: a child that exits is reaped after its pidfd fires (or on the
 * reaper's tick without one), one that outlives its grace period gets SIGTERM, then
 * SIGKILL after term_ms (at once with term_ms -1), the closing source's reaping count,
 * adopting off a bound thread, and finish. Deadlines are passed in as `now`: the test
 * waits for the children, never for the clock. */
#include "ecbuild.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "clock.h"
#include "reaper.h"
#include "source.h"
#include "testutil.h"

/* An upper bound so that a missed event fails instead of hanging, never a verdict. */
#define WAIT_MS 10000
#define ROOM 8

static struct ec_reaper reaper;

/* The kernel gives pidfds here (valgrind 3.19 does not: the reaper ticks instead). */
static int have_pidfd(void)
{
#ifdef SYS_pidfd_open
	int fd = (int)syscall(SYS_pidfd_open, getpid(), 0);
	if (fd >= 0) {
		close(fd);
		return 1;
	}
#endif
	return 0;
}

static pid_t spawn_exit(void)
{
	pid_t pid = fork();
	if (pid == 0)
		_exit(0);
	CU_ASSERT_FATAL(pid > 0);
	return pid;
}

/* A byte from fd within WAIT_MS: the byte, 0 at EOF, -1 if none came. */
static int next_byte(int fd)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};
	if (poll(&p, 1, WAIT_MS) != 1)
		return -1;
	unsigned char c;
	ssize_t n = read(fd, &c, 1);
	return n == 1 ? c : n == 0 ? 0 : -1;
}

/* 1 if fd has a byte or EOF right now. */
static int ready_now(int fd)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};
	return poll(&p, 1, 0) == 1;
}

static int term_fd = -1; /* the child's end of its pipe */

static void on_term(int sig)
{
	(void)sig;
	ssize_t n = write(term_fd, "T", 1);
	(void)n;
}

/* A child that survives SIGTERM, saying 'T' on the pipe *fd for each; its end of the
 * pipe closes when it dies. Returns once it is ready. */
static pid_t spawn_stubborn(int *fd)
{
	int p[2];
	CU_ASSERT_EQUAL_FATAL(pipe2(p, O_CLOEXEC), 0);
	pid_t pid = fork();
	if (pid == 0) {
		close(p[0]);
		term_fd = p[1];
		struct sigaction sa = {.sa_handler = on_term};
		sigemptyset(&sa.sa_mask);
		sa.sa_flags = SA_RESTART;
		sigaction(SIGTERM, &sa, NULL);
		ssize_t n = write(p[1], "R", 1);
		(void)n;
		for (;;)
			pause();
	}
	CU_ASSERT_FATAL(pid > 0);
	close(p[1]);
	CU_ASSERT_EQUAL(next_byte(p[0]), 'R');
	*fd = p[0];
	return pid;
}

/* Run the reaper as the loop does, on the real clock, with room poll entries, until
 * it has at most left children (1) or WAIT_MS passed (0). */
static int drive(size_t room, size_t left)
{
	long long end = ec__now_ms() + WAIT_MS;
	while (ec__reaper_count(&reaper) > left) {
		long long now = ec__now_ms(), next = 0;
		if (now > end)
			return 0;
		struct pollfd pfds[ROOM];
		size_t n = ec__reaper_pollset(&reaper, pfds, room, now, &next);
		long long wait = next ? next - now : 100;
		poll(pfds, n, wait < 0 ? 0 : wait > 100 ? 100 : (int)wait);
		ec__reaper_run(&reaper, pfds, n, ec__now_ms());
	}
	return 1;
}

/* The test process has no child left, and pid is gone. */
static void assert_no_child(pid_t pid)
{
	pid_t w = waitpid(-1, NULL, WNOHANG);
	int e = errno;
	CU_ASSERT_EQUAL(w, -1);
	CU_ASSERT_EQUAL(e, ECHILD);
	int k = kill(pid, 0);
	e = errno;
	CU_ASSERT_EQUAL(k, -1);
	CU_ASSERT_EQUAL(e, ESRCH);
}

static void t_exit_reaped(void)
{
	pid_t pid = spawn_exit();
	/* A grace period the test never reaches: no signal is due. */
	CU_ASSERT_EQUAL(ec__reaper_adopt(pid, 60000, 1000), 0);
	CU_ASSERT_EQUAL(ec__reaper_count(&reaper), 1);
	long long now = ec__now_ms(), next = 0;
	struct pollfd pfds[ROOM];
	size_t n = ec__reaper_pollset(&reaper, pfds, ROOM, now, &next);
	if (have_pidfd()) {
		CU_ASSERT_EQUAL_FATAL(n, 1);
		CU_ASSERT(next >= now + 60000 - 1000); /* its grace deadline, nothing sooner */
		CU_ASSERT_EQUAL(poll(pfds, n, WAIT_MS), 1);
		CU_ASSERT(pfds[0].revents & POLLIN);
		ec__reaper_run(&reaper, pfds, n, ec__now_ms());
		CU_ASSERT_EQUAL(ec__reaper_count(&reaper), 0);
	} else {
		CU_ASSERT_EQUAL(n, 0);
		CU_ASSERT(next > 0 && next < now + 1000); /* a tick, long before the grace */
		CU_ASSERT(drive(ROOM, 0));
	}
	assert_no_child(pid);
}

/* Without a poll entry for its pidfd (no pidfds, or no room), a child is looked at on a
 * tick: the path valgrind takes. */
static void t_exit_reaped_on_tick(void)
{
	pid_t pid = spawn_exit();
	CU_ASSERT_EQUAL(ec__reaper_adopt(pid, 60000, 1000), 0);
	long long now = ec__now_ms(), next = 0;
	struct pollfd pfds[1];
	CU_ASSERT_EQUAL(ec__reaper_pollset(&reaper, pfds, 0, now, &next), 0);
	CU_ASSERT(next > 0 && next < now + 1000);
	CU_ASSERT(drive(0, 0));
	assert_no_child(pid);
}

static void t_term_then_kill(void)
{
	int fd;
	pid_t pid = spawn_stubborn(&fd);
	long long t0 = ec__now_ms();
	CU_ASSERT_EQUAL(ec__reaper_adopt(pid, 1000, 500), 0);
	long long t1 = ec__now_ms(), next = 0;
	struct pollfd pfds[ROOM];
	size_t n = ec__reaper_pollset(&reaper, pfds, ROOM, t0, &next);
	if (have_pidfd()) /* its grace deadline (else a tick before it) */
		CU_ASSERT(next >= t0 + 1000 && next <= t1 + 1000);
	ec__reaper_run(&reaper, pfds, n, t0);
	CU_ASSERT_FALSE(ready_now(fd)); /* nothing sent before the deadline */
	long long due = t1 + 1000;
	ec__reaper_run(&reaper, pfds, n, due);
	CU_ASSERT_EQUAL(next_byte(fd), 'T');
	CU_ASSERT_EQUAL(kill(pid, 0), 0);
	CU_ASSERT_EQUAL(ec__reaper_count(&reaper), 1);
	/* term_ms after the SIGTERM, SIGKILL. */
	next = 0;
	n = ec__reaper_pollset(&reaper, pfds, ROOM, due, &next);
	if (have_pidfd())
		CU_ASSERT_EQUAL(next, due + 500);
	ec__reaper_run(&reaper, pfds, n, due + 499);
	CU_ASSERT_FALSE(ready_now(fd));
	ec__reaper_run(&reaper, pfds, n, due + 500);
	CU_ASSERT_EQUAL(next_byte(fd), 0); /* dead, with no second 'T' */
	CU_ASSERT(drive(ROOM, 0));
	assert_no_child(pid);
	close(fd);
}

static void t_kill_at_once(void)
{
	int fd;
	pid_t pid = spawn_stubborn(&fd);
	CU_ASSERT_EQUAL(ec__reaper_adopt(pid, 0, -1), 0);
	struct pollfd pfds[ROOM];
	long long now = ec__now_ms(), next = 0;
	size_t n = ec__reaper_pollset(&reaper, pfds, ROOM, now, &next);
	ec__reaper_run(&reaper, pfds, n, now);
	CU_ASSERT_EQUAL(next_byte(fd), 0); /* SIGKILL: no 'T' first */
	CU_ASSERT(drive(ROOM, 0));
	assert_no_child(pid);
	close(fd);
}

static void t_closing_count(void)
{
	struct ec_source src = {0};
	int fd;
	pid_t stays = spawn_stubborn(&fd);
	pid_t exits = spawn_exit();
	ec__reaper_closing(&src);
	CU_ASSERT_EQUAL(ec__reaper_adopt(stays, 60000, -1), 0);
	CU_ASSERT_EQUAL(ec__reaper_adopt(exits, 60000, -1), 0);
	ec__reaper_closing(NULL);
	CU_ASSERT_EQUAL(src.reaping, 2);
	/* Not closing a source: not counted. */
	pid_t other = spawn_exit();
	CU_ASSERT_EQUAL(ec__reaper_adopt(other, 60000, -1), 0);
	CU_ASSERT_EQUAL(src.reaping, 2);
	CU_ASSERT(drive(ROOM, 1));
	CU_ASSERT_EQUAL(src.reaping, 1);
	CU_ASSERT_EQUAL(kill(stays, 0), 0);
	ec__reaper_finish(&reaper);
	CU_ASSERT_EQUAL(src.reaping, 0);
	CU_ASSERT_EQUAL(ec__reaper_count(&reaper), 0);
	assert_no_child(stays);
	close(fd);
}

static void *adopt_unbound(void *arg)
{
	return (void *)(long)ec__reaper_adopt(*(pid_t *)arg, 0, -1);
}

static void t_adopt_unbound(void)
{
	pid_t pid = spawn_exit();
	pthread_t th;
	void *rc = NULL;
	CU_ASSERT_EQUAL_FATAL(pthread_create(&th, NULL, adopt_unbound, &pid), 0);
	pthread_join(th, &rc);
	CU_ASSERT_EQUAL((long)rc, -1);
	ec__reaper_bind(NULL);
	CU_ASSERT_EQUAL(ec__reaper_adopt(pid, 0, -1), -1);
	ec__reaper_bind(&reaper);
	CU_ASSERT_EQUAL(ec__reaper_count(&reaper), 0);
	/* The caller then waits itself. */
	CU_ASSERT_EQUAL(waitpid(pid, NULL, 0), pid);
	assert_no_child(pid);
}

static void t_finish(void)
{
	struct ec_source src = {0};
	int fd1, fd2;
	pid_t p1 = spawn_stubborn(&fd1), p2 = spawn_stubborn(&fd2);
	ec__reaper_closing(&src);
	CU_ASSERT_EQUAL(ec__reaper_adopt(p1, 60000, 1000), 0);
	CU_ASSERT_EQUAL(ec__reaper_adopt(p2, 60000, 1000), 0);
	ec__reaper_closing(NULL);
	CU_ASSERT_EQUAL(src.reaping, 2);
	ec__reaper_finish(&reaper);
	CU_ASSERT_EQUAL(ec__reaper_count(&reaper), 0);
	CU_ASSERT_EQUAL(src.reaping, 0);
	CU_ASSERT_EQUAL(next_byte(fd1), 0); /* killed, not asked */
	CU_ASSERT_EQUAL(next_byte(fd2), 0);
	assert_no_child(p1);
	assert_no_child(p2);
	close(fd1);
	close(fd2);
}

static int suite_init(void)
{
	ec__reaper_bind(&reaper);
	return 0;
}

static int suite_cleanup(void)
{
	ec__reaper_finish(&reaper);
	ec__reaper_bind(NULL);
	return 0;
}

static CU_TestInfo reaper_tests[] = {
	{"a child that exits is reaped when its pidfd fires", t_exit_reaped},
	{"without a poll entry, a child is reaped on a tick", t_exit_reaped_on_tick},
	{"SIGTERM at the grace deadline, SIGKILL term_ms later", t_term_then_kill},
	{"term_ms -1: SIGKILL at the grace deadline", t_kill_at_once},
	{"the closing source counts its children until reaped", t_closing_count},
	{"adopt off a bound thread returns -1", t_adopt_unbound},
	{"finish kills and reaps what is left", t_finish},
	CU_TEST_INFO_NULL,
};

static CU_SuiteInfo suites[] = {
	{"reaper", suite_init, suite_cleanup, NULL, NULL, reaper_tests},
	CU_SUITE_INFO_NULL,
};

int main(void)
{
	if (CU_initialize_registry() != CUE_SUCCESS || CU_register_suites(suites) != CUE_SUCCESS)
		return 2;
	return ec_test_run();
}
