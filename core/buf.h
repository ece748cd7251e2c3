/* buf.h: the growable byte buffer (struct ec_buf from econtext/codec.h). */
#ifndef EC_CORE_BUF_H
#define EC_CORE_BUF_H

#include "econtext/codec.h"

void ec__buf_init(struct ec_buf *b);
/* Make room for n more bytes. EC_ENOMEM on failure (b unchanged). */
int ec__buf_reserve(struct ec_buf *b, size_t n);
/* Make room for n more bytes, and no more than that when it must grow (a frame of
 * known size). EC_ENOMEM on failure (b unchanged). */
int ec__buf_reserve_exact(struct ec_buf *b, size_t n);
int ec__buf_append(struct ec_buf *b, const void *data, size_t n);
/* Drop the first n bytes. */
void ec__buf_consume(struct ec_buf *b, size_t n);
void ec__buf_free(struct ec_buf *b);

#endif
