/* buf.c: the growable byte buffer used for frames and codec output. */
#include "ecbuild.h"

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "buf.h"

/* A buffer that grows to 4 MiB or more is about to be written whole (a large frame
 * read, a frame built). Such a buffer is new memory more often than not (glibc maps it
 * afresh, or a thread's arena gives it back when it is freed), and each 4 KiB page of it
 * costs a fault on first write: ~10 us on the VMs measured (2.5 s of system time a GiB),
 * against one fault per 2 MiB page (docs/benchmarks.md). So it is allocated on a 2 MiB
 * boundary and offered to transparent huge pages, which a kernel set to "madvise" gives
 * only where asked. The hint's failure (no THP in the kernel) changes nothing. */
#define HUGE_PAGE ((size_t)2 << 20)
#define HUGE_MIN ((size_t)4 << 20)

/* b's room grown to cap: the new block, b's bytes in it and b's old block freed; NULL
 * (b untouched) when out of memory. */
static unsigned char *grow(struct ec_buf *b, size_t cap)
{
	if (cap < HUGE_MIN)
		return realloc(b->data, cap);
	void *p;
	if (posix_memalign(&p, HUGE_PAGE, cap))
		return NULL;
#ifdef MADV_HUGEPAGE
	(void)madvise(p, cap & ~(HUGE_PAGE - 1), MADV_HUGEPAGE);
#endif
	if (b->len)
		memcpy(p, b->data, b->len);
	free(b->data);
	return p;
}

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
	unsigned char *p = grow(b, cap);
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
	unsigned char *p = grow(b, b->len + n);
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
