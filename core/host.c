/* host.c: the core services plugins reach through struct ec_host. */
#include "ecbuild.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "child.h"
#include "config.h"
#include "error.h"
#include "host.h"
#include "password.h"
#include "secret.h"
#include "value.h"

static void host_log(const struct ec_host *h, int level, const char *fmt, ...)
{
	const struct ec__host *self = (const struct ec__host *)h;
	char msg[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	ec__log(self->logger, level, self->logname, NULL, "%s", msg);
}

static int host_error_set(struct ec_error *err, int code, const char *where, const char *fmt, ...)
{
	if (!err)
		return code;
	char msg[sizeof(err->msg)];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return ec__error_set(err, code, where, "%s", msg);
}

static int host_secret_get(const struct ec_host *h, const char *key, const char *prompt,
                           char *buf, size_t cap, size_t *len, struct ec_error *err)
{
	const struct ec__host *self = (const struct ec__host *)h;
	if (!self->secrets)
		return EC_ENOTFOUND;
	return ec__secret_get(self->secrets, key, prompt, buf, cap, len, err);
}

static void host_secret_forget(const struct ec_host *h, const char *key)
{
	const struct ec__host *self = (const struct ec__host *)h;
	if (self->secrets && key)
		ec__secret_forget(self->secrets, key);
}

void ec__host_init(struct ec__host *h, const struct ec_logger *logger,
                   struct ec__secrets *secrets)
{
	h->pub = (struct ec_host){
		.size = sizeof(struct ec_host),
		.abi_major = EC_PLUGIN_ABI_MAJOR,
		.abi_minor = EC_PLUGIN_ABI_MINOR,
		.log = host_log,
		.error_set = host_error_set,
		.value_new = ec_value_new,
		.value_str = ec__value_strtype,
		.value_append = ec_value_append,
		.value_free = ec_value_free,
		.cfg_str = ec__cfg_str,
		.cfg_int = ec__cfg_int,
		.cfg_bool = ec__cfg_bool,
		.cfg_ms = ec__cfg_ms,
		.cfg_list = ec__cfg_list,
		.cfg_where = ec__cfg_where,
		.child_spawn = ec__child_spawn,
		.child_send = ec__child_send,
		.child_recv = ec__child_recv,
		.child_reap = ec__child_reap,
		.secret_get = host_secret_get,
		.secret_forget = host_secret_forget,
		.password_get = ec__password_get,
		.password_refused = ec__password_refused,
	};
	h->logger = logger;
	h->secrets = secrets;
	snprintf(h->logname, sizeof(h->logname), "econtext.plugin");
}

void ec__host_for_plugin(struct ec__host *h, const struct ec_host *base, const char *plugin)
{
	*h = *(const struct ec__host *)base;
	snprintf(h->logname, sizeof(h->logname), "econtext.%s", plugin);
}

struct ec_host *ec__host_new_for_plugin(const struct ec_host *base, const char *plugin)
{
	struct ec__host *h = malloc(sizeof(*h));
	if (h)
		ec__host_for_plugin(h, base, plugin);
	return h ? &h->pub : NULL;
}

const struct ec_host *ec__host_get(void)
{
	static const struct ec_logger stderr_logger = {.level = EC_LOG_WARNING};
	static struct ec__host h;
	static int ready;
	if (!ready) {
		ec__host_init(&h, &stderr_logger, NULL);
		ready = 1;
	}
	return &h.pub;
}
