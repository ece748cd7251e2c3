/* block.h: bytes shared by reference: one chunk of a file that a put sends to many
 * contexts is read once into a block, and each context's stream writes it from there
 * (no copy per context, and the master holds a window of blocks for all of them
 * instead of a window of copies for each). Counted references, any thread; the block
 * is freed by its last release. Its bytes do not change once shared. */
#ifndef EC_CORE_BLOCK_H
#define EC_CORE_BLOCK_H

#include <stddef.h>

struct ec_block;

/* A block of room for cap bytes (len 0), one reference: the caller's. NULL when out
 * of memory. */
struct ec_block *ec__block_new(size_t cap);
unsigned char *ec__block_data(struct ec_block *b);
size_t ec__block_len(const struct ec_block *b);
size_t ec__block_cap(const struct ec_block *b);
/* The bytes in it; only while the caller holds the one reference. */
void ec__block_set_len(struct ec_block *b, size_t len);
/* Whether the caller's reference is the only one (the block may be filled again). */
int ec__block_unshared(const struct ec_block *b);
/* One more reference; returns b. */
struct ec_block *ec__block_ref(struct ec_block *b);
/* One reference fewer; NULL does nothing. */
void ec__block_release(struct ec_block *b);

#endif
