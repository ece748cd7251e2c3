/* badops.c: plugins whose ops tables the loader must refuse, one per refusal. Built once
 * per case: Makefile.am defines BADOPS_<NAME> for the plugin NAME. */
#include "stubops.h"

#if defined(BADOPS_OPSSMALL)
/* A table of ABI 1.0's size in a plugin that says it was built for this ABI. */
static const struct ec_transport_ops ops = {
	.size = offsetof(struct ec_transport_ops, destroy) + sizeof(ops.destroy),
	.create = stub_create, .start = stub_start, .send = stub_send, .recv = stub_recv,
	.pollset = stub_pollset, .close = stub_close, .destroy = stub_destroy,
};
EC_PLUGIN_DEFINE(opssmall, .version = "0", .kind = EC_PLUGIN_TRANSPORT, .ops = &ops)

#elif defined(BADOPS_OPSLARGE)
/* A table from headers newer than the ABI it states: members this core does not know. */
struct later_ops {
	struct ec_transport_ops ops;
	void (*later)(void *inst);
};
static const struct later_ops ops = {.ops = {
	.size = sizeof(struct later_ops),
	.create = stub_create, .start = stub_start, .send = stub_send, .recv = stub_recv,
	.pollset = stub_pollset, .close = stub_close, .destroy = stub_destroy,
}};
EC_PLUGIN_DEFINE(opslarge, .version = "0", .kind = EC_PLUGIN_TRANSPORT, .ops = &ops.ops)

#elif defined(BADOPS_NOSTART)
/* A transport without its mandatory start op. */
static const struct ec_transport_ops ops = {
	.size = sizeof(struct ec_transport_ops),
	.create = stub_create, .send = stub_send, .recv = stub_recv,
	.pollset = stub_pollset, .close = stub_close, .destroy = stub_destroy,
};
EC_PLUGIN_DEFINE(nostart, .version = "0", .kind = EC_PLUGIN_TRANSPORT, .ops = &ops)

#elif defined(BADOPS_NODECODE)
/* A codec without its mandatory decode op. */
static const struct ec_codec_ops ops = {
	.size = sizeof(struct ec_codec_ops),
	.encode = stub_encode,
	.remote_name = "nodecode",
};
EC_PLUGIN_DEFINE(nodecode, .version = "0", .kind = EC_PLUGIN_CODEC, .ops = &ops)

#elif defined(BADOPS_NOSOURCE)
/* A codec without its context side (plugin ABI 2.1: remote_source is mandatory). */
static const struct ec_codec_ops ops = {
	.size = sizeof(struct ec_codec_ops),
	.encode = stub_encode,
	.decode = stub_decode,
	.remote_name = "nosource",
};
EC_PLUGIN_DEFINE(nosource, .version = "0", .kind = EC_PLUGIN_CODEC, .ops = &ops)

#elif defined(BADOPS_NOOPS)
/* A descriptor without an ops table. */
EC_PLUGIN_DEFINE(noops, .version = "0", .kind = EC_PLUGIN_TRANSPORT)

#else
#error "define BADOPS_<NAME>: which plugin to build"
#endif
