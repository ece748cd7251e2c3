/* nsenter.c: an example econtext transport plugin, built out of tree against the
 * installed headers (pkg-config econtext-plugin). The `nsenter` transport runs the
 * context's interpreter on this machine inside another process's namespaces (a
 * container's), or inside a named network namespace (`ip netns add NAME`):
 *
 *     contexts:
 *       web-container:
 *         transport: nsenter
 *         target_pid: 4242                 # all its namespaces that differ from ours
 *       web-net:
 *         transport: nsenter
 *         target_pid: 4242
 *         namespaces: [net, uts]           # only these
 *       lab:
 *         transport: nsenter
 *         netns: blue                      # /run/netns/blue, or a path
 *
 * How: the boot command is wrapped with nsenter(1) (util-linux). The host table's
 * child_spawn takes an argument vector and an environment, and runs nothing of the
 * plugin's between fork and exec, so setns(2) cannot be called in the child; calling
 * it on the broker thread would move a thread of the master (and a multithreaded
 * process cannot enter a mount namespace at all). nsenter(1) does the setns calls in
 * the child, forks once more for a pid namespace, and chroots to the target's root. */
#define _POSIX_C_SOURCE 200809L /* strdup under -std=c11 */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <econtext/transport.h>

#if EC_PLUGIN_ABI_MAJOR != 2
#error "this plugin is written for econtext plugin ABI 2.x"
#endif

/* The keys a context of this transport takes, besides the core's (python, ...). */
static const struct ec_param nsenter_params[] = {
	{.key = "target_pid", .type = EC_PARAM_INT, .min = 1, .max = 4194304,
	 .help = "the process whose namespaces the interpreter enters (nsenter --target)"},
	{.key = "netns", .type = EC_PARAM_STR,
	 .help = "a network namespace: a name under /run/netns (ip netns) or a path"},
	{.key = "namespaces", .type = EC_PARAM_STR_LIST,
	 .help = "with target_pid, the namespaces to enter: mount, uts, ipc, net, pid, cgroup, "
	         "user, time (default: all of the target's that differ from ours)"},
	{0},
};

/* The namespaces nsenter(1) can enter: the key's word, nsenter's option. */
static const char *const ns_names[][2] = {
	{"mount", "--mount"}, {"uts", "--uts"},       {"ipc", "--ipc"},   {"net", "--net"},
	{"pid", "--pid"},     {"cgroup", "--cgroup"}, {"user", "--user"}, {"time", "--time"},
};
#define NS_COUNT (sizeof(ns_names) / sizeof(ns_names[0]))

struct nsenter {
	const struct ec_host *host;
	char *name;
	char *prefix[NS_COUNT + 6]; /* nsenter --target PID --root --all|--NS... -- */
	size_t nprefix;
	pid_t pid;
	int fd;
};

static int nsenter_load(const struct ec_host *host, void **state, struct ec_error *err)
{
	(void)err;
	*state = (void *)host;
	return 0;
}

/* Append a copy of word to the prefix; 0 or EC_ENOMEM. */
static int prefix_add(struct nsenter *n, const char *word, struct ec_error *err)
{
	if (n->nprefix >= sizeof(n->prefix) / sizeof(n->prefix[0]) - 1 ||
	    !(n->prefix[n->nprefix] = strdup(word)))
		return n->host->error_set(err, EC_ENOMEM, n->name, "out of memory");
	n->nprefix++;
	return 0;
}

/* May this process enter other namespaces? setns(2) needs CAP_SYS_ADMIN (and
 * CAP_SYS_CHROOT for --root); nsenter(1) would say "Operation not permitted" after the
 * spawn, as boot output. Checked early for a clear error: root or nothing. */
static int need_root(struct nsenter *n, const char *where, struct ec_error *err)
{
	if (geteuid() == 0)
		return 0;
	return n->host->error_set(err, EC_EAUTH, where,
	                          "context '%s': entering namespaces needs root (CAP_SYS_ADMIN); "
	                          "this master runs as uid %ld: run it as root",
	                          n->name, (long)geteuid());
}

/* netns: a name under /run/netns or a path (with a slash). */
static int nsenter_netns(struct nsenter *n, const struct ec_cfg *cfg, const char *netns,
                         struct ec_error *err)
{
	const struct ec_host *h = n->host;
	const char *where = h->cfg_where(cfg, "netns");
	char path[4096];
	const char *const *list = NULL;
	size_t count = 0;
	if (h->cfg_list(cfg, "namespaces", &list, &count) == 0)
		return h->error_set(err, EC_ECONFIG, h->cfg_where(cfg, "namespaces"),
		                    "context '%s': `namespaces` goes with target_pid; `netns` enters "
		                    "the network namespace only",
		                    n->name);
	if (!*netns || !strcmp(netns, ".") || !strcmp(netns, ".."))
		return h->error_set(err, EC_ECONFIG, where, "context '%s': netns '%s' is no name",
		                    n->name, netns);
	if (strchr(netns, '/'))
		snprintf(path, sizeof(path), "%s", netns);
	else
		snprintf(path, sizeof(path), "/run/netns/%s", netns);
	/* A stat of /run (tmpfs) or nsfs does not block the broker. */
	struct stat st;
	if (stat(path, &st) != 0)
		return h->error_set(err, EC_ECONFIG, where,
		                    "context '%s': no network namespace '%s' (%s: %s)%s", n->name,
		                    netns, path, strerror(errno),
		                    strchr(netns, '/') ? "" : "; `ip netns list` shows the names");
	int rc = need_root(n, where, err);
	if (rc)
		return rc;
	char opt[sizeof(path) + 8];
	snprintf(opt, sizeof(opt), "--net=%s", path);
	if ((rc = prefix_add(n, "nsenter", err)) || (rc = prefix_add(n, opt, err)))
		return rc;
	return prefix_add(n, "--", err);
}

/* target_pid [namespaces]: nsenter --target PID --root (--all | --NS...). */
static int nsenter_target(struct nsenter *n, const struct ec_cfg *cfg, long target,
                          struct ec_error *err)
{
	const struct ec_host *h = n->host;
	const char *where = h->cfg_where(cfg, "target_pid");
	char path[64];
	snprintf(path, sizeof(path), "/proc/%ld/ns", target);
	struct stat st;
	if (stat(path, &st) != 0)
		return h->error_set(err, EC_ECONFIG, where,
		                    "context '%s': target_pid %ld: %s", n->name, target,
		                    errno == ENOENT ? "no such process" : strerror(errno));
	int rc = need_root(n, where, err);
	if (rc)
		return rc;
	char pid[32];
	snprintf(pid, sizeof(pid), "%ld", target);
	if ((rc = prefix_add(n, "nsenter", err)) || (rc = prefix_add(n, "--target", err)) ||
	    (rc = prefix_add(n, pid, err)) || (rc = prefix_add(n, "--root", err)))
		return rc;
	const char *const *list = NULL;
	size_t count = 0;
	if (h->cfg_list(cfg, "namespaces", &list, &count) != 0 || count == 0) {
		/* --all skips the namespaces the target shares with us. */
		if ((rc = prefix_add(n, "--all", err)))
			return rc;
		return prefix_add(n, "--", err);
	}
	unsigned seen = 0;
	for (size_t i = 0; i < count; i++) {
		size_t k = 0;
		while (k < NS_COUNT && strcmp(list[i], ns_names[k][0]) != 0)
			k++;
		if (k == NS_COUNT)
			return h->error_set(err, EC_ECONFIG, h->cfg_where(cfg, "namespaces"),
			                    "context '%s': namespace '%s' is none of mount, uts, ipc, "
			                    "net, pid, cgroup, user, time",
			                    n->name, list[i]);
		if (!(seen & (1u << k)) && (rc = prefix_add(n, ns_names[k][1], err)))
			return rc;
		seen |= 1u << k;
	}
	return prefix_add(n, "--", err);
}

static void nsenter_destroy(void *inst);

static int nsenter_create(void *state, const struct ec_cfg *cfg,
                          const struct ec_transport_info *info, void **inst,
                          struct ec_error *err)
{
	const struct ec_host *host = state;
	if (info->below)
		return host->error_set(err, EC_ECONFIG, host->cfg_where(cfg, "via"),
		                       "context '%s': the nsenter transport runs on this machine, "
		                       "not via another context",
		                       info->context_name);
	struct nsenter *n = calloc(1, sizeof(*n));
	if (!n || !(n->name = strdup(info->context_name))) {
		free(n);
		return host->error_set(err, EC_ENOMEM, info->context_name, "out of memory");
	}
	n->host = host;
	n->pid = -1;
	n->fd = -1;
	long target = 0;
	const char *netns = NULL;
	int has_target = host->cfg_int(cfg, "target_pid", &target) == 0;
	int has_netns = host->cfg_str(cfg, "netns", &netns) == 0;
	int rc;
	if (has_target && has_netns)
		rc = host->error_set(err, EC_ECONFIG, host->cfg_where(cfg, "netns"),
		                     "context '%s': give target_pid or netns, not both", n->name);
	else if (has_netns)
		rc = nsenter_netns(n, cfg, netns, err);
	else if (has_target)
		rc = nsenter_target(n, cfg, target, err);
	else
		rc = host->error_set(err, EC_ECONFIG, host->cfg_where(cfg, NULL),
		                     "context '%s': the nsenter transport needs target_pid (a "
		                     "process whose namespaces to enter) or netns",
		                     n->name);
	if (rc) {
		nsenter_destroy(n);
		return rc;
	}
	host->log(host, EC_LOG_DEBUG, "%s: boot command under %s %s", n->name, n->prefix[1],
	          n->prefix[2]);
	*inst = n;
	return 0;
}

/* Spawn nsenter ... -- followed by the boot command the core made. From here on the
 * ops are those of examples/plugin-nice/nice.c: each example builds on its own. */
static int nsenter_start(void *inst, const struct ec_argv *argv, struct ec_pollset *ps,
                         struct ec_error *err)
{
	struct nsenter *n = inst;
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

static ssize_t nsenter_send(void *inst, const void *buf, size_t len, struct ec_pollset *ps,
                            struct ec_error *err)
{
	struct nsenter *n = inst;
	return n->host->child_send(n->fd, buf, len, ps, n->name, err);
}

static ssize_t nsenter_recv(void *inst, void *buf, size_t len, struct ec_pollset *ps,
                            struct ec_error *err)
{
	struct nsenter *n = inst;
	return n->host->child_recv(n->fd, buf, len, ps, n->name, err);
}

static void nsenter_pollset(void *inst, int want, struct ec_pollset *ps)
{
	struct nsenter *n = inst;
	ec_pollset_add(ps, n->fd, want);
}

/* The interpreter is nsenter's child when a pid namespace is entered: it leaves when
 * its stream ends, closed here; child_reap ends nsenter. */
static void nsenter_close(void *inst, int grace_ms)
{
	struct nsenter *n = inst;
	if (n->fd >= 0) {
		close(n->fd);
		n->fd = -1;
	}
	if (n->pid > 0)
		n->host->child_reap(n->pid, grace_ms, -1);
	n->pid = -1;
}

static void nsenter_destroy(void *inst)
{
	struct nsenter *n = inst;
	if (!n)
		return;
	nsenter_close(n, 0);
	for (size_t i = 0; i < n->nprefix; i++)
		free(n->prefix[i]);
	free(n->name);
	free(n);
}

static const struct ec_transport_ops nsenter_ops = {
	.size = sizeof(struct ec_transport_ops),
	.create = nsenter_create,
	.start = nsenter_start,
	.send = nsenter_send,
	.recv = nsenter_recv,
	.pollset = nsenter_pollset,
	.close = nsenter_close,
	.destroy = nsenter_destroy,
	/* 0: the interpreter may see another filesystem (a mount namespace, --root), so
	 * it neither fills nor boots from this machine's bytecode cache. No adopt op: a
	 * direct boot would skip nsenter. */
	.runs = 0,
};

EC_PLUGIN_DEFINE(nsenter, .version = "1.0.0", .kind = EC_PLUGIN_TRANSPORT,
                 .params = nsenter_params, .load = nsenter_load, .ops = &nsenter_ops)
