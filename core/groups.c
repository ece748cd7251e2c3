/* groups.c: the configuration's `groups:` (see groups.h and docs/config.md): read,
 * checked against the contexts once the file is read, and a TARGET expanded through
 * them. Members keep their line:column, so that a refusal names the place. */
#include "ecbuild.h"

#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cfgschema.h"
#include "error.h"
#include "groups.h"

#define GLOB_CHARS "*?["

enum member_kind { M_CONTEXT, M_GROUP, M_GLOB };

struct member {
	char *text;
	size_t line, col;
	enum member_kind kind;
	size_t idx; /* the context's or the group's index, once checked */
};

struct group {
	char *name;
	size_t line, col;
	struct member *m;
	size_t n;
};

struct ec_groups {
	struct group *g;
	size_t n;
};

void ec__groups_free(struct ec_groups *g)
{
	if (!g)
		return;
	for (size_t i = 0; i < g->n; i++) {
		for (size_t j = 0; j < g->g[i].n; j++)
			free(g->g[i].m[j].text);
		free(g->g[i].m);
		free(g->g[i].name);
	}
	free(g->g);
	free(g);
}

static int load_group(const struct ec_yaml_src *src, const struct ec_yaml_node *k,
                      const struct ec_yaml_node *v, struct group *out)
{
	char b[64], c[64];
	const char *name = ec__yaml_show(k->text, b);
	if (strpbrk(k->text, "," GLOB_CHARS))
		return ec__yaml_error_at(src, k->line, k->col, "group name '%s' cannot contain ',', "
		                         "'*', '?' or '[' (a TARGET could not name it)", name);
	if (v->kind == EC_YAML_MAP)
		return ec__yaml_error_at(src, v->line, v->col, "group '%s' must be a list of context "
		                         "names, groups and globs, not a mapping", name);
	size_t count = v->kind == EC_YAML_SEQ ? v->n : ec__yaml_node_is_null(v) ? 0 : 1;
	if (!count)
		return ec__yaml_error_at(src, v->line, v->col, "group '%s' has no members", name);
	out->line = k->line;
	out->col = k->col;
	if (!(out->name = strdup(k->text)) || !(out->m = calloc(count, sizeof(*out->m))))
		return ec__yaml_oom(src->err);
	for (size_t i = 0; i < count; i++) {
		const struct ec_yaml_node *item = v->kind == EC_YAML_SEQ ? v->kids[i] : v;
		if (item->kind != EC_YAML_SCALAR || ec__yaml_node_is_null(item))
			return ec__yaml_error_at(src, item->line, item->col, "each member of group '%s' "
			                         "must be a context name, a group or a glob, not %s", name,
			                         ec__yaml_node_kind(item));
		if (strchr(item->text, ','))
			return ec__yaml_error_at(src, item->line, item->col, "member '%s' of group '%s': "
			                         "one name per item, without ','",
			                         ec__yaml_show(item->text, c), name);
		struct member *m = &out->m[out->n];
		if (!(m->text = strdup(item->text)))
			return ec__yaml_oom(src->err);
		m->line = item->line;
		m->col = item->col;
		out->n++;
	}
	return 0;
}

int ec__groups_load(const struct ec_yaml_src *src, const struct ec_yaml_node *v,
                    struct ec_groups **out)
{
	*out = NULL;
	if (ec__yaml_node_is_null(v))
		return 0;
	if (v->kind != EC_YAML_MAP)
		return ec__yaml_error_at(src, v->line, v->col, "key 'groups' must be a mapping of "
		                         "group names to lists of context names, not %s",
		                         ec__yaml_node_kind(v));
	struct ec_groups *g = calloc(1, sizeof(*g));
	if (!g || !(g->g = calloc(v->n / 2 + 1, sizeof(*g->g)))) {
		free(g);
		return ec__yaml_oom(src->err);
	}
	for (size_t i = 0; i + 1 < v->n; i += 2) {
		int rc = load_group(src, v->kids[i], v->kids[i + 1], &g->g[g->n]);
		g->n++; /* freed with the rest, also half-loaded */
		if (rc) {
			ec__groups_free(g);
			return rc;
		}
	}
	*out = g;
	return 0;
}

/* ---- lookups --------------------------------------------------------------------- */

static int find_name(const char *const *names, const char *s, size_t *idx)
{
	for (size_t i = 0; names && names[i]; i++)
		if (!strcmp(names[i], s)) {
			*idx = i;
			return 1;
		}
	return 0;
}

static int find_group(const struct ec_groups *g, const char *s, size_t *idx)
{
	for (size_t i = 0; g && i < g->n; i++)
		if (!strcmp(g->g[i].name, s)) {
			*idx = i;
			return 1;
		}
	return 0;
}

static int glob_matches(const char *const *names, size_t nglob, const char *pat)
{
	for (size_t i = 0; i < nglob; i++)
		if (fnmatch(pat, names[i], 0) == 0)
			return 1;
	return 0;
}

/* "; did you mean 'x'?" among the contexts and groups, or "", into buf. */
static const char *suggest(const struct ec_groups *g, const char *const *names, const char *s,
                           char *buf, size_t len)
{
	struct ec_cfg_suggest sg = {NULL, (size_t)-1};
	for (size_t i = 0; names && names[i]; i++)
		ec__cfg_suggest_try(&sg, s, names[i]);
	for (size_t i = 0; g && i < g->n; i++)
		ec__cfg_suggest_try(&sg, s, g->g[i].name);
	return ec__cfg_did_you_mean(&sg, buf, len);
}

static size_t append(char *buf, size_t len, size_t n, const char *a, const char *b)
{
	if (n < len)
		n += (size_t)snprintf(buf + n, len - n, "%s%s", a, b);
	return n;
}

/* "groups: x, y; contexts: a, b, ..." (cut at len) into buf, for a message. */
static const char *known(const struct ec_groups *g, const char *const *names, char *buf,
                         size_t len)
{
	size_t n = 0;
	buf[0] = '\0';
	for (size_t i = 0; g && i < g->n; i++)
		n = append(buf, len, n, i ? ", " : "groups: ", g->g[i].name);
	for (size_t i = 0; names && names[i]; i++)
		n = append(buf, len, n, i ? ", " : n ? "; contexts: " : "contexts: ", names[i]);
	if (n >= len && len > 4)
		memcpy(buf + len - 4, "...", 4);
	return buf;
}

/* ---- the check ------------------------------------------------------------------- */

static int resolve(struct ec_groups *g, const struct ec_yaml_src *src, const char *const *names,
                   size_t nglob, struct group *grp, struct member *m)
{
	char b[64], c[64], dym[96];
	if (find_name(names, m->text, &m->idx)) {
		m->kind = M_CONTEXT;
		return 0;
	}
	if (find_group(g, m->text, &m->idx)) {
		m->kind = M_GROUP;
		return 0;
	}
	if (strpbrk(m->text, GLOB_CHARS)) {
		m->kind = M_GLOB;
		if (glob_matches(names, nglob, m->text))
			return 0;
		return ec__yaml_error_at(src, m->line, m->col, "group '%s': '%s' matches no context",
		                         ec__yaml_show(grp->name, b), ec__yaml_show(m->text, c));
	}
	return ec__yaml_error_at(src, m->line, m->col, "group '%s': '%s' is not a context or a "
	                         "group%s", ec__yaml_show(grp->name, b), ec__yaml_show(m->text, c),
	                         suggest(g, names, m->text, dym, sizeof(dym)));
}

/* The loop found: the chain from the stack entry of the group closing it. */
static int loop_error(const struct ec_groups *g, const struct ec_yaml_src *src,
                      const size_t (*stack)[2], size_t sp, const struct member *m)
{
	char chain[256] = "", b[64];
	size_t from = 0, n = 0;
	while (from < sp && stack[from][0] != m->idx)
		from++;
	for (size_t i = from; i < sp && n < sizeof(chain); i++)
		n += (size_t)snprintf(chain + n, sizeof(chain) - n, "%s -> ",
		                      ec__yaml_show(g->g[stack[i][0]].name, b));
	if (n < sizeof(chain))
		n += (size_t)snprintf(chain + n, sizeof(chain) - n, "%s", ec__yaml_show(m->text, b));
	if (n >= sizeof(chain))
		memcpy(chain + sizeof(chain) - 4, "...", 4);
	return ec__yaml_error_at(src, m->line, m->col, "group '%s' contains itself: %s",
	                         ec__yaml_show(m->text, b), chain);
}

/* Depth first over the groups, without recursion (a file may chain many). */
static int check_loops(const struct ec_groups *g, const struct ec_yaml_src *src)
{
	unsigned char *state = calloc(g->n, 1); /* 0 new, 1 on the stack, 2 done */
	size_t (*stack)[2] = calloc(g->n, sizeof(*stack)); /* group, next member */
	int rc = 0;
	if (!state || !stack)
		rc = ec__yaml_oom(src->err);
	for (size_t r = 0; !rc && r < g->n; r++) {
		if (state[r])
			continue;
		size_t sp = 0;
		stack[sp][0] = r;
		stack[sp++][1] = 0;
		state[r] = 1;
		while (sp && !rc) {
			size_t *top = stack[sp - 1];
			const struct group *grp = &g->g[top[0]];
			if (top[1] == grp->n) {
				state[top[0]] = 2;
				sp--;
				continue;
			}
			const struct member *m = &grp->m[top[1]++];
			if (m->kind != M_GROUP || state[m->idx] == 2)
				continue;
			if (state[m->idx] == 1) {
				rc = loop_error(g, src, (const size_t(*)[2])stack, sp, m);
				break;
			}
			state[m->idx] = 1;
			stack[sp][0] = m->idx;
			stack[sp++][1] = 0;
		}
	}
	free(state);
	free(stack);
	return rc;
}

int ec__groups_check(struct ec_groups *g, const struct ec_yaml_src *src,
                     const char *const *names, size_t nglob)
{
	if (!g)
		return 0;
	char b[64];
	for (size_t i = 0; i < g->n; i++) {
		struct group *grp = &g->g[i];
		size_t idx;
		if (find_name(names, grp->name, &idx))
			return ec__yaml_error_at(src, grp->line, grp->col, "group '%s' has the name of a "
			                         "context (a TARGET could not tell them apart)",
			                         ec__yaml_show(grp->name, b));
		for (size_t j = 0; j < grp->n; j++) {
			int rc = resolve(g, src, names, nglob, grp, &grp->m[j]);
			if (rc)
				return rc;
		}
	}
	return check_loops(g, src);
}

/* ---- expansion ------------------------------------------------------------------- */

struct expansion {
	const struct ec_groups *g;
	const char *const *names;
	size_t nglob;
	const char **out;
	size_t n;
	unsigned char *seen; /* per context index */
};

static void add_context(struct expansion *x, size_t idx)
{
	if (!x->seen[idx]) {
		x->seen[idx] = 1;
		x->out[x->n++] = x->names[idx];
	}
}

static void add_glob(struct expansion *x, const char *pat)
{
	for (size_t i = 0; i < x->nglob; i++)
		if (fnmatch(pat, x->names[i], 0) == 0)
			add_context(x, i);
}

/* A checked group: members in order, depth first; groups never loop, so a stack of
 * one entry per group is enough. */
static int add_group(struct expansion *x, size_t gi)
{
	size_t (*stack)[2] = calloc(x->g->n, sizeof(*stack));
	if (!stack)
		return EC_ENOMEM;
	size_t sp = 0;
	stack[sp][0] = gi;
	stack[sp++][1] = 0;
	while (sp) {
		size_t *top = stack[sp - 1];
		const struct group *grp = &x->g->g[top[0]];
		if (top[1] == grp->n) {
			sp--;
			continue;
		}
		const struct member *m = &grp->m[top[1]++];
		if (m->kind == M_CONTEXT) {
			add_context(x, m->idx);
		} else if (m->kind == M_GLOB) {
			add_glob(x, m->text);
		} else {
			stack[sp][0] = m->idx;
			stack[sp++][1] = 0;
		}
	}
	free(stack);
	return 0;
}

static int add_item(struct expansion *x, const char *item, const char *source,
                    struct ec_error *err)
{
	size_t idx;
	char b[64], dym[96], list[240];
	if (find_name(x->names, item, &idx)) {
		add_context(x, idx);
		return 0;
	}
	if (find_group(x->g, item, &idx))
		return add_group(x, idx) ? ec__yaml_oom(err) : 0;
	if (strpbrk(item, GLOB_CHARS)) {
		if (!glob_matches(x->names, x->nglob, item))
			return ec__yaml_error(err, EC_ENOTFOUND, source, "'%s' matches no context (%s)",
			                      ec__yaml_show(item, b), known(x->g, x->names, list,
			                                                    sizeof(list)));
		add_glob(x, item);
		return 0;
	}
	return ec__yaml_error(err, EC_ENOTFOUND, source, "'%s' is not a context or a group, nor a "
	                      "glob%s (%s)", ec__yaml_show(item, b),
	                      suggest(x->g, x->names, item, dym, sizeof(dym)),
	                      known(x->g, x->names, list, sizeof(list)));
}

int ec__groups_expand(const struct ec_groups *g, const char *const *names, size_t nglob,
                      const char *source, const char *target, const char ***out,
                      struct ec_error *err)
{
	size_t nnames = 0, idx;
	while (names && names[nnames])
		nnames++;
	struct expansion x = {.g = g, .names = names, .nglob = nglob};
	x.out = calloc(nnames + 1, sizeof(*x.out));
	x.seen = calloc(nnames + 1, 1);
	char *copy = strdup(target);
	int rc = 0;
	if (!x.out || !x.seen || !copy) {
		rc = ec__yaml_oom(err);
	} else if (find_name(names, target, &idx)) {
		add_context(&x, idx); /* the whole of it, whatever it holds */
	} else {
		char *save = NULL, b[64];
		for (char *item = copy;; item = save + 1) {
			save = strchr(item, ',');
			if (save)
				*save = '\0';
			while (*item == ' ' || *item == '\t')
				item++;
			size_t len = strlen(item);
			while (len && (item[len - 1] == ' ' || item[len - 1] == '\t'))
				item[--len] = '\0';
			if (!*item) {
				rc = ec__error_set(err, EC_EINVAL, NULL, "an empty name in the target '%s'",
				                   ec__yaml_show(target, b));
				break;
			}
			if ((rc = add_item(&x, item, source, err)) || !save)
				break;
		}
	}
	free(copy);
	free(x.seen);
	if (rc) {
		free(x.out);
		return rc;
	}
	*out = x.out;
	return 0;
}
