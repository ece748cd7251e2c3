/* plugin.h: finding, loading and checking plugins (dlopen, RTLD_LOCAL). A plugin is
 * loaded once per master on first use and unloaded only when the master is freed,
 * after every instance is gone. */
#ifndef EC_CORE_PLUGIN_H
#define EC_CORE_PLUGIN_H

#include "econtext/plugin.h"

/* Makes the host table a plugin gets from the base table (core/host.c's
 * ec__host_new_for_plugin: its records say "econtext.<plugin>"); NULL when out of
 * memory. The loader frees it with free(). */
typedef struct ec_host *(*ec_host_for_fn)(const struct ec_host *base, const char *plugin);

struct ec_loaded_plugin {
	const struct ec_plugin *desc;
	void *state; /* from desc->load */
	/* Its own host table (logger "econtext.<name>"): load() and create() get it. */
	const struct ec_host *host;
	void *dl;
	char *path;
	struct ec_loaded_plugin *next;
};

struct ec_plugins {
	char **dirs; /* search path, NULL-terminated, owned */
	const struct ec_host *host; /* the base table */
	ec_host_for_fn host_for;    /* NULL: every plugin gets the base table itself */
	struct ec_loaded_plugin *loaded;
};

/* dirs: searched in order; the build tree's plugin dirs (when this library runs from
 * its build tree) and EC_PLUGINDIR are appended. */
int ec__plugins_init(struct ec_plugins *ps, const char *const *dirs, const struct ec_host *host,
                     ec_host_for_fn host_for, struct ec_error *err);
/* Find and load `name` of `kind`, or return the already loaded one. */
int ec__plugins_get(struct ec_plugins *ps, const char *name, enum ec_plugin_kind kind,
                    const struct ec_loaded_plugin **out, struct ec_error *err);
/* Load a plugin from an explicit file (tests). */
int ec__plugins_load_file(struct ec_plugins *ps, const char *path, const char *name,
                          enum ec_plugin_kind kind, const struct ec_loaded_plugin **out,
                          struct ec_error *err);
void ec__plugins_close(struct ec_plugins *ps);
/* The search path as "a:b:c" into buf, for messages. */
const char *ec__plugins_path_string(const struct ec_plugins *ps, char *buf, size_t len);

#endif
