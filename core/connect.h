/* connect.h: pending connects (ec_context_connect_async), for a select to drive. */
#ifndef EC_CORE_CONNECT_H
#define EC_CORE_CONNECT_H

#include "econtext.h"

/* Do what the connect needs from an application thread (m->lock held; released
 * meanwhile to ask for a password or fill the caches): 1 once it is done (a context
 * or an error to hand out), 0 while it waits for its context. */
int ec__connect_step(struct ec_connect *c);
/* Its watch (core/watch.h), and the connect a watch of kind EC_WATCH_CONNECT is of. */
struct ec_watch *ec__connect_watch(struct ec_connect *c);
struct ec_connect *ec__connect_of(struct ec_watch *w);

#endif
