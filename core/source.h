/* source.h: what the loop (core/broker.h) drives: a source of IO with its own ops, such
 * as a context's stream. The loop knows sources only through these ops, so that the
 * layers above it (contexts, calls) hand it work and never the other way round. The
 * owner embeds the struct and finds itself from it (container_of). */
#ifndef EC_CORE_SOURCE_H
#define EC_CORE_SOURCE_H

#include "econtext/transport.h"

struct ec_source;

/* All run on the loop's thread with the loop's lock held. */
struct ec_source_ops {
	/* Do what is due (start, write, deadlines), then say what to wait for: ps (given
	 * empty; no descriptor: nothing) and the next deadline (*next, monotonic ms, lowered if sooner; 0 none).
	 * May set finished. */
	void (*prepare)(struct ec_source *s, long long now, struct ec_pollset *ps,
	                long long *next);
	/* Some of ps fired: EC_POLL_IN and/or EC_POLL_OUT, merged over its descriptors. */
	void (*on_io)(struct ec_source *s, int events);
	/* The loop let go of it (finished, and its children reaped): the last call it makes
	 * on s. */
	void (*detached)(struct ec_source *s);
};

/* An empty pollset to hand to an op (its room, no descriptor, no timer): the entries
 * are not cleared, only counted. */
static inline void ec__pollset_clear(struct ec_pollset *ps)
{
	ps->cap = EC_POLLSET_CAP;
	ps->n = 0;
	ps->timeout_ms = 0;
}

struct ec_source {
	const struct ec_source_ops *ops;
	int finished; /* set by the owner: the loop lets go once reaping is 0 */
	int reaping;  /* children the reaper waits for on its behalf (core/reaper.h) */
	struct ec_source *next; /* the loop's list */
};

#ifndef container_of
#include <stddef.h>
#define container_of(ptr, type, member) ((type *)(void *)((char *)(ptr) - offsetof(type, member)))
#endif

#endif
