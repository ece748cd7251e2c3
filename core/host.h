/* host.h: the host table handed to plugins (struct ec_host in econtext/plugin.h). */
#ifndef EC_CORE_HOST_H
#define EC_CORE_HOST_H

#include "econtext/plugin.h"
#include "log.h"
#include "secret.h"

/* A host table bound to a logger and its master's secrets. pub comes first so a plugin's pointer
 * converts back. */
struct ec__host {
	struct ec_host pub;
	const struct ec_logger *logger;
	struct ec__secrets *secrets; /* NULL: no master (secret_get says EC_ENOTFOUND) */
};

void ec__host_init(struct ec__host *h, const struct ec_logger *logger,
                   struct ec__secrets *secrets);
/* A process-wide host table that logs to stderr at warning and above (tests, tools). */
const struct ec_host *ec__host_get(void);

#endif
