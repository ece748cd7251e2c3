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
	char logname[80];            /* the logger of its records: "econtext.<plugin>" */
};

/* The master's table (logger "econtext.plugin"), the base of its plugins' tables. */
void ec__host_init(struct ec__host *h, const struct ec_logger *logger,
                   struct ec__secrets *secrets);
/* h: a copy of base (one made by ec__host_init) for the plugin `plugin`, whose log
 * records say "econtext.<plugin>". Each loaded plugin gets its own (core/plugin.c). */
void ec__host_for_plugin(struct ec__host *h, const struct ec_host *base, const char *plugin);
/* The same, malloc'd (free() frees it): the loader's ec_host_for_fn (core/plugin.h). */
struct ec_host *ec__host_new_for_plugin(const struct ec_host *base, const char *plugin);
/* A process-wide host table that logs to stderr at warning and above (tests, tools). */
const struct ec_host *ec__host_get(void);

#endif
