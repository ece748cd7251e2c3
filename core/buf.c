/* buf.c: the growable byte buffer used for frames and codec output. */
#include "ecbuild.h"

#include <stdlib.h>
#include <string.h>

#include "buf.h"

void ec__buf_init(struct ec_buf *b)
{
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
}

int ec__buf_reserve(struct ec_buf *b, size_t n)
{
	if (b->cap - b->len >= n)
		return 0;
	if (n > SIZE_MAX / 2 - b->len)
		return EC_ENOMEM;
	size_t cap = b->cap ? b->cap : 256;
	while (cap - b->len < n)
		cap *= 2;
	unsigned char *p = realloc(b->data, cap);
	if (!p)
		return EC_ENOMEM;
	b->data = p;
	b->cap = cap;
	return 0;
}

int ec__buf_reserve_exact(struct ec_buf *b, size_t n)
{
	if (b->cap - b->len >= n)
		return 0;
	if (n > SIZE_MAX - b->len)
		return EC_ENOMEM;
	unsigned char *p = realloc(b->data, b->len + n);
	if (!p)
		return EC_ENOMEM;
	b->data = p;
	b->cap = b->len + n;
	return 0;
}

int ec__buf_append(struct ec_buf *b, const void *data, size_t n)
{
	int rc = ec__buf_reserve(b, n);
	if (rc)
		return rc;
	if (n)
		memcpy(b->data + b->len, data, n);
	b->len += n;
	return 0;
}

void ec__buf_consume(struct ec_buf *b, size_t n)
{
	if (n >= b->len) {
		b->len = 0;
		return;
	}
	memmove(b->data, b->data + n, b->len - n);
	b->len -= n;
}

void ec__buf_free(struct ec_buf *b)
{
	free(b->data);
	ec__buf_init(b);
}
