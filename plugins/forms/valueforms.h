/* valueforms.h: the value model's forms a codec checks (valueforms.c). */
#ifndef EC_PLUGINS_VALUEFORMS_H
#define EC_PLUGINS_VALUEFORMS_H

#include <stddef.h>

#include "econtext.h"

/* 1 when p is the payload tag (taglen bytes) says; else *why says what is wrong. */
int vf__tagged_valid(const char *tag, size_t taglen, const ec_value *p, const char **why);
/* Words of a named tuple's spec ("os.stat_result st_mode ..."), 0 when malformed:
 * words are non-empty, separated by one space, without control characters. */
size_t vf__spec_words(const char *s, size_t n);

/* Prepend a component ("[3]", "['name']") to the NUL-terminated path in a buffer of
 * cap bytes, while unwinding from a refused value; the innermost part is kept when it
 * does not fit. */
void vf__path_prepend(char *path, size_t cap, const char *fmt, ...) EC_PRINTF(3, 4);

#endif
