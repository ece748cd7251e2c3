/* econtext/transport.h: the transport interface (plugin ABI 2.2). A transport starts the boot command
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

/* How many descriptors a pollset holds: enough for ssh through eight jump hosts (each
 * hop's socket, timer and tunnel, and the context's own wake-up). */
#define EC_POLLSET_CAP 32

struct ec_pollfd {
	int fd;
	int events; /* EC_POLL_IN | EC_POLL_OUT */
};

/* What an instance waits for: descriptors (each with its directions) and a timer. The
 * core owns every pollset an op fills and hands it over empty (n 0, timeout_ms 0, cap
 * its room); a layer that sits on another passes the same pollset down, so that both
 * add what they wait for, and never makes one of its own for the core to read. Add
 * with ec_pollset_add. */
struct ec_pollset {
	unsigned cap; /* entries fds has room for: EC_POLLSET_CAP */
	unsigned n;   /* entries in use */
	/* > 0: call the op again within this many ms even if no descriptor is ready (a
	 * layer's own timer, e.g. sudo's `timeout`): start while starting, else the IO ops
	 * (the core then tries recv, and send if it has bytes). 0: no timer. A layer lowers
	 * it, never raises one set below it. */
	int timeout_ms;
	struct ec_pollfd fds[EC_POLLSET_CAP];
};

/* Add fd with events (merged into an entry for the same fd); 0, or EC_ENOMEM when the
 * pollset is full. fd < 0 or no events: nothing to add. */
static inline int ec_pollset_add(struct ec_pollset *ps, int fd, int events)
{
	if (fd < 0 || !events)
		return 0;
	for (unsigned i = 0; i < ps->n; i++)
		if (ps->fds[i].fd == fd) {
			ps->fds[i].events |= events;
			return 0;
		}
	if (ps->n >= ps->cap)
		return EC_ENOMEM;
	ps->fds[ps->n].fd = fd;
	ps->fds[ps->n].events = events;
	ps->n++;
	return 0;
}

/* Lower the pollset's timer to ms (> 0). */
static inline void ec_pollset_timer(struct ec_pollset *ps, int ms)
{
	if (ms > 0 && (!ps->timeout_ms || ms < ps->timeout_ms))
		ps->timeout_ms = ms;
}

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
	 * ps filled; the core then calls start again when ps is ready, its timer runs out,
	 * or on any other wake-up. 0 when the stream is open (bytes may flow). With
	 * EC_EAGAIN, err may hold a note on what start waits for (sudo: the last lines sudo
	 * printed): if the connection times out before start returns 0, the core's error
	 * quotes it. */
	int (*start)(void *inst, const struct ec_argv *argv, struct ec_pollset *ps,
	             struct ec_error *err);
	/* Mandatory. Move bytes: >= 0 moved (recv 0 = end of stream; err, when the layer
	 * fills it, says which end, and is the context's error unless it was shut down),
	 * or EC_EAGAIN, or another negative EC_E*. After EC_EAGAIN the core asks pollset what to wait for.
	 * send's next call after EC_EAGAIN starts with the same bytes (as libssh2's and
	 * OpenSSL's writes want), perhaps more after them, perhaps at another address: the
	 * stream's buffer may have moved, and a file's chunk is sent from its own memory. */
	ssize_t (*send)(void *inst, const void *buf, size_t len, struct ec_pollset *ps,
	                struct ec_error *err);
	ssize_t (*recv)(void *inst, void *buf, size_t len, struct ec_pollset *ps,
	                struct ec_error *err);
	/* Mandatory. Once open: add to ps what must be ready for the core's wish to move on
	 * (want: EC_POLL_IN, to read; | EC_POLL_OUT when it has bytes to send). When any of
	 * it is ready (or the timer runs out) the core tries send (if it has bytes) and recv:
	 * readiness is a hint, as with libssh2, and an op that cannot move says EC_EAGAIN. */
	void (*pollset)(void *inst, int want, struct ec_pollset *ps);
	/* Optional. Text the command printed before the context was ready, a line at a
	 * time: the place to answer a password prompt. */
	int (*on_boot_output)(void *inst, const char *line, size_t len, struct ec_error *err);
	/* Mandatory. Stop: close the stream, make sure the process goes (kill it after
	 * grace_ms if it has not exited by itself). Must not block beyond grace_ms. */
	void (*close)(void *inst, int grace_ms);
	/* Mandatory. Free everything create() made. Safe after any failure. */
	void (*destroy)(void *inst);

	/* Where the interpreter runs when this layer is a context's only one, for the
	 * bytecode cache (docs/config.md `code_cache`): EC_RUNS_HERE_AS_MASTER (this
	 * machine, the master's user: it may fill the cache and boot from it), EC_RUNS_HERE
	 * (this machine, another user: it may boot from it when `python` is an absolute
	 * path, never fill it), or 0 (elsewhere, or not said: neither). */
	unsigned runs;

	/* Optional, for a layer that runs the interpreter as the master's child, as the
	 * master's user (runs == EC_RUNS_HERE_AS_MASTER, no layer below). Called instead
	 * of start for a direct boot (docs/protocol.md §1, "Direct boot"): the core spawned
	 * the interpreter itself, without the first stage, as child_spawn would (own
	 * session, the socketpair's other end on its fds 1, 2, 100 and 101). pid and fd
	 * become the instance's, as if its start had spawned them: send, recv, pollset
	 * and close work on them. 0, or a negative EC_E* (the core then kills pid). */
	int (*adopt)(void *inst, pid_t pid, int fd, struct ec_error *err);

	/* Optional. Carry the layer above instead of running a command: the layer above
	 * asks (from its create, through info->below) for what it will reach its own host
	 * through, by kind, a name both plugins know ("ssh": an ssh session to open a
	 * tunnel on, for ssh via a jump host). 0 with *handle set (the layer's own, valid
	 * until its destroy; the asker knows its type by the kind): this layer now runs
	 * nothing itself (its start is never called; the core still calls its close and
	 * destroy). EC_ENOTFOUND: it cannot carry that kind (the asker's error then says
	 * which transports it can go via). */
	int (*carry)(void *inst, const char *kind, void **handle, struct ec_error *err);
	/* Major 2, minor 0 ends here. */

	/* Optional (2.1). Words for this layer's own part in the context (its core's side
	 * of a filter such as tls), carried inside the boot payload: over the launcher's
	 * stream, never in argv, the environment or a log. Write them NUL-terminated into
	 * buf (printable ASCII, at most cap - 1 bytes); the context's core finds them as
	 * config["layers"][<plugin name>]. Called once on the broker thread for every layer
	 * that has it, after the stack's start returned 0 (its connections are open: a
	 * layer may ask those below it, e.g. local_address) and before the payload is
	 * built and sent. They may hold a secret:
	 * the core wipes its copies once the payload is built. 0, or a negative EC_E*. */
	int (*boot_words)(void *inst, char *buf, size_t cap, struct ec_error *err);
	/* Optional (2.1), for a context's only layer when it runs nothing and waits for the
	 * context to come to it (tls on its own: an invited context): the one-line shell
	 * command that makes a machine this context, for the boot command argv, written
	 * NUL-terminated into buf (at most cap - 1 bytes). It holds a credential: the core
	 * hands it only to the application that asks (ec_connect_invitation), never to a
	 * log, and wipes its copy with the context. Broker thread, once, before start. 0, or
	 * EC_ENOTFOUND (this instance has none), or another negative EC_E*. */
	int (*invitation)(void *inst, const struct ec_argv *argv, char *buf, size_t cap,
	                  struct ec_error *err);
	/* Optional (2.1), for a layer that reaches another machine over the network: the
	 * master's address as that machine sees it (ssh: the local address of the TCP
	 * connection to sshd), numeric, NUL-terminated into buf (at most cap - 1 bytes);
	 * the tls layer's default connect-back address. Broker thread, after the layer's
	 * start returned 0. 0; EC_ENOTFOUND with err saying why when the layer has no
	 * address the machine can reach (ssh through a jump host); or another negative
	 * EC_E*. A layer without it that runs on this machine (local, sudo) needs none:
	 * its callers look further down, then use loopback. */
	int (*local_address)(void *inst, char *buf, size_t cap, struct ec_error *err);
	/* Major 2, minor 1 ends here. */

	/* Optional (2.2). The layer's own part in the context as Python source (2.7 and
	 * 3.6+; a static string, e.g. stripped by build-aux/mkpayload.py --remote), for a
	 * layer with boot_words: the boot carries it after the core and the codec's side,
	 * compiled with them in the core's globals (so kept in the bytecode a master
	 * shares between contexts of one name). It registers a start function as
	 * _layer_starts["<plugin name>"]; the core's _ec_main calls it with the layer's
	 * words (a str) first, before it sets up stdio or reads a frame: it may replace fds
	 * 100 and 101 (the stream) with its own channel, as tls does. */
	const char *remote_source;
	/* Major 2, minor 2 ends here. */
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
