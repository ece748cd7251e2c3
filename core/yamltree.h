/* yamltree.h: YAML text read into a tree of nodes that keep their 1-based line:column,
 * the YAML 1.2 core typing of plain scalars, and the messages that name a place in the
 * configuration. The reader refuses what the configuration never needs and what makes
 * libyaml unsafe on hostile input (see yamltree.c). */
#ifndef EC_CORE_YAMLTREE_H
#define EC_CORE_YAMLTREE_H

#include <stddef.h>

#include "econtext.h"

enum ec_yaml_kind { EC_YAML_SCALAR, EC_YAML_SEQ, EC_YAML_MAP };

struct ec_yaml_node {
	enum ec_yaml_kind kind;
	int plain;        /* scalar without quotes or tag: subject to implicit typing */
	size_t line, col; /* 1-based */
	char *text;       /* scalar */
	struct ec_yaml_node **kids; /* sequence: items; mapping: key, value, key, value... */
	size_t n, cap;
};

/* Text to read, and where its errors go. */
struct ec_yaml_src {
	const char *name; /* file name, "<embedded default>", or an origin like "-o key" */
	int origin_only;  /* where is name alone, without line:col (override values) */
	const unsigned char *text;
	size_t len;
	struct ec_error *err;
};

/* Parse one YAML document; *root is NULL for a stream without a document. Errors
 * (EC_ECONFIG at name:line:col, EC_ENOMEM) into src->err. */
int ec__yaml_parse(const struct ec_yaml_src *src, struct ec_yaml_node **root);
void ec__yaml_node_free(struct ec_yaml_node *n);
/* A plain null scalar (empty, ~, null). */
int ec__yaml_node_is_null(const struct ec_yaml_node *n);
/* "a string", "a list", "a mapping", "an empty value": for messages. */
const char *ec__yaml_node_kind(const struct ec_yaml_node *n);
/* What was written, for messages: see ec__yaml_describe. */
const char *ec__yaml_node_desc(const struct ec_yaml_node *n, char buf[96]);

/* Plain scalars, YAML 1.2 core schema: is s a null ("", ~, null); true/false and
 * decimal integers ([-+]?[0-9]+ within long long) parsed: 0, or -1 when s is not one. */
int ec__yaml_is_null(const char *s);
int ec__yaml_bool(const char *s, int *out);
int ec__yaml_int(const char *s, long long *out);

/* "name:line:col" (malloc'd), or the name alone for an origin_only source. */
char *ec__yaml_where(const struct ec_yaml_src *src, size_t line, size_t col);
/* EC_ECONFIG at name:line:col of src. */
int ec__yaml_error_at(const struct ec_yaml_src *src, size_t line, size_t col, const char *fmt,
                      ...) EC_PRINTF(4, 5);
/* Set err (may be NULL) with where shortened from the left ("...tail/file.yaml:3:5"),
 * so that the line and column survive a long path. */
int ec__yaml_error(struct ec_error *err, int code, const char *where, const char *fmt, ...)
	EC_PRINTF(4, 5);
/* EC_ENOMEM "out of memory while loading the configuration". */
int ec__yaml_oom(struct ec_error *err);
/* A value shown in a message: at most ~48 characters, control characters as '?'. */
const char *ec__yaml_show(const char *s, char buf[64]);
/* "'abc'", "the quoted string \"22\"", or kind when text is NULL ("a list"). */
const char *ec__yaml_describe(const char *text, int plain, const char *kind, char buf[96]);

#endif
