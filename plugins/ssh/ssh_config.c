/* The OpenSSH client config file for the ssh transport: see ssh_config.h. */
#include "ecbuild.h"

#include <ctype.h>
#include <errno.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "ssh_config.h"

#define MAX_ARGS 64

int sshcfg_match(const char *p, const char *s)
{
	for (;;) {
		if (!*p)
			return !*s;
		if (*p == '*') {
			while (*p == '*')
				p++;
			if (!*p)
				return 1;
			for (; *s; s++)
				if (sshcfg_match(p, s))
					return 1;
			return 0;
		}
		if (!*s)
			return 0;
		if (*p != '?' && tolower((unsigned char)*p) != tolower((unsigned char)*s))
			return 0;
		p++;
		s++;
	}
}

/* OpenSSH: a negated match wins over everything; otherwise any positive match. */
int sshcfg_match_list(const char *const *pats, size_t n, const char *host)
{
	int hit = 0;
	for (size_t i = 0; i < n; i++) {
		const char *p = pats[i];
		if (*p == '!') {
			if (sshcfg_match(p + 1, host))
				return 0;
		} else if (sshcfg_match(p, host))
			hit = 1;
	}
	return hit;
}

/* Split line in place: keyword (up to space or '='), then arguments, double quotes
 * grouping. The number of words, or -1 on an unbalanced quote. */
static int split(char *line, char **w, int max)
{
	int n = 0;
	char *p = line;
	while (isspace((unsigned char)*p))
		p++;
	if (!*p || *p == '#')
		return 0;
	w[n++] = p;
	while (*p && !isspace((unsigned char)*p) && *p != '=')
		p++;
	if (*p) {
		int eq = *p == '=';
		*p++ = '\0';
		while (isspace((unsigned char)*p))
			p++;
		if (!eq && *p == '=') {
			p++;
		}
	}
	for (;;) {
		while (isspace((unsigned char)*p))
			p++;
		if (!*p || *p == '#')
			break;
		if (n >= max)
			break;
		char *out = p, *start = p;
		int q = 0;
		while (*p && (q || !isspace((unsigned char)*p))) {
			if (*p == '"') {
				q = !q;
				p++;
				continue;
			}
			*out++ = *p++;
		}
		if (q)
			return -1;
		if (*p)
			p++;
		*out = '\0';
		w[n++] = start;
	}
	return n;
}

static int set_once(char **slot, const char *v)
{
	if (*slot)
		return 0;
	return (*slot = strdup(v)) ? 0 : EC_ENOMEM;
}

/* HostName's tokens: %h the alias, %% a percent. */
static char *expand_hostname(const char *v, const char *alias)
{
	size_t n = strlen(v) + 1;
	for (const char *p = v; *p; p++)
		if (p[0] == '%' && p[1] == 'h')
			n += strlen(alias);
	char *out = malloc(n), *o = out;
	if (!out)
		return NULL;
	for (const char *p = v; *p; p++) {
		if (p[0] == '%' && p[1] == 'h') {
			o += sprintf(o, "%s", alias);
			p++;
		} else if (p[0] == '%' && p[1] == '%') {
			*o++ = '%';
			p++;
		} else
			*o++ = *p;
	}
	*o = '\0';
	return out;
}

int sshcfg_lookup(const struct ec_host *h, const char *path, const char *alias,
                  struct sshcfg_host *out)
{
	memset(out, 0, sizeof(*out));
	if (!path || !*path)
		return 0;
	FILE *f = fopen(path, "r");
	if (!f) {
		h->log(h, EC_LOG_DEBUG, "ssh: %s not read: %s", path, strerror(errno));
		return 0;
	}
	char *line = NULL;
	size_t cap = 0;
	int lineno = 0, active = 1, rc = 0;
	while (getline(&line, &cap, f) >= 0) {
		lineno++;
		char *w[MAX_ARGS + 1];
		int n = split(line, w, MAX_ARGS);
		if (n < 0) {
			h->log(h, EC_LOG_DEBUG, "ssh: %s:%d: unbalanced quote, line ignored", path, lineno);
			continue;
		}
		if (n == 0)
			continue;
		const char *kw = w[0];
		if (!strcasecmp(kw, "Host")) {
			active = sshcfg_match_list((const char *const *)w + 1, (size_t)n - 1, alias);
			continue;
		}
		if (!strcasecmp(kw, "Match")) {
			/* Match all applies; the other criteria are not implemented. */
			active = n == 2 && !strcasecmp(w[1], "all");
			if (!active)
				h->log(h, EC_LOG_DEBUG, "ssh: %s:%d: Match not supported, block ignored", path,
				       lineno);
			continue;
		}
		if (!active)
			continue;
		if (n < 2) {
			h->log(h, EC_LOG_DEBUG, "ssh: %s:%d: %s without a value, ignored", path, lineno, kw);
			continue;
		}
		if (!strcasecmp(kw, "HostName")) {
			if (!out->hostname && !(out->hostname = expand_hostname(w[1], alias)))
				rc = EC_ENOMEM;
		} else if (!strcasecmp(kw, "User")) {
			rc = set_once(&out->user, w[1]);
		} else if (!strcasecmp(kw, "Port")) {
			char *end;
			long p = strtol(w[1], &end, 10);
			if (*end || p < 1 || p > 65535)
				h->log(h, EC_LOG_WARNING, "ssh: %s:%d: bad port '%s', ignored", path, lineno,
				       w[1]);
			else if (!out->port)
				out->port = (int)p;
		} else if (!strcasecmp(kw, "IdentityFile")) {
			char **ids = realloc(out->identity_files, (out->n_identity + 2) * sizeof(char *));
			if (!ids) {
				rc = EC_ENOMEM;
			} else {
				out->identity_files = ids;
				if (!(ids[out->n_identity] = strdup(w[1])))
					rc = EC_ENOMEM;
				else
					out->n_identity++;
				ids[out->n_identity] = NULL;
			}
		} else if (!strcasecmp(kw, "ProxyJump")) {
			rc = set_once(&out->proxy_jump, strcasecmp(w[1], "none") ? w[1] : "");
		} else if (!strcasecmp(kw, "ProxyCommand")) {
			/* OpenSSH: the first of ProxyCommand and ProxyJump wins. */
			h->log(h, EC_LOG_DEBUG, "ssh: %s:%d: ProxyCommand not supported, ignored", path,
			       lineno);
			if (!out->proxy_jump && !(out->proxy_jump = strdup("")))
				rc = EC_ENOMEM;
		} else {
			h->log(h, EC_LOG_DEBUG, "ssh: %s:%d: %s ignored (not supported)", path, lineno, kw);
		}
		if (rc)
			break;
	}
	free(line);
	fclose(f);
	if (rc)
		sshcfg_host_free(out);
	return rc;
}

void sshcfg_host_free(struct sshcfg_host *c)
{
	free(c->hostname);
	free(c->user);
	for (size_t i = 0; i < c->n_identity; i++)
		free(c->identity_files[i]);
	free(c->identity_files);
	free(c->proxy_jump);
	memset(c, 0, sizeof(*c));
}

static const char *home_dir(char *buf, size_t len)
{
	const char *home = getenv("HOME");
	struct passwd pw, *res = NULL;
	if ((!home || !*home) && getpwuid_r(getuid(), &pw, buf, len, &res) == 0 && res)
		home = pw.pw_dir;
	return home ? home : "/";
}

/* ~ and the tokens of IdentityFile. */
static char *expand_path(const char *v, const char *alias, const char *host, int port,
                         const char *ruser)
{
	char hbuf[1024], ubuf[1024], pbuf[16];
	const char *home = home_dir(hbuf, sizeof(hbuf));
	struct passwd pw, *res = NULL;
	const char *luser = getpwuid_r(getuid(), &pw, ubuf, sizeof(ubuf), &res) == 0 && res
	                        ? pw.pw_name
	                        : "";
	snprintf(pbuf, sizeof(pbuf), "%d", port);
	size_t cap = strlen(v) + strlen(home) + 1, len = 0;
	char *out = malloc(cap);
	if (!out)
		return NULL;
	const char *p = v;
	const char *piece;
	char one[2] = {0, 0};
	if (p[0] == '~' && (p[1] == '/' || !p[1])) {
		len = (size_t)sprintf(out, "%s", home);
		p++;
	}
	for (; *p; p++) {
		piece = NULL;
		if (p[0] == '%' && p[1]) {
			switch (p[1]) {
			case '%': piece = "%"; break;
			case 'd': piece = home; break;
			case 'h': piece = host; break;
			case 'n': piece = alias; break;
			case 'p': piece = pbuf; break;
			case 'r': piece = ruser; break;
			case 'u': piece = luser; break;
			default: break;
			}
			if (piece)
				p++;
		}
		if (!piece) {
			one[0] = *p;
			piece = one;
		}
		size_t pl = strlen(piece);
		if (len + pl + 1 > cap) {
			cap = (len + pl + 1) * 2;
			char *n = realloc(out, cap);
			if (!n) {
				free(out);
				return NULL;
			}
			out = n;
		}
		memcpy(out + len, piece, pl);
		len += pl;
	}
	out[len] = '\0';
	return out;
}

int sshcfg_apply(const struct ec_host *h, const char *path, struct sshcfg_target *t)
{
	if (t->proxy_jump)
		*t->proxy_jump = NULL;
	if (!path || !*path)
		return 0;
	struct sshcfg_host c;
	int rc = sshcfg_lookup(h, path, *t->hostname, &c);
	if (rc)
		return rc;
	char *alias = strdup(*t->hostname);
	if (!alias) {
		sshcfg_host_free(&c);
		return EC_ENOMEM;
	}
	if (c.hostname) {
		h->log(h, EC_LOG_DEBUG, "ssh: %s: %s is %s", path, alias, c.hostname);
		free(*t->hostname);
		*t->hostname = c.hostname;
		c.hostname = NULL;
	}
	if (c.port && !t->explicit_port)
		*t->port = c.port;
	if (c.user && *c.user && !t->explicit_username) {
		free(*t->username);
		*t->username = c.user;
		c.user = NULL;
	}
	if (c.n_identity && !t->explicit_identity) {
		char **ids = calloc(c.n_identity + 1, sizeof(char *));
		if (!ids)
			goto oom;
		for (size_t i = 0; i < c.n_identity; i++)
			if (!(ids[i] = expand_path(c.identity_files[i], alias, *t->hostname, *t->port,
			                           *t->username))) {
				for (size_t j = 0; j < i; j++)
					free(ids[j]);
				free(ids);
				goto oom;
			}
		for (size_t i = 0; i < *t->n_identity; i++)
			free((*t->identity_files)[i]);
		free(*t->identity_files);
		*t->identity_files = ids;
		*t->n_identity = c.n_identity;
	}
	if (t->proxy_jump && c.proxy_jump && *c.proxy_jump) {
		*t->proxy_jump = c.proxy_jump;
		c.proxy_jump = NULL;
	}
	free(alias);
	sshcfg_host_free(&c);
	return 0;
oom:
	free(alias);
	sshcfg_host_free(&c);
	return EC_ENOMEM;
}

int sshcfg_next_hop(const char **pos, char **user, char **host, int *port)
{
	*user = *host = NULL;
	*port = 0;
	const char *p = *pos;
	while (*p == ' ' || *p == '\t')
		p++;
	if (!*p)
		return 0;
	const char *end = strchr(p, ',');
	if (!end)
		end = p + strlen(p);
	*pos = *end ? end + 1 : end;
	if (!strncmp(p, "ssh://", 6))
		p += 6;
	const char *at = memchr(p, '@', (size_t)(end - p));
	/* the last @: user names may hold one */
	for (const char *q = at ? at + 1 : NULL; q && q < end; q++)
		if (*q == '@')
			at = q;
	const char *hs = at ? at + 1 : p, *he = end;
	if (*hs == '[') { /* [v6addr]:port */
		const char *rb = memchr(hs, ']', (size_t)(end - hs));
		if (!rb)
			return -1;
		he = rb;
		hs++;
		if (rb + 1 < end && rb[1] == ':')
			*port = atoi(rb + 2);
	} else {
		const char *colon = memchr(hs, ':', (size_t)(end - hs));
		if (colon) {
			char *e;
			long l = strtol(colon + 1, &e, 10);
			if (e != end || l < 1 || l > 65535)
				return -1;
			*port = (int)l;
			he = colon;
		}
	}
	if (he == hs)
		return -1;
	if (!(*host = strndup(hs, (size_t)(he - hs))))
		return -1;
	if (at && at > p && !(*user = strndup(p, (size_t)(at - p)))) {
		free(*host);
		*host = NULL;
		return -1;
	}
	return 1;
}
