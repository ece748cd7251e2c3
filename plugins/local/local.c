/* local.c: the `local` transport: the boot command as a child process of the master,
 * its stdin, stdout and stderr one end of a socketpair. */
#include "ecbuild.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "econtext/transport.h"

struct local {
	const struct ec_host *host;
	char *name;
	pid_t pid;
	int fd;
};

static int local_load(const struct ec_host *host, void **state, struct ec_error *err)
{
	(void)err;
	*state = (void *)host;
	return 0;
}

static int local_create(void *state, const struct ec_cfg *cfg, const struct ec_transport_info *info,
                        void **inst, struct ec_error *err)
{
	(void)cfg;
	const struct ec_host *host = state;
	if (info->below)
		return host->error_set(err, EC_ECONFIG, host->cfg_where(cfg, "via"),
		                       "context '%s': the local transport cannot run via another "
		                       "context", info->context_name);
	struct local *l = calloc(1, sizeof(*l));
	if (!l || !(l->name = strdup(info->context_name))) {
		free(l);
		return host->error_set(err, EC_ENOMEM, info->context_name, "out of memory");
	}
	l->host = host;
	l->pid = -1;
	l->fd = -1;
	*inst = l;
	return 0;
}

static int local_start(void *inst, const struct ec_argv *argv, struct ec_pollset *ps,
                       struct ec_error *err)
{
	struct local *l = inst;
	(void)ps;
	return l->host->child_spawn(l->name, argv->argv, NULL, &l->pid, &l->fd, err);
}

/* A direct boot: the core spawned the interpreter as local_start would have. */
static int local_adopt(void *inst, pid_t pid, int fd, struct ec_error *err)
{
	struct local *l = inst;
	(void)err;
	l->pid = pid;
	l->fd = fd;
	return 0;
}

static ssize_t local_send(void *inst, const void *buf, size_t len, struct ec_pollset *ps,
                          struct ec_error *err)
{
	struct local *l = inst;
	return l->host->child_send(l->fd, buf, len, ps, l->name, err);
}

static ssize_t local_recv(void *inst, void *buf, size_t len, struct ec_pollset *ps,
                          struct ec_error *err)
{
	struct local *l = inst;
	return l->host->child_recv(l->fd, buf, len, ps, l->name, err);
}

static void local_pollset(void *inst, int want, struct ec_pollset *ps)
{
	struct local *l = inst;
	ec_pollset_add(ps, l->fd, want);
}

static void local_close(void *inst, int grace_ms)
{
	struct local *l = inst;
	if (l->fd >= 0) {
		close(l->fd);
		l->fd = -1;
	}
	/* The context exits by itself at end of stream; give it grace_ms, then kill. */
	l->host->child_reap(l->pid, grace_ms, -1);
	l->pid = -1;
}

static void local_destroy(void *inst)
{
	struct local *l = inst;
	if (!l)
		return;
	local_close(l, 0);
	free(l->name);
	free(l);
}

static const struct ec_transport_ops local_ops = {
	.size = sizeof(struct ec_transport_ops),
	.create = local_create,
	.start = local_start,
	.send = local_send,
	.recv = local_recv,
	.pollset = local_pollset,
	.close = local_close,
	.destroy = local_destroy,
	.runs = EC_RUNS_HERE_AS_MASTER,
	.adopt = local_adopt,
};

EC_PLUGIN_DEFINE(local, .version = "0.1.0", .kind = EC_PLUGIN_TRANSPORT, .params = NULL,
                 .load = local_load, .ops = &local_ops)
