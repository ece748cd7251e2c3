/* config.c: the YAML configuration (see config.h and docs/config.md).
 *
 * libyaml's event API feeds a small node tree that keeps 1-based line:column for every
 * node. The tree builder rejects what the configuration never needs and what makes
 * libyaml unsafe on hostile input: aliases and anchors (cycles, "billion laughs"),
 * nesting deeper than MAX_DEPTH, tags other than !!str/!!seq/!!map, NUL characters,
 * several documents. It also catches duplicate keys, which libyaml 0.2.5 does not.
 *
 * Typing follows YAML 1.2 core, and only for plain (unquoted, untagged) scalars:
 * true/false, null/~/empty and decimal integers. A quoted "22" is a string.
 *
 * A context's section keeps every value as text with its location; ec__cfg_validate
 * checks it against the core's keys and the transport plugin's ec_param table, and
 * records the parsed defaults so that the getters are plain read-only lookups, safe to
 * call from several threads at once. */
#include "ecbuild.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <yaml.h>

#include "config.h"
#include "error.h"

#ifndef EC_SYSCONFDIR
#define EC_SYSCONFDIR "/etc"
#endif

#define MAX_DEPTH 64                  /* nesting levels accepted in a file */
#define DEFAULT_CODEC "pickle"
#define DEFAULT_MAX_MESSAGE (64u << 20) /* 64 MiB */
/* A local round trip is 40-60 µs when neither side sleeps, 150-200 when it does, one over
 * ssh to loopback 90-180 and 250-300: the budget covers the sleeping figures, so that a
 * quick call after a long one (which turns spinning off) turns it back on. */
#define DEFAULT_CALL_SPIN_US 400
#define MAX_CALL_SPIN_US 10000
#define MIN_MAX_MESSAGE 4096LL
#define MAX_MAX_MESSAGE 4294967295LL  /* a frame's length field is 32 bits */
#define BUILTIN_WHERE "<built-in>"
#define EMBEDDED_NAME "<embedded default>"

static const char embedded_default[] = "# econtext's built-in configuration\n"
                                       "contexts:\n"
                                       "  local:\n"
                                       "    transport: local\n";

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
	{0},
};

/* ---- small helpers ----------------------------------------------------------------- */

static char *xstrdup(const char *s)
{
	size_t n = strlen(s) + 1;
	char *d = malloc(n);
	if (d)
		memcpy(d, s, n);
	return d;
}

static char *xasprintf(const char *fmt, ...) EC_PRINTF(1, 2);
static char *xasprintf(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return NULL;
	char *s = malloc((size_t)n + 1);
	if (!s)
		return NULL;
	va_start(ap, fmt);
	vsnprintf(s, (size_t)n + 1, fmt, ap);
	va_end(ap);
	return s;
}

static int oom(struct ec_error *err)
{
	return ec__error_set(err, EC_ENOMEM, NULL, "out of memory while loading the configuration");
}

/* Set err with where shortened from the left ("...tail/file.yaml:3:5"), so that the
 * line and column survive a long path. */
static int cfg_error(struct ec_error *err, int code, const char *where, const char *fmt, ...)
	EC_PRINTF(4, 5);
static int cfg_error(struct ec_error *err, int code, const char *where, const char *fmt, ...)
{
	if (!err)
		return code;
	char w[sizeof(err->where)], msg[sizeof(err->msg)];
	if (where && strlen(where) >= sizeof(w))
		snprintf(w, sizeof(w), "...%s", where + strlen(where) - (sizeof(w) - 4));
	else
		snprintf(w, sizeof(w), "%s", where ? where : "");
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (n >= (int)sizeof(msg))
		memcpy(msg + sizeof(msg) - 4, "...", 4);
	return ec__error_set(err, code, w[0] ? w : NULL, "%s", msg);
}

/* A value shown in a message: at most ~48 characters, control characters as '?'. */
static const char *show(const char *s, char buf[64])
{
	size_t i = 0;
	for (; i < 48 && s[i]; i++)
		buf[i] = ((unsigned char)s[i] < 0x20 || s[i] == 0x7f) ? '?' : s[i];
	if (s[i]) {
		memcpy(buf + i, "...", 4);
	} else {
		buf[i] = '\0';
	}
	return buf;
}

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

/* Best candidate for a mistyped key, or NULL. */
struct suggest {
	const char *best;
	size_t dist;
};

static void suggest_try(struct suggest *sg, const char *key, const char *cand)
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

/* "; did you mean 'x'?" or "" into buf. */
static const char *did_you_mean(const struct suggest *sg, char *buf, size_t len)
{
	if (sg->best)
		snprintf(buf, len, "; did you mean '%s'?", sg->best);
	else
		buf[0] = '\0';
	return buf;
}

/* ---- YAML scalars (YAML 1.2 core schema, plain scalars only) ------------------------- */

static int is_null(const char *s)
{
	return !s[0] || !strcmp(s, "~") || !strcmp(s, "null") || !strcmp(s, "Null") ||
	       !strcmp(s, "NULL");
}

static int parse_bool(const char *s, int *out)
{
	if (!strcmp(s, "true") || !strcmp(s, "True") || !strcmp(s, "TRUE")) {
		*out = 1;
		return 0;
	}
	if (!strcmp(s, "false") || !strcmp(s, "False") || !strcmp(s, "FALSE")) {
		*out = 0;
		return 0;
	}
	return -1;
}

/* [-+]?[0-9]+ within long long. */
static int parse_ll(const char *s, long long *out)
{
	const char *p = s + (s[0] == '+' || s[0] == '-');
	if (!*p)
		return -1;
	for (const char *q = p; *q; q++)
		if (*q < '0' || *q > '9')
			return -1;
	errno = 0;
	char *end;
	long long v = strtoll(s, &end, 10);
	if (errno == ERANGE || *end)
		return -1;
	*out = v;
	return 0;
}

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

/* Plugin names become file and symbol names: [A-Za-z0-9_]+. */
static int valid_plugin_name(const char *s)
{
	if (!*s)
		return 0;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || *s == '_'))
			return 0;
	return 1;
}

/* ---- the node tree ------------------------------------------------------------------ */

enum node_kind { N_SCALAR, N_SEQ, N_MAP };

struct node {
	enum node_kind kind;
	int plain;      /* scalar without quotes or tag: subject to implicit typing */
	size_t line, col; /* 1-based */
	char *text;     /* scalar */
	struct node **kids; /* sequence: items; mapping: key, value, key, value... */
	size_t n, cap;
};

static void node_free(struct node *n)
{
	if (!n)
		return;
	for (size_t i = 0; i < n->n; i++)
		node_free(n->kids[i]);
	free(n->kids);
	free(n->text);
	free(n);
}

static int node_is_null(const struct node *n)
{
	return n->kind == N_SCALAR && n->plain && is_null(n->text);
}

static const char *node_kind_name(const struct node *n)
{
	switch (n->kind) {
	case N_SCALAR:
		return node_is_null(n) ? "an empty value" : "a string";
	case N_SEQ:
		return "a list";
	case N_MAP:
		return "a mapping";
	}
	return "a value";
}

struct loader {
	yaml_parser_t parser;
	const char *name; /* file name, "<embedded default>", or an origin like "-o key" */
	int origin_only;  /* where is name alone, without line:col (override values) */
	const unsigned char *text;
	size_t len;
	struct ec_error *err;
};

/* "name:line:col" (malloc'd), or the origin alone. */
static char *loc_str(const struct loader *L, size_t line, size_t col)
{
	if (L->origin_only)
		return xstrdup(L->name);
	return xasprintf("%s:%zu:%zu", L->name, line, col);
}

static int loc_error(struct loader *L, size_t line, size_t col, const char *fmt, ...)
	EC_PRINTF(4, 5);
static int loc_error(struct loader *L, size_t line, size_t col, const char *fmt, ...)
{
	char where[1200], msg[512];
	if (L->origin_only)
		snprintf(where, sizeof(where), "%s", L->name);
	else
		snprintf(where, sizeof(where), "%s:%zu:%zu", L->name, line, col);
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return cfg_error(L->err, EC_ECONFIG, where, "%s", msg);
}

static int syntax_error(struct loader *L)
{
	yaml_parser_t *p = &L->parser;
	const char *problem = p->problem ? p->problem : "cannot parse";
	if (p->error == YAML_MEMORY_ERROR)
		return oom(L->err);
	if (p->error == YAML_READER_ERROR) {
		/* Reader errors carry a byte offset instead of a mark. */
		size_t line = 1, col = 1, end = p->problem_offset < L->len ? p->problem_offset : L->len;
		for (size_t i = 0; i < end; i++) {
			if (L->text[i] == '\n') {
				line++;
				col = 1;
			} else {
				col++;
			}
		}
		if (p->problem_value != -1)
			return loc_error(L, line, col, "cannot read the YAML text: %s (byte 0x%02X)",
			                 problem, (unsigned)p->problem_value & 0xffu);
		return loc_error(L, line, col, "cannot read the YAML text: %s", problem);
	}
	size_t line = p->problem_mark.line + 1, col = p->problem_mark.column + 1;
	if (p->context)
		return loc_error(L, line, col, "YAML syntax error: %s (%s at %zu:%zu)", problem,
		                 p->context, (size_t)p->context_mark.line + 1,
		                 (size_t)p->context_mark.column + 1);
	return loc_error(L, line, col, "YAML syntax error: %s", problem);
}

static int next_event(struct loader *L, yaml_event_t *ev)
{
	if (yaml_parser_parse(&L->parser, ev))
		return 0;
	return syntax_error(L);
}

static int node_push(struct node *n, struct node *kid)
{
	if (n->n == n->cap) {
		size_t cap = n->cap ? n->cap * 2 : 4;
		struct node **k = realloc(n->kids, cap * sizeof(*k));
		if (!k)
			return EC_ENOMEM;
		n->kids = k;
		n->cap = cap;
	}
	n->kids[n->n++] = kid;
	return 0;
}

struct keyref {
	const struct node *key;
	size_t idx;
};

static int keyref_cmp(const void *a, const void *b)
{
	const struct keyref *x = a, *y = b;
	int c = strcmp(x->key->text, y->key->text);
	if (c)
		return c;
	return x->idx < y->idx ? -1 : x->idx > y->idx;
}

/* libyaml keeps duplicate keys; the first repeated key in file order is an error. */
static int check_duplicates(struct loader *L, const struct node *map)
{
	size_t npairs = map->n / 2;
	if (npairs < 2)
		return 0;
	struct keyref *refs = malloc(npairs * sizeof(*refs));
	if (!refs)
		return oom(L->err);
	for (size_t i = 0; i < npairs; i++)
		refs[i] = (struct keyref){map->kids[2 * i], i};
	qsort(refs, npairs, sizeof(*refs), keyref_cmp);
	const struct node *first = NULL, *dup = NULL;
	size_t dup_idx = SIZE_MAX;
	for (size_t i = 1; i < npairs; i++) {
		if (strcmp(refs[i - 1].key->text, refs[i].key->text) != 0)
			continue;
		/* Sorted by position within a run: refs[i-1] came before refs[i]. Only the
		 * second occurrence of each key is a candidate. */
		if ((i < 2 || strcmp(refs[i - 2].key->text, refs[i].key->text) != 0) &&
		    refs[i].idx < dup_idx) {
			dup_idx = refs[i].idx;
			dup = refs[i].key;
			first = refs[i - 1].key;
		}
	}
	free(refs);
	if (!dup)
		return 0;
	char b[64];
	return loc_error(L, dup->line, dup->col, "duplicate key '%s' (first defined at %zu:%zu)",
	                 show(dup->text, b), first->line, first->col);
}

/* Build the node for ev (consumed) and everything below it. */
static int load_node(struct loader *L, yaml_event_t *ev, int depth, struct node **out)
{
	size_t line = ev->start_mark.line + 1, col = ev->start_mark.column + 1;
	const char *anchor = NULL, *tag = NULL;
	char b[64];
	int rc = 0;

	switch (ev->type) {
	case YAML_ALIAS_EVENT:
		rc = loc_error(L, line, col, "aliases (*%s) are not supported; write the value out",
		               show((const char *)ev->data.alias.anchor, b));
		yaml_event_delete(ev);
		return rc;
	case YAML_SCALAR_EVENT:
		anchor = (const char *)ev->data.scalar.anchor;
		tag = (const char *)ev->data.scalar.tag;
		break;
	case YAML_SEQUENCE_START_EVENT:
		anchor = (const char *)ev->data.sequence_start.anchor;
		tag = (const char *)ev->data.sequence_start.tag;
		break;
	case YAML_MAPPING_START_EVENT:
		anchor = (const char *)ev->data.mapping_start.anchor;
		tag = (const char *)ev->data.mapping_start.tag;
		break;
	default:
		yaml_event_delete(ev);
		return loc_error(L, line, col, "unexpected YAML event");
	}
	if (anchor) {
		rc = loc_error(L, line, col, "anchors (&%s) are not supported", show(anchor, b));
		yaml_event_delete(ev);
		return rc;
	}
	if (tag) {
		const char *want = ev->type == YAML_SCALAR_EVENT          ? YAML_STR_TAG
		                   : ev->type == YAML_SEQUENCE_START_EVENT ? YAML_SEQ_TAG
		                                                           : YAML_MAP_TAG;
		if (strcmp(tag, want) != 0) {
			rc = loc_error(L, line, col, "tag '%s' is not supported (only !!str)",
			               show(tag, b));
			yaml_event_delete(ev);
			return rc;
		}
	}

	struct node *n = calloc(1, sizeof(*n));
	if (!n) {
		yaml_event_delete(ev);
		return oom(L->err);
	}
	n->line = line;
	n->col = col;

	if (ev->type == YAML_SCALAR_EVENT) {
		n->kind = N_SCALAR;
		n->plain = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE && !tag;
		size_t len = ev->data.scalar.length;
		if (memchr(ev->data.scalar.value, '\0', len)) {
			yaml_event_delete(ev);
			node_free(n);
			return loc_error(L, line, col, "a NUL character cannot appear in a value");
		}
		n->text = malloc(len + 1);
		if (!n->text) {
			yaml_event_delete(ev);
			node_free(n);
			return oom(L->err);
		}
		memcpy(n->text, ev->data.scalar.value, len);
		n->text[len] = '\0';
		yaml_event_delete(ev);
		*out = n;
		return 0;
	}

	int is_map = ev->type == YAML_MAPPING_START_EVENT;
	yaml_event_type_t end_type = is_map ? YAML_MAPPING_END_EVENT : YAML_SEQUENCE_END_EVENT;
	n->kind = is_map ? N_MAP : N_SEQ;
	yaml_event_delete(ev);
	if (depth > MAX_DEPTH) {
		node_free(n);
		return loc_error(L, line, col, "nesting is deeper than %d levels", MAX_DEPTH);
	}
	for (;;) {
		yaml_event_t e;
		if ((rc = next_event(L, &e)))
			goto fail;
		if (e.type == end_type) {
			yaml_event_delete(&e);
			break;
		}
		struct node *kid = NULL;
		if ((rc = load_node(L, &e, depth + 1, &kid)))
			goto fail;
		if (is_map && !(n->n & 1)) {
			if (kid->kind != N_SCALAR) {
				rc = loc_error(L, kid->line, kid->col, "a key must be a string, not %s",
				               node_kind_name(kid));
				node_free(kid);
				goto fail;
			}
			if (kid->plain && !kid->text[0]) {
				rc = loc_error(L, kid->line, kid->col, "a key cannot be empty");
				node_free(kid);
				goto fail;
			}
		}
		if (node_push(n, kid)) {
			node_free(kid);
			rc = oom(L->err);
			goto fail;
		}
	}
	if (is_map && (rc = check_duplicates(L, n)))
		goto fail;
	*out = n;
	return 0;
fail:
	node_free(n);
	return rc;
}

/* Parse one YAML document; *root is NULL for a stream without a document. */
static int parse_yaml(struct loader *L, struct node **root)
{
	yaml_event_t ev;
	struct node *doc = NULL;
	int rc;

	*root = NULL;
	if (!yaml_parser_initialize(&L->parser))
		return oom(L->err);
	yaml_parser_set_input_string(&L->parser, L->text, L->len);
	if ((rc = next_event(L, &ev))) /* STREAM-START */
		goto out;
	yaml_event_delete(&ev);
	if ((rc = next_event(L, &ev)))
		goto out;
	if (ev.type == YAML_STREAM_END_EVENT) {
		yaml_event_delete(&ev);
		goto out;
	}
	yaml_event_delete(&ev); /* DOCUMENT-START */
	if ((rc = next_event(L, &ev)))
		goto out;
	if ((rc = load_node(L, &ev, 1, &doc)))
		goto out;
	if ((rc = next_event(L, &ev))) /* DOCUMENT-END */
		goto out;
	yaml_event_delete(&ev);
	if ((rc = next_event(L, &ev)))
		goto out;
	if (ev.type != YAML_STREAM_END_EVENT) {
		rc = loc_error(L, ev.start_mark.line + 1, ev.start_mark.column + 1,
		               "only one YAML document is allowed");
		yaml_event_delete(&ev);
		goto out;
	}
	yaml_event_delete(&ev);
	*root = doc;
	doc = NULL;
out:
	node_free(doc);
	yaml_parser_delete(&L->parser);
	return rc;
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
	d->key = xstrdup(s->key);
	d->where = xstrdup(s->where);
	d->vwhere = xstrdup(s->vwhere);
	size_t count = s->kind == V_SCALAR ? 1 : s->n;
	d->items = calloc(count + 1, sizeof(char *));
	if (!d->key || !d->where || !d->vwhere || !d->items)
		goto fail;
	for (size_t i = 0; i < count; i++)
		if (!(d->items[i] = xstrdup(s->items[i])))
			goto fail;
	return 0;
fail:
	value_clear(d);
	return EC_ENOMEM;
}

/* Fill v from a node. key_where/val_where are taken (freed on failure). */
static int value_from_node(struct loader *L, struct cfg_value *v, const char *key,
                           const struct node *node, char *key_where)
{
	memset(v, 0, sizeof(*v));
	v->where = key_where;
	v->key = xstrdup(key);
	v->vwhere = loc_str(L, node->line, node->col);
	if (!v->key || !v->vwhere || !v->where)
		goto nomem;
	switch (node->kind) {
	case N_SCALAR:
		v->kind = V_SCALAR;
		v->plain = node->plain;
		v->n = 1;
		if (!(v->items = calloc(2, sizeof(char *))) || !(v->items[0] = xstrdup(node->text)))
			goto nomem;
		return 0;
	case N_MAP:
		v->kind = V_MAP;
		if (!(v->items = calloc(1, sizeof(char *))))
			goto nomem;
		return 0;
	case N_SEQ:
		for (size_t i = 0; i < node->n; i++) {
			if (node->kids[i]->kind != N_SCALAR) {
				v->kind = V_BADSEQ;
				free(v->vwhere);
				v->vwhere = loc_str(L, node->kids[i]->line, node->kids[i]->col);
				if (!v->vwhere || !(v->items = calloc(1, sizeof(char *))))
					goto nomem;
				return 0;
			}
		}
		v->kind = V_SEQ;
		if (!(v->items = calloc(node->n + 1, sizeof(char *))))
			goto nomem;
		for (size_t i = 0; i < node->n; i++)
			if (!(v->items[i] = xstrdup(node->kids[i]->text)))
				goto nomem;
		v->n = node->n;
		return 0;
	}
nomem:
	value_clear(v);
	return oom(L->err);
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
		return v->plain && is_null(v->items[0]) ? "an empty value" : "a string";
	case V_SEQ:
		return "a list";
	case V_MAP:
		return "a mapping";
	case V_BADSEQ:
		return "a list of lists or mappings";
	}
	return "a value";
}

/* "'abc'", "the quoted string \"22\"", "a list": what was written, for messages. */
static const char *describe(const char *text, int plain, const char *kind, char buf[96])
{
	char b[64];
	if (!text)
		snprintf(buf, 96, "%s", kind);
	else if (plain)
		snprintf(buf, 96, "'%s'", show(text, b));
	else
		snprintf(buf, 96, "the quoted string \"%s\"", show(text, b));
	return buf;
}

static const char *val_desc(const struct cfg_value *v, char buf[96])
{
	return describe(v->kind == V_SCALAR ? v->items[0] : NULL, v->plain, val_kind_name(v), buf);
}

static const char *node_desc(const struct node *n, char buf[96])
{
	return describe(n->kind == N_SCALAR ? n->text : NULL, n->plain, node_kind_name(n), buf);
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
			return cfg_error(err, code, v->vwhere, "%s must be a string, not %s", what,
			                 val_desc(v, d));
		return 0;
	case EC_PARAM_STR_LIST:
		if (v->kind == V_BADSEQ)
			return cfg_error(err, code, v->vwhere,
			                 "%s must be a list of strings; this item is not a string", what);
		if (v->kind == V_MAP)
			return cfg_error(err, code, v->vwhere,
			                 "%s must be a string or a list of strings, not a mapping", what);
		return 0;
	case EC_PARAM_INT: {
		long long x;
		int ranged = p->min < p->max;
		if (!text || !v->plain || parse_ll(text, &x) || x < LONG_MIN || x > LONG_MAX ||
		    (ranged && (x < p->min || x > p->max))) {
			if (ranged)
				return cfg_error(err, code, v->vwhere,
				                 "%s must be an integer from %ld to %ld, not %s", what, p->min,
				                 p->max, val_desc(v, d));
			return cfg_error(err, code, v->vwhere, "%s must be an integer, not %s", what,
			                 val_desc(v, d));
		}
		return 0;
	}
	case EC_PARAM_BOOL: {
		int x;
		if (!text || !v->plain || parse_bool(text, &x))
			return cfg_error(err, code, v->vwhere, "%s must be true or false, not %s", what,
			                 val_desc(v, d));
		return 0;
	}
	case EC_PARAM_DURATION: {
		long ms;
		if (!text || !v->plain || parse_duration(text, &ms))
			return cfg_error(err, code, v->vwhere,
			                 "%s must be a number of seconds such as 30 or 2.5, not %s", what,
			                 val_desc(v, d));
		return 0;
	}
	}
	return cfg_error(err, EC_EPLUGIN, v->vwhere,
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
	if (!strcmp(p->key, "transport") && !valid_plugin_name(v->items[0]))
		return cfg_error(err, EC_ECONFIG, v->vwhere,
		                 "transport '%s' of context '%s' is not a plugin name (letters, digits "
		                 "and '_')",
		                 show(v->items[0], b), s->name);
	if ((!strcmp(p->key, "python") || !strcmp(p->key, "via")) && !v->items[0][0])
		return cfg_error(err, EC_ECONFIG, v->vwhere, "%s cannot be empty", what);
	return 0;
}

/* Parse YAML text as a value: a scalar or a sequence (a mapping is kept as V_MAP for
 * the caller to report). origin is the where of every location. */
static int value_from_text(const char *origin, const char *key, const char *text,
                           struct cfg_value *v, struct ec_error *err)
{
	struct loader L = {.name = origin,
	                   .origin_only = 1,
	                   .text = (const unsigned char *)text,
	                   .len = strlen(text),
	                   .err = err};
	struct node *root = NULL;
	int rc = parse_yaml(&L, &root);
	if (rc)
		return rc;
	if (!root) { /* "" or only a comment: an empty string, not null */
		root = calloc(1, sizeof(*root));
		if (!root || !(root->text = xstrdup(""))) {
			node_free(root);
			return oom(err);
		}
		root->kind = N_SCALAR;
	}
	char *kw = xstrdup(origin);
	if (!kw) {
		node_free(root);
		return oom(err);
	}
	rc = value_from_node(&L, v, key, root, kw);
	node_free(root);
	return rc;
}

int ec__cfg_override(struct ec_cfg *s, const char *kv, struct ec_error *err)
{
	char b[64];
	const char *eq = kv ? strchr(kv, '=') : NULL;
	if (!s || !kv)
		return ec__error_set(err, EC_EINVAL, NULL, "no section or no override given");
	if (!eq || eq == kv)
		return cfg_error(err, EC_ECONFIG, "-o", "override '%s' must look like key=value",
		                 show(kv, b));
	size_t klen = (size_t)(eq - kv);
	for (size_t i = 0; i < klen; i++) {
		char ch = kv[i];
		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
		      ch == '_' || ch == '-' || ch == '.'))
			return cfg_error(err, EC_ECONFIG, "-o",
			                 "override '%s': a key is made of letters, digits, '_', '-' and "
			                 "'.'",
			                 show(kv, b));
	}
	char *key = malloc(klen + 1);
	if (!key)
		return oom(err);
	memcpy(key, kv, klen);
	key[klen] = '\0';
	char *origin = xasprintf("-o %s", key);
	if (!origin) {
		free(key);
		return oom(err);
	}
	struct cfg_value v;
	int rc = value_from_text(origin, key, eq + 1, &v, err);
	if (!rc && (v.kind == V_MAP || v.kind == V_BADSEQ)) {
		rc = cfg_error(err, EC_ECONFIG, origin,
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
		return oom(err);
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
		char *origin = xasprintf("plugin %s", plugin_name ? plugin_name : "core");
		if (!origin)
			return oom(err);
		struct cfg_value v;
		int rc = value_from_text(origin, p->key, p->dflt, &v, err);
		if (!rc) {
			char what[256];
			snprintf(what, sizeof(what), "the default of key '%s'", p->key);
			rc = check_value(&v, p, what, EC_EPLUGIN, err);
			if (rc)
				value_clear(&v);
		} else {
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
			return oom(err);
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
			struct suggest sg = {NULL, SIZE_MAX};
			for (const struct ec_param *q = ec__core_context_params; q->key; q++)
				suggest_try(&sg, v->key, q->key);
			for (const struct ec_param *q = plugin_params; q && q->key; q++)
				suggest_try(&sg, v->key, q->key);
			char b[64], dym[96];
			return cfg_error(err, EC_ECONFIG, v->where, "unknown key '%s' in %s%s",
			                 show(v->key, b), inctx, did_you_mean(&sg, dym, sizeof(dym)));
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
			return cfg_error(err, EC_ECONFIG, s->where, "%s needs the key '%s'%s%s%s", inctx,
			                 p->key, p->help ? " (" : "", p->help ? p->help : "",
			                 p->help ? ")" : "");
		}
	}
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
	d->name = xstrdup(s->name);
	d->where = xstrdup(s->where);
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
	if (v->kind != V_SCALAR || !v->plain || parse_ll(v->items[0], &x) || x < LONG_MIN ||
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
	if (v->kind != V_SCALAR || !v->plain || parse_bool(v->items[0], &x))
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
		int empty = v->plain && is_null(v->items[0]);
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
	char **module_path; /* NULL-terminated, owned */
	char **plugin_path;
	struct ec_cfg **ctx;
	size_t nctx;
	const char **names; /* NULL-terminated, borrowed from ctx[i]->name */
};

static void strv_free(char **v)
{
	if (!v)
		return;
	for (size_t i = 0; v[i]; i++)
		free(v[i]);
	free(v);
}

void ec__config_free(struct ec_config *cfg)
{
	if (!cfg)
		return;
	free(cfg->source);
	free(cfg->codec);
	strv_free(cfg->module_path);
	strv_free(cfg->plugin_path);
	for (size_t i = 0; i < cfg->nctx; i++)
		ec__cfg_free(cfg->ctx[i]);
	free(cfg->ctx);
	free(cfg->names);
	free(cfg);
}

/* A path from the file: "~/x" from $HOME, a relative one from basedir (the file's
 * directory; NULL for text that is not a file). */
static char *resolve_path(const char *p, const char *basedir)
{
	const char *home = getenv("HOME");
	if (p[0] == '~' && (p[1] == '/' || !p[1]) && home && home[0])
		return xasprintf("%s%s", home, p + 1);
	if (p[0] == '/' || !basedir)
		return xstrdup(p);
	while (p[0] == '.' && p[1] == '/') {
		p += 2;
		while (*p == '/')
			p++;
	}
	if (!p[0] || !strcmp(p, "."))
		return xstrdup(basedir);
	return xasprintf("%s%s%s", basedir, basedir[strlen(basedir) - 1] == '/' ? "" : "/", p);
}

struct top {
	struct loader *L;
	const char *basedir;
	struct ec_config *cfg;
};

static int top_error(struct top *T, const struct node *n, const char *fmt, ...) EC_PRINTF(3, 4);
static int top_error(struct top *T, const struct node *n, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return loc_error(T->L, n->line, n->col, "%s", msg);
}

static int load_path_list(struct top *T, const char *key, const struct node *v, char ***out)
{
	size_t count = v->kind == N_SEQ ? v->n : node_is_null(v) ? 0 : 1;
	if (v->kind == N_MAP)
		return top_error(T, v, "key '%s' must be a directory or a list of directories, not a "
		                 "mapping", key);
	char **list = calloc(count + 1, sizeof(char *));
	if (!list)
		return oom(T->L->err);
	for (size_t i = 0; i < count; i++) {
		const struct node *item = v->kind == N_SEQ ? v->kids[i] : v;
		if (item->kind != N_SCALAR || node_is_null(item)) {
			strv_free(list);
			return top_error(T, item, "each item of key '%s' must be a directory, not %s",
			                 key, node_kind_name(item));
		}
		if (!(list[i] = resolve_path(item->text, T->basedir))) {
			strv_free(list);
			return oom(T->L->err);
		}
	}
	strv_free(*out);
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

static int load_context(struct top *T, const struct node *name, const struct node *body)
{
	struct loader *L = T->L;
	char b[64];
	if (body->kind != N_MAP && !node_is_null(body))
		return top_error(T, body, "context '%s' must be a mapping of keys (transport: ..., "
		                 "...), not %s", show(name->text, b), node_kind_name(body));
	struct ec_cfg *s = calloc(1, sizeof(*s));
	if (!s)
		return oom(L->err);
	int rc;
	if (!(s->name = xstrdup(name->text)) || !(s->where = loc_str(L, name->line, name->col)) ||
	    add_context(T->cfg, s)) {
		ec__cfg_free(s);
		return oom(L->err);
	}
	size_t npairs = body->kind == N_MAP ? body->n / 2 : 0;
	for (size_t i = 0; i < npairs; i++) {
		const struct node *k = body->kids[2 * i], *v = body->kids[2 * i + 1];
		struct cfg_value val;
		char *kw = loc_str(L, k->line, k->col);
		if (!kw)
			return oom(L->err);
		if ((rc = value_from_node(L, &val, k->text, v, kw)))
			return rc;
		if (section_push(s, &val)) {
			value_clear(&val);
			return oom(L->err);
		}
	}
	if (!find_val(s->vals, s->n, "transport"))
		return top_error(T, name, "context '%s' has no key 'transport' (the plugin that "
		                 "starts it: local, ssh, ...)", show(name->text, b));
	/* The core's keys can be checked now; the plugin's wait for ec__cfg_validate. */
	for (size_t i = 0; i < s->n; i++) {
		const struct ec_param *p = find_param(ec__core_context_params, s->vals[i].key);
		if (p && (rc = check_core_value(s, &s->vals[i], p, L->err)))
			return rc;
	}
	/* The core's defaults serve the getters until ec__cfg_validate adds the plugin's. */
	return add_defaults(&s->defs, &s->ndefs, ec__core_context_params, NULL, L->err);
}

static int load_contexts(struct top *T, const struct node *v)
{
	if (node_is_null(v))
		return 0;
	if (v->kind != N_MAP)
		return top_error(T, v, "key 'contexts' must be a mapping of context names to their "
		                 "keys, not %s", node_kind_name(v));
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
	const struct cfg_value **via = calloc(n, sizeof(*via));
	int rc = 0;
	char b[64];
	if (!sorted || !next || !state || !via) {
		rc = oom(err);
		goto out;
	}
	for (size_t i = 0; i < n; i++)
		sorted[i] = (struct ctx_ref){cfg->ctx[i]->name, i};
	qsort(sorted, n, sizeof(*sorted), ctx_ref_cmp);
	for (size_t i = 0; i < n; i++) {
		struct ec_cfg *c = cfg->ctx[i];
		next[i] = n;
		via[i] = find_val(c->vals, c->n, "via");
		if (!via[i])
			continue;
		struct ctx_ref key = {via[i]->items[0], 0};
		const struct ctx_ref *hit = bsearch(&key, sorted, n, sizeof(*sorted), ctx_ref_cmp);
		if (!hit) {
			rc = cfg_error(err, EC_ECONFIG, via[i]->vwhere,
			               "context '%s' goes via '%s', which is not a defined context",
			               c->name, show(via[i]->items[0], b));
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
			rc = cfg_error(err, EC_ECONFIG, via[j]->vwhere,
			               "context '%s' reaches itself through 'via' keys", cfg->ctx[j]->name);
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
	struct ec_cfg *s = calloc(1, sizeof(*s));
	struct cfg_value v = {0};
	if (!s)
		return EC_ENOMEM;
	s->name = xstrdup("local");
	s->where = xstrdup(BUILTIN_WHERE);
	v.key = xstrdup("transport");
	v.where = xstrdup(BUILTIN_WHERE);
	v.vwhere = xstrdup(BUILTIN_WHERE);
	v.kind = V_SCALAR;
	v.plain = 1;
	v.n = 1;
	v.items = calloc(2, sizeof(char *));
	if (v.items)
		v.items[0] = xstrdup("local");
	if (!s->name || !s->where || !v.key || !v.where || !v.vwhere || !v.items || !v.items[0] ||
	    section_push(s, &v)) {
		value_clear(&v);
		ec__cfg_free(s);
		return EC_ENOMEM;
	}
	if (add_context(cfg, s)) {
		ec__cfg_free(s);
		return EC_ENOMEM;
	}
	return add_defaults(&s->defs, &s->ndefs, ec__core_context_params, NULL, NULL) ? EC_ENOMEM
	                                                                               : 0;
}

static const char *const top_keys[] = {"codec",       "log_level",        "module_path",
                                       "plugin_path", "max_message_size", "contexts",
                                       "predict_imports", "module_path_follow_symlinks",
                                       "code_cache", "call_spin_us", NULL};

static int load_top(struct top *T, const struct node *root)
{
	struct ec_config *cfg = T->cfg;
	char b[64], d[96];
	int rc;
	if (!root || node_is_null(root))
		return 0;
	if (root->kind != N_MAP)
		return top_error(T, root, "the configuration must be a mapping of keys (codec, "
		                 "contexts, ...), not %s", node_kind_name(root));
	for (size_t i = 0; i + 1 < root->n; i += 2) {
		const struct node *k = root->kids[i], *v = root->kids[i + 1];
		const char *key = k->text;
		if (!strcmp(key, "codec")) {
			if (v->kind != N_SCALAR || node_is_null(v))
				return top_error(T, v, "key 'codec' must be a codec plugin name, not %s",
				                 node_kind_name(v));
			if (!valid_plugin_name(v->text))
				return top_error(T, v, "codec '%s' is not a plugin name (letters, digits "
				                 "and '_')", show(v->text, b));
			free(cfg->codec);
			if (!(cfg->codec = xstrdup(v->text)))
				return oom(T->L->err);
		} else if (!strcmp(key, "log_level")) {
			int level = v->kind == N_SCALAR ? ec_log_level_parse(v->text) : -1;
			if (level < 0)
				return top_error(T, v, "key 'log_level' must be one of debug, info, "
				                 "warning, error, critical; not %s", node_desc(v, d));
			cfg->log_level = level;
		} else if (!strcmp(key, "module_path")) {
			if ((rc = load_path_list(T, key, v, &cfg->module_path)))
				return rc;
		} else if (!strcmp(key, "plugin_path")) {
			if ((rc = load_path_list(T, key, v, &cfg->plugin_path)))
				return rc;
		} else if (!strcmp(key, "max_message_size")) {
			long long x;
			if (v->kind != N_SCALAR || !v->plain || parse_ll(v->text, &x) ||
			    x < MIN_MAX_MESSAGE || x > MAX_MAX_MESSAGE ||
			    (unsigned long long)x > SIZE_MAX)
				return top_error(T, v, "key 'max_message_size' must be a number of bytes "
				                 "from %lld to %lld, not %s",
				                 MIN_MAX_MESSAGE, MAX_MAX_MESSAGE, node_desc(v, d));
			cfg->max_message = (size_t)x;
		} else if (!strcmp(key, "call_spin_us")) {
			long long x;
			if (v->kind != N_SCALAR || !v->plain || parse_ll(v->text, &x) || x < 0 ||
			    x > MAX_CALL_SPIN_US)
				return top_error(T, v, "key 'call_spin_us' must be a number of "
				                 "microseconds from 0 to %d, not %s",
				                 MAX_CALL_SPIN_US, node_desc(v, d));
			cfg->call_spin_us = (int)x;
		} else if (!strcmp(key, "predict_imports") ||
		           !strcmp(key, "module_path_follow_symlinks") || !strcmp(key, "code_cache")) {
			int x;
			if (v->kind != N_SCALAR || !v->plain || parse_bool(v->text, &x))
				return top_error(T, v, "key '%s' must be true or false, not %s", key,
				                 node_desc(v, d));
			*(key[0] == 'p'   ? &cfg->predict_imports
			  : key[0] == 'c' ? &cfg->code_cache
			                  : &cfg->module_follow_symlinks) = x;
		} else if (!strcmp(key, "contexts")) {
			if ((rc = load_contexts(T, v)))
				return rc;
		} else {
			struct suggest sg = {NULL, SIZE_MAX};
			for (size_t j = 0; top_keys[j]; j++)
				suggest_try(&sg, key, top_keys[j]);
			char dym[96];
			if (sg.best)
				return top_error(T, k, "unknown top-level key '%s'%s", show(key, b),
				                 did_you_mean(&sg, dym, sizeof(dym)));
			return top_error(T, k, "unknown top-level key '%s' (known keys: codec, "
			                 "log_level, module_path, plugin_path, max_message_size, "
			                 "predict_imports, module_path_follow_symlinks, code_cache, "
			                 "call_spin_us, contexts)",
			                 show(key, b));
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
		return oom(err);
	cfg->log_level = EC_LOG_INFO;
	cfg->max_message = DEFAULT_MAX_MESSAGE;
	cfg->predict_imports = 1;
	cfg->code_cache = 1;
	cfg->call_spin_us = DEFAULT_CALL_SPIN_US;
	cfg->source = xstrdup(name);
	cfg->module_path = calloc(1, sizeof(char *));
	cfg->plugin_path = calloc(1, sizeof(char *));
	if (!cfg->source || !cfg->module_path || !cfg->plugin_path) {
		ec__config_free(cfg);
		return oom(err);
	}
	struct loader L = {.name = name, .text = (const unsigned char *)text, .len = len, .err = err};
	struct top T = {.L = &L, .basedir = basedir, .cfg = cfg};
	struct node *root = NULL;
	int rc = parse_yaml(&L, &root);
	if (!rc)
		rc = load_top(&T, root);
	node_free(root);
	if (!rc && !ec__config_context(cfg, "local") && add_builtin_local(cfg))
		rc = oom(err);
	if (!rc)
		rc = check_via(cfg, err);
	if (!rc) {
		cfg->names = calloc(cfg->nctx + 1, sizeof(char *));
		if (!cfg->names)
			rc = oom(err);
		for (size_t i = 0; !rc && i < cfg->nctx; i++)
			cfg->names[i] = cfg->ctx[i]->name;
	}
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
		return oom(err);
	}
	for (;;) {
		if (n == cap) {
			char *nb = cap > SIZE_MAX / 2 ? NULL : realloc(buf, cap * 2);
			if (!nb) {
				free(buf);
				fclose(f);
				return oom(err);
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
		dir = xstrdup(".");
	else if (slash == path)
		dir = xstrdup("/");
	else if ((dir = malloc((size_t)(slash - path) + 1))) {
		memcpy(dir, path, (size_t)(slash - path));
		dir[slash - path] = '\0';
	}
	if (!dir || dir[0] == '/')
		return dir;
	char cwd[4096];
	if (!getcwd(cwd, sizeof(cwd)))
		return dir; /* keep it relative rather than fail */
	char *abs = strcmp(dir, ".") ? xasprintf("%s/%s", cwd, dir) : xstrdup(cwd);
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
		return oom(err);
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
		char *path = xasprintf("%s/.config/econtext/econtext.yaml", home);
		if (!path)
			return oom(err);
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
		if (!strcmp(cfg->ctx[i]->name, name))
			return cfg->ctx[i];
	return NULL;
}
