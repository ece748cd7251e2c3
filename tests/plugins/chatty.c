/* chatty.c: a transport that logs from load() and create() through the host tables it
 * is given, and starts nothing: its records must carry its own logger,
 * "econtext.chatty", and create's info->host must be the table load() got. */
#include "stubops.h"

static int chatty_load(const struct ec_host *host, void **state, struct ec_error *err)
{
	(void)err;
	host->log(host, EC_LOG_WARNING, "chatty: loaded");
	*state = (void *)host;
	return 0;
}

static int chatty_create(void *state, const struct ec_cfg *cfg,
                         const struct ec_transport_info *info, void **inst,
                         struct ec_error *err)
{
	info->host->log(info->host, EC_LOG_WARNING, "chatty: creating '%s' with %s",
	                info->context_name,
	                info->host == state ? "the table load() got" : "another table");
	return stub_create(state, cfg, info, inst, err);
}

static int chatty_start(void *inst, const struct ec_argv *argv, struct ec_pollset *ps,
                        struct ec_error *err)
{
	const struct ec_host *host = inst;
	(void)argv, (void)ps;
	return host->error_set(err, EC_EBOOT, "chatty", "chatty starts nothing");
}

static const struct ec_transport_ops chatty_ops = {
	.size = sizeof(struct ec_transport_ops),
	.create = chatty_create,
	.start = chatty_start,
	.send = stub_send,
	.recv = stub_recv,
	.pollset = stub_pollset,
	.close = stub_close,
	.destroy = stub_destroy,
};

EC_PLUGIN_DEFINE(chatty, .version = "0", .kind = EC_PLUGIN_TRANSPORT, .load = chatty_load,
                 .ops = &chatty_ops)
