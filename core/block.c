/* block.c: bytes shared by reference (block.h). */
#include "block.h"

#include <stdatomic.h>
#include <stdlib.h>

struct ec_block {
	atomic_size_t refs;
	size_t len, cap;
	unsigned char data[];
};

struct ec_block *ec__block_new(size_t cap)
{
	struct ec_block *b = malloc(sizeof(*b) + (cap ? cap : 1));
	if (!b)
		return NULL;
	atomic_init(&b->refs, 1);
	b->len = 0;
	b->cap = cap;
	return b;
}

unsigned char *ec__block_data(struct ec_block *b)
{
	return b->data;
}

size_t ec__block_len(const struct ec_block *b)
{
	return b->len;
}

size_t ec__block_cap(const struct ec_block *b)
{
	return b->cap;
}

void ec__block_set_len(struct ec_block *b, size_t len)
{
	b->len = len <= b->cap ? len : b->cap;
}

int ec__block_unshared(const struct ec_block *b)
{
	/* acquire: the last other holder's release happened before the caller refills */
	return atomic_load_explicit(&((struct ec_block *)b)->refs, memory_order_acquire) == 1;
}

struct ec_block *ec__block_ref(struct ec_block *b)
{
	atomic_fetch_add_explicit(&b->refs, 1, memory_order_relaxed);
	return b;
}

void ec__block_release(struct ec_block *b)
{
	if (b && atomic_fetch_sub_explicit(&b->refs, 1, memory_order_acq_rel) == 1)
		free(b);
}
