/* A plugin whose load() fails: the loader must report its message. */
#include "stubops.h"

static int failinit_load(const struct ec_host *host, void **state, struct ec_error *err)
{
	(void)state;
	return host->error_set(err, EC_EPLUGIN, NULL, "the test plugin refuses to start");
}

static const struct ec_codec_ops failinit_ops = {
	.size = sizeof(struct ec_codec_ops),
	.encode = stub_encode,
	.decode = stub_decode,
	.remote_name = "failinit",
	.remote_source = "",
};

EC_PLUGIN_DEFINE(failinit, .version = "0", .kind = EC_PLUGIN_CODEC, .load = failinit_load,
                 .ops = &failinit_ops)
