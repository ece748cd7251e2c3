/* reaper.c: see reaper.h. */
#include "ecbuild.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "clock.h"
#include "reaper.h"
#include "source.h"

/* Without pidfds (Linux < 5.3, or a seccomp filter), a pending child is polled. */
#define TICK_MS 2
#define FOREVER (1LL << 62)

struct ec_reap {
	pid_t pid;
	int pidfd;            /* readable once the child exits; -1 when not available */
	int term_ms;          /* after the grace period: SIGTERM and this long; -1: SIGKILL */
	int stage;            /* 0 grace, 1 SIGTERM sent, 2 SIGKILL sent */
	long long due;        /* monotonic ms of the next signal */
	long slot;            /* its pidfd's index in the last pollset, or -1 */
	struct ec_source *src; /* whose children it is (its reaping count), or NULL */
	struct ec_reap *next;
};

static _Thread_local struct ec_reaper *bound;
static _Thread_local struct ec_source *closing;

void ec__reaper_bind(struct ec_reaper *r)
{
	bound = r;
}

void ec__reaper_closing(struct ec_source *src)
{
	closing = src;
}

static int open_pidfd(pid_t pid)
{
#ifdef SYS_pidfd_open
	int fd = (int)syscall(SYS_pidfd_open, pid, 0); /* close-on-exec */
	if (fd >= 0)
		return fd;
#else
	(void)pid;
#endif
	return -1;
}

int ec__reaper_adopt(pid_t pid, int grace_ms, int term_ms)
{
	if (!bound)
		return -1;
	struct ec_reap *e = calloc(1, sizeof(*e));
	if (!e)
		return -1;
	e->pid = pid;
	e->pidfd = open_pidfd(pid);
	e->term_ms = term_ms;
	e->due = ec__now_ms() + (grace_ms > 0 ? grace_ms : 0);
	e->slot = -1;
	e->src = closing;
	if (e->src)
		e->src->reaping++;
	e->next = bound->list;
	bound->list = e;
	return 0;
}

size_t ec__reaper_count(const struct ec_reaper *r)
{
	size_t n = 0;
	for (const struct ec_reap *e = r->list; e; e = e->next)
		n++;
	return n;
}

size_t ec__reaper_pollset(struct ec_reaper *r, struct pollfd *pfds, size_t room,
                          long long now, long long *next)
{
	size_t n = 0;
	for (struct ec_reap *e = r->list; e; e = e->next) {
		long long at = e->stage < 2 ? e->due : FOREVER;
		e->slot = -1;
		if (e->pidfd >= 0 && n < room) {
			e->slot = (long)n;
			pfds[n++] = (struct pollfd){.fd = e->pidfd, .events = POLLIN};
		} else if (now + TICK_MS < at) {
			at = now + TICK_MS;
		}
		if (!*next || at < *next)
			*next = at;
	}
	return n;
}

static void drop(struct ec_reap **pp)
{
	struct ec_reap *e = *pp;
	*pp = e->next;
	if (e->pidfd >= 0)
		close(e->pidfd);
	if (e->src)
		e->src->reaping--; /* the loop lets go of it when this reaches 0 */
	free(e);
}

void ec__reaper_run(struct ec_reaper *r, const struct pollfd *pfds, size_t n, long long now)
{
	for (struct ec_reap **pp = &r->list; *pp;) {
		struct ec_reap *e = *pp;
		/* A child whose pidfd is quiet has not exited: no waitpid for it (a fleet's
		 * shutdown would otherwise cost one per child per turn of the loop). */
		int quiet = e->slot >= 0 && (size_t)e->slot < n && !pfds[e->slot].revents;
		pid_t w = quiet ? 0 : waitpid(e->pid, NULL, WNOHANG);
		if (w == e->pid || (w < 0 && errno == ECHILD)) {
			drop(pp);
			continue;
		}
		if (e->stage < 2 && now >= e->due) {
			if (e->stage == 0 && e->term_ms >= 0) {
				kill(e->pid, SIGTERM);
				e->stage = 1;
				e->due = now + e->term_ms;
			} else {
				kill(e->pid, SIGKILL);
				e->stage = 2;
			}
		}
		pp = &e->next;
	}
}

void ec__reaper_finish(struct ec_reaper *r)
{
	while (r->list) {
		kill(r->list->pid, SIGKILL);
		while (waitpid(r->list->pid, NULL, 0) < 0 && errno == EINTR)
			;
		drop(&r->list);
	}
}
