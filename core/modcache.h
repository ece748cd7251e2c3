/* modcache.h: the module server's caches. Every lookup along the module path is kept
 * for the master's life, so each file is read, checked, compressed and scanned once
 * however many contexts import it; negative answers (EC_MOD_ABSENT) are kept in an LRU
 * of bounded size, so that a context asking for many distinct names cannot grow the
 * master without limit. Not thread-safe: the module server calls it under its lock. */
#ifndef EC_CORE_MODCACHE_H
#define EC_CORE_MODCACHE_H

#include <stddef.h>

#include "modpath.h"

/* Default bound of the negative cache (ABSENT records). */
#define EC_MODSRV_MAX_ABSENT 4096

#define EC_MODCACHE_BUCKETS 1024

struct ec_modcache {
	struct ec_modpath *path; /* where misses are looked up */
	size_t max_absent, nabsent, nrecords;
	struct ec_module *lru_head, *lru_tail; /* ABSENT records, most recent first */
	struct ec_module *buckets[EC_MODCACHE_BUCKETS];
};

/* An empty cache over path, bounded at EC_MODSRV_MAX_ABSENT. */
void ec__modcache_init(struct ec_modcache *c, struct ec_modpath *path);
void ec__modcache_close(struct ec_modcache *c);
/* Bound the negative cache (0: EC_MODSRV_MAX_ABSENT), dropping the least recently used
 * ABSENT records beyond it. */
void ec__modcache_bound(struct ec_modcache *c, size_t max_absent);
/* The record of a dotted name, from the cache or else the path. *out stays valid until
 * the cache is closed, except an EC_MOD_ABSENT record, which a later lookup may evict.
 * EC_ENOMEM only. */
int ec__modcache_lookup(struct ec_modcache *c, const char *name, struct ec_module **out);

#endif
