/* reaper.h: the children of closed sources (a context's local or sudo process), waited
 * for by the loop's thread in its poll instead of in a sleep: a context that closed its
 * stream and lingers costs the others nothing while its grace period runs out, and one
 * that exits is reaped the moment it does (a pidfd in the poll set, where the kernel
 * has them). A source stays attached until its children are reaped (its reaping
 * count), so that ec_context_shutdown still returns with the process gone. */
#ifndef EC_CORE_REAPER_H
#define EC_CORE_REAPER_H

#include <poll.h>
#include <sys/types.h>

struct ec_source;
struct ec_reap;

struct ec_reaper {
	struct ec_reap *list;
};

/* The reaper of the loop running on this thread, and the source whose transport is
 * being closed (its children count in src->reaping); NULL off the loop's thread. */
void ec__reaper_bind(struct ec_reaper *r);
void ec__reaper_closing(struct ec_source *src);
/* Take pid over from a transport's close (ec__child_reap): wait grace_ms for it to
 * exit, then SIGTERM and term_ms more (term_ms >= 0), then SIGKILL. 0 when taken; -1
 * off the broker thread or out of memory (the caller then waits itself). */
int ec__reaper_adopt(pid_t pid, int grace_ms, int term_ms);
/* Poll entries for the pending children into pfds (at most room), and the next
 * deadline (monotonic ms) into *next (kept if sooner). Returns how many were added. */
size_t ec__reaper_pollset(struct ec_reaper *r, struct pollfd *pfds, size_t room,
                          long long now, long long *next);
size_t ec__reaper_count(const struct ec_reaper *r);
/* Reap what exited (pfds, n: what ec__reaper_pollset gave, after poll), signal what
 * is due. */
void ec__reaper_run(struct ec_reaper *r, const struct pollfd *pfds, size_t n, long long now);
/* At broker stop: nothing may be left (every source was detached), but should
 * anything be, kill and reap it now. */
void ec__reaper_finish(struct ec_reaper *r);

#endif
