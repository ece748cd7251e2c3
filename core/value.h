/* value.h: internal helpers on ec_value beyond the public constructors. */
#ifndef EC_CORE_VALUE_H
#define EC_CORE_VALUE_H

#include "econtext.h"

/* A STR, BYTES or BIGINT value holding a copy of data (len bytes, NUL added). */
ec_value *ec__value_strtype(enum ec_type type, const void *data, size_t len);
/* 1 if s[0..len) is UTF-8 (surrogates U+D800..DFFF accepted, as Python's surrogatepass). */
int ec__utf8_valid(const char *s, size_t len);
/* s as a STR when it is UTF-8, else BYTES (a path or name of the file system); NULL
 * only when out of memory (never the wrong type). */
ec_value *ec__value_text_or_bytes(const char *s);
/* Name of a type for messages ("dict"). */
const char *ec__type_name(enum ec_type t);

#endif
