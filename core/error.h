/* error.h: filling struct ec_error. Never allocates. */
#ifndef EC_CORE_ERROR_H
#define EC_CORE_ERROR_H

#include "econtext.h"

/* Fill err (may be NULL) and return code. where may be NULL. Truncates with "...". */
int ec__error_set(struct ec_error *err, int code, const char *where, const char *fmt, ...)
	EC_PRINTF(4, 5);
/* EC_ESYS with errno saved and strerror appended: "fork: Resource temporarily unavailable". */
int ec__error_sys(struct ec_error *err, const char *where, const char *fmt, ...) EC_PRINTF(3, 4);
/* Prepend "fmt: " to the message (krb5's "while ..." idiom). Keeps code and where. */
void ec__error_prefix(struct ec_error *err, const char *fmt, ...) EC_PRINTF(2, 3);
void ec__error_clear(struct ec_error *err);
/* "where: message" or "message", into buf. */
const char *ec__error_format(const struct ec_error *err, char *buf, size_t len);

#endif
