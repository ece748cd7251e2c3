/* ssh_hostkey.c: host key checking for the ssh transport, as OpenSSH does it: the
 * key types known_hosts holds come first in the negotiation; the key is checked against
 * the user's and the system's known_hosts (strict, accept-new or off), and a change or
 * an unknown host is reported with its SHA256 fingerprint. */
#include "ecbuild.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ssh_int.h"

#define HOSTKEY_DEFAULT_PREF                                                            \
	"ssh-ed25519,ecdsa-sha2-nistp256,ecdsa-sha2-nistp384,ecdsa-sha2-nistp521,ssh-rsa"

static void b64(const unsigned char *in, size_t n, char *out, size_t outlen)
{
	static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t o = 0;
	for (size_t i = 0; i < n && o + 5 < outlen; i += 3) {
		unsigned v = (unsigned)in[i] << 16;
		if (i + 1 < n)
			v |= (unsigned)in[i + 1] << 8;
		if (i + 2 < n)
			v |= in[i + 2];
		out[o++] = tab[(v >> 18) & 63];
		out[o++] = tab[(v >> 12) & 63];
		if (i + 1 < n)
			out[o++] = tab[(v >> 6) & 63];
		if (i + 2 < n)
			out[o++] = tab[v & 63];
	}
	out[o] = '\0'; /* no padding, as OpenSSH prints SHA256 fingerprints */
}

static int kh_type(int hostkey_type)
{
	switch (hostkey_type) {
	case LIBSSH2_HOSTKEY_TYPE_RSA: return LIBSSH2_KNOWNHOST_KEY_SSHRSA;
	case LIBSSH2_HOSTKEY_TYPE_DSS: return LIBSSH2_KNOWNHOST_KEY_SSHDSS;
	case LIBSSH2_HOSTKEY_TYPE_ECDSA_256: return LIBSSH2_KNOWNHOST_KEY_ECDSA_256;
	case LIBSSH2_HOSTKEY_TYPE_ECDSA_384: return LIBSSH2_KNOWNHOST_KEY_ECDSA_384;
	case LIBSSH2_HOSTKEY_TYPE_ECDSA_521: return LIBSSH2_KNOWNHOST_KEY_ECDSA_521;
#ifdef LIBSSH2_HOSTKEY_TYPE_ED25519
	case LIBSSH2_HOSTKEY_TYPE_ED25519: return LIBSSH2_KNOWNHOST_KEY_ED25519;
#endif
	}
	return LIBSSH2_KNOWNHOST_KEY_UNKNOWN;
}

/* As OpenSSH names key types in its messages. */
static const char *key_type_name(int hostkey_type)
{
	switch (hostkey_type) {
	case LIBSSH2_HOSTKEY_TYPE_RSA: return "RSA";
	case LIBSSH2_HOSTKEY_TYPE_DSS: return "DSA";
	case LIBSSH2_HOSTKEY_TYPE_ECDSA_256:
	case LIBSSH2_HOSTKEY_TYPE_ECDSA_384:
	case LIBSSH2_HOSTKEY_TYPE_ECDSA_521: return "ECDSA";
	case LIBSSH2_HOSTKEY_TYPE_ED25519: return "ED25519";
	}
	return "unknown";
}

/* known_hosts, read a line at a time (libssh2's readfile stops at the first line it
 * cannot parse). line_of[i] is the file line of the i-th entry. */
struct khfile {
	LIBSSH2_KNOWNHOSTS *kh;
	int *line_of;
	size_t n;
	int missing;
};

static int kh_load(struct sess *s, const char *path, struct khfile *k)
{
	memset(k, 0, sizeof(*k));
	k->kh = libssh2_knownhost_init(s->s);
	if (!k->kh)
		return EC_ENOMEM;
	FILE *f = path && *path ? fopen(path, "re") : NULL;
	if (!f) {
		k->missing = 1;
		return 0;
	}
	char *line = NULL;
	size_t cap = 0, cap_lines = 0;
	ssize_t len;
	int lineno = 0;
	while ((len = getline(&line, &cap, f)) >= 0) {
		lineno++;
		const char *p = line;
		while (*p == ' ' || *p == '\t')
			p++;
		if (!*p || *p == '#' || *p == '\n' || *p == '@')
			continue; /* @cert-authority / @revoked: not understood by libssh2 1.10 */
		if (libssh2_knownhost_readline(k->kh, line, (size_t)len,
		                               LIBSSH2_KNOWNHOST_FILE_OPENSSH) != 0)
			continue;
		if (k->n == cap_lines) {
			size_t nc = cap_lines ? cap_lines * 2 : 64;
			int *nl = realloc(k->line_of, nc * sizeof(int));
			if (!nl)
				break;
			k->line_of = nl;
			cap_lines = nc;
		}
		k->line_of[k->n++] = lineno;
	}
	free(line);
	fclose(f);
	return 0;
}

static void kh_free(struct khfile *k)
{
	if (k->kh)
		libssh2_knownhost_free(k->kh);
	free(k->line_of);
}

static int kh_line_of(struct khfile *k, struct libssh2_knownhost *found)
{
	struct libssh2_knownhost *e = NULL, *prev = NULL;
	size_t i = 0;
	while (libssh2_knownhost_get(k->kh, &e, prev) == 0) {
		if (e == found)
			return i < k->n ? k->line_of[i] : 0;
		prev = e;
		i++;
	}
	return 0;
}

/* Before the handshake: prefer the host key types known_hosts holds for this host,
 * as OpenSSH does (libssh2 1.10 would otherwise pick ECDSA and find NOTFOUND). */
void ssh__set_hostkey_pref(struct sess *s)
{
	static const struct {
		int kt;
		const char *alg;
	} types[] = {
		{LIBSSH2_KNOWNHOST_KEY_ED25519, "ssh-ed25519"},
		{LIBSSH2_KNOWNHOST_KEY_ECDSA_256, "ecdsa-sha2-nistp256"},
		{LIBSSH2_KNOWNHOST_KEY_ECDSA_384, "ecdsa-sha2-nistp384"},
		{LIBSSH2_KNOWNHOST_KEY_ECDSA_521, "ecdsa-sha2-nistp521"},
		{LIBSSH2_KNOWNHOST_KEY_SSHRSA, "ssh-rsa"},
	};
	char pref[256] = "";
	const char *files[2] = {s->cfg.known_hosts, s->cfg.global_known_hosts};
	for (int fi = 0; fi < 2; fi++) {
		struct khfile k;
		if (kh_load(s, files[fi], &k) != 0 || k.missing) {
			kh_free(&k);
			continue;
		}
		for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
			struct libssh2_knownhost *found = NULL;
			/* A dummy key: MISMATCH means "has a key of this type". */
			int rc = libssh2_knownhost_checkp(k.kh, s->cfg.hostname, s->cfg.port, "x", 1,
			                                  LIBSSH2_KNOWNHOST_TYPE_PLAIN |
			                                      LIBSSH2_KNOWNHOST_KEYENC_RAW | types[i].kt,
			                                  &found);
			if (rc == LIBSSH2_KNOWNHOST_CHECK_MISMATCH && !strstr(pref, types[i].alg)) {
				size_t l = strlen(pref);
				snprintf(pref + l, sizeof(pref) - l, "%s%s", l ? "," : "", types[i].alg);
			}
		}
		kh_free(&k);
	}
	/* Then the rest, so that an unknown host still negotiates (and is refused with its
	 * fingerprint, or accepted by accept-new). */
	char all[] = HOSTKEY_DEFAULT_PREF;
	char *save = NULL;
	for (char *t = strtok_r(all, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		if (strstr(pref, t))
			continue;
		size_t l = strlen(pref);
		snprintf(pref + l, sizeof(pref) - l, "%s%s", l ? "," : "", t);
	}
	if (libssh2_session_method_pref(s->s, LIBSSH2_METHOD_HOSTKEY, pref))
		s->ps->host->log(s->ps->host, EC_LOG_DEBUG, "ssh: host key preference '%s' refused: %s",
		                 pref, ssh__sess_errmsg(s->s));
}

static int append_known_host(struct sess *s, struct khfile *k, const char *key, size_t keylen,
                             int type)
{
	char name[300];
	if (s->cfg.port == 22)
		snprintf(name, sizeof(name), "%s", s->cfg.hostname);
	else
		snprintf(name, sizeof(name), "[%s]:%d", s->cfg.hostname, s->cfg.port);
	struct libssh2_knownhost *e = NULL;
	if (libssh2_knownhost_addc(k->kh, name, NULL, key, keylen, NULL, 0,
	                           LIBSSH2_KNOWNHOST_TYPE_PLAIN | LIBSSH2_KNOWNHOST_KEYENC_RAW |
	                               kh_type(type), &e))
		return ssh__sess_fail(s, EC_ESYS, "cannot record the host key of %s: %s", name,
		                      ssh__sess_errmsg(s->s));
	char line[4096];
	size_t n = 0;
	if (libssh2_knownhost_writeline(k->kh, e, line, sizeof(line), &n,
	                                LIBSSH2_KNOWNHOST_FILE_OPENSSH))
		return ssh__sess_fail(s, EC_ESYS, "cannot format the host key of %s: %s", name,
		                      ssh__sess_errmsg(s->s));
	/* ~/.ssh may not exist yet (OpenSSH creates it the same way). */
	char *dir = strdup(s->cfg.known_hosts), *slash = dir ? strrchr(dir, '/') : NULL;
	if (slash && slash != dir) {
		*slash = '\0';
		mkdir(dir, 0700);
	}
	free(dir);
	/* Append one line; never rewrite the file (libssh2's writefile would drop what it
	 * did not parse). */
	int fd = open(s->cfg.known_hosts, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		return ssh__sess_fail(s, EC_ESYS, "cannot add the host key of %s to %s: %s", name,
		                      s->cfg.known_hosts, strerror(errno));
	flock(fd, LOCK_EX);
	int rc = 0;
	struct stat st;
	if (fstat(fd, &st) == 0 && st.st_size > 0) {
		/* Make sure the last line ended. */
		int rfd = open(s->cfg.known_hosts, O_RDONLY | O_CLOEXEC);
		char last = '\n';
		if (rfd >= 0) {
			if (pread(rfd, &last, 1, st.st_size - 1) != 1)
				last = '\n';
			close(rfd);
		}
		if (last != '\n' && write(fd, "\n", 1) != 1)
			rc = -1;
	}
	if (!rc && write(fd, line, n) != (ssize_t)n)
		rc = -1;
	int e2 = errno;
	flock(fd, LOCK_UN);
	close(fd);
	if (rc)
		return ssh__sess_fail(s, EC_ESYS, "cannot add the host key of %s to %s: %s", name,
		                      s->cfg.known_hosts, strerror(e2));
	s->ps->host->log(s->ps->host, EC_LOG_WARNING,
	                 "ssh: permanently added '%s' (%s) to the list of known hosts (%s)", name,
	                 key_type_name(type), s->cfg.known_hosts);
	return 0;
}

int ssh__check_hostkey(struct sess *s)
{
	size_t len = 0;
	int type = 0;
	const char *key = libssh2_session_hostkey(s->s, &len, &type);
	if (!key)
		return ssh__sess_fail(s, EC_EPROTO, "%s sent no host key", s->cfg.hostname);
	char fp[64] = "?";
	const char *hash = libssh2_hostkey_hash(s->s, LIBSSH2_HOSTKEY_HASH_SHA256);
	if (hash)
		b64((const unsigned char *)hash, 32, fp, sizeof(fp));
	char name[300];
	if (s->cfg.port == 22)
		snprintf(name, sizeof(name), "%s", s->cfg.hostname);
	else
		snprintf(name, sizeof(name), "[%s]:%d", s->cfg.hostname, s->cfg.port);
	/* The user's file, then the system's (/etc/ssh/ssh_known_hosts), as OpenSSH: a
	 * match in either is enough; else a key of that type in either is a change. */
	const char *files[2] = {s->cfg.known_hosts, s->cfg.global_known_hosts};
	struct khfile k[2];
	int rcs[2];
	struct libssh2_knownhost *found[2] = {NULL, NULL};
	for (int i = 0; i < 2; i++) {
		if (kh_load(s, files[i], &k[i])) {
			kh_free(&k[0]);
			if (i)
				kh_free(&k[1]);
			return ssh__sess_fail(s, EC_ENOMEM, "out of memory");
		}
		rcs[i] = libssh2_knownhost_checkp(k[i].kh, s->cfg.hostname, s->cfg.port, key, len,
		                                  LIBSSH2_KNOWNHOST_TYPE_PLAIN |
		                                      LIBSSH2_KNOWNHOST_KEYENC_RAW | kh_type(type),
		                                  &found[i]);
	}
	int which = rcs[0] == LIBSSH2_KNOWNHOST_CHECK_MATCH ? 0
	            : rcs[1] == LIBSSH2_KNOWNHOST_CHECK_MATCH ? 1
	            : rcs[0] == LIBSSH2_KNOWNHOST_CHECK_MISMATCH ? 0
	            : rcs[1] == LIBSSH2_KNOWNHOST_CHECK_MISMATCH ? 1
	            : rcs[0] == LIBSSH2_KNOWNHOST_CHECK_FAILURE ? 0
	                                                         : 1;
	int rc = rcs[which];
	const char *file = files[which];
	const struct ec_host *h = s->ps->host;
	int ret = 0;
	if (rc == LIBSSH2_KNOWNHOST_CHECK_MATCH) {
		h->log(h, EC_LOG_DEBUG, "ssh: host '%s' is known and matches the %s host key (SHA256:%s, "
		       "%s)", name, key_type_name(type), fp, file);
	} else if (rc == LIBSSH2_KNOWNHOST_CHECK_MISMATCH) {
		int line = kh_line_of(&k[which], found[which]);
		if (s->cfg.hkc == HKC_OFF) {
			h->log(h, EC_LOG_WARNING,
			       "ssh: the %s host key for %s has changed (SHA256:%s, not the key in "
			       "%s:%d); host_key_checking is off, connecting anyway",
			       key_type_name(type), name, fp, file, line);
		} else {
			ret = ssh__sess_fail(s, EC_EAUTH,
			                     "REMOTE HOST IDENTIFICATION HAS CHANGED: the %s host key for %s "
			                     "is SHA256:%s, which is not the key in %s:%d; someone could be "
			                     "eavesdropping (man-in-the-middle), or the host key has just "
			                     "been changed. Host key verification failed.",
			                     key_type_name(type), name, fp, file, line);
		}
	} else if (rc == LIBSSH2_KNOWNHOST_CHECK_NOTFOUND) {
		if (s->cfg.hkc == HKC_ACCEPT_NEW)
			ret = append_known_host(s, &k[0], key, len, type); /* the user's file only */
		else if (s->cfg.hkc == HKC_OFF)
			h->log(h, EC_LOG_WARNING,
			       "ssh: no %s host key is known for %s (SHA256:%s); host_key_checking is "
			       "off, connecting anyway", key_type_name(type), name, fp);
		else
			ret = ssh__sess_fail(s, EC_EAUTH,
			                     "No %s host key is known for %s and you have requested strict "
			                     "checking (%s key fingerprint is SHA256:%s; known hosts file "
			                     "%s%s%s%s). Host key verification failed.",
			                     key_type_name(type), name, key_type_name(type), fp,
			                     s->cfg.known_hosts, k[0].missing ? ", which does not exist" : "",
			                     k[1].missing ? "" : ", and ", k[1].missing ? "" : files[1]);
	} else {
		ret = ssh__sess_fail(s, EC_EAUTH, "cannot check the host key of %s against %s: %s", name,
		                     file, ssh__sess_errmsg(s->s));
	}
	kh_free(&k[0]);
	kh_free(&k[1]);
	if (!ret)
		s->state = S_AUTHLIST;
	return ret;
}
