/* value_json.c: ec_value to and from JSON, for the command line. Parsing uses jansson;
 * printing is our own, because JSON libraries cannot print integers beyond 64 bits or
 * tell bytes from text. */
#include "ecbuild.h"

#include <ctype.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/evp.h>

#include "buf.h"
#include "error.h"
#include "value.h"

/* ---- printing ---------------------------------------------------------------- */

static int put(struct ec_buf *b, const char *s)
{
	return ec__buf_append(b, s, strlen(s));
}

static int put_json_string(struct ec_buf *b, const char *s, size_t len)
{
	if (ec__buf_append(b, "\"", 1))
		return EC_ENOMEM;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		char esc[8];
		const char *e = NULL;
		switch (c) {
		case '"': e = "\\\""; break;
		case '\\': e = "\\\\"; break;
		case '\n': e = "\\n"; break;
		case '\r': e = "\\r"; break;
		case '\t': e = "\\t"; break;
		case '\b': e = "\\b"; break;
		case '\f': e = "\\f"; break;
		default:
			if (c < 0x20 || c == 0x7f) {
				snprintf(esc, sizeof(esc), "\\u%04x", c);
				e = esc;
			}
		}
		if (e ? put(b, e) : ec__buf_append(b, &s[i], 1))
			return EC_ENOMEM;
	}
	return ec__buf_append(b, "\"", 1);
}

static int put_bytes(struct ec_buf *b, const char *s, size_t len)
{
	if (ec__utf8_valid(s, len))
		return put_json_string(b, s, len);
	size_t outlen = 4 * ((len + 2) / 3) + 1;
	char *enc = malloc(outlen);
	if (!enc)
		return EC_ENOMEM;
	EVP_EncodeBlock((unsigned char *)enc, (const unsigned char *)s, (int)len);
	int rc = put(b, "{\"$bytes\": \"");
	rc = rc ? rc : put(b, enc);
	rc = rc ? rc : put(b, "\"}");
	free(enc);
	return rc;
}

static int put_value(struct ec_buf *b, const ec_value *v, int depth);

static int put_key(struct ec_buf *b, const ec_value *k, int depth)
{
	if (k->type == EC_T_STR || k->type == EC_T_BYTES)
		return put_bytes(b, k->u.s.data, k->u.s.len);
	/* JSON keys are text: use the key's own JSON. */
	struct ec_buf tmp;
	ec__buf_init(&tmp);
	int rc = put_value(&tmp, k, depth + 1);
	rc = rc ? rc : put_json_string(b, (const char *)tmp.data, tmp.len);
	ec__buf_free(&tmp);
	return rc;
}

/* A tagged value as a string: its text, or an enum member's "Class.MEMBER". */
static int put_tagged(struct ec_buf *b, const ec_value *v, int depth)
{
	const ec_value *p = NULL;
	const char *tag = ec_value_tag(v, &p);
	if (tag && strcmp(tag, EC_TAG_ENUM) == 0 && p->type == EC_T_TUPLE && p->u.seq.len == 3 &&
	    p->u.seq.items[0]->type == EC_T_STR && p->u.seq.items[1]->type == EC_T_STR) {
		const ec_value *cls = p->u.seq.items[0], *name = p->u.seq.items[1];
		const char *c = cls->u.s.data + cls->u.s.len;
		while (c > cls->u.s.data && c[-1] != '.')
			c--;
		struct ec_buf t;
		ec__buf_init(&t);
		int rc = ec__buf_append(&t, c, cls->u.s.len - (size_t)(c - cls->u.s.data));
		rc = rc ? rc : ec__buf_append(&t, ".", 1);
		rc = rc ? rc : ec__buf_append(&t, name->u.s.data, name->u.s.len);
		rc = rc ? rc : put_json_string(b, (const char *)t.data, t.len);
		ec__buf_free(&t);
		return rc;
	}
	return p ? put_value(b, p, depth + 1) : put(b, "null");
}

static int put_value(struct ec_buf *b, const ec_value *v, int depth)
{
	char num[64];
	if (depth > 1000)
		return EC_ECODEC;
	switch (v->type) {
	case EC_T_NONE:
		return put(b, "null");
	case EC_T_BOOL:
		return put(b, v->u.b ? "true" : "false");
	case EC_T_INT:
		snprintf(num, sizeof(num), "%" PRId64, v->u.i);
		return put(b, num);
	case EC_T_BIGINT:
		return put(b, v->u.s.data);
	case EC_T_FLOAT:
		if (isnan(v->u.f))
			return put(b, "NaN");
		if (isinf(v->u.f))
			return put(b, v->u.f > 0 ? "Infinity" : "-Infinity");
		snprintf(num, sizeof(num), "%.17g", v->u.f);
		/* Keep a float a float: 1.0 prints "1.0", not "1". */
		if (!strpbrk(num, ".eE"))
			strcat(num, ".0");
		return put(b, num);
	case EC_T_BYTES:
	case EC_T_STR:
		return v->type == EC_T_STR ? put_json_string(b, v->u.s.data, v->u.s.len)
		                           : put_bytes(b, v->u.s.data, v->u.s.len);
	case EC_T_LIST:
	case EC_T_TUPLE:
	case EC_T_SET:
		if (put(b, "["))
			return EC_ENOMEM;
		for (size_t i = 0; i < v->u.seq.len; i++) {
			int rc = (i ? put(b, ", ") : 0);
			rc = rc ? rc : put_value(b, v->u.seq.items[i], depth + 1);
			if (rc)
				return rc;
		}
		return put(b, "]");
	case EC_T_TAGGED:
		return put_tagged(b, v, depth);
	case EC_T_DICT:
	case EC_T_NAMED:
		if (put(b, "{"))
			return EC_ENOMEM;
		for (size_t i = 0; i + 1 < v->u.seq.len; i += 2) {
			int rc = (i ? put(b, ", ") : 0);
			rc = rc ? rc : put_key(b, v->u.seq.items[i], depth);
			rc = rc ? rc : put(b, ": ");
			rc = rc ? rc : put_value(b, v->u.seq.items[i + 1], depth + 1);
			if (rc)
				return rc;
		}
		return put(b, "}");
	case EC_T_ERROR: {
		int rc = put(b, "{\"$error\": ");
		rc = rc ? rc : put_json_string(b, v->u.err.type, strlen(v->u.err.type));
		rc = rc ? rc : put(b, ", \"message\": ");
		rc = rc ? rc : put_json_string(b, v->u.err.message, strlen(v->u.err.message));
		return rc ? rc : put(b, "}");
	}
	}
	return EC_ECODEC;
}

int ec_value_to_json(const ec_value *v, char **out, struct ec_error *err)
{
	if (!v || !out) /* a value whose making ran out of memory, say */
		return ec__error_set(err, EC_EINVAL, NULL, "cannot print %s as JSON",
		                     v ? "into nowhere" : "no value");
	struct ec_buf b;
	ec__buf_init(&b);
	int rc = put_value(&b, v, 0);
	rc = rc ? rc : ec__buf_append(&b, "", 1);
	if (rc) {
		ec__buf_free(&b);
		return ec__error_set(err, rc, NULL, "cannot print value as JSON: %s",
		                     rc == EC_ENOMEM ? "out of memory" : "nested too deeply");
	}
	*out = (char *)b.data;
	return 0;
}

/* ---- parsing ----------------------------------------------------------------- */

static ec_value *from_jansson(json_t *j)
{
	switch (json_typeof(j)) {
	case JSON_NULL:
		return ec_value_none();
	case JSON_TRUE:
		return ec_value_bool(1);
	case JSON_FALSE:
		return ec_value_bool(0);
	case JSON_INTEGER:
		return ec_value_int((int64_t)json_integer_value(j));
	case JSON_REAL:
		return ec_value_float(json_real_value(j));
	case JSON_STRING:
		return ec_value_str(json_string_value(j), json_string_length(j));
	case JSON_ARRAY: {
		ec_value *l = ec_value_new(EC_T_LIST);
		size_t i;
		json_t *item;
		json_array_foreach(j, i, item)
		{
			ec_value *c = l ? from_jansson(item) : NULL;
			if (!c || ec_value_append(l, c)) {
				ec_value_free(l);
				return NULL;
			}
		}
		return l;
	}
	case JSON_OBJECT: {
		ec_value *d = ec_value_new(EC_T_DICT);
		const char *key;
		json_t *item;
		json_object_foreach(j, key, item)
		{
			ec_value *k = d ? ec_value_cstr(key) : NULL;
			ec_value *c = k ? from_jansson(item) : NULL;
			if (!c || ec_value_dict_set(d, k, c)) {
				if (!c)
					ec_value_free(k);
				ec_value_free(d);
				return NULL;
			}
		}
		return d;
	}
	}
	return NULL;
}

/* JSON's whitespace: not isspace()'s \f and \v, which jansson refuses. */
static int json_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* jansson refuses integers beyond 64 bits; a bare integer of any size is taken here
 * (only those: jansson took every other integer, and anything else it refused is
 * refused). 0 with *out, EC_EINVAL (not a bare integer) or EC_ENOMEM. */
static int parse_bare_integer(const char *text, ec_value **out)
{
	const char *p = text;
	while (json_space(*p))
		p++;
	const char *start = p;
	if (*p == '-')
		p++;
	if (!isdigit((unsigned char)*p) || (*p == '0' && isdigit((unsigned char)p[1])))
		return EC_EINVAL;
	while (isdigit((unsigned char)*p))
		p++;
	const char *end = p;
	while (json_space(*p))
		p++;
	if (*p)
		return EC_EINVAL;
	char *dec = strndup(start, (size_t)(end - start));
	ec_value *v = dec ? ec_value_bigint(dec) : NULL;
	free(dec);
	if (!v)
		return EC_ENOMEM;
	*out = v;
	return 0;
}

int ec_value_from_json(const char *text, ec_value **out, struct ec_error *err)
{
	json_error_t jerr;
	json_t *j = json_loads(text, JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
	if (!j) {
		/* Out of memory is said as such, not as the text being invalid. */
		int rc = parse_bare_integer(text, out);
		if (rc == 0)
			return 0;
		if (rc == EC_ENOMEM)
			return ec__error_set(err, EC_ENOMEM, NULL, "out of memory converting JSON");
		return ec__error_set(err, EC_EINVAL, NULL, "invalid JSON at column %d: %s",
		                     jerr.column, jerr.text);
	}
	ec_value *v = from_jansson(j);
	json_decref(j);
	if (!v)
		return ec__error_set(err, EC_ENOMEM, NULL, "out of memory converting JSON");
	*out = v;
	return 0;
}
