/* config.h: the configuration file. libyaml parses the file into a tree whose every node
 * keeps file:line:column (yamltree.h); the core checks the top level, then each
 * context's section is validated against the core's keys plus its transport plugin's
 * schema (struct ec_param, cfgschema.h). Unknown keys, wrong types and missing required
 * keys are errors that name the file, line, column and key. */
#ifndef EC_CORE_CONFIG_H
#define EC_CORE_CONFIG_H

#include "cfgschema.h"

struct ec_config; /* a whole parsed file */

/* Parse a file / a string (name is used in messages, e.g. "<embedded default>").
 * Checks the top level: codec (str), log_level (debug|info|warning|error|critical),
 * module_path (str or list), plugin_path (str or list), max_message_size (int bytes),
 * predict_imports and module_path_follow_symlinks (true/false), forks (int),
 * groups (groups.h), contexts (mapping of name -> mapping, each with a `transport` string). The context
 * `local` (transport: local) is always defined unless the file defines it itself. */
int ec__config_load_file(const char *path, struct ec_config **out, struct ec_error *err);
int ec__config_load_string(const char *name, const char *text, size_t len,
                           struct ec_config **out, struct ec_error *err);
/* Search order: explicit path, $ECONTEXT_CONFIG, ~/.config/econtext/econtext.yaml,
 * EC_SYSCONFDIR/econtext/econtext.yaml, then the embedded default. A file named
 * explicitly or by the environment must exist; the others are skipped if absent. */
int ec__config_load_default(const char *explicit_path, struct ec_config **out,
                            struct ec_error *err);
void ec__config_free(struct ec_config *cfg);

/* Where it came from ("/etc/econtext/econtext.yaml", "<embedded default>"). */
const char *ec__config_source(const struct ec_config *cfg);
const char *ec__config_codec(const struct ec_config *cfg);        /* default "pickle" */
int ec__config_log_level(const struct ec_config *cfg);            /* default EC_LOG_INFO */
size_t ec__config_max_message(const struct ec_config *cfg);       /* default 64 MiB */
const char *const *ec__config_module_path(const struct ec_config *cfg); /* NULL-terminated */
int ec__config_predict_imports(const struct ec_config *cfg);         /* default 1 */
int ec__config_code_cache(const struct ec_config *cfg);              /* default 1 */
int ec__config_call_spin_us(const struct ec_config *cfg); /* default 400 */
int ec__config_module_follow_symlinks(const struct ec_config *cfg);  /* default 0 */
const char *const *ec__config_plugin_path(const struct ec_config *cfg); /* NULL-terminated */
int ec__config_forks(const struct ec_config *cfg); /* default 20 */
/* The context names a command line's TARGET stands for (groups.h, ec__groups_expand):
 * *out a malloc'd NULL-terminated array of names borrowed from cfg. */
int ec__config_expand(const struct ec_config *cfg, const char *target, const char ***out,
                      struct ec_error *err);
/* Context names in file order, NULL-terminated. */
const char *const *ec__config_context_names(const struct ec_config *cfg);
/* A context's section, borrowed; NULL if no such context. */
const struct ec_cfg *ec__config_context(const struct ec_config *cfg, const char *name);

#endif
