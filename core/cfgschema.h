/* cfgschema.h: a context's section (struct ec_cfg) and the schema machinery: its values
 * with their locations, the core's keys (ec__core_context_params) and a plugin's
 * (struct ec_param), type checks, unknown keys, defaults, overrides and the typed
 * getters behind the host table's cfg_* ops. */
#ifndef EC_CORE_CFGSCHEMA_H
#define EC_CORE_CFGSCHEMA_H

#include "econtext/plugin.h"
#include "yamltree.h"

/* Keys every context takes, whatever its transport. */
extern const struct ec_param ec__core_context_params[];

/* A context's section read from YAML: name is the mapping key, body its value (a
 * mapping, or a null for no keys). Checks that it names a transport and the core's
 * keys, and records the core's defaults; the plugin's keys wait for ec__cfg_validate.
 * Errors (at their place in src) into src->err. */
int ec__cfg_from_yaml(const struct ec_yaml_src *src, const struct ec_yaml_node *name,
                      const struct ec_yaml_node *body, struct ec_cfg **out);
/* A section that only sets its transport, placed "<built-in>". EC_ENOMEM only. */
int ec__cfg_builtin(const char *name, const char *transport, struct ec_cfg **out);
/* A private copy of a section (for applying overrides per connection). */
struct ec_cfg *ec__cfg_dup(const struct ec_cfg *section);
void ec__cfg_free(struct ec_cfg *section);
/* Apply "key=value" (from `econtext -o` or the API) over a section: the value is read
 * as a YAML scalar, or a flow sequence "[a, b]" for list keys. where names the origin
 * in later messages ("-o python=..."). */
int ec__cfg_override(struct ec_cfg *section, const char *key_eq_value, struct ec_error *err);
/* Check the section against the core's keys and the plugin's params (plugin may be
 * NULL): unknown key, wrong type, out of range, missing required key. Applies nothing;
 * defaults are resolved by the getters. plugin_name is used in messages. */
int ec__cfg_validate(struct ec_cfg *section, const struct ec_param *plugin_params,
                     const char *plugin_name, struct ec_error *err);
/* The section's context name. */
const char *ec__cfg_name(const struct ec_cfg *section);

/* Typed getters: the host table's cfg_* ops (see econtext/plugin.h). A key without a
 * value falls back to the default of its ec_param (core's or plugin's, as recorded by
 * the last ec__cfg_validate). */
int ec__cfg_str(const struct ec_cfg *c, const char *key, const char **out);
int ec__cfg_int(const struct ec_cfg *c, const char *key, long *out);
int ec__cfg_bool(const struct ec_cfg *c, const char *key, int *out);
int ec__cfg_ms(const struct ec_cfg *c, const char *key, long *out_ms);
int ec__cfg_list(const struct ec_cfg *c, const char *key, const char *const **out, size_t *n);
const char *ec__cfg_where(const struct ec_cfg *c, const char *key);
/* Where the section's own value of key is written; NULL when it does not set key. */
const char *ec__cfg_value_where(const struct ec_cfg *c, const char *key);

/* Plugin names become file and symbol names: [A-Za-z0-9_]+. */
int ec__cfg_plugin_name_ok(const char *s);

/* The best candidate for a mistyped key: start with {NULL, SIZE_MAX}, try each known
 * key, then ec__cfg_did_you_mean gives "; did you mean 'x'?" or "" in buf. */
struct ec_cfg_suggest {
	const char *best;
	size_t dist;
};
void ec__cfg_suggest_try(struct ec_cfg_suggest *sg, const char *key, const char *cand);
const char *ec__cfg_did_you_mean(const struct ec_cfg_suggest *sg, char *buf, size_t len);

#endif
