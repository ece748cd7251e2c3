/* master.c: creating and freeing the master: config, logger, plugins, codec, the loop,
 * the module server; the application's secret prompt. */
#include "ecbuild.h"

#include <malloc.h>
#include <sched.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "broker.h"
#include "codeshare.h"
#include "context.h"
#include "error.h"
#include "modules.h"
#include "secret.h"

/* Split a ':'-separated list into dirs[] (pointers into a strdup'd copy in *hold): their
 * number, or -1 out of memory (the list is not silently left out). */
static long split_path(const char *s, char **hold, const char **dirs, size_t max)
{
	size_t n = 0;
	if (!s || !*s)
		return 0;
	if (!(*hold = strdup(s)))
		return -1;
	for (char *save = NULL, *tok = strtok_r(*hold, ":", &save); tok && n < max;
	     tok = strtok_r(NULL, ":", &save))
		dirs[n++] = tok;
	return (long)n;
}

static int plugins_setup(ec_master *m, const struct ec_master_options *o, struct ec_error *err)
{
	const char *dirs[65];
	size_t n = 0;
	char *hold = NULL;
	const char *env = o && o->plugin_path ? o->plugin_path : getenv("EC_PLUGIN_PATH");
	long split = split_path(env, &hold, dirs, 32);
	if (split < 0)
		return ec__error_set(err, EC_ENOMEM, NULL, "out of memory building the plugin path");
	n = (size_t)split;
	const char *const *cfgdirs = ec__config_plugin_path(m->config);
	for (size_t i = 0; cfgdirs && cfgdirs[i] && n < 64; i++)
		dirs[n++] = cfgdirs[i];
	dirs[n] = NULL;
	int rc = ec__plugins_init(&m->plugins, dirs, &m->host.pub, ec__host_new_for_plugin, err);
	free(hold);
	return rc;
}

/* The module path: the options' directories (`-m`), then the config's module_path. */
static int modules_setup(ec_master *m, const struct ec_master_options *o, struct ec_error *err)
{
	const char *dirs[129];
	size_t n = 0;
	for (size_t i = 0; o && o->module_path && o->module_path[i] && n < 64; i++)
		dirs[n++] = o->module_path[i];
	const char *const *cfgdirs = ec__config_module_path(m->config);
	for (size_t i = 0; cfgdirs && cfgdirs[i] && n < 128; i++)
		dirs[n++] = cfgdirs[i];
	dirs[n] = NULL;
	const char *script = o && o->size >= offsetof(struct ec_master_options, script) + sizeof(o->script)
	                         ? o->script
	                         : NULL;
	int rc = ec__modsrv_new(dirs, script, &m->modules, err);
	if (rc)
		return rc;
	ec__modsrv_configure(m->modules, ec__config_predict_imports(m->config),
	                     ec__config_module_follow_symlinks(m->config), 0);
	struct ec_modsrv_sink sink = {
		.codec = m->codec,
		.logger = &m->logger,
		.max_message = m->max_message,
		.deliver = ec__context_deliver_module,
		.arg = m,
	};
	ec__modsrv_set_sink(m->modules, &sink);
	return 0;
}

/* See ec_master_options.leave_malloc. */
static void tune_malloc(const struct ec_master_options *o)
{
	int leave = o && o->size >= offsetof(struct ec_master_options, leave_malloc) +
	                                sizeof(o->leave_malloc) && o->leave_malloc;
#ifdef M_MMAP_THRESHOLD
	if (!leave && !getenv("MALLOC_MMAP_THRESHOLD_"))
		mallopt(M_MMAP_THRESHOLD, 1 << 20);
#else
	(void)leave;
#endif
}

int ec_master_new(const struct ec_master_options *o, ec_master **out, struct ec_error *err)
{
	tune_malloc(o);
	/* Ignore SIGPIPE? No: writes use send(MSG_NOSIGNAL) in transports; the library
	 * leaves process-wide signal dispositions to the application. */
	ec_master *m = calloc(1, sizeof(*m));
	if (!m)
		return ec__error_set(err, EC_ENOMEM, NULL, "out of memory");
	pthread_mutex_init(&m->lock, NULL);
	m->logger.level = EC_LOG_INFO;
	m->logger.fn = o && o->log_fn ? o->log_fn : NULL;
	m->logger.arg = o ? o->log_arg : NULL;
	ec__host_init(&m->host, &m->logger, &m->secrets);

	int rc = ec__config_load_default(o ? o->config_path : NULL, &m->config, err);
	if (rc)
		goto fail;
	m->logger.level = o && o->log_level > 0 ? o->log_level : ec__config_log_level(m->config);
	m->max_message = ec__config_max_message(m->config);
	m->call_spin_us = ec__config_call_spin_us(m->config);
	cpu_set_t cpus;
	/* On one CPU a spinner only delays the thread that would answer it. */
	if (sched_getaffinity(0, sizeof(cpus), &cpus) == 0 && CPU_COUNT(&cpus) < 2)
		m->call_spin_us = 0;
	rc = plugins_setup(m, o, err);
	if (rc)
		goto fail;
	rc = ec__plugins_get(&m->plugins, ec__config_codec(m->config), EC_PLUGIN_CODEC, &m->codec, err);
	if (rc)
		goto fail;
	/* Config loading is a transaction: every context must name a loadable transport
	 * (and codec, if it names one) and pass its schema before anything starts. */
	const char *const *names = ec__config_context_names(m->config);
	for (size_t i = 0; names && names[i]; i++) {
		struct ec_cfg *sect = (struct ec_cfg *)ec__config_context(m->config, names[i]);
		const char *tname = NULL;
		const struct ec_loaded_plugin *tp = NULL;
		rc = ec__cfg_str(sect, "transport", &tname);
		if (rc) {
			rc = ec__error_set(err, EC_ECONFIG, ec__cfg_where(sect, NULL),
			                   "context '%s' has no transport", names[i]);
			goto fail;
		}
		rc = ec__plugins_get(&m->plugins, tname, EC_PLUGIN_TRANSPORT, &tp, err);
		if (rc) {
			struct ec_error inner = err ? *err : (struct ec_error){0};
			ec__error_set(err, rc, ec__cfg_where(sect, "transport"), "context '%s': %s",
			              names[i], inner.msg);
			goto fail;
		}
		rc = ec__cfg_validate(sect, tp->desc->params, tname, err);
		if (rc)
			goto fail;
		const char *cname = NULL;
		const struct ec_loaded_plugin *cp = NULL;
		if (ec__cfg_str(sect, "codec", &cname) == 0 && cname &&
		    (rc = ec__plugins_get(&m->plugins, cname, EC_PLUGIN_CODEC, &cp, err))) {
			struct ec_error inner = err ? *err : (struct ec_error){0};
			ec__error_set(err, rc, ec__cfg_where(sect, "codec"), "context '%s': %s",
			              names[i], inner.msg);
			goto fail;
		}
	}
	rc = modules_setup(m, o, err);
	if (rc)
		goto fail;
	rc = ec__broker_start(&m->lock, &m->broker, err);
	if (rc)
		goto fail;
	*out = m;
	return 0;
fail:
	ec__modsrv_free(m->modules);
	ec__plugins_close(&m->plugins);
	ec__config_free(m->config);
	pthread_mutex_destroy(&m->lock);
	free(m);
	return rc;
}

void ec_master_free(ec_master *m)
{
	if (!m)
		return;
	/* Contexts the application did not shut down: ask them all at once, so a hung one
	 * costs one grace period in total, then wait for each. */
	pthread_mutex_lock(&m->lock);
	for (struct ec_context *c = m->contexts; c; c = c->master_next)
		ec__context_request_shutdown(c, 3000);
	pthread_mutex_unlock(&m->lock);
	for (;;) {
		pthread_mutex_lock(&m->lock);
		struct ec_context *c = m->contexts;
		pthread_mutex_unlock(&m->lock);
		if (!c)
			break;
		ec_context_shutdown(c, 3000, NULL);
	}
	ec__modsrv_stop(m->modules); /* its thread may wake the broker */
	ec__broker_stop(m->broker);
	ec__codeshare_free(&m->code_shares);
	ec__codeshare_free(&m->codec_srcs);
	ec__modsrv_free(m->modules);
	ec__plugins_close(&m->plugins);
	ec__config_free(m->config);
	ec__secrets_free(&m->secrets);
	pthread_mutex_destroy(&m->lock);
	free(m);
}

void ec_master_set_secret_prompt(ec_master *m, ec_secret_fn fn, void *data)
{
	pthread_mutex_lock(&m->lock);
	m->secrets.fn = fn;
	m->secrets.data = data;
	pthread_mutex_unlock(&m->lock);
}

int ec_master_expand_target(ec_master *m, const char *target, const char ***names,
                            struct ec_error *err)
{
	if (!m || !target || !names)
		return ec__error_set(err, EC_EINVAL, NULL, "no target given");
	return ec__config_expand(m->config, target, names, err);
}

int ec_master_forks(const ec_master *m)
{
	return ec__config_forks(m->config);
}
