/* error.c: filling struct ec_error, and the names of the EC_E* codes. */
#include "ecbuild.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "error.h"

const char *ec_strerror(int code)
{
	switch (code) {
	case 0:
		return "success";
#define EC__ERR_STR(name, val, desc) \
	case (val):                  \
		return desc;
		EC_ERRNO_MAP(EC__ERR_STR)
#undef EC__ERR_STR
	}
	return "unknown error";
}

const char *ec_err_name(int code)
{
	switch (code) {
	case 0:
		return "OK";
#define EC__ERR_NAME(name, val, desc) \
	case (val):                   \
		return #name;
		EC_ERRNO_MAP(EC__ERR_NAME)
#undef EC__ERR_NAME
	}
	return "EUNKNOWN";
}

const char *ec_version(void)
{
	return EC_VERSION_STRING;
}

/* Mark a truncated buffer with "..." rather than cutting silently. */
static void ellipsize(char *buf, size_t size, int n)
{
	if (n >= 0 && (size_t)n >= size && size > 4)
		memcpy(buf + size - 4, "...", 4);
}

static int error_vset(struct ec_error *err, int code, int sys_errno, const char *where,
                      const char *fmt, va_list ap)
{
	if (!err)
		return code;
	err->code = code;
	err->sys_errno = sys_errno;
	int n = snprintf(err->where, sizeof(err->where), "%s", where ? where : "");
	ellipsize(err->where, sizeof(err->where), n);
	n = vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	ellipsize(err->msg, sizeof(err->msg), n);
	return code;
}

int ec__error_set(struct ec_error *err, int code, const char *where, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	error_vset(err, code, 0, where, fmt, ap);
	va_end(ap);
	return code;
}

int ec__error_sys(struct ec_error *err, const char *where, const char *fmt, ...)
{
	int saved = errno;
	if (!err)
		return EC_ESYS;
	va_list ap;
	va_start(ap, fmt);
	error_vset(err, saved == ENOMEM ? EC_ENOMEM : EC_ESYS, saved, where, fmt, ap);
	va_end(ap);
	size_t len = strlen(err->msg);
	int n = snprintf(err->msg + len, sizeof(err->msg) - len, ": %s", strerror(saved));
	ellipsize(err->msg + len, sizeof(err->msg) - len, n);
	return err->code;
}

void ec__error_prefix(struct ec_error *err, const char *fmt, ...)
{
	if (!err)
		return;
	char old[sizeof(err->msg)], head[sizeof(err->msg)];
	memcpy(old, err->msg, sizeof(old));
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(head, sizeof(head), fmt, ap);
	va_end(ap);
	int n = snprintf(err->msg, sizeof(err->msg), "%s: %s", head, old);
	ellipsize(err->msg, sizeof(err->msg), n);
}

void ec__error_clear(struct ec_error *err)
{
	if (err)
		memset(err, 0, sizeof(*err));
}

const char *ec__error_format(const struct ec_error *err, char *buf, size_t len)
{
	if (err->where[0])
		snprintf(buf, len, "%s: %s", err->where, err->msg);
	else
		snprintf(buf, len, "%s", err->msg);
	return buf;
}
