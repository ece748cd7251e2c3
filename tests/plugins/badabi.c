/* A plugin built for a future ABI: the loader must refuse it by its version. */
#include "econtext/plugin.h"

EC_PLUGIN_EXPORT const struct ec_plugin *ec_plugin_badabi_describe(void);
const struct ec_plugin *ec_plugin_badabi_describe(void)
{
	static const struct ec_plugin d = {
		.abi_major = EC_PLUGIN_ABI_MAJOR + 1,
		.abi_minor = 0,
		.size = sizeof(struct ec_plugin),
		.name = "badabi",
		.kind = EC_PLUGIN_CODEC,
	};
	return &d;
}
