/* modpath.c: finding and reading modules along the module path (see modpath.h). Every
 * directory is listed once and the listing kept (a lookup compares names against it
 * instead of probing the filesystem for each candidate file); a found file's real path
 * must stay inside the path directory it was found in, unless follow. */
#include "ecbuild.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <zlib.h>

#include "error.h"
#include "fileio.h"
#include "modpath.h"
#include "modscan.h"
#include "strv.h"
#include "value.h" /* ec__utf8_valid */

#define MAX_SOURCE (16u << 20)
#define MAX_NAME 512

struct ec_modpath_dir {
	char *path;
	char **names; /* sorted */
	size_t n;
	struct ec_modpath_dir *next;
};

/* An identifier (ASCII or UTF-8 letters, digits not first) of len bytes. */
static int is_ident(const char *s, size_t len)
{
	if (!len || (*s >= '0' && *s <= '9'))
		return 0;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '_' || c >= 0x80))
			return 0;
	}
	return 1;
}

int ec__modpath_valid_name(const char *name)
{
	size_t len = strlen(name);
	if (!len || len > MAX_NAME)
		return 0;
	for (const char *p = name;;) {
		const char *dot = strchr(p, '.');
		size_t l = dot ? (size_t)(dot - p) : strlen(p);
		if (!is_ident(p, l))
			return 0;
		if (!dot)
			return 1;
		p = dot + 1;
	}
}

/* "x.so", "x.cpython-311-x86_64-linux-gnu.so", "x.abi3.so", "x.pyd": the module x. */
static size_t ext_module_name(const char *file)
{
	size_t len = strlen(file);
	const char *dot = strchr(file, '.');
	if (!dot)
		return 0;
	if ((len > 3 && strcmp(file + len - 3, ".so") == 0) ||
	    (len > 4 && strcmp(file + len - 4, ".pyd") == 0))
		return (size_t)(dot - file);
	return 0;
}

static int is_file(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

static int is_dir(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* A directory's entries (no dot files), sorted. Empty when unreadable. 0, or
 * EC_ENOMEM with nothing (a list cut short would hide modules: "not found"). */
static int read_dir(const char *path, char ***names, size_t *n)
{
	size_t cap = 0;
	int rc = 0;
	DIR *d = opendir(path);
	struct dirent *e;
	while (!rc && d && (e = readdir(d)))
		if (e->d_name[0] != '.')
			rc = ec__strv_push(names, n, &cap, e->d_name, strlen(e->d_name));
	if (d)
		closedir(d);
	if (rc) {
		ec__strv_free(*names);
		*names = NULL;
		*n = 0;
		return rc;
	}
	ec__strv_sort_unique(*names, n);
	return 0;
}

/* A directory's entries, sorted, cached. NULL when out of memory. */
static const struct ec_modpath_dir *list_dir(struct ec_modpath *p, const char *path)
{
	for (struct ec_modpath_dir *l = p->lists; l; l = l->next)
		if (strcmp(l->path, path) == 0)
			return l;
	struct ec_modpath_dir *l = calloc(1, sizeof(*l));
	if (!l || !(l->path = strdup(path)) || read_dir(path, &l->names, &l->n)) {
		if (l)
			free(l->path);
		free(l);
		return NULL;
	}
	l->next = p->lists;
	p->lists = l;
	return l;
}

/* Is real (a real path) inside root (a real path)? */
static int inside(const char *real, const char *root)
{
	size_t n = strlen(root);
	if (n == 1 && root[0] == '/')
		return 1;
	return strncmp(real, root, n) == 0 && real[n] == '/';
}

static int set_reason(struct ec_module *m, const char *fmt, ...) EC_PRINTF(2, 3);
static int set_reason(struct ec_module *m, const char *fmt, ...)
{
	char buf[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	m->status = EC_MOD_REFUSED;
	free(m->reason);
	m->reason = strdup(buf);
	return m->reason ? 0 : EC_ENOMEM;
}

static int has_coding_cookie(const char *src, size_t len)
{
	/* PEP 263: a comment matching coding[:=] on line 1 or 2. */
	size_t lines = 0, i = 0;
	while (i < len && lines < 2) {
		size_t e = i;
		while (e < len && src[e] != '\n')
			e++;
		for (size_t k = i; k + 7 < e; k++)
			if (memcmp(src + k, "coding", 6) == 0 && (src[k + 6] == ':' || src[k + 6] == '='))
				return 1;
		i = e + 1;
		lines++;
	}
	return 0;
}

/* Read, check, compress and scan the source of a found module. */
static int load_source(struct ec_module *m, const char *file)
{
	int fd = open(file, O_RDONLY | O_CLOEXEC);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) != 0) {
		if (fd >= 0)
			close(fd);
		return set_reason(m, "cannot read %s: %s", file, strerror(errno));
	}
	if (st.st_size > (off_t)MAX_SOURCE) {
		close(fd);
		return set_reason(m, "%s is larger than 16 MiB", file);
	}
	size_t len = (size_t)st.st_size;
	char *src = malloc(len + 1);
	if (!src) {
		close(fd);
		return EC_ENOMEM;
	}
	ssize_t got = ec__read_full(fd, src, len);
	close(fd);
	len = got > 0 ? (size_t)got : 0;
	src[len] = '\0';
	int rc = 0;
	if (!ec__utf8_valid(src, len) && !has_coding_cookie(src, len)) {
		rc = set_reason(m, "%s is not UTF-8 and declares no encoding", file);
		goto out;
	}
	uLongf zlen = compressBound((uLong)len);
	m->zsrc = malloc(zlen);
	if (!m->zsrc) {
		rc = EC_ENOMEM;
		goto out;
	}
	if (compress2(m->zsrc, &zlen, (const Bytef *)src, (uLong)len, 6) != Z_OK) {
		rc = EC_ENOMEM;
		goto out;
	}
	m->zlen = zlen;
	m->srclen = len;
	char *anchor = strdup(m->name);
	if (!anchor) {
		rc = EC_ENOMEM;
		goto out;
	}
	if (!m->is_pkg) {
		char *dot = strrchr(anchor, '.');
		*(dot ? dot : anchor) = '\0';
	}
	rc = ec__modscan(src, len, anchor, &m->imports, &m->nimports);
	free(anchor);
	if (!rc)
		m->status = EC_MOD_FOUND;
out:
	free(src);
	return rc;
}

/* The children of a package directory: modules, subpackages (marked with a trailing
 * '/', for pkgutil in the context), extension modules. */
static int list_children(struct ec_modpath *p, struct ec_module *m)
{
	const struct ec_modpath_dir *l = list_dir(p, m->dir);
	size_t cap = 0;
	int rc = 0;
	m->children = l ? calloc(1, sizeof(char *)) : NULL;
	if (!m->children)
		return EC_ENOMEM;
	cap = 1;
	for (size_t i = 0; l && i < l->n && !rc; i++) {
		const char *e = l->names[i];
		size_t len = strlen(e), base = 0;
		char sub[PATH_MAX];
		if (len > 3 && strcmp(e + len - 3, ".py") == 0)
			base = len - 3;
		else if (!(base = ext_module_name(e)) && is_ident(e, len) &&
		         snprintf(sub, sizeof(sub), "%s/%s/__init__.py", m->dir, e) < (int)sizeof(sub) &&
		         is_file(sub)) {
			snprintf(sub, sizeof(sub), "%s/", e);
			if (!(rc = ec__strv_push(&m->children, &m->nchildren, &cap, sub, len + 1)))
				continue;
		}
		if (base && is_ident(e, base) && !(base == 8 && memcmp(e, "__init__", 8) == 0))
			rc = ec__strv_push(&m->children, &m->nchildren, &cap, e, base);
	}
	ec__strv_sort_unique(m->children, &m->nchildren);
	/* A package shadows a module of the same name ("x" sorts right before "x/"). */
	size_t o = 0;
	for (size_t i = 0; i < m->nchildren; i++) {
		const char *next = i + 1 < m->nchildren ? m->children[i + 1] : NULL;
		size_t cl = strlen(m->children[i]);
		if (next && strncmp(next, m->children[i], cl) == 0 && next[cl] == '/' && !next[cl + 1])
			free(m->children[i]);
		else
			m->children[o++] = m->children[i];
	}
	m->nchildren = o;
	m->children[o] = NULL;
	return rc;
}

/* Look tail up in dir: a package, an extension module or a source file. root is the
 * real path it must stay inside. */
static int probe(struct ec_modpath *p, struct ec_module *m, const char *dir, const char *root,
                 const char *tail, int *found)
{
	char path[PATH_MAX], file[PATH_MAX + 16];
	const struct ec_modpath_dir *l = list_dir(p, dir);
	size_t tl = strlen(tail);
	*found = 0;
	if (!l)
		return EC_ENOMEM;
	snprintf(path, sizeof(path), "%s/%s", dir, tail);
	snprintf(file, sizeof(file), "%s/__init__.py", path);
	int pkg = 0, ext = 0, py = 0;
	for (size_t i = 0; i < l->n; i++) {
		const char *e = l->names[i];
		if (strncmp(e, tail, tl) != 0)
			continue;
		if (!e[tl] && is_dir(path) && is_file(file))
			pkg = 1;
		else if (e[tl] == '.' && ext_module_name(e) == tl)
			ext = 1;
		else if (strcmp(e + tl, ".py") == 0)
			py = 1;
	}
	if (!pkg && !ext && !py)
		return 0;
	*found = 1;
	if (ext && !pkg)
		return set_reason(m, "%s is an extension module (a .so/.pyd in %s); only Python "
		                  "source can be forwarded", m->name, dir);
	if (!pkg)
		snprintf(file, sizeof(file), "%s.py", path);
	char real[PATH_MAX];
	if (!realpath(file, real))
		return set_reason(m, "cannot resolve %s: %s", file, strerror(errno));
	if (!p->follow && !inside(real, root))
		return set_reason(m, "%s resolves to %s, outside the module path", file, real);
	m->is_pkg = pkg;
	if (!(m->path = strdup(real)) || (pkg && !(m->dir = strdup(path))))
		return EC_ENOMEM;
	int rc = load_source(m, real);
	if (!rc && pkg && m->status == EC_MOD_FOUND)
		rc = list_children(p, m);
	return rc;
}

void ec__modpath_module_free(struct ec_module *m)
{
	ec__strv_free(m->children);
	ec__strv_free(m->imports);
	free(m->zsrc);
	free(m->path);
	free(m->dir);
	free(m->reason);
	free(m->name);
	free(m);
}

int ec__modpath_find(struct ec_modpath *p, struct ec_module *m, const struct ec_module *parent)
{
	const char *name = m->name, *dot = strrchr(name, '.');
	int rc = 0, found = 0;
	if (!ec__modpath_valid_name(name))
		return 0; /* absent */
	if (strcmp(name, EC_SCRIPT_MODULE) == 0) {
		if (p->script && !(rc = (m->path = strdup(p->script)) ? 0 : EC_ENOMEM))
			rc = load_source(m, p->script);
	} else if (dot) {
		if (parent && parent->status == EC_MOD_FOUND && parent->is_pkg && parent->dir) {
			/* The root the parent came from bounds its children too. */
			const char *root = p->follow ? "/" : NULL;
			for (size_t i = 0; i < p->ndirs && !root; i++)
				if (inside(parent->path, p->real[i]))
					root = p->real[i];
			if (root)
				rc = probe(p, m, parent->dir, root, dot + 1, &found);
		}
	} else {
		for (size_t i = 0; i < p->ndirs && !found && !rc; i++)
			rc = probe(p, m, p->dirs[i], p->real[i], name, &found);
	}
	return rc;
}

static int toplevel_locked(struct ec_modpath *p)
{
	size_t n = 0, cap = 0;
	char **v = NULL;
	int rc = 0;
	if (p->top)
		return 0;
	if (p->script)
		rc = ec__strv_push(&v, &n, &cap, EC_SCRIPT_MODULE, strlen(EC_SCRIPT_MODULE));
	for (size_t d = 0; d < p->ndirs && !rc; d++) {
		struct ec_modpath_dir dl = {0}, *l = &dl;
		if ((rc = read_dir(p->dirs[d], &dl.names, &dl.n)))
			break;
		for (size_t i = 0; i < l->n && !rc; i++) {
			const char *e = l->names[i];
			size_t len = strlen(e), base = 0;
			if (len > 3 && strcmp(e + len - 3, ".py") == 0)
				base = len - 3;
			else if (!(base = ext_module_name(e)) && is_ident(e, len)) {
				char sub[PATH_MAX];
				snprintf(sub, sizeof(sub), "%s/%s/__init__.py", p->dirs[d], e);
				if (is_file(sub))
					base = len;
			}
			if (base && is_ident(e, base))
				rc = ec__strv_push(&v, &n, &cap, e, base);
		}
		ec__strv_free(dl.names);
	}
	if (!rc && !v && !(v = calloc(1, sizeof(char *))))
		rc = EC_ENOMEM;
	if (rc) {
		ec__strv_free(v);
		return rc;
	}
	ec__strv_sort_unique(v, &n);
	p->top = v;
	p->ntop = n;
	return 0;
}

int ec__modpath_toplevel(struct ec_modpath *p, char ***out, size_t *n)
{
	pthread_mutex_lock(&p->top_lock);
	int rc = toplevel_locked(p);
	char **v = NULL;
	size_t cap = 0, k = 0;
	for (size_t i = 0; !rc && i < p->ntop; i++)
		rc = ec__strv_push(&v, &k, &cap, p->top[i], strlen(p->top[i]));
	pthread_mutex_unlock(&p->top_lock);
	if (!rc && !v && !(v = calloc(1, sizeof(char *))))
		rc = EC_ENOMEM;
	if (rc) {
		ec__strv_free(v);
		return rc;
	}
	*out = v;
	*n = k;
	return 0;
}

int ec__modpath_init(struct ec_modpath *p, const char *const *dirs, const char *script,
                     struct ec_error *err)
{
	memset(p, 0, sizeof(*p));
	pthread_mutex_init(&p->top_lock, NULL);
	char real[PATH_MAX], scriptdir[PATH_MAX];
	const char *extra = NULL;
	if (script) {
		if (!realpath(script, real) || !is_file(real)) {
			int rc = ec__error_set(err, EC_ENOTFOUND, script, "cannot open the script: %s",
			                       errno ? strerror(errno) : "not a regular file");
			ec__modpath_close(p);
			return rc;
		}
		if (!(p->script = strdup(real))) {
			ec__modpath_close(p);
			return ec__error_set(err, EC_ENOMEM, NULL, "out of memory");
		}
		memcpy(scriptdir, real, sizeof(scriptdir));
		*strrchr(scriptdir, '/') = '\0';
		extra = scriptdir[0] ? scriptdir : "/";
	}
	const char *all[EC_MODPATH_MAX_DIRS + 2];
	size_t nall = 0;
	for (size_t i = 0; dirs && dirs[i] && nall < EC_MODPATH_MAX_DIRS; i++)
		all[nall++] = dirs[i];
	if (extra)
		all[nall++] = extra;
	for (size_t i = 0; i < nall; i++) {
		const char *d = all[i];
		if (p->ndirs == EC_MODPATH_MAX_DIRS || !realpath(d, real) || !is_dir(real))
			continue; /* a missing directory serves nothing */
		int dup = 0;
		for (size_t k = 0; k < p->ndirs; k++)
			dup |= strcmp(p->real[k], real) == 0;
		if (dup)
			continue;
		/* Search the given path (so children keep their logical place), bounded by
		 * its real path. */
		char abs[PATH_MAX];
		if (d[0] != '/') {
			char cwd[PATH_MAX];
			if (!getcwd(cwd, sizeof(cwd)))
				continue;
			if (snprintf(abs, sizeof(abs), "%s/%s", cwd, d) >= (int)sizeof(abs))
				continue;
		} else {
			snprintf(abs, sizeof(abs), "%s", d);
		}
		if (!(p->dirs[p->ndirs] = strdup(abs)) || !(p->real[p->ndirs] = strdup(real))) {
			free(p->dirs[p->ndirs]);
			p->dirs[p->ndirs] = NULL;
			ec__modpath_close(p);
			return ec__error_set(err, EC_ENOMEM, NULL, "out of memory");
		}
		p->ndirs++;
	}
	return 0;
}

void ec__modpath_close(struct ec_modpath *p)
{
	for (struct ec_modpath_dir *l = p->lists; l;) {
		struct ec_modpath_dir *next = l->next;
		ec__strv_free(l->names);
		free(l->path);
		free(l);
		l = next;
	}
	for (size_t i = 0; i < p->ndirs; i++) {
		free(p->dirs[i]);
		free(p->real[i]);
	}
	ec__strv_free(p->top);
	free(p->script);
	pthread_mutex_destroy(&p->top_lock);
}
