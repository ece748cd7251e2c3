/* transport.h: a context's transport stack. The context's own transport sits on the
 * transports of its `via:` chain (sudo on ssh, ssh on ssh), each a layer with its own
 * plugin instance; the core talks only to the top layer, which passes bytes through
 * the layers below it. */
#ifndef EC_CORE_TRANSPORT_H
#define EC_CORE_TRANSPORT_H

#include "config.h"
#include "econtext/transport.h"
#include "plugin.h"

/* Build the stack for the context `name` whose (private) section is cfg (the `via:`
 * chain from config), with the plugins of plugins; rewrite argv through every layer's
 * wrap_argv, top to bottom. Runs the layers' create and wrap_argv ops: the loop's
 * thread, its lock held. */
int ec__transport_stack_new(struct ec_plugins *plugins, const struct ec_config *config,
                            const char *name,
                            const struct ec_cfg *cfg, struct ec_argv *argv,
                            struct ec_transport **out, struct ec_error *err);
/* Close every layer, top to bottom (the loop's thread). */
void ec__transport_stack_close(struct ec_transport *top, int grace_ms);
/* Destroy every layer and free the stack (the loop's thread). NULL is a no-op. */
void ec__transport_stack_free(struct ec_transport *top);

#endif
