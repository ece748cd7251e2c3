/* yamltree.c: YAML text to a node tree with marks (see yamltree.h).
 *
 * libyaml's event API feeds a small node tree that keeps 1-based line:column for every
 * node. The tree builder rejects what the configuration never needs and what makes
 * libyaml unsafe on hostile input: aliases and anchors (cycles, "billion laughs"),
 * nesting deeper than MAX_DEPTH, tags other than !!str/!!seq/!!map, NUL characters,
 * several documents. It also catches duplicate keys, which libyaml 0.2.5 does not.
 *
 * Typing follows YAML 1.2 core, and only for plain (unquoted, untagged) scalars:
 * true/false, null/~/empty and decimal integers. A quoted "22" is a string. */
#include "ecbuild.h"

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "error.h"
#include "strv.h"
#include "yamltree.h"

#define MAX_DEPTH 64 /* nesting levels accepted in a file */

/* ---- messages ----------------------------------------------------------------------- */

int ec__yaml_oom(struct ec_error *err)
{
	return ec__error_set(err, EC_ENOMEM, NULL, "out of memory while loading the configuration");
}

int ec__yaml_error(struct ec_error *err, int code, const char *where, const char *fmt, ...)
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

const char *ec__yaml_show(const char *s, char buf[64])
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

const char *ec__yaml_describe(const char *text, int plain, const char *kind, char buf[96])
{
	char b[64];
	if (!text)
		snprintf(buf, 96, "%s", kind);
	else if (plain)
		snprintf(buf, 96, "'%s'", ec__yaml_show(text, b));
	else
		snprintf(buf, 96, "the quoted string \"%s\"", ec__yaml_show(text, b));
	return buf;
}

/* ---- YAML scalars (YAML 1.2 core schema, plain scalars only) ------------------------- */

int ec__yaml_is_null(const char *s)
{
	return !s[0] || !strcmp(s, "~") || !strcmp(s, "null") || !strcmp(s, "Null") ||
	       !strcmp(s, "NULL");
}

int ec__yaml_bool(const char *s, int *out)
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

int ec__yaml_int(const char *s, long long *out)
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

/* ---- the node tree ------------------------------------------------------------------ */

void ec__yaml_node_free(struct ec_yaml_node *n)
{
	if (!n)
		return;
	for (size_t i = 0; i < n->n; i++)
		ec__yaml_node_free(n->kids[i]);
	free(n->kids);
	free(n->text);
	free(n);
}

int ec__yaml_node_is_null(const struct ec_yaml_node *n)
{
	return n->kind == EC_YAML_SCALAR && n->plain && ec__yaml_is_null(n->text);
}

const char *ec__yaml_node_kind(const struct ec_yaml_node *n)
{
	switch (n->kind) {
	case EC_YAML_SCALAR:
		return ec__yaml_node_is_null(n) ? "an empty value" : "a string";
	case EC_YAML_SEQ:
		return "a list";
	case EC_YAML_MAP:
		return "a mapping";
	}
	return "a value";
}

const char *ec__yaml_node_desc(const struct ec_yaml_node *n, char buf[96])
{
	return ec__yaml_describe(n->kind == EC_YAML_SCALAR ? n->text : NULL, n->plain,
	                         ec__yaml_node_kind(n), buf);
}

struct reader {
	yaml_parser_t parser;
	const struct ec_yaml_src *src;
};

char *ec__yaml_where(const struct ec_yaml_src *src, size_t line, size_t col)
{
	if (src->origin_only)
		return strdup(src->name);
	return ec__strdupf("%s:%zu:%zu", src->name, line, col);
}

int ec__yaml_error_at(const struct ec_yaml_src *src, size_t line, size_t col, const char *fmt,
                      ...)
{
	char where[1200], msg[512];
	if (src->origin_only)
		snprintf(where, sizeof(where), "%s", src->name);
	else
		snprintf(where, sizeof(where), "%s:%zu:%zu", src->name, line, col);
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return ec__yaml_error(src->err, EC_ECONFIG, where, "%s", msg);
}

static int syntax_error(struct reader *L)
{
	yaml_parser_t *p = &L->parser;
	const char *problem = p->problem ? p->problem : "cannot parse";
	if (p->error == YAML_MEMORY_ERROR)
		return ec__yaml_oom(L->src->err);
	if (p->error == YAML_READER_ERROR) {
		/* Reader errors carry a byte offset instead of a mark. */
		size_t line = 1, col = 1, len = L->src->len;
		size_t end = p->problem_offset < len ? p->problem_offset : len;
		for (size_t i = 0; i < end; i++) {
			if (L->src->text[i] == '\n') {
				line++;
				col = 1;
			} else {
				col++;
			}
		}
		if (p->problem_value != -1)
			return ec__yaml_error_at(L->src, line, col,
			                         "cannot read the YAML text: %s (byte 0x%02X)", problem,
			                         (unsigned)p->problem_value & 0xffu);
		return ec__yaml_error_at(L->src, line, col, "cannot read the YAML text: %s", problem);
	}
	size_t line = p->problem_mark.line + 1, col = p->problem_mark.column + 1;
	if (p->context)
		return ec__yaml_error_at(L->src, line, col, "YAML syntax error: %s (%s at %zu:%zu)",
		                         problem, p->context, (size_t)p->context_mark.line + 1,
		                         (size_t)p->context_mark.column + 1);
	return ec__yaml_error_at(L->src, line, col, "YAML syntax error: %s", problem);
}

static int next_event(struct reader *L, yaml_event_t *ev)
{
	if (yaml_parser_parse(&L->parser, ev))
		return 0;
	return syntax_error(L);
}

static int node_push(struct ec_yaml_node *n, struct ec_yaml_node *kid)
{
	if (n->n == n->cap) {
		size_t cap = n->cap ? n->cap * 2 : 4;
		struct ec_yaml_node **k = realloc(n->kids, cap * sizeof(*k));
		if (!k)
			return EC_ENOMEM;
		n->kids = k;
		n->cap = cap;
	}
	n->kids[n->n++] = kid;
	return 0;
}

struct keyref {
	const struct ec_yaml_node *key;
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
static int check_duplicates(struct reader *L, const struct ec_yaml_node *map)
{
	size_t npairs = map->n / 2;
	if (npairs < 2)
		return 0;
	struct keyref *refs = malloc(npairs * sizeof(*refs));
	if (!refs)
		return ec__yaml_oom(L->src->err);
	for (size_t i = 0; i < npairs; i++)
		refs[i] = (struct keyref){map->kids[2 * i], i};
	qsort(refs, npairs, sizeof(*refs), keyref_cmp);
	const struct ec_yaml_node *first = NULL, *dup = NULL;
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
	return ec__yaml_error_at(L->src, dup->line, dup->col,
	                         "duplicate key '%s' (first defined at %zu:%zu)",
	                         ec__yaml_show(dup->text, b), first->line, first->col);
}

/* Build the node for ev (consumed) and everything below it. */
static int load_node(struct reader *L, yaml_event_t *ev, int depth, struct ec_yaml_node **out)
{
	size_t line = ev->start_mark.line + 1, col = ev->start_mark.column + 1;
	const char *anchor = NULL, *tag = NULL;
	char b[64];
	int rc = 0;

	switch (ev->type) {
	case YAML_ALIAS_EVENT:
		rc = ec__yaml_error_at(L->src, line, col,
		                       "aliases (*%s) are not supported; write the value out",
		                       ec__yaml_show((const char *)ev->data.alias.anchor, b));
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
		return ec__yaml_error_at(L->src, line, col, "unexpected YAML event");
	}
	if (anchor) {
		rc = ec__yaml_error_at(L->src, line, col, "anchors (&%s) are not supported",
		                       ec__yaml_show(anchor, b));
		yaml_event_delete(ev);
		return rc;
	}
	if (tag) {
		const char *want = ev->type == YAML_SCALAR_EVENT          ? YAML_STR_TAG
		                   : ev->type == YAML_SEQUENCE_START_EVENT ? YAML_SEQ_TAG
		                                                           : YAML_MAP_TAG;
		if (strcmp(tag, want) != 0) {
			rc = ec__yaml_error_at(L->src, line, col, "tag '%s' is not supported (only !!str)",
			                       ec__yaml_show(tag, b));
			yaml_event_delete(ev);
			return rc;
		}
	}

	struct ec_yaml_node *n = calloc(1, sizeof(*n));
	if (!n) {
		yaml_event_delete(ev);
		return ec__yaml_oom(L->src->err);
	}
	n->line = line;
	n->col = col;

	if (ev->type == YAML_SCALAR_EVENT) {
		n->kind = EC_YAML_SCALAR;
		n->plain = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE && !tag;
		size_t len = ev->data.scalar.length;
		if (memchr(ev->data.scalar.value, '\0', len)) {
			yaml_event_delete(ev);
			ec__yaml_node_free(n);
			return ec__yaml_error_at(L->src, line, col, "a NUL character cannot appear in a value");
		}
		n->text = malloc(len + 1);
		if (!n->text) {
			yaml_event_delete(ev);
			ec__yaml_node_free(n);
			return ec__yaml_oom(L->src->err);
		}
		memcpy(n->text, ev->data.scalar.value, len);
		n->text[len] = '\0';
		yaml_event_delete(ev);
		*out = n;
		return 0;
	}

	int is_map = ev->type == YAML_MAPPING_START_EVENT;
	yaml_event_type_t end_type = is_map ? YAML_MAPPING_END_EVENT : YAML_SEQUENCE_END_EVENT;
	n->kind = is_map ? EC_YAML_MAP : EC_YAML_SEQ;
	yaml_event_delete(ev);
	if (depth > MAX_DEPTH) {
		ec__yaml_node_free(n);
		return ec__yaml_error_at(L->src, line, col, "nesting is deeper than %d levels", MAX_DEPTH);
	}
	for (;;) {
		yaml_event_t e;
		if ((rc = next_event(L, &e)))
			goto fail;
		if (e.type == end_type) {
			yaml_event_delete(&e);
			break;
		}
		struct ec_yaml_node *kid = NULL;
		if ((rc = load_node(L, &e, depth + 1, &kid)))
			goto fail;
		if (is_map && !(n->n & 1)) {
			if (kid->kind != EC_YAML_SCALAR) {
				rc = ec__yaml_error_at(L->src, kid->line, kid->col,
				                       "a key must be a string, not %s", ec__yaml_node_kind(kid));
				ec__yaml_node_free(kid);
				goto fail;
			}
			if (kid->plain && !kid->text[0]) {
				rc = ec__yaml_error_at(L->src, kid->line, kid->col, "a key cannot be empty");
				ec__yaml_node_free(kid);
				goto fail;
			}
		}
		if (node_push(n, kid)) {
			ec__yaml_node_free(kid);
			rc = ec__yaml_oom(L->src->err);
			goto fail;
		}
	}
	if (is_map && (rc = check_duplicates(L, n)))
		goto fail;
	*out = n;
	return 0;
fail:
	ec__yaml_node_free(n);
	return rc;
}

int ec__yaml_parse(const struct ec_yaml_src *src, struct ec_yaml_node **root)
{
	struct reader R = {.src = src}, *L = &R;
	yaml_event_t ev;
	struct ec_yaml_node *doc = NULL;
	int rc;

	*root = NULL;
	if (!yaml_parser_initialize(&L->parser))
		return ec__yaml_oom(L->src->err);
	yaml_parser_set_input_string(&L->parser, L->src->text, L->src->len);
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
		rc = ec__yaml_error_at(L->src, ev.start_mark.line + 1, ev.start_mark.column + 1,
		                       "only one YAML document is allowed");
		yaml_event_delete(&ev);
		goto out;
	}
	yaml_event_delete(&ev);
	*root = doc;
	doc = NULL;
out:
	ec__yaml_node_free(doc);
	yaml_parser_delete(&L->parser);
	return rc;
}
