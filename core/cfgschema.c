/* cfgschema.c: a context's section and its schema (see cfgschema.h and docs/config.md).
 *
 * A section keeps every value as text with its location; ec__cfg_validate checks it
 * against the core's keys and the transport plugin's ec_param table, and records the
 * parsed defaults so that the getters are plain read-only lookups, safe to call from
 * several threads at once. */
#include "ecbuild.h"

#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cfgschema.h"
#include "error.h"
#include "strv.h"
#include "yamltree.h"

#define BUILTIN_WHERE "<built-in>"

const struct ec_param ec__core_context_params[] = {
	{.key = "transport",
	 .type = EC_PARAM_STR,
	 .flags = EC_PARAM_REQUIRED,
	 .help = "the transport plugin that starts the context (local, ssh, ...)"},
	{.key = "python",
	 .type = EC_PARAM_STR,
	 .dflt = "python3",
	 .help = "the Python interpreter to run, a command name or a path"},
	{.key = "via", .type = EC_PARAM_STR, .help = "another context to start this one from"},
	{.key = "connect_timeout",
	 .type = EC_PARAM_DURATION,
	 .dflt = "30",
	 .help = "seconds to wait for the context to be ready"},
	{.key = "codec",
	 .type = EC_PARAM_STR,
	 .help = "the codec plugin of its messages (pickle, json); default: the top-level codec"},
	{.key = "connect_back",
	 .type = EC_PARAM_BOOL,
	 .dflt = "false",
	 .help = "after booting over its transport, the context connects back to the master "
	         "over TLS and its frames move there (docs/tls.md)"},
	{.key = "connect_back_address",
	 .type = EC_PARAM_STR,
	 .help = "the master's address the context connects back to; default: the master's "
	         "address as the launching transport sees it (ssh: the local address of its "
	         "connection to sshd), loopback for local and sudo"},
	{.key = "connect_back_listen",
	 .type = EC_PARAM_STR,
	 .help = "the address the connect-back listener is bound to, when the context reaches "
	         "it at another (NAT) or on all (0.0.0.0, ::); default: connect_back_address"},
	{.key = "connect_back_cert",
	 .type = EC_PARAM_STR,
	 .help = "a PEM certificate (chain) the connect-back listener presents instead of the "
	         "master's own, made per run; its SHA-256 is pinned the same way"},
	{.key = "connect_back_key",
	 .type = EC_PARAM_STR,
	 .help = "the PEM private key of connect_back_cert"},
	{.key = "connect_back_timeout",
	 .type = EC_PARAM_DURATION,
	 .dflt = "10",
	 .help = "seconds a connection to the listener has for its TLS handshake and token"},
	{0},
};

/* ---- mistyped keys ------------------------------------------------------------------ */

static int fold(int c)
{
	return c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c;
}

/* Optimal string alignment distance (Levenshtein plus adjacent transpositions), ASCII
 * case folded; SIZE_MAX when a string is too long to bother. */
static size_t edit_distance(const char *a, const char *b)
{
	enum { MAXLEN = 64 };
	size_t la = strlen(a), lb = strlen(b);
	if (la > MAXLEN || lb > MAXLEN)
		return SIZE_MAX;
	size_t rows[3][MAXLEN + 1];
	size_t *pp = rows[0], *prev = rows[1], *cur = rows[2];
	for (size_t j = 0; j <= lb; j++)
		prev[j] = j;
	for (size_t i = 1; i <= la; i++) {
		int ca = fold(a[i - 1]);
		cur[0] = i;
		for (size_t j = 1; j <= lb; j++) {
			int cb = fold(b[j - 1]);
			size_t d = prev[j - 1] + (ca != cb);
			if (prev[j] + 1 < d)
				d = prev[j] + 1;
			if (cur[j - 1] + 1 < d)
				d = cur[j - 1] + 1;
			if (i > 1 && j > 1 && ca == fold(b[j - 2]) && fold(a[i - 2]) == cb &&
			    pp[j - 2] + 1 < d)
				d = pp[j - 2] + 1;
			cur[j] = d;
		}
		size_t *t = pp;
		pp = prev;
		prev = cur;
		cur = t;
	}
	return prev[lb];
}

void ec__cfg_suggest_try(struct ec_cfg_suggest *sg, const char *key, const char *cand)
{
	size_t d = edit_distance(key, cand);
	if (d == SIZE_MAX)
		return;
	size_t la = strlen(key), lc = strlen(cand);
	size_t longest = la > lc ? la : lc;
	if (d * 3 <= longest && d < sg->dist) {
		sg->best = cand;
		sg->dist = d;
	}
}

const char *ec__cfg_did_you_mean(const struct ec_cfg_suggest *sg, char *buf, size_t len)
{
	if (sg->best)
		snprintf(buf, len, "; did you mean '%s'?", sg->best);
	else
		buf[0] = '\0';
	return buf;
}

/* ---- durations and plugin names ----------------------------------------------------- */

/* Seconds as [0-9]+(.[0-9]*)? or .[0-9]+, to milliseconds (rounded half up). No strtod:
 * its decimal point follows the locale. */
static int parse_duration(const char *s, long *ms)
{
	unsigned long long sec = 0, frac = 0;
	int digits = 0, fdigits = 0, round_up = 0;
	const char *p = s;
	for (; *p >= '0' && *p <= '9'; p++, digits++) {
		sec = sec * 10 + (unsigned long long)(*p - '0');
		if (sec > (unsigned long long)LONG_MAX / 1000 - 1)
			return -1;
	}
	if (*p == '.') {
		for (p++; *p >= '0' && *p <= '9'; p++, digits++, fdigits++) {
			if (fdigits < 3)
				frac = frac * 10 + (unsigned long long)(*p - '0');
			else if (fdigits == 3)
				round_up = *p >= '5';
		}
		for (int k = fdigits; k < 3; k++)
			frac *= 10;
	}
	if (*p || !digits)
		return -1;
	*ms = (long)(sec * 1000 + frac + (unsigned long long)round_up);
	return 0;
}

int ec__cfg_plugin_name_ok(const char *s)
{
	if (!*s)
		return 0;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || *s == '_'))
			return 0;
	return 1;
}

/* ---- sections (struct ec_cfg) ------------------------------------------------------- */

enum val_kind {
	V_SCALAR,
	V_SEQ,   /* a sequence of scalars */
	V_MAP,   /* a mapping: never valid, kept to report it */
	V_BADSEQ /* a sequence holding a mapping or a sequence */
};

struct cfg_value {
	char *key;
	char *where;  /* of the key: "file:line:col", "-o key" */
	char *vwhere; /* of the value (of the offending item for V_BADSEQ) */
	enum val_kind kind;
	int plain;    /* V_SCALAR: written without quotes */
	char **items; /* NULL-terminated: {text, NULL} for a scalar, the items for V_SEQ */
	size_t n;
};

struct ec_cfg {
	char *name;
	char *where; /* of the context's name */
	struct cfg_value *vals;
	size_t n, cap;
	/* Defaults of the core's and the plugin's params, parsed (ec__cfg_validate). */
	struct cfg_value *defs;
	size_t ndefs;
	const struct ec_param *params; /* the plugin's, recorded by ec__cfg_validate */
};

static void value_clear(struct cfg_value *v)
{
	free(v->key);
	free(v->where);
	free(v->vwhere);
	if (v->items)
		for (size_t i = 0; v->items[i]; i++)
			free(v->items[i]);
	free(v->items);
	memset(v, 0, sizeof(*v));
}

static void values_free(struct cfg_value *vals, size_t n)
{
	for (size_t i = 0; i < n; i++)
		value_clear(&vals[i]);
	free(vals);
}

void ec__cfg_free(struct ec_cfg *s)
{
	if (!s)
		return;
	values_free(s->vals, s->n);
	values_free(s->defs, s->ndefs);
	free(s->name);
	free(s->where);
	free(s);
}

static int value_copy(struct cfg_value *d, const struct cfg_value *s)
{
	memset(d, 0, sizeof(*d));
	d->kind = s->kind;
	d->plain = s->plain;
	d->n = s->n;
	d->key = strdup(s->key);
	d->where = strdup(s->where);
	d->vwhere = strdup(s->vwhere);
	size_t count = s->kind == V_SCALAR ? 1 : s->n;
	d->items = calloc(count + 1, sizeof(char *));
	if (!d->key || !d->where || !d->vwhere || !d->items)
		goto fail;
	for (size_t i = 0; i < count; i++)
		if (!(d->items[i] = strdup(s->items[i])))
			goto fail;
	return 0;
fail:
	value_clear(d);
	return EC_ENOMEM;
}

/* Fill v from a node. key_where/val_where are taken (freed on failure). */
static int value_from_node(const struct ec_yaml_src *src, struct cfg_value *v, const char *key,
                           const struct ec_yaml_node *node, char *key_where)
{
	memset(v, 0, sizeof(*v));
	v->where = key_where;
	v->key = strdup(key);
	v->vwhere = ec__yaml_where(src, node->line, node->col);
	if (!v->key || !v->vwhere || !v->where)
		goto nomem;
	switch (node->kind) {
	case EC_YAML_SCALAR:
		v->kind = V_SCALAR;
		v->plain = node->plain;
		v->n = 1;
		if (!(v->items = calloc(2, sizeof(char *))) || !(v->items[0] = strdup(node->text)))
			goto nomem;
		return 0;
	case EC_YAML_MAP:
		v->kind = V_MAP;
		if (!(v->items = calloc(1, sizeof(char *))))
			goto nomem;
		return 0;
	case EC_YAML_SEQ:
		for (size_t i = 0; i < node->n; i++) {
			if (node->kids[i]->kind != EC_YAML_SCALAR) {
				v->kind = V_BADSEQ;
				free(v->vwhere);
				v->vwhere = ec__yaml_where(src, node->kids[i]->line, node->kids[i]->col);
				if (!v->vwhere || !(v->items = calloc(1, sizeof(char *))))
					goto nomem;
				return 0;
			}
		}
		v->kind = V_SEQ;
		if (!(v->items = calloc(node->n + 1, sizeof(char *))))
			goto nomem;
		for (size_t i = 0; i < node->n; i++)
			if (!(v->items[i] = strdup(node->kids[i]->text)))
				goto nomem;
		v->n = node->n;
		return 0;
	}
nomem:
	value_clear(v);
	return ec__yaml_oom(src->err);
}

static int section_push(struct ec_cfg *s, struct cfg_value *v)
{
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 8;
		struct cfg_value *nv = realloc(s->vals, cap * sizeof(*nv));
		if (!nv)
			return EC_ENOMEM;
		s->vals = nv;
		s->cap = cap;
	}
	s->vals[s->n++] = *v;
	return 0;
}

static const struct cfg_value *find_val(const struct cfg_value *vals, size_t n, const char *key)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(vals[i].key, key))
			return &vals[i];
	return NULL;
}

static const struct ec_param *find_param(const struct ec_param *table, const char *key)
{
	for (; table && table->key; table++)
		if (!strcmp(table->key, key))
			return table;
	return NULL;
}

/* The value of key: its own, else its default; NULL when it has none. */
static const struct cfg_value *lookup(const struct ec_cfg *c, const char *key)
{
	if (!c || !key)
		return NULL;
	const struct cfg_value *v = find_val(c->vals, c->n, key);
	return v ? v : find_val(c->defs, c->ndefs, key);
}

static const char *val_kind_name(const struct cfg_value *v)
{
	switch (v->kind) {
	case V_SCALAR:
		return v->plain && ec__yaml_is_null(v->items[0]) ? "an empty value" : "a string";
	case V_SEQ:
		return "a list";
	case V_MAP:
		return "a mapping";
	case V_BADSEQ:
		return "a list of lists or mappings";
	}
	return "a value";
}


static const char *val_desc(const struct cfg_value *v, char buf[96])
{
	return ec__yaml_describe(v->kind == V_SCALAR ? v->items[0] : NULL, v->plain,
	                         val_kind_name(v), buf);
}


/* Check one value against its param. what: "key 'port' in context 'web1'". */
static int check_value(const struct cfg_value *v, const struct ec_param *p, const char *what,
                       int code, struct ec_error *err)
{
	char d[96];
	const char *text = v->kind == V_SCALAR ? v->items[0] : NULL;

	switch (p->type) {
	case EC_PARAM_STR:
		if (!text)
			return ec__yaml_error(err, code, v->vwhere, "%s must be a string, not %s", what,
			                      val_desc(v, d));
		return 0;
	case EC_PARAM_STR_LIST:
		if (v->kind == V_BADSEQ)
			return ec__yaml_error(err, code, v->vwhere,
			                      "%s must be a list of strings; this item is not a string", what);
		if (v->kind == V_MAP)
			return ec__yaml_error(err, code, v->vwhere,
			                      "%s must be a string or a list of strings, not a mapping", what);
		return 0;
	case EC_PARAM_INT: {
		long long x;
		int ranged = p->min < p->max;
		if (!text || !v->plain || ec__yaml_int(text, &x) || x < LONG_MIN || x > LONG_MAX ||
		    (ranged && (x < p->min || x > p->max))) {
			if (ranged)
				return ec__yaml_error(err, code, v->vwhere,
				                      "%s must be an integer from %ld to %ld, not %s", what, p->min,
				                      p->max, val_desc(v, d));
			return ec__yaml_error(err, code, v->vwhere, "%s must be an integer, not %s", what,
			                      val_desc(v, d));
		}
		return 0;
	}
	case EC_PARAM_BOOL: {
		int x;
		if (!text || !v->plain || ec__yaml_bool(text, &x))
			return ec__yaml_error(err, code, v->vwhere, "%s must be true or false, not %s", what,
			                      val_desc(v, d));
		return 0;
	}
	case EC_PARAM_DURATION: {
		long ms;
		if (!text || !v->plain || parse_duration(text, &ms))
			return ec__yaml_error(err, code, v->vwhere,
			                      "%s must be a number of seconds such as 30 or 2.5, not %s", what,
			                      val_desc(v, d));
		return 0;
	}
	}
	return ec__yaml_error(err, EC_EPLUGIN, v->vwhere,
	                      "%s has a parameter type (%d) that this core does not know", what,
	                      (int)p->type);
}

/* The core's extra rules for its own keys. */
static int check_core_value(const struct ec_cfg *s, const struct cfg_value *v,
                            const struct ec_param *p, struct ec_error *err)
{
	char what[256], b[64];
	snprintf(what, sizeof(what), "key '%s' in context '%s'", p->key, s->name);
	int rc = check_value(v, p, what, EC_ECONFIG, err);
	if (rc)
		return rc;
	if ((!strcmp(p->key, "transport") || !strcmp(p->key, "codec")) &&
	    !ec__cfg_plugin_name_ok(v->items[0]))
		return ec__yaml_error(err, EC_ECONFIG, v->vwhere,
		                      "%s '%s' of context '%s' is not a plugin name (letters, "
		                      "digits and '_')",
		                      p->key, ec__yaml_show(v->items[0], b), s->name);
	if ((!strcmp(p->key, "python") || !strcmp(p->key, "via")) && !v->items[0][0])
		return ec__yaml_error(err, EC_ECONFIG, v->vwhere, "%s cannot be empty", what);
	return 0;
}

/* Parse YAML text as a value: a scalar or a sequence (a mapping is kept as V_MAP for
 * the caller to report). origin is the where of every location. */
static int value_from_text(const char *origin, const char *key, const char *text,
                           struct cfg_value *v, struct ec_error *err)
{
	struct ec_yaml_src src = {.name = origin,
	                          .origin_only = 1,
	                          .text = (const unsigned char *)text,
	                          .len = strlen(text),
	                          .err = err};
	struct ec_yaml_node *root = NULL;
	int rc = ec__yaml_parse(&src, &root);
	if (rc)
		return rc;
	if (!root) { /* "" or only a comment: an empty string, not null */
		root = calloc(1, sizeof(*root));
		if (!root || !(root->text = strdup(""))) {
			ec__yaml_node_free(root);
			return ec__yaml_oom(err);
		}
		root->kind = EC_YAML_SCALAR;
	}
	char *kw = strdup(origin);
	if (!kw) {
		ec__yaml_node_free(root);
		return ec__yaml_oom(err);
	}
	rc = value_from_node(&src, v, key, root, kw);
	ec__yaml_node_free(root);
	return rc;
}

int ec__cfg_override(struct ec_cfg *s, const char *kv, struct ec_error *err)
{
	char b[64];
	const char *eq = kv ? strchr(kv, '=') : NULL;
	if (!s || !kv)
		return ec__error_set(err, EC_EINVAL, NULL, "no section or no override given");
	if (!eq || eq == kv)
		return ec__yaml_error(err, EC_ECONFIG, "-o", "override '%s' must look like key=value",
		                      ec__yaml_show(kv, b));
	size_t klen = (size_t)(eq - kv);
	for (size_t i = 0; i < klen; i++) {
		char ch = kv[i];
		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
		      ch == '_' || ch == '-' || ch == '.'))
			return ec__yaml_error(err, EC_ECONFIG, "-o",
			                      "override '%s': a key is made of letters, digits, '_', '-' and "
			                      "'.'",
			                      ec__yaml_show(kv, b));
	}
	char *key = malloc(klen + 1);
	if (!key)
		return ec__yaml_oom(err);
	memcpy(key, kv, klen);
	key[klen] = '\0';
	char *origin = ec__strdupf("-o %s", key);
	if (!origin) {
		free(key);
		return ec__yaml_oom(err);
	}
	struct cfg_value v;
	int rc = value_from_text(origin, key, eq + 1, &v, err);
	if (!rc && (v.kind == V_MAP || v.kind == V_BADSEQ)) {
		rc = ec__yaml_error(err, EC_ECONFIG, origin,
		                    "the value of '%s' must be a string or a list [a, b], not %s "
		                    "(quote it if it holds ': ')",
		                    key, val_kind_name(&v));
		value_clear(&v);
	}
	/* The core's keys are checked at once: the transport names a file to load before
	 * ec__cfg_validate runs. */
	const struct ec_param *core = rc ? NULL : find_param(ec__core_context_params, key);
	if (core && (rc = check_core_value(s, &v, core, err)))
		value_clear(&v);
	free(origin);
	free(key);
	if (rc)
		return rc;
	for (size_t i = 0; i < s->n; i++) {
		if (!strcmp(s->vals[i].key, v.key)) {
			value_clear(&s->vals[i]);
			s->vals[i] = v;
			return 0;
		}
	}
	if (section_push(s, &v)) {
		value_clear(&v);
		return ec__yaml_oom(err);
	}
	return 0;
}

/* Parse the defaults of table into defs; a bad default is the plugin's bug. */
static int add_defaults(struct cfg_value **defs, size_t *n, const struct ec_param *table,
                        const char *plugin_name, struct ec_error *err)
{
	for (const struct ec_param *p = table; p && p->key; p++) {
		if (!p->dflt || find_val(*defs, *n, p->key))
			continue;
		char *origin = ec__strdupf("plugin %s", plugin_name ? plugin_name : "core");
		if (!origin)
			return ec__yaml_oom(err);
		struct cfg_value v;
		int rc = value_from_text(origin, p->key, p->dflt, &v, err);
		if (!rc) {
			char what[256];
			snprintf(what, sizeof(what), "the default of key '%s'", p->key);
			rc = check_value(&v, p, what, EC_EPLUGIN, err);
			if (rc)
				value_clear(&v);
		} else if (rc != EC_ENOMEM) { /* out of memory is no fault of the plugin */
			rc = EC_EPLUGIN;
			if (err)
				err->code = EC_EPLUGIN;
		}
		free(origin);
		if (rc)
			return rc;
		struct cfg_value *nd = realloc(*defs, (*n + 1) * sizeof(*nd));
		if (!nd) {
			value_clear(&v);
			return ec__yaml_oom(err);
		}
		*defs = nd;
		nd[(*n)++] = v;
	}
	return 0;
}

int ec__cfg_validate(struct ec_cfg *s, const struct ec_param *plugin_params,
                     const char *plugin_name, struct ec_error *err)
{
	if (!s)
		return ec__error_set(err, EC_EINVAL, NULL, "no section to validate");
	/* Defaults first: the getters rely on them after a successful validation. */
	struct cfg_value *defs = NULL;
	size_t ndefs = 0;
	int rc = add_defaults(&defs, &ndefs, ec__core_context_params, NULL, err);
	if (!rc)
		rc = add_defaults(&defs, &ndefs, plugin_params, plugin_name, err);
	if (rc) {
		values_free(defs, ndefs);
		return rc;
	}
	values_free(s->defs, s->ndefs);
	s->defs = defs;
	s->ndefs = ndefs;
	s->params = plugin_params;

	const struct cfg_value *tv = find_val(s->vals, s->n, "transport");
	const char *pname = plugin_name ? plugin_name
	                    : (tv && tv->kind == V_SCALAR) ? tv->items[0]
	                                                   : NULL;
	char inctx[256];
	if (pname)
		snprintf(inctx, sizeof(inctx), "context '%s' (transport %s)", s->name, pname);
	else
		snprintf(inctx, sizeof(inctx), "context '%s'", s->name);

	for (size_t i = 0; i < s->n; i++) {
		const struct cfg_value *v = &s->vals[i];
		const struct ec_param *p = find_param(ec__core_context_params, v->key);
		if (p) {
			if ((rc = check_core_value(s, v, p, err)))
				return rc;
			continue;
		}
		p = find_param(plugin_params, v->key);
		if (!p) {
			struct ec_cfg_suggest sg = {NULL, SIZE_MAX};
			for (const struct ec_param *q = ec__core_context_params; q->key; q++)
				ec__cfg_suggest_try(&sg, v->key, q->key);
			for (const struct ec_param *q = plugin_params; q && q->key; q++)
				ec__cfg_suggest_try(&sg, v->key, q->key);
			char b[64], dym[96];
			return ec__yaml_error(err, EC_ECONFIG, v->where, "unknown key '%s' in %s%s",
			                      ec__yaml_show(v->key, b), inctx,
			                      ec__cfg_did_you_mean(&sg, dym, sizeof(dym)));
		}
		char what[384];
		snprintf(what, sizeof(what), "key '%s' in %s", p->key, inctx);
		if ((rc = check_value(v, p, what, EC_ECONFIG, err)))
			return rc;
	}
	const struct ec_param *tables[2] = {ec__core_context_params, plugin_params};
	for (int t = 0; t < 2; t++) {
		for (const struct ec_param *p = tables[t]; p && p->key; p++) {
			if (!(p->flags & EC_PARAM_REQUIRED) || find_val(s->vals, s->n, p->key))
				continue;
			if (t == 1 && find_param(ec__core_context_params, p->key))
				continue;
			return ec__yaml_error(err, EC_ECONFIG, s->where, "%s needs the key '%s'%s%s%s", inctx,
			                      p->key, p->help ? " (" : "", p->help ? p->help : "",
			                      p->help ? ")" : "");
		}
	}
	return 0;
}

int ec__cfg_from_yaml(const struct ec_yaml_src *src, const struct ec_yaml_node *name,
                      const struct ec_yaml_node *body, struct ec_cfg **out)
{
	char b[64];
	struct ec_cfg *s = calloc(1, sizeof(*s));
	if (!s || !(s->name = strdup(name->text)) ||
	    !(s->where = ec__yaml_where(src, name->line, name->col))) {
		ec__cfg_free(s);
		return ec__yaml_oom(src->err);
	}
	int rc = 0;
	size_t npairs = body->kind == EC_YAML_MAP ? body->n / 2 : 0;
	for (size_t i = 0; i < npairs && !rc; i++) {
		const struct ec_yaml_node *k = body->kids[2 * i], *v = body->kids[2 * i + 1];
		struct cfg_value val;
		char *kw = ec__yaml_where(src, k->line, k->col);
		if (!kw) {
			rc = ec__yaml_oom(src->err);
		} else if (!(rc = value_from_node(src, &val, k->text, v, kw)) && section_push(s, &val)) {
			value_clear(&val);
			rc = ec__yaml_oom(src->err);
		}
	}
	if (!rc && !find_val(s->vals, s->n, "transport"))
		rc = ec__yaml_error_at(src, name->line, name->col,
		                       "context '%s' has no key 'transport' (the plugin that starts "
		                       "it: local, ssh, ...)",
		                       ec__yaml_show(name->text, b));
	/* The core's keys can be checked now; the plugin's wait for ec__cfg_validate. */
	for (size_t i = 0; !rc && i < s->n; i++) {
		const struct ec_param *p = find_param(ec__core_context_params, s->vals[i].key);
		if (p)
			rc = check_core_value(s, &s->vals[i], p, src->err);
	}
	/* The core's defaults serve the getters until ec__cfg_validate adds the plugin's. */
	if (!rc)
		rc = add_defaults(&s->defs, &s->ndefs, ec__core_context_params, NULL, src->err);
	if (rc) {
		ec__cfg_free(s);
		return rc;
	}
	*out = s;
	return 0;
}

int ec__cfg_builtin(const char *name, const char *transport, struct ec_cfg **out)
{
	struct ec_cfg *s = calloc(1, sizeof(*s));
	struct cfg_value v = {0};
	if (!s)
		return EC_ENOMEM;
	s->name = strdup(name);
	s->where = strdup(BUILTIN_WHERE);
	v.key = strdup("transport");
	v.where = strdup(BUILTIN_WHERE);
	v.vwhere = strdup(BUILTIN_WHERE);
	v.kind = V_SCALAR;
	v.plain = 1;
	v.n = 1;
	v.items = calloc(2, sizeof(char *));
	if (v.items)
		v.items[0] = strdup(transport);
	if (!s->name || !s->where || !v.key || !v.where || !v.vwhere || !v.items || !v.items[0] ||
	    section_push(s, &v)) {
		value_clear(&v);
		ec__cfg_free(s);
		return EC_ENOMEM;
	}
	if (add_defaults(&s->defs, &s->ndefs, ec__core_context_params, NULL, NULL)) {
		ec__cfg_free(s);
		return EC_ENOMEM;
	}
	*out = s;
	return 0;
}

struct ec_cfg *ec__cfg_dup(const struct ec_cfg *s)
{
	if (!s)
		return NULL;
	struct ec_cfg *d = calloc(1, sizeof(*d));
	if (!d)
		return NULL;
	d->params = s->params;
	d->name = strdup(s->name);
	d->where = strdup(s->where);
	if (!d->name || !d->where)
		goto fail;
	if (s->n) {
		if (!(d->vals = calloc(s->n, sizeof(*d->vals))))
			goto fail;
		d->cap = s->n;
		for (; d->n < s->n; d->n++)
			if (value_copy(&d->vals[d->n], &s->vals[d->n]))
				goto fail;
	}
	if (s->ndefs) {
		if (!(d->defs = calloc(s->ndefs, sizeof(*d->defs))))
			goto fail;
		for (; d->ndefs < s->ndefs; d->ndefs++)
			if (value_copy(&d->defs[d->ndefs], &s->defs[d->ndefs]))
				goto fail;
	}
	return d;
fail:
	ec__cfg_free(d);
	return NULL;
}

const char *ec__cfg_name(const struct ec_cfg *s)
{
	return s ? s->name : NULL;
}

/* ---- getters (read-only: safe from several threads) --------------------------------- */

int ec__cfg_str(const struct ec_cfg *c, const char *key, const char **out)
{
	const struct cfg_value *v = lookup(c, key);
	if (!v)
		return EC_ENOTFOUND;
	if (v->kind != V_SCALAR)
		return EC_ECONFIG;
	*out = v->items[0];
	return 0;
}

int ec__cfg_int(const struct ec_cfg *c, const char *key, long *out)
{
	const struct cfg_value *v = lookup(c, key);
	long long x;
	if (!v)
		return EC_ENOTFOUND;
	if (v->kind != V_SCALAR || !v->plain || ec__yaml_int(v->items[0], &x) || x < LONG_MIN ||
	    x > LONG_MAX)
		return EC_ECONFIG;
	*out = (long)x;
	return 0;
}

int ec__cfg_bool(const struct ec_cfg *c, const char *key, int *out)
{
	const struct cfg_value *v = lookup(c, key);
	int x;
	if (!v)
		return EC_ENOTFOUND;
	if (v->kind != V_SCALAR || !v->plain || ec__yaml_bool(v->items[0], &x))
		return EC_ECONFIG;
	*out = x;
	return 0;
}

int ec__cfg_ms(const struct ec_cfg *c, const char *key, long *out_ms)
{
	const struct cfg_value *v = lookup(c, key);
	long ms;
	if (!v)
		return EC_ENOTFOUND;
	if (v->kind != V_SCALAR || !v->plain || parse_duration(v->items[0], &ms))
		return EC_ECONFIG;
	*out_ms = ms;
	return 0;
}

int ec__cfg_list(const struct ec_cfg *c, const char *key, const char *const **out, size_t *n)
{
	const struct cfg_value *v = lookup(c, key);
	if (!v)
		return EC_ENOTFOUND;
	if (v->kind == V_SCALAR) {
		/* A plain null is the empty list: items[1] is the terminating NULL. */
		int empty = v->plain && ec__yaml_is_null(v->items[0]);
		*out = (const char *const *)(empty ? v->items + 1 : v->items);
		if (n)
			*n = empty ? 0 : 1;
		return 0;
	}
	if (v->kind != V_SEQ)
		return EC_ECONFIG;
	*out = (const char *const *)v->items;
	if (n)
		*n = v->n;
	return 0;
}

const char *ec__cfg_where(const struct ec_cfg *c, const char *key)
{
	if (!c)
		return "";
	if (key) {
		const struct cfg_value *v = find_val(c->vals, c->n, key);
		if (v)
			return v->where;
	}
	return c->where;
}

const char *ec__cfg_value_where(const struct ec_cfg *c, const char *key)
{
	const struct cfg_value *v = c && key ? find_val(c->vals, c->n, key) : NULL;
	return v ? v->vwhere : NULL;
}
