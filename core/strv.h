/* strv.h: malloc'd strings and NULL-terminated vectors of them. */
#ifndef EC_CORE_STRV_H
#define EC_CORE_STRV_H

#include <stddef.h>

#include "econtext.h" /* EC_PRINTF, EC_ENOMEM */

/* Free each string, then the vector; NULL is a no-op. */
void ec__strv_free(char **v);
/* Append a copy of the len bytes at s to *v (n strings, room for *cap pointers), keeping
 * it NULL-terminated. EC_ENOMEM on failure (*v still valid). */
int ec__strv_push(char ***v, size_t *n, size_t *cap, const char *s, size_t len);
/* Sort v (n strings) and drop duplicates in place; *n becomes the count left. */
void ec__strv_sort_unique(char **v, size_t *n);
/* A malloc'd printf; NULL when out of memory. */
char *ec__strdupf(const char *fmt, ...) EC_PRINTF(1, 2);

#endif
