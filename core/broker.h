/* broker.h: the IO thread. It owns every context's stream and transport; application
 * threads reach it only by queueing under the master lock and calling
 * ec__broker_wake (the one cross-thread entry, an eventfd). */
#ifndef EC_CORE_BROKER_H
#define EC_CORE_BROKER_H

#include "context.h"

int ec__broker_start(ec_master *m, struct ec_broker **out, struct ec_error *err);
/* Hand a new context to the broker (m->lock held). */
void ec__broker_attach(struct ec_broker *b, struct ec_context *ctx);
void ec__broker_wake(struct ec_broker *b);
/* Stop the thread (every context must be detached) and free. */
void ec__broker_stop(struct ec_broker *b);

#endif
