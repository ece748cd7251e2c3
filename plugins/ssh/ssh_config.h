/* The OpenSSH client config file (~/.ssh/config) for the ssh transport: the Host
 * blocks' HostName, User, Port, IdentityFile and ProxyJump, OpenSSH's way (the first
 * value obtained wins; IdentityFile accumulates). Everything else is ignored with a
 * debug log line. */
#ifndef EC_SSH_CONFIG_H
#define EC_SSH_CONFIG_H

#include <stddef.h>

#include "econtext/plugin.h"

struct sshcfg_host {
	char *hostname;        /* HostName, %h expanded; NULL: not set */
	char *user;            /* NULL: not set */
	int port;              /* 0: not set */
	char **identity_files; /* raw (tokens not expanded), NULL-terminated; NULL: none */
	size_t n_identity;
	char *proxy_jump;      /* NULL: not set; "" for "none" */
};

/* What path says for the host alias. A missing or unreadable file is no error (a debug
 * line). 0, or EC_ENOMEM. */
int sshcfg_lookup(const struct ec_host *h, const char *path, const char *alias,
                  struct sshcfg_host *out);
void sshcfg_host_free(struct sshcfg_host *c);

/* Apply the config file to one connection's settings. Settings marked explicit (given
 * in the context's section or with -o) are kept; the others are replaced by what the
 * file says for the alias (*hostname on entry). Identity files taken from the file get
 * ~ and the %d %h %n %p %r %u %% tokens expanded. *proxy_jump gets the file's
 * ProxyJump (malloc'd; NULL when none). 0, or EC_ENOMEM. */
struct sshcfg_target {
	char **hostname;
	int *port;
	char **username;
	char ***identity_files; /* NULL-terminated array of malloc'd strings */
	size_t *n_identity;
	int explicit_port, explicit_username, explicit_identity;
	char **proxy_jump; /* may be NULL: not wanted */
};
int sshcfg_apply(const struct ec_host *h, const char *path, struct sshcfg_target *t);

/* One hop of a ProxyJump list: "[user@]host[:port]" or "ssh://[user@]host[:port]".
 * *pos advances past it and its comma. 1 with a hop, 0 at the end, -1 on a bad hop or
 * out of memory. */
int sshcfg_next_hop(const char **pos, char **user, char **host, int *port);

/* Case-insensitive glob of one pattern (*, ?), exposed for the tests. */
int sshcfg_match(const char *pat, const char *s);
/* A Host line's pattern list (negations with !) against a host. */
int sshcfg_match_list(const char *const *pats, size_t n, const char *host);

#endif
