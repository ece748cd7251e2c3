/* config.c: the configuration file (see config.h and docs/config.md): its top-level
 * keys, its contexts and their via chains, where it is searched for, load and free. The
 * YAML is read by yamltree.c, each context's section is checked by cfgschema.c. */
#include "ecbuild.h"

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cfgschema.h"
#include "config.h"
#include "error.h"
#include "groups.h"
#include "strv.h"
#include "yamltree.h"

#ifndef EC_SYSCONFDIR
#define EC_SYSCONFDIR "/etc"
#endif

#define DEFAULT_CODEC "pickle"
#define DEFAULT_MAX_MESSAGE (64u << 20) /* 64 MiB */
/* A local round trip is 40-60 µs when neither side sleeps, 150-200 when it does, one over
 * ssh to loopback 90-180 and 250-300: the budget covers the sleeping figures, so that a
 * quick call after a long one (which turns spinning off) turns it back on. */
#define DEFAULT_CALL_SPIN_US 400
#define MAX_CALL_SPIN_US 10000
/* Contexts the command connects and runs at once (`econtext --forks`, docs/cli.md): enough
 * to keep this machine's CPUs busy starting interpreters and to overlap ssh round trips,
 * few enough that the interpreters started at once (10-20 MB each for local ones) and
 * their descriptors stay modest. */
#define DEFAULT_FORKS 20
#define MAX_FORKS 10000
#define MIN_MAX_MESSAGE 4096LL
#define MAX_MAX_MESSAGE 4294967295LL  /* a frame's length field is 32 bits */
#define EMBEDDED_NAME "<embedded default>"

static const char embedded_default[] = "# econtext's built-in configuration\n"
                                       "contexts:\n"
                                       "  local:\n"
                                       "    transport: local\n";

/* ---- the whole file ----------------------------------------------------------------- */

struct ec_config {
	char *source;
	char *codec; /* NULL: DEFAULT_CODEC */
	int log_level;
	size_t max_message;
	int predict_imports;          /* default 1 */
	int module_follow_symlinks;   /* default 0 */
	int code_cache;               /* default 1 */
	int call_spin_us;             /* default DEFAULT_CALL_SPIN_US */
	int forks;                    /* default DEFAULT_FORKS */
	int local_builtin;            /* `local` is the built-in one, not the file's */
	struct ec_groups *groups;     /* NULL: none */
	char **module_path; /* NULL-terminated, owned */
	char **plugin_path;
	struct ec_cfg **ctx;
	size_t nctx;
	const char **names; /* NULL-terminated, borrowed from the sections */
};

void ec__config_free(struct ec_config *cfg)
{
	if (!cfg)
		return;
	free(cfg->source);
	free(cfg->codec);
	ec__strv_free(cfg->module_path);
	ec__strv_free(cfg->plugin_path);
	for (size_t i = 0; i < cfg->nctx; i++)
		ec__cfg_free(cfg->ctx[i]);
	free(cfg->ctx);
	free(cfg->names);
	ec__groups_free(cfg->groups);
	free(cfg);
}

/* A path from the file: "~/x" from $HOME, a relative one from basedir (the file's
 * directory; NULL for text that is not a file). */
static char *resolve_path(const char *p, const char *basedir)
{
	const char *home = getenv("HOME");
	if (p[0] == '~' && (p[1] == '/' || !p[1]) && home && home[0])
		return ec__strdupf("%s%s", home, p + 1);
	if (p[0] == '/' || !basedir)
		return strdup(p);
	while (p[0] == '.' && p[1] == '/') {
		p += 2;
		while (*p == '/')
			p++;
	}
	if (!p[0] || !strcmp(p, "."))
		return strdup(basedir);
	return ec__strdupf("%s%s%s", basedir, basedir[strlen(basedir) - 1] == '/' ? "" : "/", p);
}

struct top {
	const struct ec_yaml_src *src;
	const char *basedir;
	struct ec_config *cfg;
};

static int top_error(struct top *T, const struct ec_yaml_node *n, const char *fmt, ...)
	EC_PRINTF(3, 4);
static int top_error(struct top *T, const struct ec_yaml_node *n, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return ec__yaml_error_at(T->src, n->line, n->col, "%s", msg);
}

static int load_path_list(struct top *T, const char *key, const struct ec_yaml_node *v,
                          char ***out)
{
	size_t count = v->kind == EC_YAML_SEQ ? v->n : ec__yaml_node_is_null(v) ? 0 : 1;
	if (v->kind == EC_YAML_MAP)
		return top_error(T, v, "key '%s' must be a directory or a list of directories, not a "
		                 "mapping", key);
	char **list = calloc(count + 1, sizeof(char *));
	if (!list)
		return ec__yaml_oom(T->src->err);
	for (size_t i = 0; i < count; i++) {
		const struct ec_yaml_node *item = v->kind == EC_YAML_SEQ ? v->kids[i] : v;
		if (item->kind != EC_YAML_SCALAR || ec__yaml_node_is_null(item)) {
			ec__strv_free(list);
			return top_error(T, item, "each item of key '%s' must be a directory, not %s",
			                 key, ec__yaml_node_kind(item));
		}
		if (!(list[i] = resolve_path(item->text, T->basedir))) {
			ec__strv_free(list);
			return ec__yaml_oom(T->src->err);
		}
	}
	ec__strv_free(*out);
	*out = list;
	return 0;
}

static int add_context(struct ec_config *cfg, struct ec_cfg *s)
{
	struct ec_cfg **nc = realloc(cfg->ctx, (cfg->nctx + 1) * sizeof(*nc));
	if (!nc)
		return EC_ENOMEM;
	cfg->ctx = nc;
	cfg->ctx[cfg->nctx++] = s;
	return 0;
}

static int load_context(struct top *T, const struct ec_yaml_node *name,
                        const struct ec_yaml_node *body)
{
	char b[64];
	if (body->kind != EC_YAML_MAP && !ec__yaml_node_is_null(body))
		return top_error(T, body, "context '%s' must be a mapping of keys (transport: ..., "
		                 "...), not %s", ec__yaml_show(name->text, b), ec__yaml_node_kind(body));
	struct ec_cfg *s = NULL;
	int rc = ec__cfg_from_yaml(T->src, name, body, &s);
	if (rc)
		return rc;
	if (add_context(T->cfg, s)) {
		ec__cfg_free(s);
		return ec__yaml_oom(T->src->err);
	}
	return 0;
}

static int load_contexts(struct top *T, const struct ec_yaml_node *v)
{
	if (ec__yaml_node_is_null(v))
		return 0;
	if (v->kind != EC_YAML_MAP)
		return top_error(T, v, "key 'contexts' must be a mapping of context names to their "
		                 "keys, not %s", ec__yaml_node_kind(v));
	for (size_t i = 0; i + 1 < v->n; i += 2) {
		int rc = load_context(T, v->kids[i], v->kids[i + 1]);
		if (rc)
			return rc;
	}
	return 0;
}

struct ctx_ref {
	const char *name;
	size_t idx;
};

static int ctx_ref_cmp(const void *a, const void *b)
{
	const struct ctx_ref *x = a, *y = b;
	return strcmp(x->name, y->name);
}

/* Every 'via' names a context, and following them never loops. Linear but for the sort,
 * whatever the file holds. */
static int check_via(struct ec_config *cfg, struct ec_error *err)
{
	size_t n = cfg->nctx;
	if (!n)
		return 0;
	struct ctx_ref *sorted = malloc(n * sizeof(*sorted));
	size_t *next = malloc(n * sizeof(*next)); /* index of the via target, or n */
	unsigned char *state = calloc(n, sizeof(*state)); /* 0 new, 1 on the path, 2 done */
	const char **via = calloc(n, sizeof(*via)); /* where each 'via' is written, or NULL */
	int rc = 0;
	char b[64];
	if (!sorted || !next || !state || !via) {
		rc = ec__yaml_oom(err);
		goto out;
	}
	for (size_t i = 0; i < n; i++)
		sorted[i] = (struct ctx_ref){ec__cfg_name(cfg->ctx[i]), i};
	qsort(sorted, n, sizeof(*sorted), ctx_ref_cmp);
	for (size_t i = 0; i < n; i++) {
		const struct ec_cfg *c = cfg->ctx[i];
		const char *target;
		next[i] = n;
		via[i] = ec__cfg_value_where(c, "via");
		if (!via[i] || ec__cfg_str(c, "via", &target))
			continue;
		struct ctx_ref key = {target, 0};
		const struct ctx_ref *hit = bsearch(&key, sorted, n, sizeof(*sorted), ctx_ref_cmp);
		if (!hit) {
			rc = ec__yaml_error(err, EC_ECONFIG, via[i],
			                    "context '%s' goes via '%s', which is not a defined context",
			                    ec__cfg_name(c), ec__yaml_show(target, b));
			goto out;
		}
		next[i] = hit->idx;
	}
	for (size_t i = 0; i < n; i++) {
		size_t j = i;
		while (j < n && state[j] == 0) {
			state[j] = 1;
			j = next[j];
		}
		if (j < n && state[j] == 1) { /* came back to this walk's own path: a loop */
			rc = ec__yaml_error(err, EC_ECONFIG, via[j],
			                    "context '%s' reaches itself through 'via' keys",
			                    ec__cfg_name(cfg->ctx[j]));
			goto out;
		}
		for (j = i; j < n && state[j] == 1; j = next[j])
			state[j] = 2;
	}
out:
	free(sorted);
	free(next);
	free(state);
	free(via);
	return rc;
}

static int add_builtin_local(struct ec_config *cfg)
{
	struct ec_cfg *s = NULL;
	if (ec__cfg_builtin("local", "local", &s))
		return EC_ENOMEM;
	if (add_context(cfg, s)) {
		ec__cfg_free(s);
		return EC_ENOMEM;
	}
	return 0;
}

static const char *const top_keys[] = {"codec",       "log_level",        "module_path",
                                       "plugin_path", "max_message_size", "contexts",
                                       "predict_imports", "module_path_follow_symlinks",
                                       "code_cache", "call_spin_us", "forks", "groups", NULL};

static int load_top(struct top *T, const struct ec_yaml_node *root)
{
	struct ec_config *cfg = T->cfg;
	char b[64], d[96];
	int rc;
	if (!root || ec__yaml_node_is_null(root))
		return 0;
	if (root->kind != EC_YAML_MAP)
		return top_error(T, root, "the configuration must be a mapping of keys (codec, "
		                 "contexts, ...), not %s", ec__yaml_node_kind(root));
	for (size_t i = 0; i + 1 < root->n; i += 2) {
		const struct ec_yaml_node *k = root->kids[i], *v = root->kids[i + 1];
		const char *key = k->text;
		if (!strcmp(key, "codec")) {
			if (v->kind != EC_YAML_SCALAR || ec__yaml_node_is_null(v))
				return top_error(T, v, "key 'codec' must be a codec plugin name, not %s",
				                 ec__yaml_node_kind(v));
			if (!ec__cfg_plugin_name_ok(v->text))
				return top_error(T, v, "codec '%s' is not a plugin name (letters, digits "
				                 "and '_')", ec__yaml_show(v->text, b));
			free(cfg->codec);
			if (!(cfg->codec = strdup(v->text)))
				return ec__yaml_oom(T->src->err);
		} else if (!strcmp(key, "log_level")) {
			int level = v->kind == EC_YAML_SCALAR ? ec_log_level_parse(v->text) : -1;
			if (level < 0)
				return top_error(T, v, "key 'log_level' must be one of debug, info, "
				                 "warning, error, critical; not %s", ec__yaml_node_desc(v, d));
			cfg->log_level = level;
		} else if (!strcmp(key, "module_path")) {
			if ((rc = load_path_list(T, key, v, &cfg->module_path)))
				return rc;
		} else if (!strcmp(key, "plugin_path")) {
			if ((rc = load_path_list(T, key, v, &cfg->plugin_path)))
				return rc;
		} else if (!strcmp(key, "max_message_size")) {
			long long x;
			if (v->kind != EC_YAML_SCALAR || !v->plain || ec__yaml_int(v->text, &x) ||
			    x < MIN_MAX_MESSAGE || x > MAX_MAX_MESSAGE ||
			    (unsigned long long)x > SIZE_MAX)
				return top_error(T, v, "key 'max_message_size' must be a number of bytes "
				                 "from %lld to %lld, not %s",
				                 MIN_MAX_MESSAGE, MAX_MAX_MESSAGE, ec__yaml_node_desc(v, d));
			cfg->max_message = (size_t)x;
		} else if (!strcmp(key, "call_spin_us")) {
			long long x;
			if (v->kind != EC_YAML_SCALAR || !v->plain || ec__yaml_int(v->text, &x) || x < 0 ||
			    x > MAX_CALL_SPIN_US)
				return top_error(T, v, "key 'call_spin_us' must be a number of "
				                 "microseconds from 0 to %d, not %s",
				                 MAX_CALL_SPIN_US, ec__yaml_node_desc(v, d));
			cfg->call_spin_us = (int)x;
		} else if (!strcmp(key, "forks")) {
			long long x;
			if (v->kind != EC_YAML_SCALAR || !v->plain || ec__yaml_int(v->text, &x) || x < 1 ||
			    x > MAX_FORKS)
				return top_error(T, v, "key 'forks' must be a number of contexts from 1 to "
				                 "%d, not %s", MAX_FORKS, ec__yaml_node_desc(v, d));
			cfg->forks = (int)x;
		} else if (!strcmp(key, "groups")) {
			ec__groups_free(cfg->groups);
			if ((rc = ec__groups_load(T->src, v, &cfg->groups)))
				return rc;
		} else if (!strcmp(key, "predict_imports") ||
		           !strcmp(key, "module_path_follow_symlinks") || !strcmp(key, "code_cache")) {
			int x;
			if (v->kind != EC_YAML_SCALAR || !v->plain || ec__yaml_bool(v->text, &x))
				return top_error(T, v, "key '%s' must be true or false, not %s", key,
				                 ec__yaml_node_desc(v, d));
			*(key[0] == 'p'   ? &cfg->predict_imports
			  : key[0] == 'c' ? &cfg->code_cache
			                  : &cfg->module_follow_symlinks) = x;
		} else if (!strcmp(key, "contexts")) {
			if ((rc = load_contexts(T, v)))
				return rc;
		} else {
			struct ec_cfg_suggest sg = {NULL, SIZE_MAX};
			for (size_t j = 0; top_keys[j]; j++)
				ec__cfg_suggest_try(&sg, key, top_keys[j]);
			char dym[96];
			if (sg.best)
				return top_error(T, k, "unknown top-level key '%s'%s", ec__yaml_show(key, b),
				                 ec__cfg_did_you_mean(&sg, dym, sizeof(dym)));
			return top_error(T, k, "unknown top-level key '%s' (known keys: codec, "
			                 "log_level, module_path, plugin_path, max_message_size, "
			                 "predict_imports, module_path_follow_symlinks, code_cache, "
			                 "call_spin_us, forks, groups, contexts)",
			                 ec__yaml_show(key, b));
		}
	}
	return 0;
}

/* The whole load: text of `name`; basedir resolves relative paths (may be NULL). */
static int load_text(const char *name, const char *text, size_t len, const char *basedir,
                     struct ec_config **out, struct ec_error *err)
{
	struct ec_config *cfg = calloc(1, sizeof(*cfg));
	if (!cfg)
		return ec__yaml_oom(err);
	cfg->log_level = EC_LOG_INFO;
	cfg->max_message = DEFAULT_MAX_MESSAGE;
	cfg->predict_imports = 1;
	cfg->code_cache = 1;
	cfg->call_spin_us = DEFAULT_CALL_SPIN_US;
	cfg->forks = DEFAULT_FORKS;
	cfg->source = strdup(name);
	cfg->module_path = calloc(1, sizeof(char *));
	cfg->plugin_path = calloc(1, sizeof(char *));
	if (!cfg->source || !cfg->module_path || !cfg->plugin_path) {
		ec__config_free(cfg);
		return ec__yaml_oom(err);
	}
	struct ec_yaml_src src = {
		.name = name, .text = (const unsigned char *)text, .len = len, .err = err};
	struct top T = {.src = &src, .basedir = basedir, .cfg = cfg};
	struct ec_yaml_node *root = NULL;
	int rc = ec__yaml_parse(&src, &root);
	if (!rc)
		rc = load_top(&T, root);
	ec__yaml_node_free(root);
	if (!rc && !ec__config_context(cfg, "local")) {
		cfg->local_builtin = 1;
		if (add_builtin_local(cfg))
			rc = ec__yaml_oom(err);
	}
	if (!rc)
		rc = check_via(cfg, err);
	if (!rc) {
		cfg->names = calloc(cfg->nctx + 1, sizeof(char *));
		if (!cfg->names)
			rc = ec__yaml_oom(err);
		for (size_t i = 0; !rc && i < cfg->nctx; i++)
			cfg->names[i] = ec__cfg_name(cfg->ctx[i]);
	}
	/* The built-in local comes last: globs match the file's own contexts only. */
	if (!rc)
		rc = ec__groups_check(cfg->groups, &src, cfg->names, cfg->nctx - cfg->local_builtin);
	if (rc) {
		ec__config_free(cfg);
		return rc;
	}
	*out = cfg;
	return 0;
}

int ec__config_load_string(const char *name, const char *text, size_t len,
                           struct ec_config **out, struct ec_error *err)
{
	if (!text || !out)
		return ec__error_set(err, EC_EINVAL, NULL, "no configuration text given");
	return load_text(name ? name : "<string>", text, len, NULL, out, err);
}

/* Read path whole. *absent is set (and 0 returned) when may_be_absent and it does not
 * exist. */
static int read_file(const char *path, int may_be_absent, char **text, size_t *len,
                     int *absent, struct ec_error *err)
{
	*absent = 0;
	FILE *f = fopen(path, "rb");
	if (!f) {
		if (may_be_absent && (errno == ENOENT || errno == ENOTDIR)) {
			*absent = 1;
			return 0;
		}
		return ec__error_sys(err, path, "cannot open the configuration file");
	}
	size_t cap = 4096, n = 0;
	char *buf = malloc(cap);
	if (!buf) {
		fclose(f);
		return ec__yaml_oom(err);
	}
	for (;;) {
		if (n == cap) {
			char *nb = cap > SIZE_MAX / 2 ? NULL : realloc(buf, cap * 2);
			if (!nb) {
				free(buf);
				fclose(f);
				return ec__yaml_oom(err);
			}
			buf = nb;
			cap *= 2;
		}
		size_t got = fread(buf + n, 1, cap - n, f);
		n += got;
		if (got == 0) {
			if (ferror(f)) {
				int saved = errno;
				free(buf);
				fclose(f);
				errno = saved;
				return ec__error_sys(err, path, "cannot read the configuration file");
			}
			break;
		}
	}
	fclose(f);
	*text = buf;
	*len = n;
	return 0;
}

/* The directory of path, absolute. */
static char *dir_of(const char *path)
{
	const char *slash = strrchr(path, '/');
	char *dir;
	if (!slash)
		dir = strdup(".");
	else if (slash == path)
		dir = strdup("/");
	else if ((dir = malloc((size_t)(slash - path) + 1))) {
		memcpy(dir, path, (size_t)(slash - path));
		dir[slash - path] = '\0';
	}
	if (!dir || dir[0] == '/')
		return dir;
	char cwd[4096];
	if (!getcwd(cwd, sizeof(cwd)))
		return dir; /* keep it relative rather than fail */
	char *abs = strcmp(dir, ".") ? ec__strdupf("%s/%s", cwd, dir) : strdup(cwd);
	free(dir);
	return abs;
}

static int load_file(const char *path, int may_be_absent, struct ec_config **out, int *absent,
                     struct ec_error *err)
{
	char *text = NULL;
	size_t len = 0;
	int rc = read_file(path, may_be_absent, &text, &len, absent, err);
	if (rc || *absent)
		return rc;
	char *dir = dir_of(path);
	if (!dir) {
		free(text);
		return ec__yaml_oom(err);
	}
	rc = load_text(path, text, len, dir, out, err);
	free(dir);
	free(text);
	return rc;
}

int ec__config_load_file(const char *path, struct ec_config **out, struct ec_error *err)
{
	int absent;
	if (!path || !out)
		return ec__error_set(err, EC_EINVAL, NULL, "no configuration file given");
	return load_file(path, 0, out, &absent, err);
}

int ec__config_load_default(const char *explicit_path, struct ec_config **out,
                            struct ec_error *err)
{
	int absent = 0, rc;
	if (!out)
		return ec__error_set(err, EC_EINVAL, NULL, "no place for the configuration");
	if (explicit_path)
		return ec__config_load_file(explicit_path, out, err);
	const char *env = getenv("ECONTEXT_CONFIG");
	if (env && env[0]) {
		rc = load_file(env, 0, out, &absent, err);
		if (rc && err && err->code != EC_ECONFIG)
			ec__error_prefix(err, "$ECONTEXT_CONFIG");
		return rc;
	}
	const char *home = getenv("HOME");
	if (home && home[0]) {
		char *path = ec__strdupf("%s/.config/econtext/econtext.yaml", home);
		if (!path)
			return ec__yaml_oom(err);
		rc = load_file(path, 1, out, &absent, err);
		free(path);
		if (rc || !absent)
			return rc;
	}
	rc = load_file(EC_SYSCONFDIR "/econtext/econtext.yaml", 1, out, &absent, err);
	if (rc || !absent)
		return rc;
	return load_text(EMBEDDED_NAME, embedded_default, sizeof(embedded_default) - 1, NULL, out,
	                 err);
}

/* ---- accessors ---------------------------------------------------------------------- */

const char *ec__config_source(const struct ec_config *cfg)
{
	return cfg->source;
}

const char *ec__config_codec(const struct ec_config *cfg)
{
	return cfg->codec ? cfg->codec : DEFAULT_CODEC;
}

int ec__config_log_level(const struct ec_config *cfg)
{
	return cfg->log_level;
}

size_t ec__config_max_message(const struct ec_config *cfg)
{
	return cfg->max_message;
}

int ec__config_call_spin_us(const struct ec_config *cfg)
{
	return cfg->call_spin_us;
}

int ec__config_forks(const struct ec_config *cfg)
{
	return cfg->forks;
}

int ec__config_expand(const struct ec_config *cfg, const char *target, const char ***out,
                      struct ec_error *err)
{
	return ec__groups_expand(cfg->groups, cfg->names, cfg->nctx - cfg->local_builtin,
	                         cfg->source, target, out, err);
}

int ec__config_predict_imports(const struct ec_config *cfg)
{
	return cfg->predict_imports;
}

int ec__config_code_cache(const struct ec_config *cfg)
{
	return cfg->code_cache;
}

int ec__config_module_follow_symlinks(const struct ec_config *cfg)
{
	return cfg->module_follow_symlinks;
}

const char *const *ec__config_module_path(const struct ec_config *cfg)
{
	return (const char *const *)cfg->module_path;
}

const char *const *ec__config_plugin_path(const struct ec_config *cfg)
{
	return (const char *const *)cfg->plugin_path;
}

const char *const *ec__config_context_names(const struct ec_config *cfg)
{
	return cfg->names;
}

const struct ec_cfg *ec__config_context(const struct ec_config *cfg, const char *name)
{
	if (!cfg || !name)
		return NULL;
	for (size_t i = 0; i < cfg->nctx; i++)
		if (!strcmp(ec__cfg_name(cfg->ctx[i]), name))
			return cfg->ctx[i];
	return NULL;
}
