/* modpath.h: finding a module along the module path and reading it. A dotted name is
 * looked up in its parent package's directory, a top-level one in each directory of
 * the path in order; what a lookup finds becomes a struct ec_module record: the
 * source read, checked, compressed and scanned for imports, a package's children, or
 * the reason it cannot be served. Nothing outside the path is served unless
 * follow_symlinks. */
#ifndef EC_CORE_MODPATH_H
#define EC_CORE_MODPATH_H

#include <pthread.h>
#include <stddef.h>

#include "econtext.h"

/* The name a single-file script is served as (`econtext call CTX ./x.py:func`). */
#define EC_SCRIPT_MODULE "__econtext_script__"

#define EC_MODPATH_MAX_DIRS 64

enum ec_mod_status {
	EC_MOD_ABSENT = 0, /* not on the module path: the context raises ImportError */
	EC_MOD_FOUND,      /* source served */
	EC_MOD_REFUSED     /* exists but cannot be forwarded: reason says why */
};

struct ec_module {
	char *name;
	enum ec_mod_status status;
	int is_pkg;
	char *path;         /* FOUND: the real path of the source file */
	char *dir;          /* package: the directory its children are looked up in */
	char **children;    /* package: child module names, sorted, NULL-terminated */
	size_t nchildren;
	unsigned char *zsrc; /* FOUND: zlib-compressed source */
	size_t zlen, srclen;
	char **imports;     /* FOUND: scanner candidates (absolute names), NULL-terminated */
	size_t nimports;
	char *reason;       /* REFUSED */
	/* The cache's links (modcache.c). */
	struct ec_module *next; /* hash chain */
	struct ec_module *lru_prev, *lru_next; /* ABSENT only: the negative cache's LRU */
};

struct ec_modpath_dir;

struct ec_modpath {
	int follow; /* serve files that symlinks in a path directory lead to, even outside it */
	char *dirs[EC_MODPATH_MAX_DIRS + 1]; /* as given (absolute), searched in order */
	char *real[EC_MODPATH_MAX_DIRS + 1]; /* their real paths, for containment checks */
	size_t ndirs;
	char *script; /* real path of the script served as EC_SCRIPT_MODULE, or NULL */
	struct ec_modpath_dir *lists; /* directory listings, read once */
	pthread_mutex_t top_lock;     /* top, ntop */
	char **top; /* cached top-level names */
	size_t ntop;
};

/* A path over dirs (NULL-terminated, may be NULL; missing dirs are skipped) and an
 * optional script file (its directory is searched last). On failure p needs no
 * ec__modpath_close. */
int ec__modpath_init(struct ec_modpath *p, const char *const *dirs, const char *script,
                     struct ec_error *err);
void ec__modpath_close(struct ec_modpath *p);
/* A dotted name of identifiers, at most 512 bytes. */
int ec__modpath_valid_name(const char *name);
/* Fill m (name set, otherwise zeroed: EC_MOD_ABSENT) from the path. parent is the
 * record of a dotted name's parent package (NULL for a top-level name). EC_ENOMEM
 * only. Not thread-safe (directory listings are cached): the module server calls it
 * under its lock. */
int ec__modpath_find(struct ec_modpath *p, struct ec_module *m, const struct ec_module *parent);
void ec__modpath_module_free(struct ec_module *m);
/* A copy of the top-level names the path offers (modules, packages, extension
 * modules, and the script), sorted, NULL-terminated (ec__strv_free). Read once, under
 * its own lock. EC_ENOMEM only. */
int ec__modpath_toplevel(struct ec_modpath *p, char ***out, size_t *n);

#endif
