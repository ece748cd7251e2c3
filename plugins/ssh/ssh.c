/* ssh.c: the `ssh` transport: the boot command on an exec channel of an SSH connection
 * (libssh2 >= 1.10), all of it non-blocking on the broker thread.
 *
 * One connection (struct sess) per (hostname, port, username) is shared by every
 * context on it; each context (struct inst) has its own exec channel. A libssh2 session
 * is one state machine, so the plugin keeps these rules:
 * - When a call returns EAGAIN with an outbound packet half sent, only the retry of
 *   that same call may touch the session: the session records its owner, and every
 *   other instance waits (EAGAIN) until the owner's call completes.
 * - Opening a channel uses session-wide state: one instance at a time.
 * - A read for one channel moves every queued packet off the socket, so after each
 *   call the instances whose channel has data queued inside libssh2 are woken by
 *   their eventfd: each instance's pollset holds the socket, its own eventfd and the
 *   session's timer (connect deadline, then keepalives), and those of the hops below.
 * All plugin state is touched on the broker thread (every op runs there), so the
 * registry needs no lock of its own.
 *
 * The files: ssh.c (the plugin, a context's settings, create/destroy), ssh_channel.c
 * (the exec channel: start, send, recv, close), ssh_session.c (the connection's state
 * machine), ssh_resolver.c, ssh_hostkey.c, ssh_auth.c, ssh_owner.c (one call at a time;
 * orphaned channels), ssh_wake.c (pollsets and wakeups), ssh_tunnel.c (jump hosts),
 * ssh_config.c (~/.ssh/config); ssh_int.h holds what they share. */
#include "ecbuild.h"

#include <errno.h>
#include <netdb.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ssh_config.h"
#include "ssh_int.h"

static char *expand_home(const char *p)
{
	if (!p)
		return NULL;
	if (p[0] == '~' && (p[1] == '/' || !p[1])) {
		const char *home = getenv("HOME");
		char pwbuf[1024];
		struct passwd pw, *res = NULL;
		if ((!home || !*home) && getpwuid_r(getuid(), &pw, pwbuf, sizeof(pwbuf), &res) == 0 &&
		    res)
			home = pw.pw_dir;
		if (!home)
			home = "/";
		size_t n = strlen(home) + strlen(p) + 1;
		char *out = malloc(n);
		if (out)
			snprintf(out, n, "%s%s", home, p + 1);
		return out;
	}
	return strdup(p);
}

void ssh__conn_cfg_free(struct conn_cfg *c)
{
	free(c->hostname);
	free(c->username);
	free(c->known_hosts);
	free(c->global_known_hosts);
	for (size_t i = 0; i < c->n_identity; i++)
		free(c->identity_files[i]);
	free(c->identity_files);
	free(c->password_env);
	free(c->password_file);
	memset(c, 0, sizeof(*c));
}

int ssh__conn_cfg_copy(struct conn_cfg *dst, const struct conn_cfg *src)
{
	memset(dst, 0, sizeof(*dst));
	*dst = *src;
	dst->hostname = strdup(src->hostname);
	dst->username = strdup(src->username);
	dst->known_hosts = strdup(src->known_hosts);
	dst->global_known_hosts = strdup(src->global_known_hosts ? src->global_known_hosts : "");
	dst->password_env = src->password_env ? strdup(src->password_env) : NULL;
	dst->password_file = src->password_file ? strdup(src->password_file) : NULL;
	dst->identity_files = calloc(src->n_identity + 1, sizeof(char *));
	int bad = !dst->hostname || !dst->username || !dst->known_hosts ||
	          !dst->global_known_hosts || !dst->identity_files ||
	          (src->password_env && !dst->password_env) ||
	          (src->password_file && !dst->password_file);
	for (size_t i = 0; dst->identity_files && i < src->n_identity; i++)
		if (!(dst->identity_files[i] = strdup(src->identity_files[i])))
			bad = 1;
	if (bad) {
		dst->n_identity = dst->identity_files ? src->n_identity : 0;
		ssh__conn_cfg_free(dst);
		return EC_ENOMEM;
	}
	return 0;
}

/* ---- plugin and instance lifecycle ------------------------------------------------ */

static int ssh_load(const struct ec_host *host, void **state, struct ec_error *err)
{
	struct plugin_state *ps = calloc(1, sizeof(*ps));
	if (!ps)
		return host->error_set(err, EC_ENOMEM, "plugin ssh", "out of memory");
	ps->host = host;
	int rc = libssh2_init(0);
	if (rc) {
		free(ps);
		return host->error_set(err, EC_EPLUGIN, "plugin ssh", "libssh2_init failed (%d)", rc);
	}
	ps->libssh2_ok = 1;
	*state = ps;
	return 0;
}

static void ssh_unload(void *state)
{
	struct plugin_state *ps = state;
	if (!ps)
		return;
	while (ps->sessions) /* none should be left: every instance is gone */
		ssh__sess_teardown(ps->sessions);
	if (ps->libssh2_ok)
		libssh2_exit();
	free(ps);
}

static const struct ec_param ssh_params[] = {
	{.key = "hostname", .type = EC_PARAM_STR, .flags = EC_PARAM_REQUIRED,
	 .help = "the host to log in to"},
	{.key = "port", .type = EC_PARAM_INT, .dflt = "22", .min = 1, .max = 65535,
	 .help = "the SSH port"},
	{.key = "username", .type = EC_PARAM_STR, .help = "the user to log in as (default: yours)"},
	{.key = "identity_file", .type = EC_PARAM_STR_LIST,
	 .help = "private key files to try (default: ~/.ssh/id_ed25519, ~/.ssh/id_ecdsa)"},
	{.key = "agent", .type = EC_PARAM_BOOL, .dflt = "true",
	 .help = "use ssh-agent when SSH_AUTH_SOCK is set"},
	{.key = "password_env", .type = EC_PARAM_STR,
	 .help = "environment variable that holds the password"},
	{.key = "password_file", .type = EC_PARAM_STR,
	 .help = "file whose first line is the password"},
	{.key = "keyboard_interactive", .type = EC_PARAM_BOOL, .dflt = "true",
	 .help = "answer keyboard-interactive prompts with the password"},
	{.key = "known_hosts", .type = EC_PARAM_STR, .dflt = "~/.ssh/known_hosts",
	 .help = "the known_hosts file"},
	{.key = "global_known_hosts", .type = EC_PARAM_STR, .dflt = "/etc/ssh/ssh_known_hosts",
	 .help = "the system's known_hosts file, also consulted (never written); empty: none"},
	{.key = "host_key_checking", .type = EC_PARAM_STR, .dflt = "strict",
	 .help = "strict, accept-new or off"},
	{.key = "keepalive_interval", .type = EC_PARAM_DURATION, .dflt = "0",
	 .help = "seconds between keepalive messages (0: none)"},
	{.key = "keepalive_count_max", .type = EC_PARAM_INT, .dflt = "3", .min = 0, .max = 1000000,
	 .help = "keepalives in a row the server may leave unanswered before the connection is "
	         "declared lost (0: never)"},
	{.key = "ssh_config", .type = EC_PARAM_STR, .dflt = "~/.ssh/config",
	 .help = "the OpenSSH client config file read for Host blocks; empty: none"},
	{0},
};

/* ---- ~/.ssh/config (the parser is ssh_config.c) ------------------------------------ */

static void ssh_destroy(void *inst);

static char *local_user(void)
{
	char pwbuf[1024];
	struct passwd pw, *res = NULL;
	if (getpwuid_r(getuid(), &pw, pwbuf, sizeof(pwbuf), &res) == 0 && res)
		return strdup(pw.pw_name);
	return strdup("root");
}

/* ProxyJump's hops as layers below in, built the way via: is (tunnel only), owned by
 * in. A hop gets its own Host block of the file; user and port in the hop's spec win;
 * the rest (known_hosts, host_key_checking, timeouts, identity files when its block
 * names none) is the target's. */
static int proxyjump_build(struct inst *in, const char *file, const char *pj,
                           struct ec_error *err)
{
	const struct ec_host *h = in->host;
	const char *pos = pj;
	struct inst *below = NULL;
	char *user, *host;
	int port, r, nh = 0;
	while ((r = sshcfg_next_hop(&pos, &user, &host, &port)) == 1) {
		struct inst *hop = calloc(1, sizeof(*hop));
		if (!hop || ++nh > MAX_HOPS || ssh__conn_cfg_copy(&hop->cfg, &in->cfg)) {
			free(hop);
			free(user);
			free(host);
			ssh_destroy(below);
			return nh > MAX_HOPS ? h->error_set(err, EC_ECONFIG, file,
			                                    "context '%s': ProxyJump '%s': more than %d "
			                                    "jump hosts", in->name, pj, MAX_HOPS)
			                     : h->error_set(err, EC_ENOMEM, in->name, "out of memory");
		}
		hop->ps = in->ps;
		hop->host = h;
		hop->evfd = -1;
		hop->state = I_NEW;
		hop->tunnel_only = 1;
		hop->via = below;
		hop->owns_via = below != NULL;
		below = hop;
		struct conn_cfg *c = &hop->cfg;
		free(c->hostname);
		c->hostname = host;
		c->port = port ? port : 22;
		free(c->username);
		c->username = user ? user : local_user();
		free(c->password_env);
		free(c->password_file);
		c->password_env = c->password_file = NULL;
		struct sshcfg_target t = {.hostname = &c->hostname, .port = &c->port,
		                          .username = &c->username,
		                          .identity_files = &c->identity_files,
		                          .n_identity = &c->n_identity, .explicit_port = port != 0,
		                          .explicit_username = user != NULL};
		if (!(hop->name = strdup(in->name)) || !c->username || sshcfg_apply(h, file, &t)) {
			ssh_destroy(below);
			return h->error_set(err, EC_ENOMEM, in->name, "out of memory");
		}
		h->log(h, EC_LOG_DEBUG, "ssh: context '%s': ProxyJump hop %s@%s port %d", in->name,
		       c->username, c->hostname, c->port);
	}
	if (r < 0) {
		ssh_destroy(below);
		return h->error_set(err, EC_ECONFIG, file,
		                    "context '%s': ProxyJump '%s': a hop is not [user@]host[:port]",
		                    in->name, pj);
	}
	in->via = below;
	in->owns_via = below != NULL;
	return 0;
}

/* The context's explicit keys win, then the file's Host blocks for the alias (the
 * context's hostname), then our defaults. ProxyJump is honoured unless via: is given. */
static int settings_from_ssh_config(struct inst *in, const struct ec_cfg *cfg, int has_via,
                                    struct ec_error *err)
{
	const struct ec_host *h = in->host;
	struct conn_cfg *c = &in->cfg;
	const char *path = "~/.ssh/config", *v = NULL;
	h->cfg_str(cfg, "ssh_config", &path);
	if (!path || !*path)
		return 0;
	char *file = expand_home(path), *pj = NULL;
	if (!file)
		return h->error_set(err, EC_ENOMEM, in->name, "out of memory");
	const char *const *ids = NULL;
	size_t nids = 0;
	/* A key given (in the section or with -o) has a place of its own; one that only has
	 * the schema's default gives the section's. */
	struct sshcfg_target t = {
		.hostname = &c->hostname, .port = &c->port, .username = &c->username,
		.identity_files = &c->identity_files, .n_identity = &c->n_identity,
		.explicit_port = h->cfg_where(cfg, "port") != h->cfg_where(cfg, NULL),
		.explicit_username = h->cfg_str(cfg, "username", &v) == 0 && v && *v,
		.explicit_identity = h->cfg_list(cfg, "identity_file", &ids, &nids) == 0 && ids,
		.proxy_jump = &pj};
	int rc = 0;
	if (sshcfg_apply(h, file, &t))
		rc = h->error_set(err, EC_ENOMEM, in->name, "out of memory");
	else if (pj && has_via)
		h->log(h, EC_LOG_DEBUG, "ssh: context '%s': via given, ProxyJump %s of %s ignored",
		       in->name, pj, file);
	else if (pj)
		rc = proxyjump_build(in, file, pj, err);
	free(pj);
	free(file);
	return rc;
}

static int ssh_create(void *state, const struct ec_cfg *cfg, const struct ec_transport_info *info,
                      void **out, struct ec_error *err)
{
	struct plugin_state *ps = state;
	const struct ec_host *h = ps->host;
	/* via: a jump host. The layer below must carry an ssh session (the carry op: an
	 * instance of this plugin, ours to read); it becomes a tunnel only, a description
	 * of the hop: it never runs anything, and our session reaches its host through the
	 * hop's session. */
	struct inst *via = NULL;
	if (info->below) {
		const char *vname = "?";
		h->cfg_str(cfg, "via", &vname);
		const struct ec_transport *b = info->below;
		void *carried = NULL;
		if (!b->ops->carry || b->ops->carry(b->inst, "ssh", &carried, NULL) || !carried ||
		    ((struct inst *)carried)->ps != ps)
			return h->error_set(err, EC_ECONFIG, h->cfg_where(cfg, "via"),
			                    "context '%s': the ssh transport can go via an ssh context "
			                    "(a jump host) only, and '%s' uses transport %s",
			                    info->context_name, vname,
			                    info->below->name ? info->below->name : "?");
		via = carried;
		int depth = 1;
		for (const struct inst *x = via; x->via; x = x->via)
			depth++;
		if (depth > MAX_HOPS)
			return h->error_set(err, EC_ECONFIG, h->cfg_where(cfg, "via"),
			                    "context '%s': more than %d jump hosts", info->context_name,
			                    MAX_HOPS);
	}
	struct inst *in = calloc(1, sizeof(*in));
	if (!in)
		return h->error_set(err, EC_ENOMEM, info->context_name, "out of memory");
	in->ps = ps;
	in->host = h;
	in->evfd = -1;
	in->state = I_NEW;
	int rc = EC_ENOMEM;
	const char *v = NULL;
	long l = 0;
	if (!(in->name = strdup(info->context_name)))
		goto oom;
	struct conn_cfg *c = &in->cfg;
	h->cfg_str(cfg, "hostname", &v);
	if (!v || !*v) {
		rc = h->error_set(err, EC_ECONFIG, h->cfg_where(cfg, "hostname"),
		                  "context '%s': hostname is empty", in->name);
		goto fail;
	}
	if (!(c->hostname = strdup(v)))
		goto oom;
	c->port = h->cfg_int(cfg, "port", &l) == 0 ? (int)l : 22;
	v = NULL;
	if (h->cfg_str(cfg, "username", &v) == 0 && v && *v) {
		c->username = strdup(v);
	} else {
		char pwbuf[1024];
		struct passwd pw, *res = NULL;
		if (getpwuid_r(getuid(), &pw, pwbuf, sizeof(pwbuf), &res) == 0 && res)
			c->username = strdup(pw.pw_name);
		else {
			rc = h->error_set(err, EC_ECONFIG, h->cfg_where(cfg, NULL),
			                  "context '%s': no username given and the local user has no name",
			                  in->name);
			goto fail;
		}
	}
	if (!c->username)
		goto oom;
	const char *const *ids = NULL;
	size_t nids = 0;
	static const char *const default_ids[] = {"~/.ssh/id_ed25519", "~/.ssh/id_ecdsa", NULL};
	if (h->cfg_list(cfg, "identity_file", &ids, &nids) != 0 || !ids) {
		ids = default_ids;
		nids = 2;
	}
	c->identity_files = calloc(nids + 1, sizeof(char *));
	if (!c->identity_files)
		goto oom;
	for (size_t i = 0; i < nids; i++) {
		if (!(c->identity_files[i] = expand_home(ids[i])))
			goto oom;
		c->n_identity++;
	}
	int b = 1;
	c->agent = h->cfg_bool(cfg, "agent", &b) == 0 ? b : 1;
	b = 1;
	c->kbdint = h->cfg_bool(cfg, "keyboard_interactive", &b) == 0 ? b : 1;
	v = NULL;
	if (h->cfg_str(cfg, "password_env", &v) == 0 && v && *v && !(c->password_env = strdup(v)))
		goto oom;
	v = NULL;
	if (h->cfg_str(cfg, "password_file", &v) == 0 && v && *v &&
	    !(c->password_file = expand_home(v)))
		goto oom;
	if (c->password_env && c->password_file) {
		rc = h->error_set(err, EC_ECONFIG, h->cfg_where(cfg, "password_file"),
		                  "context '%s': give password_env or password_file, not both",
		                  in->name);
		goto fail;
	}
	v = "~/.ssh/known_hosts";
	h->cfg_str(cfg, "known_hosts", &v);
	if (!(c->known_hosts = expand_home(v && *v ? v : "~/.ssh/known_hosts")))
		goto oom;
	v = "/etc/ssh/ssh_known_hosts";
	h->cfg_str(cfg, "global_known_hosts", &v);
	if (!(c->global_known_hosts = expand_home(v ? v : "")))
		goto oom;
	v = "strict";
	h->cfg_str(cfg, "host_key_checking", &v);
	if (!v || !strcmp(v, "strict") || !strcmp(v, "yes"))
		c->hkc = HKC_STRICT;
	else if (!strcmp(v, "accept-new"))
		c->hkc = HKC_ACCEPT_NEW;
	else if (!strcmp(v, "off") || !strcmp(v, "no"))
		c->hkc = HKC_OFF;
	else {
		rc = h->error_set(err, EC_ECONFIG, h->cfg_where(cfg, "host_key_checking"),
		                  "key 'host_key_checking' in context '%s' (transport ssh) must be "
		                  "one of strict, accept-new, off; not '%s'", in->name, v);
		goto fail;
	}
	c->connect_ms = 30000;
	h->cfg_ms(cfg, "connect_timeout", &c->connect_ms);
	c->connect_ms_given = c->connect_ms;
	l = 0;
	h->cfg_ms(cfg, "keepalive_interval", &l);
	c->keepalive_s = l > 0 ? (l + 999) / 1000 : 0;
	if (c->keepalive_s == 1)
		c->keepalive_s = 2; /* libssh2 treats 1 as 2 */
	l = 3;
	h->cfg_int(cfg, "keepalive_count_max", &l);
	c->keepalive_max = l;

	in->evfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (in->evfd < 0) {
		rc = h->error_set(err, EC_ESYS, in->name, "eventfd: %s", strerror(errno));
		goto fail;
	}
	if ((rc = settings_from_ssh_config(in, cfg, via != NULL, err)))
		goto fail;
	if (via)
		in->via = via; /* a tunnel only since it carried us */
	*out = in;
	return 0;
oom:
	rc = h->error_set(err, EC_ENOMEM, info->context_name, "out of memory");
fail:
	ssh__conn_cfg_free(&in->cfg);
	if (in->evfd >= 0)
		close(in->evfd);
	free(in->name);
	free(in);
	return rc;
}

static void ssh_destroy(void *inst)
{
	struct inst *in = inst;
	if (!in)
		return;
	ssh__close(in, 0);
	if (in->evfd >= 0)
		close(in->evfd);
	ssh__conn_cfg_free(&in->cfg);
	free(in->cmd);
	free(in->name);
	if (in->owns_via)
		ssh_destroy(in->via);
	free(in);
}

/* Carry the ssh layer above (a jump host): hand it this instance, which from now on
 * describes the hop and runs nothing. */
static int ssh_carry(void *inst, const char *kind, void **handle, struct ec_error *err)
{
	(void)err;
	struct inst *in = inst;
	if (strcmp(kind, "ssh") != 0)
		return EC_ENOTFOUND;
	in->tunnel_only = 1;
	*handle = in;
	return 0;
}

/* The master's address as sshd sees it (no NAT between): the local address of the
 * session's TCP connection. Through a jump host the connection is the jump host's, and
 * the target may not reach the master at all: none (docs/tls.md). */
static int ssh_local_address(void *inst, char *buf, size_t cap, struct ec_error *err)
{
	struct inst *in = inst;
	const struct ec_host *h = in->host;
	struct sess *s = in->sess;
	if (!s || s->fd < 0)
		return h->error_set(err, EC_EINVAL, in->name, "context '%s': its ssh connection "
		                    "is not open", in->name);
	if (s->via)
		return h->error_set(err, EC_ENOTFOUND, in->name,
		                    "it is reached through a jump host (%s), which may "
		                    "be the only way to the master", s->via->label);
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	if (getsockname(s->fd, (struct sockaddr *)&ss, &sl))
		return h->error_set(err, EC_ESYS, in->name, "context '%s': getsockname on its ssh "
		                    "connection: %s", in->name, strerror(errno));
	int g = getnameinfo((struct sockaddr *)&ss, sl, buf, cap, NULL, 0, NI_NUMERICHOST);
	if (g)
		return h->error_set(err, EC_ESYS, in->name, "context '%s': the local address of "
		                    "its ssh connection: %s", in->name, gai_strerror(g));
	return 0;
}

static const struct ec_transport_ops ssh_ops = {
	.size = sizeof(struct ec_transport_ops),
	.create = ssh_create,
	.start = ssh__start,
	.send = ssh__send,
	.recv = ssh__recv,
	.pollset = ssh__pollset,
	.close = ssh__close,
	.destroy = ssh_destroy,
	.carry = ssh_carry,
	.local_address = ssh_local_address,
};

EC_PLUGIN_DEFINE(ssh, .version = "0.1.0", .kind = EC_PLUGIN_TRANSPORT, .params = ssh_params,
                 .load = ssh_load, .unload = ssh_unload, .ops = &ssh_ops)
