/* econtext/transport.h: the transport interface. A transport starts the boot command
 * somewhere (a local child, an ssh exec channel, sudo on top of either) and moves the
 * bytes of that stream. Transports stack like curl's connection filters: an instance
 * may sit on a `below` instance and pass bytes through it.
 *
 * Every op, create and destroy included, runs on the broker thread and none may block:
 * an op that would block returns EC_EAGAIN after filling the pollset with what to wait
 * for. */
#ifndef ECONTEXT_TRANSPORT_H
#define ECONTEXT_TRANSPORT_H

#include "econtext/plugin.h"

#ifdef __cplusplus
extern "C" {
#endif

#define EC_POLL_IN 0x1
#define EC_POLL_OUT 0x2

/* What an instance waits for: one fd and directions. fd < 0: nothing to poll.
 *
 * The core owns every pollset it hands to an op (full size) and sets timeout_ms to 0
 * before each call. A layer that makes a pollset of its own to pass to the layer below
 * zero-initialises a whole struct ec_pollset; the core refuses to stack a layer built
 * for ABI 1.0 (whose pollsets lack timeout_ms) on one built for 1.1 or later. */
struct ec_pollset {
	int fd;
	int events; /* EC_POLL_IN | EC_POLL_OUT */
	/* ABI 1.1. With EC_EAGAIN from start: > 0, call start again within this many ms
	 * even if fd is not ready (a layer's own timer, e.g. sudo's `timeout`); 0: no
	 * timer. Other ops: ignored. */
	int timeout_ms;
};

/* The boot command, as an argument vector the core owns. */
struct ec_argv {
	char **argv; /* NULL-terminated */
	size_t argc;
};

/* What the core tells a transport about the context it starts. */
struct ec_transport_info {
	const char *context_name;
	const struct ec_host *host;
	struct ec_transport *below; /* the layer under this one (via:), or NULL */
};

struct ec_transport_ops {
	size_t size; /* sizeof(struct ec_transport_ops) the plugin was built with */

	/* Mandatory. Build an instance from the context's validated section. No I/O. */
	int (*create)(void *state, const struct ec_cfg *cfg, const struct ec_transport_info *info,
	              void **inst, struct ec_error *err);
	/* Optional. Rewrite the boot command before start (sudo prefixes its own). */
	int (*wrap_argv)(void *inst, struct ec_argv *argv, struct ec_error *err);
	/* Mandatory. Begin running argv: spawn, open a channel. May return EC_EAGAIN with
	 * ps filled; the core then calls start again when ps is ready (or on any other
	 * wake-up). 0 when the stream is open (bytes may flow). With EC_EAGAIN, err may
	 * hold a note on what start waits for (sudo: the last lines sudo printed): if the
	 * connection times out before start returns 0, the core's error quotes it. A layer
	 * with a deadline of its own sets ps->timeout_ms (ABI 1.1). */
	int (*start)(void *inst, const struct ec_argv *argv, struct ec_pollset *ps,
	             struct ec_error *err);
	/* Mandatory. Move bytes: >= 0 moved (recv 0 = end of stream), or EC_EAGAIN with ps
	 * filled, or another negative EC_E*. */
	ssize_t (*send)(void *inst, const void *buf, size_t len, struct ec_pollset *ps,
	                struct ec_error *err);
	ssize_t (*recv)(void *inst, void *buf, size_t len, struct ec_pollset *ps,
	                struct ec_error *err);
	/* Mandatory. The fd to poll for readability while idle. */
	void (*pollset)(void *inst, struct ec_pollset *ps);
	/* Optional. Text the command printed before the context was ready, a line at a
	 * time: the place to answer a password prompt. */
	int (*on_boot_output)(void *inst, const char *line, size_t len, struct ec_error *err);
	/* Mandatory. Stop: close the stream, make sure the process goes (kill it after
	 * grace_ms if it has not exited by itself). Must not block beyond grace_ms. */
	void (*close)(void *inst, int grace_ms);
	/* Mandatory. Free everything create() made. Safe after any failure. */
	void (*destroy)(void *inst);
	/* Minor 0 ends here. */

	/* Where the interpreter runs when this layer is a context's only one, for the
	 * bytecode cache (docs/config.md `code_cache`): EC_RUNS_HERE_AS_MASTER (this
	 * machine, the master's user: it may fill the cache and boot from it), EC_RUNS_HERE
	 * (this machine, another user: it may boot from it when `python` is an absolute
	 * path, never fill it), or 0 (elsewhere, or not said: neither). */
	unsigned runs;
	/* Minor 1 ends here. */

	/* Optional, for a layer that runs the interpreter as the master's child, as the
	 * master's user (runs == EC_RUNS_HERE_AS_MASTER, no layer below). Called instead
	 * of start for a direct boot (docs/protocol.md §1, "Direct boot"): the core spawned
	 * the interpreter itself, without the first stage, as child_spawn would (own
	 * session, the socketpair's other end on its fds 1, 2, 100 and 101). pid and fd
	 * become the instance's, as if its start had spawned them: send, recv, pollset
	 * and close work on them. 0, or a negative EC_E* (the core then kills pid). */
	int (*adopt)(void *inst, pid_t pid, int fd, struct ec_error *err);
	/* Minor 2 ends here. */
};

#define EC_RUNS_HERE 1
#define EC_RUNS_HERE_AS_MASTER 2

/* A layer in a context's transport stack. The core owns this struct; the plugin owns
 * inst. */
struct ec_transport {
	const struct ec_transport_ops *ops;
	void *inst;
	struct ec_transport *below;
	const char *name;
};

#ifdef __cplusplus
}
#endif
#endif
