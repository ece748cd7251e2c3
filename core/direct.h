/* direct.h: the direct boot of a local context (docs/protocol.md §1, "Direct boot").
 *
 * The first stage exists to get the payload into an interpreter that a command line
 * started somewhere else, and to re-execute it under a name of ours. When the
 * interpreter runs here, as the master's user, the master can do both itself: it
 * executes the interpreter under that name at once, with the program on stdin and the
 * core on fd 102, as the exec stage would have. That saves a whole interpreter start
 * (4 to 11 ms, most of a boot). What the first stage would have computed from the real
 * executable (sys.executable, sys.path, the PYTHONHOME of the base installation) comes
 * from an entry the master kept after that interpreter's last first-stage boot; the
 * entry's name covers everything that decides those values (the binary, the path it
 * is run by, the environment variables that move sys.path, a virtualenv's
 * pyvenv.cfg), so a change makes a miss, and a miss boots through the first stage and
 * fills the entry. A direct boot that fails to start drops its entry and the connect
 * boots through the first stage once more. */
#ifndef EC_CORE_DIRECT_H
#define EC_CORE_DIRECT_H

#include <limits.h>
#include <sys/types.h>

#include "buf.h"
#include "codecache.h"
#include "econtext/errors.h"

struct ec_direct {
	char entry[EC_CODECACHE_NAME_MAX]; /* the boot entry it came from */
	char path[PATH_MAX];               /* the file to execute */
	char **envp;                       /* its environment; freed once spawned */
	/* The master's ends (broker thread): stdin and fd 102 of the interpreter, written
	 * once the connecting thread has built prog and code, then closed; -1 after. */
	int prog_fd, code_fd;
	struct ec_buf prog, code; /* what they carry (prog holds the key: wiped) */
};

/* The entry's name for `python` in this master's environment into name, and the file
 * to execute into path; -1 when `python` cannot boot directly (not found, not a
 * binary, found through a relative $PATH entry). */
int ec__direct_name(const char *python, char name[EC_CODECACHE_NAME_MAX], char path[PATH_MAX]);

/* A direct boot of `python` from its entry, with the environment made; NULL on a miss
 * or when out of memory. Connecting thread. */
struct ec_direct *ec__direct_new(const char *python);

/* Spawn the interpreter under argv[0] `argv0` (broker thread): *pid, and *fd the
 * master's end of its stream, as ec__child_spawn gives them. */
int ec__direct_spawn(struct ec_direct *d, const char *who, const char *argv0, pid_t *pid,
                     int *fd, struct ec_error *err);

/* Write prog and code whole, without blocking, and close both (broker thread). An
 * error (the interpreter went away, a core too large for the socket's buffer) fails
 * the boot, which then starts again through the first stage. */
int ec__direct_feed(struct ec_direct *d, const char *who, struct ec_error *err);

/* Keep what a first-stage boot of `python` reported (econtext.boot_info): `boot`, the
 * executable and sys.path as Python literals ("'/usr/bin/python3', ['/usr/lib/...']"),
 * and `home`, the PYTHONHOME that start was given (NULL: none). 0, or -1 with a
 * sentence in why. */
int ec__direct_store(const char *name, const char *boot, size_t boot_len, const char *home,
                     size_t home_len, char *why, size_t why_len);

void ec__direct_free(struct ec_direct *d);

#endif
