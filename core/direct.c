/* direct.c: see direct.h. An entry ("boot-<hash>" in the cache directory) is
 * "ECBOOT1\n", the CRC-32 of the body (4 bytes, big-endian), then the body: EC_BOOT's
 * executable and sys.path as Python literals, a NUL, and the PYTHONHOME the first-stage
 * boot was given (empty: none). */
#include "ecbuild.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <zlib.h>

#include "child.h"
#include "direct.h"
#include "error.h"
#include "payload.h"

#define MAGIC "ECBOOT1\n"

#define HDR_LEN (sizeof(MAGIC) - 1 + 4)

extern char **environ;

static uint32_t crc_of(const unsigned char *p, size_t n)
{
	return (uint32_t)crc32(crc32(0L, Z_NULL, 0), p, (uInt)n);
}

static uint32_t get_be32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* What moves sys.path or the installation an interpreter finds (CPython's getpath). */
static const char *const path_vars[] = {"PYTHONHOME", "PYTHONPATH", "PYTHONPLATLIBDIR", NULL};

/* FNV-1a, 64 bits, from two offsets: a name for the entry, not a defence (the
 * directory is private; the body carries a CRC). No OpenSSL before the spawn: its first
 * use costs ~1 ms of set-up, which the first-stage path spends while Python starts. */
struct name_hash {
	uint64_t a, b;
};

static void hash_add(struct name_hash *h, const void *data, size_t len)
{
	const unsigned char *p = data;
	for (size_t i = 0; i < len; i++) {
		h->a = (h->a ^ p[i]) * 0x100000001b3ULL;
		h->b = (h->b ^ p[i]) * 0x100000001b3ULL;
	}
}

static void hash_str(struct name_hash *h, const char *s)
{
	hash_add(h, s ? s : "", s ? strlen(s) + 1 : 0);
	hash_add(h, s ? "=" : "-", 1);
}

static void hash_stat(struct name_hash *h, const char *path)
{
	struct stat st;
	char line[128];
	int n = stat(path, &st) ? snprintf(line, sizeof(line), "-")
	                        : snprintf(line, sizeof(line), "%ju %ju %jd %jd.%09ld",
	                                   (uintmax_t)st.st_dev, (uintmax_t)st.st_ino,
	                                   (intmax_t)st.st_size, (intmax_t)st.st_mtim.tv_sec,
	                                   st.st_mtim.tv_nsec);
	hash_add(h, line, (size_t)n + 1);
}

int ec__direct_name(const char *python, char name[EC_CODECACHE_NAME_MAX], char path[PATH_MAX])
{
	char real[PATH_MAX], cfg[PATH_MAX + 16];
	struct stat st;
	if (ec__codecache_binary(python, real, &st, path))
		return -1;
	struct name_hash h = {0xcbf29ce484222325ULL, 0x6c62272e07bb0142ULL};
	hash_add(&h, MAGIC, strlen(MAGIC));
	hash_add(&h, ec__payload_deflate, ec__payload_deflate_len); /* this build */
	hash_str(&h, real);
	hash_stat(&h, real);
	hash_str(&h, path);
	for (int i = 0; path_vars[i]; i++)
		hash_str(&h, getenv(path_vars[i]));
	/* A virtualenv's pyvenv.cfg, beside its python or one directory up. */
	snprintf(cfg, sizeof(cfg), "%s", path);
	for (int up = 0; up < 2; up++) {
		char *slash = strrchr(cfg, '/');
		if (!slash)
			break;
		strcpy(slash, "/pyvenv.cfg");
		hash_stat(&h, cfg);
		*slash = '\0';
	}
	snprintf(name, EC_CODECACHE_NAME_MAX, "boot-%016jx%016jx", (uintmax_t)h.a, (uintmax_t)h.b);
	return 0;
}

static int has_name(const char *entry, const char *name)
{
	size_t n = strlen(name);
	return !strncmp(entry, name, n) && entry[n] == '=';
}

static char *concat(const char *a, const char *b, size_t blen)
{
	size_t alen = strlen(a);
	char *s = malloc(alen + blen + 1);
	if (s) {
		memcpy(s, a, alen);
		memcpy(s + alen, b, blen);
		s[alen + blen] = '\0';
	}
	return s;
}

/* The master's environment as the exec stage leaves it for the interpreter: without
 * PYTHONUNBUFFERED (the interpreter would read its program one byte per read(2)) and
 * the master's PYTHONHOME, both handed over in EC_BOOT for the core to put back; with
 * the entry's PYTHONHOME, for this start only. */
static char **make_env(const char *boot, const char *home)
{
	struct ec_buf ec_boot;
	ec__buf_init(&ec_boot);
	const char *unbuf = getenv("PYTHONUNBUFFERED"), *home0 = getenv("PYTHONHOME");
	int rc = ec__buf_append(&ec_boot, "[0, ", 4);
	rc = rc ? rc : ec__buf_append(&ec_boot, boot, strlen(boot));
	rc = rc ? rc : ec__buf_append(&ec_boot, ", ", 2);
	rc = rc ? rc : unbuf ? ec__payload_bytes_literal(&ec_boot, unbuf) : ec__buf_append(&ec_boot, "0", 1);
	rc = rc ? rc : ec__buf_append(&ec_boot, ", ", 2);
	rc = rc ? rc : home0 ? ec__payload_bytes_literal(&ec_boot, home0) : ec__buf_append(&ec_boot, "0", 1);
	rc = rc ? rc : ec__buf_append(&ec_boot, "]", 1);
	size_t n = 0;
	while (environ && environ[n])
		n++;
	char **envp = rc ? NULL : calloc(n + 3, sizeof(char *));
	size_t k = 0;
	for (size_t i = 0; envp && i < n; i++) {
		if (has_name(environ[i], "PYTHONUNBUFFERED") || has_name(environ[i], "PYTHONHOME") ||
		    has_name(environ[i], "EC_BOOT"))
			continue;
		if (!(envp[k++] = strdup(environ[i])))
			goto fail;
	}
	if (envp && !(envp[k++] = concat("EC_BOOT=", (const char *)ec_boot.data, ec_boot.len)))
		goto fail;
	if (envp && *home && !(envp[k++] = concat("PYTHONHOME=", home, strlen(home))))
		goto fail;
	ec__buf_free(&ec_boot);
	return envp;
fail:
	for (size_t i = 0; i < k; i++)
		free(envp[i]);
	free(envp);
	ec__buf_free(&ec_boot);
	return NULL;
}

struct ec_direct *ec__direct_new(const char *python)
{
	char name[EC_CODECACHE_NAME_MAX], path[PATH_MAX];
	struct ec_buf body;
	ec__buf_init(&body);
	if (ec__direct_name(python, name, path) || ec__codecache_read(name, &body) ||
	    body.len < HDR_LEN + 1 || memcmp(body.data, MAGIC, strlen(MAGIC)) ||
	    crc_of(body.data + HDR_LEN, body.len - HDR_LEN) != get_be32(body.data + strlen(MAGIC)) ||
	    ec__buf_append(&body, "", 1)) {
		ec__buf_free(&body);
		return NULL;
	}
	/* boot NUL home NUL (the NUL just appended) */
	const char *boot = (const char *)body.data + HDR_LEN;
	size_t boot_len = strlen(boot);
	struct ec_direct *d = NULL;
	if (HDR_LEN + boot_len + 1 < body.len && (d = calloc(1, sizeof(*d)))) {
		memcpy(d->entry, name, sizeof(name));
		memcpy(d->path, path, sizeof(path));
		d->prog_fd = d->code_fd = -1;
		ec__buf_init(&d->prog);
		ec__buf_init(&d->code);
		if (!(d->envp = make_env(boot, boot + boot_len + 1))) {
			free(d);
			d = NULL;
		}
	}
	ec__buf_free(&body);
	return d;
}

static void free_env(struct ec_direct *d)
{
	for (size_t i = 0; d->envp && d->envp[i]; i++)
		free(d->envp[i]);
	free(d->envp);
	d->envp = NULL;
}

int ec__direct_spawn(struct ec_direct *d, const char *who, const char *argv0, pid_t *pid,
                     int *fd, struct ec_error *err)
{
	/* Sockets, not pipes: send(MSG_NOSIGNAL) needs no SIGPIPE dance when the
	 * interpreter is gone, and their buffer takes the whole core (ec__direct_feed). */
	int prog[2] = {-1, -1}, code[2] = {-1, -1};
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, prog) ||
	    socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, code)) {
		int rc = ec__error_sys(err, who, "socketpair");
		for (int i = 0; i < 2; i++) {
			if (prog[i] >= 0)
				close(prog[i]);
			if (code[i] >= 0)
				close(code[i]);
		}
		return rc;
	}
	/* The exec stage's layout (payload/exec_stage.py): the program on stdin, the
	 * stream on 100 and 101 (and 1 and 2 until the core takes them), the core on 102. */
	const int dups[][2] = {{prog[1], 0}, {-1, 100}, {-1, 101}, {code[1], 102}};
	char *argv[] = {(char *)argv0, "-S", NULL};
	int rc = ec__child_spawn_fds(who, d->path, argv, d->envp, dups, 4, pid, fd, err);
	close(prog[1]);
	close(code[1]);
	free_env(d);
	if (rc) {
		close(prog[0]);
		close(code[0]);
		return rc;
	}
	d->prog_fd = prog[0];
	d->code_fd = code[0];
	return 0;
}

/* All of buf into fd at once, or an error. */
static int feed_one(int *fd, struct ec_buf *buf, const char *what, const char *who,
                    struct ec_error *err)
{
	int want = (int)(buf->len * 2 + 65536);
	int have = 0;
	socklen_t sl = sizeof(have);
	if (getsockopt(*fd, SOL_SOCKET, SO_SNDBUF, &have, &sl) == 0 && have < want)
		setsockopt(*fd, SOL_SOCKET, SO_SNDBUF, &want, sizeof(want));
	size_t off = 0;
	while (off < buf->len) {
		ssize_t n = send(*fd, buf->data + off, buf->len - off, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		off += (size_t)n;
	}
	int e = errno;
	close(*fd);
	*fd = -1;
	if (off < buf->len)
		return ec__error_set(err, EC_EBOOT, who,
		                     "context '%s': direct boot: %s not handed over (%zu of %zu "
		                     "bytes: %s)", who, what, off, buf->len, strerror(e));
	return 0;
}

int ec__direct_feed(struct ec_direct *d, const char *who, struct ec_error *err)
{
	int rc = feed_one(&d->prog_fd, &d->prog, "its program", who, err);
	OPENSSL_cleanse(d->prog.data, d->prog.len);
	ec__buf_free(&d->prog);
	rc = rc ? rc : feed_one(&d->code_fd, &d->code, "its core", who, err);
	ec__buf_free(&d->code);
	if (d->code_fd >= 0) {
		close(d->code_fd);
		d->code_fd = -1;
	}
	return rc;
}

int ec__direct_store(const char *name, const char *boot, size_t boot_len, const char *home,
                     size_t home_len, char *why, size_t why_len)
{
	if (!boot_len || memchr(boot, '\0', boot_len) || (home && memchr(home, '\0', home_len)) ||
	    (home && memchr(home, '\n', home_len))) {
		snprintf(why, why_len, "not a boot description");
		return -1;
	}
	struct ec_buf body;
	ec__buf_init(&body);
	int rc = ec__buf_append(&body, MAGIC, strlen(MAGIC));
	rc = rc ? rc : ec__buf_append(&body, "\0\0\0\0", 4);
	rc = rc ? rc : ec__buf_append(&body, boot, boot_len);
	rc = rc ? rc : ec__buf_append(&body, "", 1);
	rc = rc ? rc : home ? ec__buf_append(&body, home, home_len) : 0;
	if (rc) {
		snprintf(why, why_len, "out of memory");
	} else {
		uint32_t crc = crc_of(body.data + HDR_LEN, body.len - HDR_LEN);
		for (int i = 0; i < 4; i++)
			body.data[strlen(MAGIC) + i] = (unsigned char)(crc >> (24 - 8 * i));
		rc = ec__codecache_write(name, body.data, body.len, why, why_len);
	}
	ec__buf_free(&body);
	return rc;
}

void ec__direct_free(struct ec_direct *d)
{
	if (!d)
		return;
	free_env(d);
	if (d->prog_fd >= 0)
		close(d->prog_fd);
	if (d->code_fd >= 0)
		close(d->code_fd);
	if (d->prog.data)
		OPENSSL_cleanse(d->prog.data, d->prog.len);
	ec__buf_free(&d->prog);
	ec__buf_free(&d->code);
	free(d);
}
