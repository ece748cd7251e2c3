/* allocfail.h: failing the Nth allocation of a test program linked with
 * -Wl,--wrap=malloc,--wrap=calloc,--wrap=realloc,--wrap=strdup,--wrap=strndup,--wrap=free
 * (only the code linked statically into the program: the core and plugin sources, not
 * libyaml, jansson or libcrypto, nor a plugin the master loads), and the blocks still
 * live since a mark. Thread-safe: one lock around the count and the set. */
#ifndef EC_ALLOCFAIL_H
#define EC_ALLOCFAIL_H

#include <stddef.h>

/* Count allocations from now on; the nth (1-based) fails, every other succeeds
 * (0: none fails). The live blocks are forgotten: leaks are counted from here. */
void ec_allocfail_arm(size_t nth);
/* Stop failing (counting goes on). */
void ec_allocfail_disarm(void);
/* Allocations made since the last arm. */
size_t ec_allocfail_count(void);
/* Whether the allocation meant to fail was reached. */
int ec_allocfail_hit(void);
/* Blocks allocated since the last arm and not freed. */
size_t ec_allocfail_live(void);

#endif
