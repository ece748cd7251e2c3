/* nice.c: an example econtext transport plugin, built out of tree against the installed
 * headers (pkg-config econtext-plugin). The `nice` transport runs the context's
 * interpreter on this machine, as `local` does, under nice(1) and optionally ionice(1):
 * a context for batch work that must not slow the machine down.
 *
 *     contexts:
 *       background:
 *         transport: nice
 *         niceness: 15
 *         ionice_class: idle
 *
 * It uses only the host table it is given: child_spawn, child_send and child_recv move
 * the bytes, child_reap ends the process, cfg_* read its keys, error_set reports. */
#define _POSIX_C_SOURCE 200809L /* strdup under -std=c11 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <econtext/transport.h>

#if EC_PLUGIN_ABI_MAJOR != 2
#error "this plugin is written for econtext plugin ABI 2.x"
#endif

/* The keys a context of this transport takes, besides the core's (python, via, ...).
 * The core checks types, ranges and unknown keys before create() sees the section. */
static const struct ec_param nice_params[] = {
	{.key = "niceness", .type = EC_PARAM_INT, .dflt = "10", .min = -20, .max = 19,
	 .help = "the niceness added to the master's (nice -n; below 0 needs root)"},
	{.key = "ionice_class", .type = EC_PARAM_STR,
	 .help = "the I/O scheduling class: idle, best-effort or realtime (ionice -c)"},
	{.key = "ionice_level", .type = EC_PARAM_INT, .dflt = "4", .min = 0, .max = 7,
	 .help = "the priority within best-effort or realtime (ionice -n)"},
	{0},
};

struct nice {
	const struct ec_host *host;
	char *name;
	char prefix[8][16]; /* nice -n N [ionice -c C [-n L]] */
	size_t nprefix;
	pid_t pid;
	int fd;
};

static int nice_load(const struct ec_host *host, void **state, struct ec_error *err)
{
	(void)err;
	*state = (void *)host;
	return 0;
}

/* The words put before the boot command; 0, or EC_ECONFIG naming the key's place. */
static int nice_prefix(struct nice *n, const struct ec_cfg *cfg, struct ec_error *err)
{
	const struct ec_host *h = n->host;
	long niceness = 0, level = 0;
	const char *cls = NULL;
	h->cfg_int(cfg, "niceness", &niceness);
	h->cfg_int(cfg, "ionice_level", &level);
	snprintf(n->prefix[n->nprefix++], sizeof(n->prefix[0]), "nice");
	snprintf(n->prefix[n->nprefix++], sizeof(n->prefix[0]), "-n");
	snprintf(n->prefix[n->nprefix++], sizeof(n->prefix[0]), "%ld", niceness);
	if (h->cfg_str(cfg, "ionice_class", &cls) != 0)
		return 0;
	const char *num = !strcmp(cls, "realtime")      ? "1"
	                  : !strcmp(cls, "best-effort") ? "2"
	                  : !strcmp(cls, "idle")        ? "3"
	                                                : NULL;
	if (!num)
		return h->error_set(err, EC_ECONFIG, h->cfg_where(cfg, "ionice_class"),
		                    "context '%s': ionice_class '%s' is none of idle, best-effort, "
		                    "realtime", n->name, cls);
	snprintf(n->prefix[n->nprefix++], sizeof(n->prefix[0]), "ionice");
	snprintf(n->prefix[n->nprefix++], sizeof(n->prefix[0]), "-c");
	snprintf(n->prefix[n->nprefix++], sizeof(n->prefix[0]), "%s", num);
	if (strcmp(num, "3") != 0) { /* idle has no levels */
		snprintf(n->prefix[n->nprefix++], sizeof(n->prefix[0]), "-n");
		snprintf(n->prefix[n->nprefix++], sizeof(n->prefix[0]), "%ld", level);
	}
	return 0;
}

static void nice_destroy(void *inst);

static int nice_create(void *state, const struct ec_cfg *cfg,
                       const struct ec_transport_info *info, void **inst, struct ec_error *err)
{
	const struct ec_host *host = state;
	if (info->below)
		return host->error_set(err, EC_ECONFIG, host->cfg_where(cfg, "via"),
		                       "context '%s': the nice transport runs on this machine, not "
		                       "via another context", info->context_name);
	struct nice *n = calloc(1, sizeof(*n));
	if (!n || !(n->name = strdup(info->context_name))) {
		free(n);
		return host->error_set(err, EC_ENOMEM, info->context_name, "out of memory");
	}
	n->host = host;
	n->pid = -1;
	n->fd = -1;
	int rc = nice_prefix(n, cfg, err);
	if (rc) {
		nice_destroy(n);
		return rc;
	}
	host->log(host, EC_LOG_DEBUG, "%s: boot command under %s -n %s", n->name, n->prefix[0],
	          n->prefix[2]);
	*inst = n;
	return 0;
}

/* Spawn nice [ionice] followed by the boot command the core made. The vector is ours
 * for this call only: child_spawn copies nothing we must keep. */
static int nice_start(void *inst, const struct ec_argv *argv, struct ec_pollset *ps,
                      struct ec_error *err)
{
	struct nice *n = inst;
	(void)ps;
	char **v = calloc(n->nprefix + argv->argc + 1, sizeof(char *));
	if (!v)
		return n->host->error_set(err, EC_ENOMEM, n->name, "out of memory");
	size_t k = 0;
	for (size_t i = 0; i < n->nprefix; i++)
		v[k++] = n->prefix[i];
	for (size_t i = 0; i < argv->argc; i++)
		v[k++] = argv->argv[i];
	int rc = n->host->child_spawn(n->name, v, NULL, &n->pid, &n->fd, err);
	free(v);
	return rc;
}

static ssize_t nice_send(void *inst, const void *buf, size_t len, struct ec_pollset *ps,
                         struct ec_error *err)
{
	struct nice *n = inst;
	return n->host->child_send(n->fd, buf, len, ps, n->name, err);
}

static ssize_t nice_recv(void *inst, void *buf, size_t len, struct ec_pollset *ps,
                         struct ec_error *err)
{
	struct nice *n = inst;
	return n->host->child_recv(n->fd, buf, len, ps, n->name, err);
}

static void nice_pollset(void *inst, int want, struct ec_pollset *ps)
{
	struct nice *n = inst;
	ec_pollset_add(ps, n->fd, want);
}

static void nice_close(void *inst, int grace_ms)
{
	struct nice *n = inst;
	if (n->fd >= 0) {
		close(n->fd);
		n->fd = -1;
	}
	if (n->pid > 0) /* on the broker thread the core does the waiting */
		n->host->child_reap(n->pid, grace_ms, -1);
	n->pid = -1;
}

static void nice_destroy(void *inst)
{
	struct nice *n = inst;
	if (!n)
		return;
	nice_close(n, 0);
	free(n->name);
	free(n);
}

static const struct ec_transport_ops nice_ops = {
	.size = sizeof(struct ec_transport_ops),
	.create = nice_create,
	.start = nice_start,
	.send = nice_send,
	.recv = nice_recv,
	.pollset = nice_pollset,
	.close = nice_close,
	.destroy = nice_destroy,
	/* This machine, the master's user: the interpreter may use and fill the bytecode
	 * cache. No adopt op: a direct boot would skip nice, so it always boots through the
	 * first stage. */
	.runs = EC_RUNS_HERE_AS_MASTER,
};

EC_PLUGIN_DEFINE(nice, .version = "1.0.0", .kind = EC_PLUGIN_TRANSPORT, .params = nice_params,
                 .load = nice_load, .ops = &nice_ops)
