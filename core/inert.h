/* inert.h: text from a context written so that it cannot drive a terminal. */
#ifndef EC_CORE_INERT_H
#define EC_CORE_INERT_H

#include <stdio.h>

/* Write s to f with its control characters but newline and tab (and DEL) as the text
 * \xNN, so that what a context says (logs, tracebacks, boot output quoted in errors)
 * cannot drive a terminal: no escape sequence, no carriage return. The caller holds
 * f's lock (flockfile). Compiled into the library and the command alike. */
void ec__fputs_inert(const char *s, FILE *f);

#endif
