/* allocfail.h: failing the Nth allocation of a test program linked with
 * -Wl,--wrap=malloc,--wrap=calloc,--wrap=realloc,--wrap=posix_memalign,--wrap=strdup,
 * --wrap=strndup,--wrap=free
 * (the code linked with these flags: the program's own, the core's and the plugin
 * sources in it, and the plugins built with the same flags that it loads, which call
 * its exported wrappers; not libyaml, jansson, libcrypto or libc), and the blocks still
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
/* Whether the failed allocation was asked for by the code of the file at path. */
int ec_allocfail_hit_in(const char *path);
/* Where the failed allocation was asked for, into buf: "FILE+0xOFFSET" (the return
 * address in the loaded file, for addr2line), or "-". */
const char *ec_allocfail_hit_where(char *buf, size_t cap);
/* Blocks allocated since the last arm and not freed. */
size_t ec_allocfail_live(void);
/* Allocations since the last arm made by the code of the loaded file at path (a plugin
 * as dlopen'ed: dladdr's name for it). */
size_t ec_allocfail_count_in(const char *path);
/* Into out (at most max), the numbers (1-based, as ec_allocfail_arm takes them) of the
 * first 64 of those allocations; how many. */
size_t ec_allocfail_numbers_in(const char *path, size_t *out, size_t max);

#endif
