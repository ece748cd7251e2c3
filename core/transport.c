/* transport.c: building, closing and freeing a context's transport stack. */
#include "ecbuild.h"

#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "plugin.h"
#include "transport.h"

#define MAX_DEPTH 8 /* via chains are checked for loops at load; this bounds their length */

/* A layer of plugin tname, or of cfg's `transport` when tname is NULL. */
static int layer_new(struct ec_plugins *plugins, const char *name, const char *tname,
                     const struct ec_cfg *cfg, struct ec_transport *below,
                     struct ec_transport **out, struct ec_error *err)
{
	const struct ec_loaded_plugin *tp = NULL;
	if (!tname && ec__cfg_str(cfg, "transport", &tname))
		return ec__error_set(err, EC_ECONFIG, ec__cfg_where(cfg, NULL),
		                     "context '%s' has no transport", ec__cfg_name(cfg));
	int rc = ec__plugins_get(plugins, tname, EC_PLUGIN_TRANSPORT, &tp, err);
	if (rc)
		return rc;
	struct ec_transport *t = calloc(1, sizeof(*t));
	if (!t)
		return ec__error_set(err, EC_ENOMEM, name, "out of memory");
	const struct ec_transport_ops *ops = tp->desc->ops;
	struct ec_transport_info info = {
		.context_name = name,
		.host = tp->host,
		.below = below,
	};
	rc = ops->create(tp->state, cfg, &info, &t->inst, err);
	if (rc) {
		free(t);
		return rc;
	}
	t->ops = ops;
	t->name = tp->desc->name;
	t->below = below;
	*out = t;
	return 0;
}

int ec__transport_stack_new(struct ec_plugins *plugins, const struct ec_config *config,
                            const char *name,
                            const struct ec_cfg *cfg, struct ec_argv *argv,
                            struct ec_transport **out, struct ec_error *err)
{
	/* The via chain, nearest first: cfg, via(cfg), via(via(cfg)), ... */
	const struct ec_cfg *chain[MAX_DEPTH];
	size_t n = 0;
	chain[n++] = cfg;
	for (;;) {
		const char *via = NULL;
		if (ec__cfg_str(chain[n - 1], "via", &via) || !via || !*via)
			break;
		const struct ec_cfg *next = ec__config_context(config, via);
		if (!next)
			return ec__error_set(err, EC_ECONFIG, ec__cfg_where(chain[n - 1], "via"),
			                     "context '%s' goes via '%s', which is not defined",
			                     ec__cfg_name(chain[n - 1]), via);
		if (n == MAX_DEPTH)
			return ec__error_set(err, EC_ECONFIG, ec__cfg_where(cfg, "via"),
			                     "context '%s': via chain longer than %d", name, MAX_DEPTH);
		chain[n++] = next;
	}
	/* Build from the bottom up; each layer is created knowing what it sits on. */
	struct ec_transport *below = NULL;
	for (size_t i = n; i-- > 0;) {
		struct ec_transport *t = NULL;
		int rc = layer_new(plugins, name, NULL, chain[i], below, &t, err);
		if (rc) {
			ec__transport_stack_free(below);
			return rc;
		}
		below = t;
	}
	/* connect_back: the tls filter on top; the context boots over the stack below, then
	 * its frames move to the connection it opens to the master (docs/tls.md). */
	int back = 0;
	if (ec__cfg_bool(cfg, "connect_back", &back) == 0 && back) {
		struct ec_transport *t = NULL;
		int rc = layer_new(plugins, name, "tls", cfg, below, &t, err);
		if (rc) {
			ec__transport_stack_free(below);
			return rc;
		}
		below = t;
	}
	for (struct ec_transport *t = below; t; t = t->below) {
		if (t->ops->wrap_argv) {
			int rc = t->ops->wrap_argv(t->inst, argv, err);
			if (rc) {
				ec__transport_stack_free(below);
				return rc;
			}
		}
	}
	*out = below;
	return 0;
}

void ec__transport_stack_close(struct ec_transport *top, int grace_ms)
{
	for (struct ec_transport *t = top; t; t = t->below)
		t->ops->close(t->inst, grace_ms);
}

void ec__transport_stack_free(struct ec_transport *top)
{
	while (top) {
		struct ec_transport *below = top->below;
		top->ops->destroy(top->inst);
		free(top);
		top = below;
	}
}
