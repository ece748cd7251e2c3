/* fuzz_config.c: libFuzzer target for the YAML configuration loader with its schemas
 * (core/config.c, yamltree.c, cfgschema.c): the input up to its first NUL byte is a
 * configuration file (ec__config_load_string); each context it defines is then checked
 * as a connect checks it: a private copy, the overrides (`-o key=value`, one a line
 * after the NUL byte) applied, and validated against the core's keys and its
 * transport's schema (the real sudo plugin's and, when built with libssh2, the ssh
 * plugin's), then every key read with its typed getter. A crash, a sanitizer report or
 * a leak is a finding; so is an error without a message. */
#include "ecbuild.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

const struct ec_plugin *ec_plugin_sudo_describe(void);
#ifdef FUZZ_WITH_SSH
const struct ec_plugin *ec_plugin_ssh_describe(void);
#endif

#define CHECK_MSG(rc, err)                                                               \
	do {                                                                             \
		if ((rc) && !(err).msg[0]) {                                             \
			fprintf(stderr, "fuzz_config: %s:%d: error %d without a message\n", \
			        __FILE__, __LINE__, (rc));                               \
			abort();                                                         \
		}                                                                        \
	} while (0)

static const struct ec_param *schema_of(const char *transport)
{
	if (!strcmp(transport, "sudo"))
		return ec_plugin_sudo_describe()->params;
#ifdef FUZZ_WITH_SSH
	if (!strcmp(transport, "ssh"))
		return ec_plugin_ssh_describe()->params;
#endif
	return NULL;
}

static void read_keys(const struct ec_cfg *c, const struct ec_param *params)
{
	for (const struct ec_param *p = params; p && p->key; p++) {
		const char *s;
		long l;
		int b;
		const char *const *v;
		size_t n;
		switch (p->type) {
		case EC_PARAM_STR:
			ec__cfg_str(c, p->key, &s);
			break;
		case EC_PARAM_INT:
			ec__cfg_int(c, p->key, &l);
			break;
		case EC_PARAM_BOOL:
			ec__cfg_bool(c, p->key, &b);
			break;
		case EC_PARAM_STR_LIST:
			ec__cfg_list(c, p->key, &v, &n);
			break;
		case EC_PARAM_DURATION:
			ec__cfg_ms(c, p->key, &l);
			break;
		}
		ec__cfg_where(c, p->key);
		ec__cfg_value_where(c, p->key);
	}
}

static void check_context(const struct ec_cfg *section, char *overrides)
{
	struct ec_cfg *c = ec__cfg_dup(section);
	if (!c)
		return;
	struct ec_error err = {0};
	int rc = 0;
	for (char *line = overrides, *next; line && !rc; line = next) {
		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		if (*line) {
			rc = ec__cfg_override(c, line, &err);
			CHECK_MSG(rc, err);
		}
	}
	const char *transport = NULL;
	if (!rc && ec__cfg_str(c, "transport", &transport) == 0 && transport) {
		const struct ec_param *params = schema_of(transport);
		rc = ec__cfg_validate(c, params, transport, &err);
		CHECK_MSG(rc, err);
		if (!rc) {
			read_keys(c, ec__core_context_params);
			read_keys(c, params);
		}
	}
	ec__cfg_free(c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *nul = memchr(data, 0, size);
	size_t len = nul ? (size_t)(nul - data) : size;
	char *rest = NULL;
	if (nul) {
		size_t n = size - len - 1;
		if (!(rest = malloc(n + 1)))
			return 0;
		memcpy(rest, nul + 1, n);
		rest[n] = '\0';
	}
	struct ec_config *cfg = NULL;
	struct ec_error err = {0};
	int rc = ec__config_load_string("fuzz.yaml", (const char *)data, len, &cfg, &err);
	CHECK_MSG(rc, err);
	if (!rc) {
		ec__config_source(cfg);
		ec__config_codec(cfg);
		ec__config_log_level(cfg);
		ec__config_max_message(cfg);
		ec__config_module_path(cfg);
		ec__config_plugin_path(cfg);
		const char *const *names = ec__config_context_names(cfg);
		for (size_t i = 0; names && names[i]; i++) {
			const struct ec_cfg *section = ec__config_context(cfg, names[i]);
			if (!section)
				abort(); /* a name listed has its section */
			char *copy = rest ? strdup(rest) : NULL;
			check_context(section, copy);
			free(copy);
		}
		ec__config_free(cfg);
	}
	free(rest);
	return 0;
}
