/* modules.c: the module server; see modules.h. Lookups run on the server's thread when
 * a context asks (GET_MODULE) and are cached for the master's life, so each file is
 * read, checked, compressed and scanned once however many contexts import it; negative
 * answers are kept in a bounded LRU, so a context asking for many distinct names
 * cannot grow the master without limit.
 *
 * Threads and locks: the broker only checks the name and queues a job (qlock); the
 * server's thread does the lookups under s->lock (file IO and compression included:
 * nothing else waits on s->lock but a unit test's lookup), encodes the reply, then
 * takes the master's lock only to queue it on the context. The top-level list (read
 * when a context boots) has its own lock. Lock order: m->lock, then qlock. */
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

#include "broker.h"
#include "context.h"
#include "econtext/codec.h"
#include "error.h"
#include "fileio.h"
#include "log.h"
#include "modules.h"
#include "value.h"

#define NBUCKETS 1024
#define MAX_SOURCE (16u << 20)
#define MAX_NAME 512
#define MAX_DIRS 64

struct dirlist {
	char *path;
	char **names; /* sorted */
	size_t n;
	struct dirlist *next;
};

struct sent {
	unsigned ctx;
	char **names;
	size_t n, cap;
	struct sent *next;
};

struct job {
	unsigned ctx;
	int python_major;
	int forget; /* drop what was sent to ctx, in order with its GET_MODULE */
	char ctxname[128];
	struct job *next;
	char name[];
};

struct ec_modsrv {
	pthread_mutex_t lock;      /* the caches below */
	pthread_mutex_t top_lock;  /* top, ntop */
	pthread_mutex_t qlock;     /* the job queue and the thread's state */
	pthread_cond_t qcond;
	struct job *qhead, **qtail;
	pthread_t thread;
	int running, stopping;
	ec_master *m;
	int predict, follow;
	size_t max_absent, nabsent, nrecords;
	struct ec_module *lru_head, *lru_tail; /* ABSENT records, most recent first */
	char *dirs[MAX_DIRS + 1]; /* as given (absolute), searched in order */
	char *real[MAX_DIRS + 1]; /* their real paths, for containment checks */
	size_t ndirs;
	char *script; /* real path of the script served as EC_SCRIPT_MODULE, or NULL */
	struct ec_module *buckets[NBUCKETS];
	struct dirlist *lists;
	struct sent *sent;
	char **top; /* cached top-level names */
	size_t ntop;
};

void ec__strv_free(char **v)
{
	for (size_t i = 0; v && v[i]; i++)
		free(v[i]);
	free(v);
}

static int strv_push(char ***v, size_t *n, size_t *cap, const char *s, size_t len)
{
	if (*n + 2 > *cap) {
		size_t nc = *cap ? *cap * 2 : 16;
		char **nv = realloc(*v, nc * sizeof(char *));
		if (!nv)
			return EC_ENOMEM;
		*v = nv;
		*cap = nc;
	}
	char *c = strndup(s, len);
	if (!c)
		return EC_ENOMEM;
	(*v)[(*n)++] = c;
	(*v)[*n] = NULL;
	return 0;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sort and drop duplicates in place. */
static void strv_sort_unique(char **v, size_t *n)
{
	if (!v || !*n)
		return;
	qsort(v, *n, sizeof(char *), cmp_str);
	size_t o = 1;
	for (size_t i = 1; i < *n; i++) {
		if (strcmp(v[i], v[o - 1]) == 0)
			free(v[i]);
		else
			v[o++] = v[i];
	}
	*n = o;
	v[o] = NULL;
}

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

static int valid_name(const char *name)
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

/* A directory's entries (no dot files), sorted. Empty when unreadable. */
static void read_dir(const char *path, char ***names, size_t *n)
{
	size_t cap = 0;
	DIR *d = opendir(path);
	struct dirent *e;
	while (d && (e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		if (strv_push(names, n, &cap, e->d_name, strlen(e->d_name)))
			break;
	}
	if (d)
		closedir(d);
	strv_sort_unique(*names, n);
}

/* A directory's entries, sorted, cached. NULL when out of memory. */
static const struct dirlist *list_dir(struct ec_modsrv *s, const char *path)
{
	for (struct dirlist *l = s->lists; l; l = l->next)
		if (strcmp(l->path, path) == 0)
			return l;
	struct dirlist *l = calloc(1, sizeof(*l));
	if (!l || !(l->path = strdup(path))) {
		free(l);
		return NULL;
	}
	read_dir(path, &l->names, &l->n);
	l->next = s->lists;
	s->lists = l;
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

static unsigned hash(const char *s)
{
	unsigned h = 5381;
	while (*s)
		h = h * 33 + (unsigned char)*s++;
	return h % NBUCKETS;
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
static int list_children(struct ec_modsrv *s, struct ec_module *m)
{
	const struct dirlist *l = list_dir(s, m->dir);
	size_t cap = 0;
	int rc = 0;
	m->children = calloc(1, sizeof(char *));
	if (!m->children)
		return EC_ENOMEM;
	cap = 1;
	for (size_t i = 0; l && i < l->n && !rc; i++) {
		const char *e = l->names[i];
		size_t len = strlen(e), base = 0;
		char p[PATH_MAX];
		if (len > 3 && strcmp(e + len - 3, ".py") == 0)
			base = len - 3;
		else if (!(base = ext_module_name(e)) && is_ident(e, len) &&
		         snprintf(p, sizeof(p), "%s/%s/__init__.py", m->dir, e) < (int)sizeof(p) &&
		         is_file(p)) {
			snprintf(p, sizeof(p), "%s/", e);
			if (!(rc = strv_push(&m->children, &m->nchildren, &cap, p, len + 1)))
				continue;
		}
		if (base && is_ident(e, base) && !(base == 8 && memcmp(e, "__init__", 8) == 0))
			rc = strv_push(&m->children, &m->nchildren, &cap, e, base);
	}
	strv_sort_unique(m->children, &m->nchildren);
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
static int probe(struct ec_modsrv *s, struct ec_module *m, const char *dir, const char *root,
                 const char *tail, int *found)
{
	char path[PATH_MAX], file[PATH_MAX + 16];
	const struct dirlist *l = list_dir(s, dir);
	size_t tl = strlen(tail);
	*found = 0;
	if (!l)
		return 0;
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
	if (!s->follow && !inside(real, root))
		return set_reason(m, "%s resolves to %s, outside the module path", file, real);
	m->is_pkg = pkg;
	if (!(m->path = strdup(real)) || (pkg && !(m->dir = strdup(path))))
		return EC_ENOMEM;
	int rc = load_source(m, real);
	if (!rc && pkg && m->status == EC_MOD_FOUND)
		rc = list_children(s, m);
	return rc;
}

static void module_free(struct ec_module *m)
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

static void lru_unlink(struct ec_modsrv *s, struct ec_module *m)
{
	*(m->lru_prev ? &m->lru_prev->lru_next : &s->lru_head) = m->lru_next;
	*(m->lru_next ? &m->lru_next->lru_prev : &s->lru_tail) = m->lru_prev;
	m->lru_prev = m->lru_next = NULL;
}

static void lru_push(struct ec_modsrv *s, struct ec_module *m)
{
	m->lru_prev = NULL;
	m->lru_next = s->lru_head;
	*(s->lru_head ? &s->lru_head->lru_prev : &s->lru_tail) = m;
	s->lru_head = m;
}

/* Drop the least recently used ABSENT records beyond the bound. */
static void lru_trim(struct ec_modsrv *s)
{
	while (s->nabsent > s->max_absent && s->lru_tail) {
		struct ec_module *m = s->lru_tail;
		lru_unlink(s, m);
		for (struct ec_module **pp = &s->buckets[hash(m->name)]; *pp; pp = &(*pp)->next)
			if (*pp == m) {
				*pp = m->next;
				break;
			}
		module_free(m);
		s->nabsent--;
		s->nrecords--;
	}
}

static int lookup_locked(struct ec_modsrv *s, const char *name, struct ec_module **out)
{
	unsigned h = hash(name);
	for (struct ec_module *m = s->buckets[h]; m; m = m->next)
		if (strcmp(m->name, name) == 0) {
			if (m->status == EC_MOD_ABSENT && s->lru_head != m) {
				lru_unlink(s, m);
				lru_push(s, m);
			}
			*out = m;
			return 0;
		}
	struct ec_module *m = calloc(1, sizeof(*m));
	if (!m || !(m->name = strdup(name))) {
		free(m);
		return EC_ENOMEM;
	}
	int rc = 0;
	const char *dot = strrchr(name, '.');
	if (!valid_name(name)) {
		/* absent */
	} else if (strcmp(name, EC_SCRIPT_MODULE) == 0) {
		if (s->script && !(rc = (m->path = strdup(s->script)) ? 0 : EC_ENOMEM))
			rc = load_source(m, s->script);
	} else if (dot) {
		char *parent = strndup(name, (size_t)(dot - name));
		struct ec_module *p = NULL;
		rc = parent ? lookup_locked(s, parent, &p) : EC_ENOMEM;
		free(parent);
		if (!rc && p->status == EC_MOD_FOUND && p->is_pkg && p->dir) {
			/* The root the parent came from bounds its children too. */
			const char *root = s->follow ? "/" : NULL;
			for (size_t i = 0; i < s->ndirs && !root; i++)
				if (inside(p->path, s->real[i]))
					root = s->real[i];
			int found = 0;
			if (root)
				rc = probe(s, m, p->dir, root, dot + 1, &found);
		}
	} else {
		int found = 0;
		for (size_t i = 0; i < s->ndirs && !found && !rc; i++)
			rc = probe(s, m, s->dirs[i], s->real[i], name, &found);
	}
	if (rc) {
		module_free(m);
		return rc;
	}
	m->next = s->buckets[h];
	s->buckets[h] = m;
	s->nrecords++;
	*out = m;
	if (m->status == EC_MOD_ABSENT) {
		lru_push(s, m);
		s->nabsent++;
		lru_trim(s); /* never m itself: the bound is at least 1 */
	}
	return 0;
}

int ec__modsrv_new(const char *const *dirs, const char *script, struct ec_modsrv **out,
                   struct ec_error *err)
{
	struct ec_modsrv *s = calloc(1, sizeof(*s));
	if (!s)
		return ec__error_set(err, EC_ENOMEM, NULL, "out of memory");
	pthread_mutex_init(&s->lock, NULL);
	pthread_mutex_init(&s->top_lock, NULL);
	pthread_mutex_init(&s->qlock, NULL);
	pthread_cond_init(&s->qcond, NULL);
	s->qtail = &s->qhead;
	s->predict = 1;
	s->max_absent = EC_MODSRV_MAX_ABSENT;
	char real[PATH_MAX], scriptdir[PATH_MAX];
	const char *extra = NULL;
	if (script) {
		if (!realpath(script, real) || !is_file(real)) {
			ec__modsrv_free(s);
			return ec__error_set(err, EC_ENOTFOUND, script, "cannot open the script: %s",
			                     errno ? strerror(errno) : "not a regular file");
		}
		if (!(s->script = strdup(real))) {
			ec__modsrv_free(s);
			return ec__error_set(err, EC_ENOMEM, NULL, "out of memory");
		}
		memcpy(scriptdir, real, sizeof(scriptdir));
		*strrchr(scriptdir, '/') = '\0';
		extra = scriptdir[0] ? scriptdir : "/";
	}
	const char *all[MAX_DIRS + 2];
	size_t nall = 0;
	for (size_t i = 0; dirs && dirs[i] && nall < MAX_DIRS; i++)
		all[nall++] = dirs[i];
	if (extra)
		all[nall++] = extra;
	for (size_t i = 0; i < nall; i++) {
		const char *d = all[i];
		if (s->ndirs == MAX_DIRS || !realpath(d, real) || !is_dir(real))
			continue; /* a missing directory serves nothing */
		int dup = 0;
		for (size_t k = 0; k < s->ndirs; k++)
			dup |= strcmp(s->real[k], real) == 0;
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
		if (!(s->dirs[s->ndirs] = strdup(abs)) || !(s->real[s->ndirs] = strdup(real))) {
			free(s->dirs[s->ndirs]);
			ec__modsrv_free(s);
			return ec__error_set(err, EC_ENOMEM, NULL, "out of memory");
		}
		s->ndirs++;
	}
	*out = s;
	return 0;
}

void ec__modsrv_free(struct ec_modsrv *s)
{
	if (!s)
		return;
	ec__modsrv_stop(s);
	for (size_t i = 0; i < NBUCKETS; i++)
		for (struct ec_module *m = s->buckets[i]; m;) {
			struct ec_module *next = m->next;
			module_free(m);
			m = next;
		}
	for (struct dirlist *l = s->lists; l;) {
		struct dirlist *next = l->next;
		ec__strv_free(l->names);
		free(l->path);
		free(l);
		l = next;
	}
	for (struct sent *t = s->sent; t;) {
		struct sent *next = t->next;
		ec__strv_free(t->names);
		free(t);
		t = next;
	}
	for (size_t i = 0; i < s->ndirs; i++) {
		free(s->dirs[i]);
		free(s->real[i]);
	}
	ec__strv_free(s->top);
	free(s->script);
	pthread_mutex_destroy(&s->lock);
	pthread_mutex_destroy(&s->top_lock);
	pthread_mutex_destroy(&s->qlock);
	pthread_cond_destroy(&s->qcond);
	free(s);
}

void ec__modsrv_configure(struct ec_modsrv *s, int predict, int follow_symlinks,
                          size_t max_absent)
{
	pthread_mutex_lock(&s->lock);
	s->predict = predict;
	s->follow = follow_symlinks;
	s->max_absent = max_absent ? max_absent : EC_MODSRV_MAX_ABSENT;
	lru_trim(s);
	pthread_mutex_unlock(&s->lock);
}

void ec__modsrv_cache_counts(struct ec_modsrv *s, size_t *total, size_t *absent)
{
	pthread_mutex_lock(&s->lock);
	*total = s->nrecords;
	*absent = s->nabsent;
	pthread_mutex_unlock(&s->lock);
}

size_t ec__modsrv_ndirs(const struct ec_modsrv *s)
{
	return s ? s->ndirs + (s->script ? 1 : 0) : 0;
}

int ec__modsrv_lookup(struct ec_modsrv *s, const char *name, const struct ec_module **out,
                      struct ec_error *err)
{
	struct ec_module *m = NULL;
	pthread_mutex_lock(&s->lock);
	int rc = lookup_locked(s, name, &m);
	pthread_mutex_unlock(&s->lock);
	if (rc)
		return ec__error_set(err, rc, name, "out of memory looking up a module");
	*out = m;
	return 0;
}

static int toplevel_locked(struct ec_modsrv *s)
{
	size_t n = 0, cap = 0;
	char **v = NULL;
	int rc = 0;
	if (s->top)
		return 0;
	if (s->script)
		rc = strv_push(&v, &n, &cap, EC_SCRIPT_MODULE, strlen(EC_SCRIPT_MODULE));
	for (size_t d = 0; d < s->ndirs && !rc; d++) {
		struct dirlist dl = {0}, *l = &dl;
		read_dir(s->dirs[d], &dl.names, &dl.n);
		for (size_t i = 0; i < l->n && !rc; i++) {
			const char *e = l->names[i];
			size_t len = strlen(e), base = 0;
			if (len > 3 && strcmp(e + len - 3, ".py") == 0)
				base = len - 3;
			else if (!(base = ext_module_name(e)) && is_ident(e, len)) {
				char p[PATH_MAX];
				snprintf(p, sizeof(p), "%s/%s/__init__.py", s->dirs[d], e);
				if (is_file(p))
					base = len;
			}
			if (base && is_ident(e, base))
				rc = strv_push(&v, &n, &cap, e, base);
		}
		ec__strv_free(dl.names);
	}
	if (!rc && !v && !(v = calloc(1, sizeof(char *))))
		rc = EC_ENOMEM;
	if (rc) {
		ec__strv_free(v);
		return rc;
	}
	strv_sort_unique(v, &n);
	s->top = v;
	s->ntop = n;
	return 0;
}

int ec__modsrv_toplevel(struct ec_modsrv *s, char ***out, size_t *n, struct ec_error *err)
{
	pthread_mutex_lock(&s->top_lock);
	int rc = toplevel_locked(s);
	char **v = NULL;
	size_t cap = 0, k = 0;
	for (size_t i = 0; !rc && i < s->ntop; i++)
		rc = strv_push(&v, &k, &cap, s->top[i], strlen(s->top[i]));
	pthread_mutex_unlock(&s->top_lock);
	if (!rc && !v && !(v = calloc(1, sizeof(char *))))
		rc = EC_ENOMEM;
	if (rc) {
		ec__strv_free(v);
		return ec__error_set(err, EC_ENOMEM, NULL, "out of memory");
	}
	*out = v;
	*n = k;
	return 0;
}

/* ---- answers ------------------------------------------------------------------ */

static struct sent *sent_for(struct ec_modsrv *s, unsigned ctx)
{
	for (struct sent *t = s->sent; t; t = t->next)
		if (t->ctx == ctx)
			return t;
	struct sent *t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	t->ctx = ctx;
	t->next = s->sent;
	s->sent = t;
	return t;
}

static int was_sent(const struct sent *t, const char *name)
{
	for (size_t i = 0; i < t->n; i++)
		if (strcmp(t->names[i], name) == 0)
			return 1;
	return 0;
}

static int enqueue(struct ec_modsrv *s, unsigned ctx, const char *ctxname, int python_major,
                   const char *name, int forget);

void ec__modsrv_forget(struct ec_modsrv *s, unsigned ctx)
{
	if (!s)
		return;
	pthread_mutex_lock(&s->qlock);
	int running = s->running;
	pthread_mutex_unlock(&s->qlock);
	if (running && !enqueue(s, ctx, "", 0, "", 1))
		return; /* behind that context's pending GET_MODULE */
	pthread_mutex_lock(&s->lock);
	for (struct sent **pp = &s->sent; *pp; pp = &(*pp)->next)
		if ((*pp)->ctx == ctx) {
			struct sent *t = *pp;
			*pp = t->next;
			ec__strv_free(t->names);
			free(t);
			break;
		}
	pthread_mutex_unlock(&s->lock);
}

static ec_value *text_or_bytes(const char *s)
{
	ec_value *v = ec_value_cstr(s);
	return v ? v : ec_value_bytes(s, strlen(s));
}

/* (name, filename, children, zsource, error): docs/protocol.md §3. */
static ec_value *entry(const struct ec_module *m)
{
	ec_value *t = ec_value_new(EC_T_TUPLE);
	if (!t)
		return NULL;
	int found = m->status == EC_MOD_FOUND;
	ec_value_append(t, text_or_bytes(m->name));
	ec_value_append(t, found ? text_or_bytes(m->path) : ec_value_none());
	ec_value *kids = ec_value_none();
	if (found && m->is_pkg) {
		ec_value_free(kids);
		kids = ec_value_new(EC_T_LIST);
		for (size_t i = 0; kids && i < m->nchildren; i++)
			ec_value_append(kids, text_or_bytes(m->children[i]));
	}
	ec_value_append(t, kids);
	ec_value_append(t, found ? ec_value_bytes(m->zsrc, m->zlen) : ec_value_none());
	ec_value_append(t, m->status == EC_MOD_REFUSED ? text_or_bytes(m->reason) : ec_value_none());
	for (size_t i = 0; i < t->u.seq.len; i++)
		if (!t->u.seq.items[i]) {
			ec_value_free(t);
			return NULL;
		}
	return t->u.seq.len == 5 ? t : (ec_value_free(t), NULL);
}

struct answer {
	struct ec_modsrv *s;
	struct sent *sent;
	ec_value *list;
	const struct ec_module **queue;
	size_t n, cap, bytes, budget;
	int rc;
};

static void queue_add(struct answer *a, const struct ec_module *m)
{
	if (a->n == a->cap) {
		size_t nc = a->cap ? a->cap * 2 : 16;
		const struct ec_module **q = realloc(a->queue, nc * sizeof(*q));
		if (!q) {
			a->rc = EC_ENOMEM;
			return;
		}
		a->queue = q;
		a->cap = nc;
	}
	a->queue[a->n++] = m;
	a->bytes += m->zlen;
}

static void mark_sent(struct answer *a, const char *name)
{
	size_t scap = a->sent->cap;
	if (!was_sent(a->sent, name) && strv_push(&a->sent->names, &a->sent->n, &scap, name, strlen(name)))
		a->rc = EC_ENOMEM;
	a->sent->cap = scap;
}

/* Add a found module (after its unsent parents) unless already sent. */
static void push(struct answer *a, const char *name)
{
	if (a->rc || was_sent(a->sent, name))
		return;
	const char *dot = strrchr(name, '.');
	if (dot) {
		char *parent = strndup(name, (size_t)(dot - name));
		if (!parent) {
			a->rc = EC_ENOMEM;
			return;
		}
		push(a, parent);
		free(parent);
	}
	struct ec_module *m = NULL;
	if (a->rc || (a->rc = lookup_locked(a->s, name, &m)) || m->status != EC_MOD_FOUND ||
	    was_sent(a->sent, name))
		return;
	ec_value *e = entry(m);
	if (!e || ec_value_append(a->list, e)) {
		a->rc = EC_ENOMEM;
		return;
	}
	mark_sent(a, name);
	queue_add(a, m);
}

int ec__modsrv_answer(struct ec_modsrv *s, unsigned ctx_id, const char *name, size_t budget,
                      ec_value **out, size_t *count, struct ec_error *err)
{
	struct answer a = {.s = s, .budget = budget};
	ec_value *top = ec_value_new(EC_T_TUPLE);
	a.list = ec_value_new(EC_T_LIST);
	pthread_mutex_lock(&s->lock);
	struct ec_module *req = NULL;
	if (!top || !a.list || !(a.sent = sent_for(s, ctx_id)))
		a.rc = EC_ENOMEM;
	if (!a.rc)
		a.rc = lookup_locked(s, name, &req);
	if (!a.rc) {
		/* The requested module first, even if it was sent before (the context asks
		 * again only if it lost it), then its parents and what they all import. */
		ec_value *e = entry(req);
		a.rc = !e || ec_value_append(a.list, e) ? EC_ENOMEM : 0;
		if (!a.rc && req->status == EC_MOD_FOUND) {
			mark_sent(&a, name);
			queue_add(&a, req);
			const char *dot = strrchr(name, '.');
			if (dot && !a.rc) {
				char *parent = strndup(name, (size_t)(dot - name));
				if (parent)
					push(&a, parent);
				else
					a.rc = EC_ENOMEM;
				free(parent);
			}
		}
	}
	for (size_t i = 0; !a.rc && i < a.n && a.bytes < a.budget; i++)
		for (size_t k = 0; !a.rc && k < a.queue[i]->nimports && a.bytes < a.budget; k++)
			push(&a, a.queue[i]->imports[k]);
	pthread_mutex_unlock(&s->lock);
	free(a.queue);
	if (!a.rc)
		a.rc = ec_value_append(top, text_or_bytes(name));
	if (!a.rc) {
		*count = a.list->u.seq.len;
		a.rc = ec_value_append(top, a.list);
		a.list = NULL;
	}
	if (a.rc) {
		ec_value_free(a.list);
		ec_value_free(top);
		return ec__error_set(err, EC_ENOMEM, name, "out of memory serving a module");
	}
	*out = top;
	return 0;
}

/* ---- the server's thread ------------------------------------------------------- */

/* The answer for one GET_MODULE, encoded for the context; logs the outcome. */
static int build_reply(struct ec_modsrv *s, const struct job *j, struct ec_buf *payload)
{
	ec_master *m = s->m;
	const struct ec_codec_ops *ops = m->codec->desc->ops;
	struct ec_codec_peer peer = {.python_major = j->python_major};
	struct ec_error err = {0};
	ec_value *reply = NULL;
	size_t count = 0, budget = m->max_message / 4;
	if (budget > (4u << 20))
		budget = 4u << 20;
	pthread_mutex_lock(&s->lock);
	int predict = s->predict;
	pthread_mutex_unlock(&s->lock);
	int rc = ec__modsrv_answer(s, j->ctx, j->name, predict ? budget : 0, &reply, &count, &err);
	const char *status = "absent", *reason = NULL;
	if (!rc) {
		const ec_value *e = reply->u.seq.items[1]->u.seq.items[0];
		if (e->u.seq.items[4]->type != EC_T_NONE) {
			status = "refused";
			reason = e->u.seq.items[4]->u.s.data;
		} else if (e->u.seq.items[1]->type != EC_T_NONE) {
			status = "found";
		}
		rc = ops->encode(m->codec->state, &peer, reply, payload, &err);
	}
	if (!rc && payload->len > m->max_message) {
		ec__log(&m->logger, EC_LOG_WARNING, "econtext.modules", j->ctxname,
		        "context %s: module %s: reply of %zu bytes exceeds the maximum message size",
		        j->ctxname, j->name, payload->len);
		rc = EC_EMSGSIZE;
	}
	if (rc) {
		/* The context waits for this name: answer it with an error entry. */
		char why[160];
		snprintf(why, sizeof(why), "the master could not serve it: %s",
		         rc == EC_EMSGSIZE ? "its reply exceeds the maximum message size"
		                           : "out of memory");
		ec_value_free(reply);
		reply = ec_value_new(EC_T_TUPLE);
		ec_value *list = ec_value_new(EC_T_LIST), *e = ec_value_new(EC_T_TUPLE);
		ec_value_append(e, text_or_bytes(j->name));
		for (int k = 0; k < 3; k++)
			ec_value_append(e, ec_value_none());
		ec_value_append(e, text_or_bytes(why));
		ec_value_append(list, e);
		ec_value_append(reply, text_or_bytes(j->name));
		ec_value_append(reply, list);
		ec__buf_free(payload);
		ec__buf_init(payload);
		count = 1;
		status = "refused";
		reason = why;
		rc = reply && list && e && e->u.seq.len == 5 && reply->u.seq.len == 2
		         ? ops->encode(m->codec->state, &peer, reply, payload, &err)
		         : EC_ENOMEM;
	}
	if (reason)
		ec__log(&m->logger, EC_LOG_WARNING, "econtext.modules", j->ctxname,
		        "context %s: cannot forward module %s: %s", j->ctxname, j->name, reason);
	if (!rc)
		ec__log(&m->logger, EC_LOG_DEBUG, "econtext.modules", j->ctxname,
		        "context %s: GET_MODULE %s: %s, %zu module%s in %zu bytes", j->ctxname, j->name,
		        status, count - (strcmp(status, "found") ? 1 : 0), count == 1 ? "" : "s",
		        payload->len);
	ec_value_free(reply);
	return rc;
}

/* Queue the LOAD_MODULE on the context if it is still ready. */
static void deliver(struct ec_modsrv *s, const struct job *j, struct ec_msg *msg)
{
	ec_master *m = s->m;
	pthread_mutex_lock(&m->lock);
	struct ec_context *c = m->contexts;
	while (c && c->id != j->ctx)
		c = c->master_next;
	if (c && c->st.state == EC_STREAM_READY) {
		msg->handle = EC_HANDLE_LOAD_MODULE;
		ec__stream_queue(&c->st, msg);
		msg = NULL;
		ec__broker_wake(m->broker);
	}
	pthread_mutex_unlock(&m->lock);
	if (msg) {
		ec__buf_free(&msg->payload);
		free(msg);
	}
}

static void *server_main(void *arg)
{
	struct ec_modsrv *s = arg;
	pthread_mutex_lock(&s->qlock);
	for (;;) {
		while (!s->qhead && !s->stopping)
			pthread_cond_wait(&s->qcond, &s->qlock);
		if (s->stopping)
			break;
		struct job *j = s->qhead;
		if (!(s->qhead = j->next))
			s->qtail = &s->qhead;
		pthread_mutex_unlock(&s->qlock);
		if (j->forget) {
			pthread_mutex_lock(&s->lock);
			for (struct sent **pp = &s->sent; *pp; pp = &(*pp)->next)
				if ((*pp)->ctx == j->ctx) {
					struct sent *t = *pp;
					*pp = t->next;
					ec__strv_free(t->names);
					free(t);
					break;
				}
			pthread_mutex_unlock(&s->lock);
		} else {
			struct ec_msg *msg = calloc(1, sizeof(*msg));
			if (msg && !build_reply(s, j, &msg->payload))
				deliver(s, j, msg);
			else if (msg) {
				ec__buf_free(&msg->payload);
				free(msg);
			}
		}
		free(j);
		pthread_mutex_lock(&s->qlock);
	}
	pthread_mutex_unlock(&s->qlock);
	return NULL;
}

static int enqueue(struct ec_modsrv *s, unsigned ctx, const char *ctxname, int python_major,
                   const char *name, int forget)
{
	size_t len = strlen(name);
	struct job *j = calloc(1, sizeof(*j) + len + 1);
	if (!j)
		return EC_ENOMEM;
	j->ctx = ctx;
	j->python_major = python_major;
	j->forget = forget;
	snprintf(j->ctxname, sizeof(j->ctxname), "%s", ctxname);
	memcpy(j->name, name, len + 1);
	pthread_mutex_lock(&s->qlock);
	int rc = s->stopping ? EC_ECLOSED : 0;
	if (!rc && !s->running) {
		if (pthread_create(&s->thread, NULL, server_main, s) == 0)
			s->running = 1;
		else
			rc = EC_ESYS;
	}
	if (!rc) {
		*s->qtail = j;
		s->qtail = &j->next;
		pthread_cond_signal(&s->qcond);
	}
	pthread_mutex_unlock(&s->qlock);
	if (rc)
		free(j);
	return rc;
}

void ec__modsrv_stop(struct ec_modsrv *s)
{
	if (!s)
		return;
	pthread_mutex_lock(&s->qlock);
	int running = s->running;
	s->stopping = 1;
	pthread_cond_signal(&s->qcond);
	pthread_mutex_unlock(&s->qlock);
	if (running)
		pthread_join(s->thread, NULL);
	pthread_mutex_lock(&s->qlock);
	s->running = 0;
	while (s->qhead) {
		struct job *j = s->qhead;
		s->qhead = j->next;
		free(j);
	}
	s->qtail = &s->qhead;
	pthread_mutex_unlock(&s->qlock);
}

/* ---- the GET_MODULE handler (broker thread, m->lock held) ----------------------- */

int ec__modules_on_get(struct ec_context *ctx, const struct ec_frame_hdr *h,
                       const unsigned char *p, struct ec_error *err)
{
	ec_master *m = ctx->m;
	const struct ec_codec_ops *ops = m->codec->desc->ops;
	ec_value *v = NULL;
	int rc = ops->decode(m->codec->state, p, h->length, &v, err);
	if (rc)
		return rc;
	if ((v->type != EC_T_STR && v->type != EC_T_BYTES) || !v->u.s.len ||
	    strlen(v->u.s.data) != v->u.s.len) {
		ec_value_free(v);
		return ec__error_set(err, EC_EPROTO, ctx->name, "malformed GET_MODULE from context '%s'",
		                     ctx->name);
	}
	if (!m->modules->m)
		m->modules->m = m; /* before the thread starts; never changes after */
	rc = enqueue(m->modules, ctx->id, ctx->name, ctx->python_major, v->u.s.data, 0);
	if (rc)
		rc = ec__error_set(err, rc, ctx->name, "context '%s': cannot serve module %s: %s",
		                   ctx->name, v->u.s.data,
		                   rc == EC_ENOMEM ? "out of memory" : "the module server is stopped");
	ec_value_free(v);
	return rc;
}
