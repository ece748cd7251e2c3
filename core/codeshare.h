/* codeshare.h: the core's bytecode kept in memory per context description (its name
 * and overrides), for contexts the disk cache is not for (core/connect.c says when).
 * A list under the master's lock, freed with the master. */
#ifndef EC_CORE_CODESHARE_H
#define EC_CORE_CODESHARE_H

#include "buf.h"

struct ec_code_share;

/* Append the entry for key to code: 0, or -1 when there is none (or no memory). */
int ec__codeshare_get(struct ec_code_share *const *list, const char *key, struct ec_buf *code);
/* Keep code for key (taken: *code is left empty), unless key has one already. */
void ec__codeshare_put(struct ec_code_share **list, const char *key, struct ec_buf *code);
/* Forget the entry for key (it was refused: another Python). */
void ec__codeshare_drop(struct ec_code_share **list, const char *key);
void ec__codeshare_free(struct ec_code_share **list);

#endif
