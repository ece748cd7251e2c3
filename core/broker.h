/* broker.h: the IO thread. It owns every context's stream and transport; application
 * threads reach it only by queueing under the master lock and calling
 * ec__broker_wake (the one cross-thread entry, a pipe). */
#ifndef EC_CORE_BROKER_H
#define EC_CORE_BROKER_H

#include "context.h"

int ec__broker_start(ec_master *m, struct ec_broker **out, struct ec_error *err);
/* Hand a new context to the broker (m->lock held). */
void ec__broker_attach(struct ec_broker *b, struct ec_context *ctx);
void ec__broker_wake(struct ec_broker *b);
/* Signal a finished call's waiter once the broker has released m->lock (m->lock held;
 * takes a reference to the call). A waiter woken while the broker still holds
 * m->lock, or the call's lock, would preempt it on a shared CPU and block on that
 * lock at once: two context switches more per call. */
void ec__broker_defer_wake(struct ec_broker *b, struct ec_call *call);
/* Stop the thread (every context must be detached) and free. */
void ec__broker_stop(struct ec_broker *b);

#endif
