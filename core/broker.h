/* broker.h: the loop: one thread, one poll() over a waker and every source's descriptors
 * (core/source.h), the sources' deadlines, and the children of closed sources (the
 * reaper). It owns every stream and transport. Other threads reach it only by posting
 * work under the loop's lock (attach a source, queue a deferred wake-up) and calling
 * ec__broker_wake, the one cross-thread entry (a pipe). */
#ifndef EC_CORE_BROKER_H
#define EC_CORE_BROKER_H

#include <pthread.h>

#include "econtext.h"
#include "source.h"

struct ec_broker;

/* Work the loop runs once it has released its lock, at the end of a turn. run returns
 * 1 when a thread spins waiting for what it signals (the loop then lingers for that
 * thread's next request). A waiter woken while the loop still holds its lock would
 * preempt it on a shared CPU and block on that lock at once: two context switches more
 * per call. */
struct ec_deferred {
	int (*run)(struct ec_deferred *d);
	struct ec_deferred *next;
};

/* Start the loop's thread. lock is the lock every source's shared state is under (the
 * master's); it outlives the loop. */
int ec__broker_start(pthread_mutex_t *lock, struct ec_broker **out, struct ec_error *err);
/* Hand a source to the loop (lock held): its first prepare comes on the loop's next turn. */
void ec__broker_attach(struct ec_broker *b, struct ec_source *s);
void ec__broker_wake(struct ec_broker *b);
/* Queue d to run after the loop releases its lock (lock held, loop thread). */
void ec__broker_defer(struct ec_broker *b, struct ec_deferred *d);
/* Stop the thread (every source must have been detached) and free. NULL: no-op. */
void ec__broker_stop(struct ec_broker *b);

#endif
