/* modcache.c: the module server's caches (see modcache.h): a hash table of every
 * record, and the LRU list of the ABSENT ones that bounds them. */
#include "ecbuild.h"

#include <stdlib.h>
#include <string.h>

#include "modcache.h"

static unsigned hash(const char *s)
{
	unsigned h = 5381;
	while (*s)
		h = h * 33 + (unsigned char)*s++;
	return h % EC_MODCACHE_BUCKETS;
}

static void lru_unlink(struct ec_modcache *c, struct ec_module *m)
{
	*(m->lru_prev ? &m->lru_prev->lru_next : &c->lru_head) = m->lru_next;
	*(m->lru_next ? &m->lru_next->lru_prev : &c->lru_tail) = m->lru_prev;
	m->lru_prev = m->lru_next = NULL;
}

static void lru_push(struct ec_modcache *c, struct ec_module *m)
{
	m->lru_prev = NULL;
	m->lru_next = c->lru_head;
	*(c->lru_head ? &c->lru_head->lru_prev : &c->lru_tail) = m;
	c->lru_head = m;
}

/* Drop the least recently used ABSENT records beyond the bound. */
static void lru_trim(struct ec_modcache *c)
{
	while (c->nabsent > c->max_absent && c->lru_tail) {
		struct ec_module *m = c->lru_tail;
		lru_unlink(c, m);
		for (struct ec_module **pp = &c->buckets[hash(m->name)]; *pp; pp = &(*pp)->next)
			if (*pp == m) {
				*pp = m->next;
				break;
			}
		ec__modpath_module_free(m);
		c->nabsent--;
		c->nrecords--;
	}
}

void ec__modcache_init(struct ec_modcache *c, struct ec_modpath *path)
{
	memset(c, 0, sizeof(*c));
	c->path = path;
	c->max_absent = EC_MODSRV_MAX_ABSENT;
}

void ec__modcache_close(struct ec_modcache *c)
{
	for (size_t i = 0; i < EC_MODCACHE_BUCKETS; i++)
		for (struct ec_module *m = c->buckets[i]; m;) {
			struct ec_module *next = m->next;
			ec__modpath_module_free(m);
			m = next;
		}
	memset(c->buckets, 0, sizeof(c->buckets));
}

void ec__modcache_bound(struct ec_modcache *c, size_t max_absent)
{
	c->max_absent = max_absent ? max_absent : EC_MODSRV_MAX_ABSENT;
	lru_trim(c);
}

int ec__modcache_lookup(struct ec_modcache *c, const char *name, struct ec_module **out)
{
	unsigned h = hash(name);
	for (struct ec_module *m = c->buckets[h]; m; m = m->next)
		if (strcmp(m->name, name) == 0) {
			if (m->status == EC_MOD_ABSENT && c->lru_head != m) {
				lru_unlink(c, m);
				lru_push(c, m);
			}
			*out = m;
			return 0;
		}
	struct ec_module *m = calloc(1, sizeof(*m));
	if (!m || !(m->name = strdup(name))) {
		free(m);
		return EC_ENOMEM;
	}
	/* A dotted name is looked up in its parent package, cached like any other. */
	int rc = 0;
	struct ec_module *parent = NULL;
	const char *dot = strrchr(name, '.');
	if (dot && ec__modpath_valid_name(name)) {
		char *pname = strndup(name, (size_t)(dot - name));
		rc = pname ? ec__modcache_lookup(c, pname, &parent) : EC_ENOMEM;
		free(pname);
	}
	if (!rc)
		rc = ec__modpath_find(c->path, m, parent);
	if (rc) {
		ec__modpath_module_free(m);
		return rc;
	}
	m->next = c->buckets[h];
	c->buckets[h] = m;
	c->nrecords++;
	*out = m;
	if (m->status == EC_MOD_ABSENT) {
		lru_push(c, m);
		c->nabsent++;
		lru_trim(c); /* never m itself: the bound is at least 1 */
	}
	return 0;
}
