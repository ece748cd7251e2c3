/* child.h: a boot command run as a child of the master, its stdin, stdout and stderr one
 * end of a socketpair: spawning it, moving bytes, reaping it. The local and sudo
 * transports reach these through the host table (struct ec_host). */
#ifndef EC_CORE_CHILD_H
#define EC_CORE_CHILD_H

#include <sys/types.h>

#include "econtext/transport.h"

/* Run argv (envp NULL: the master's environment) in its own session with default
 * signal handling; *fd is the master's end, non-blocking and close-on-exec. */
int ec__child_spawn(const char *who, char *const argv[], char *const envp[], pid_t *pid,
                    int *fd, struct ec_error *err);
/* The same with more: file (not NULL) is run as is, not looked up in $PATH, with argv
 * (argv[0] any name); after 0, 1 and 2, each dups[i][0] (-1: the child's end of the
 * socketpair) becomes the child's fd dups[i][1]. */
int ec__child_spawn_fds(const char *who, const char *file, char *const argv[],
                        char *const envp[], const int (*dups)[2], size_t ndups, pid_t *pid,
                        int *fd, struct ec_error *err);
/* send/recv on fd with the transport contract: bytes, EC_EAGAIN with ps filled, or
 * EC_ECLOSED naming `who`; recv returns 0 at end of stream (also on ECONNRESET). */
ssize_t ec__child_send(int fd, const void *buf, size_t len, struct ec_pollset *ps,
                       const char *who, struct ec_error *err);
ssize_t ec__child_recv(int fd, void *buf, size_t len, struct ec_pollset *ps, const char *who,
                       struct ec_error *err);
/* Wait up to grace_ms for pid to exit; then, if term_ms >= 0, SIGTERM and wait up to
 * term_ms; then SIGKILL. Always reaps: on the broker thread, asynchronously (the
 * reaper, core/reaper.h), elsewhere before it returns. */
void ec__child_reap(pid_t pid, int grace_ms, int term_ms);

#endif
