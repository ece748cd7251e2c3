/* codecache.c: the remote core as bytecode, kept per local interpreter binary
 * (codecache.h). A file is "ECCODE2\n", the SHA-256 of the body, then the body: the
 * raw deflate of the interpreter's 4-byte bytecode magic and the marshalled core,
 * ending on a sync flush, ready to go into the boot stream after B's tag 'C'
 * (docs/protocol.md §1; payload/loader.py checks the magic). */
#include "ecbuild.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <zlib.h>

#include "codecache.h"
#include "fileio.h"
#include "payload.h"

#define MAGIC "ECCODE2\n"
#define MAGIC_LEN 8
#define FILE_MAX (8u << 20) /* an entry is ~10-25 KiB; more is not ours */
/* Every econtext build and every interpreter upgrade makes new entries and orphans the
 * old: a hit marks its entry used (its mtime, at most once a day), and each new entry
 * removes those unused for PRUNE_AGE. */
#define TOUCH_AGE (24L * 3600)
#define PRUNE_AGE (30L * 24 * 3600)

static int sha256_3(const void *a, size_t alen, const void *b, size_t blen, const void *c,
                    size_t clen, unsigned char out[32])
{
	unsigned int n = 0;
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	int ok = md && EVP_DigestInit_ex(md, EVP_sha256(), NULL) &&
	         EVP_DigestUpdate(md, a, alen) && (!blen || EVP_DigestUpdate(md, b, blen)) &&
	         (!clen || EVP_DigestUpdate(md, c, clen)) && EVP_DigestFinal_ex(md, out, &n) &&
	         n == 32;
	EVP_MD_CTX_free(md);
	return ok ? 0 : -1;
}

static int sha256(const void *a, size_t alen, const void *b, size_t blen, unsigned char out[32])
{
	return sha256_3(a, alen, b, blen, NULL, 0, out);
}

/* Where posix_spawnp would find `python`, resolved to the real file; found (may be
 * NULL): the path as found (absolute, symbolic links kept: a virtualenv's python). */
static int find_binary(const char *python, char real[PATH_MAX], char *found)
{
	if (strchr(python, '/')) {
		if (found) {
			char cwd[PATH_MAX];
			if (python[0] != '/' && !getcwd(cwd, sizeof(cwd)))
				return -1;
			if (snprintf(found, PATH_MAX, "%s%s%s", python[0] == '/' ? "" : cwd,
			             python[0] == '/' ? "" : "/", python) >= PATH_MAX)
				return -1;
		}
		return realpath(python, real) ? 0 : -1;
	}
	const char *path = getenv("PATH");
	if (!path || !*path)
		path = "/usr/local/bin:/usr/bin:/bin";
	while (*path) {
		size_t n = strcspn(path, ":");
		char cand[PATH_MAX];
		if (n && n + 1 + strlen(python) < sizeof(cand)) {
			snprintf(cand, sizeof(cand), "%.*s/%s", (int)n, path, python);
			struct stat st;
			if (stat(cand, &st) == 0 && S_ISREG(st.st_mode) && access(cand, X_OK) == 0) {
				if (found && cand[0] != '/')
					return -1; /* a relative $PATH entry: not worth a direct boot */
				if (found)
					memcpy(found, cand, strlen(cand) + 1);
				return realpath(cand, real) ? 0 : -1;
			}
		}
		path += n + (path[n] == ':');
	}
	return -1;
}

/* A script (a pyenv shim, a wrapper) may run a different interpreter each time: only
 * a binary names one. */
static int is_elf(const char *path)
{
	unsigned char head[4] = {0};
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n = fd < 0 ? -1 : read(fd, head, sizeof(head));
	if (fd >= 0)
		close(fd);
	return n == 4 && !memcmp(head, "\x7f" "ELF", 4);
}

int ec__codecache_binary(const char *python, char *real, struct stat *st, char *found)
{
	if (!python || find_binary(python, real, found) || stat(real, st) ||
	    !S_ISREG(st->st_mode) || !is_elf(real))
		return -1;
	return 0;
}

int ec__codecache_name(const char *python, const char *codec,
                       char name[EC_CODECACHE_NAME_MAX])
{
	char real[PATH_MAX];
	struct stat st;
	if (ec__codecache_binary(python, real, &st, NULL))
		return -1;
	char id[PATH_MAX + 128];
	int n = snprintf(id, sizeof(id), "%s\n%ju %ju %jd %jd.%09ld", real, (uintmax_t)st.st_dev,
	                 (uintmax_t)st.st_ino, (intmax_t)st.st_size, (intmax_t)st.st_mtim.tv_sec,
	                 st.st_mtim.tv_nsec);
	unsigned char h[32];
	if (n < 0 || (size_t)n >= sizeof(id) ||
	    sha256_3(ec__payload_deflate, ec__payload_deflate_len, id, (size_t)n, codec,
	             codec ? strlen(codec) : 0, h))
		return -1;
	char *p = name + snprintf(name, EC_CODECACHE_NAME_MAX, "core-");
	for (int i = 0; i < 16; i++)
		p += snprintf(p, 3, "%02x", h[i]);
	snprintf(p, 3, ".z");
	return 0;
}

int ec__codecache_dir(char *dir, size_t n)
{
	const char *xdg = getenv("XDG_CACHE_HOME");
	if (xdg && xdg[0] == '/')
		return snprintf(dir, n, "%s/econtext", xdg) < (int)n ? 0 : -1;
	const char *home = getenv("HOME");
	struct passwd pw, *res = NULL;
	char pwbuf[1024];
	if ((!home || home[0] != '/') && getpwuid_r(geteuid(), &pw, pwbuf, sizeof(pwbuf), &res) == 0 &&
	    res)
		home = pw.pw_dir;
	if (!home || home[0] != '/')
		return -1;
	return snprintf(dir, n, "%s/.cache/econtext", home) < (int)n ? 0 : -1;
}

/* Ours and private: a file anyone else can write could hold any code. */
static int private_to_us(const struct stat *st)
{
	return st->st_uid == geteuid() && !(st->st_mode & (S_IWGRP | S_IWOTH));
}

int ec__codecache_load(const char *name, struct ec_buf *core)
{
	return ec__codecache_get(name, MAGIC, core);
}

int ec__codecache_get(const char *name, const char *magic, struct ec_buf *body_out)
{
	struct ec_buf file;
	ec__buf_init(&file);
	int rc = ec__codecache_read(name, &file);
	unsigned char h[32];
	if (!rc && (file.len < MAGIC_LEN + 32 + 1 || memcmp(file.data, magic, MAGIC_LEN) ||
	            sha256(file.data + MAGIC_LEN + 32, file.len - MAGIC_LEN - 32, NULL, 0, h) ||
	            memcmp(h, file.data + MAGIC_LEN, 32) ||
	            ec__buf_append(body_out, file.data + MAGIC_LEN + 32, file.len - MAGIC_LEN - 32)))
		rc = -1;
	ec__buf_free(&file);
	return rc;
}

int ec__codecache_read(const char *name, struct ec_buf *out)
{
	char dir[PATH_MAX], path[PATH_MAX + EC_CODECACHE_NAME_MAX + 2];
	struct stat st;
	if (ec__codecache_dir(dir, sizeof(dir)) || stat(dir, &st) || !S_ISDIR(st.st_mode) ||
	    !private_to_us(&st))
		return -1;
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -1;
	unsigned char *data = NULL;
	int rc = -1;
	if (fstat(fd, &st) || !S_ISREG(st.st_mode) || !private_to_us(&st) ||
	    st.st_size < 1 || (size_t)st.st_size > FILE_MAX)
		goto out;
	size_t len = (size_t)st.st_size;
	if (!(data = malloc(len)) || ec__read_full(fd, data, len) != (ssize_t)len)
		goto out;
	rc = ec__buf_append(out, data, len) ? -1 : 0;
	if (!rc && st.st_mtime < time(NULL) - TOUCH_AGE)
		futimens(fd, NULL); /* used: safe from pruning for PRUNE_AGE more */
out:
	free(data);
	close(fd);
	return rc;
}

int ec__codecache_pack(const unsigned char *marshalled, size_t len, int level,
                       struct ec_buf *out)
{
	if (len <= 4)
		return -1;
	z_stream zs;
	memset(&zs, 0, sizeof(zs));
	if (deflateInit2(&zs, level, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY) != Z_OK)
		return -1;
	uLong bound = deflateBound(&zs, (uLong)len) + 16;
	int rc = -1;
	if (ec__buf_reserve(out, bound))
		goto out;
	zs.next_in = (unsigned char *)marshalled; /* zlib's input is not const, only read */
	zs.avail_in = (uInt)len;
	zs.next_out = out->data + out->len;
	zs.avail_out = (uInt)bound;
	if (deflate(&zs, Z_SYNC_FLUSH) != Z_OK || zs.avail_in || !zs.avail_out)
		goto out;
	out->len += bound - zs.avail_out;
	rc = 0;
out:
	deflateEnd(&zs);
	return rc;
}

/* mkdir -p for the last two components ($HOME/.cache/econtext), private. */
static int make_dir(const char *dir)
{
	struct stat st;
	if (stat(dir, &st) == 0)
		return S_ISDIR(st.st_mode) && private_to_us(&st) ? 0 : -1;
	char parent[PATH_MAX];
	snprintf(parent, sizeof(parent), "%s", dir);
	char *slash = strrchr(parent, '/');
	if (slash && slash != parent) {
		*slash = '\0';
		if (mkdir(parent, 0700) && errno != EEXIST)
			return -1;
	}
	if (mkdir(dir, 0700) && errno != EEXIST)
		return -1;
	return stat(dir, &st) == 0 && S_ISDIR(st.st_mode) && private_to_us(&st) ? 0 : -1;
}

/* Remove the entries (core-*.z, boot-*) of ours unused for PRUNE_AGE, and temporary
 * files (.core-*, .boot-*) that a writer left behind for as long. */
static void prune(const char *dir)
{
	DIR *d = opendir(dir);
	if (!d)
		return;
	time_t old = time(NULL) - PRUNE_AGE;
	struct dirent *e;
	while ((e = readdir(d))) {
		const char *n = e->d_name;
		size_t len = strlen(n);
		int entry = (!strncmp(n, "core-", 5) && len > 7 && !strcmp(n + len - 2, ".z")) ||
		            !strncmp(n, "boot-", 5);
		if (!entry && strncmp(n, ".core-", 6) && strncmp(n, ".boot-", 6))
			continue;
		struct stat st;
		if (fstatat(dirfd(d), n, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode) &&
		    st.st_uid == geteuid() && st.st_mtime < old)
			unlinkat(dirfd(d), n, 0);
	}
	closedir(d);
}

int ec__codecache_store(const char *name, const unsigned char *marshalled, size_t len,
                        char *why, size_t why_len)
{
	if (len <= 4) {
		snprintf(why, why_len, "no bytecode");
		return -1;
	}
	struct ec_buf body;
	ec__buf_init(&body);
	int rc = ec__codecache_pack(marshalled, len, 9, &body);
	if (rc)
		snprintf(why, why_len, "out of memory");
	else
		rc = ec__codecache_put(name, MAGIC, body.data, body.len, why, why_len);
	ec__buf_free(&body);
	return rc;
}

int ec__codecache_put(const char *name, const char *magic, const void *body, size_t len,
                      char *why, size_t why_len)
{
	struct ec_buf file;
	ec__buf_init(&file);
	int rc = -1;
	/* The header, then the body; the body's hash into the header. */
	if (ec__buf_append(&file, magic, MAGIC_LEN) || ec__buf_reserve(&file, 32)) {
		snprintf(why, why_len, "out of memory");
		goto out;
	}
	file.len += 32;
	if (ec__buf_append(&file, body, len) ||
	    sha256(file.data + MAGIC_LEN + 32, file.len - MAGIC_LEN - 32, NULL, 0,
	           file.data + MAGIC_LEN)) {
		snprintf(why, why_len, "out of memory");
		goto out;
	}
	rc = ec__codecache_write(name, file.data, file.len, why, why_len);
out:
	ec__buf_free(&file);
	return rc;
}

int ec__codecache_write(const char *name, const void *data, size_t len, char *why,
                        size_t why_len)
{
	char dir[PATH_MAX], path[PATH_MAX + EC_CODECACHE_NAME_MAX + 2],
	    tmp[PATH_MAX + EC_CODECACHE_NAME_MAX + 32];
	if (ec__codecache_dir(dir, sizeof(dir))) {
		snprintf(why, why_len, "no home directory for the bytecode cache");
		return -1;
	}
	errno = 0;
	if (make_dir(dir)) {
		snprintf(why, why_len, "%s is not a private directory of ours (%s)", dir,
		         errno ? strerror(errno) : "owner or mode");
		return -1;
	}
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	snprintf(tmp, sizeof(tmp), "%s/.%s.%ld", dir, name, (long)getpid());
	/* A new file renamed into place: a reader sees the old file or the whole new one. */
	int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0) {
		snprintf(why, why_len, "cannot create %s: %s", tmp, strerror(errno));
		return -1;
	}
	int wrc = ec__write_full(fd, data, len);
	if (close(fd) || wrc || rename(tmp, path)) {
		snprintf(why, why_len, "cannot write %s: %s", path, strerror(errno));
		unlink(tmp);
		return -1;
	}
	prune(dir);
	return 0;
}

void ec__codecache_drop(const char *name)
{
	char dir[PATH_MAX], path[PATH_MAX + EC_CODECACHE_NAME_MAX + 2];
	if (ec__codecache_dir(dir, sizeof(dir)) == 0) {
		snprintf(path, sizeof(path), "%s/%s", dir, name);
		unlink(path);
	}
}
