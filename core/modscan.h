/* modscan.h: the import scanner (modscan.c). */
#ifndef EC_CORE_MODSCAN_H
#define EC_CORE_MODSCAN_H

#include <stddef.h>

/* Candidate absolute module names imported by src. pkg is the package relative
 * imports are anchored to (the module's own name for a package, its parent otherwise,
 * "" or NULL at top level). *names is NULL-terminated and malloc'd (ec__strv_free).
 * EC_ENOMEM only. */
int ec__modscan(const char *src, size_t len, const char *pkg, char ***names, size_t *n);

#endif
