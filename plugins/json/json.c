/* json.c: the json codec plugin (docs/codecs.md): the value model as JSON text, on
 * jansson. What JSON has is itself (null, true/false, 64-bit integers, finite floats,
 * UTF-8 text, arrays as lists, objects with text keys as dicts); the rest of the model
 * is an object of one key starting with '$' (a tag): {"$bytes": "<base64>"},
 * {"$tuple": [...]}, {"$set": [...]}, {"$dict": [[key, value], ...]} (a dict with a key
 * that is not text or that starts with '$'), {"$float": "nan"|"inf"|"-inf"},
 * {"$error": [type, message, traceback]}, {"$named": [spec, [values]]} and
 * {"$tagged": [tag, payload]}. An integer beyond 64 bits is refused both ways.
 *
 * The decoder is strict: the text comes from a context that may be hostile. jansson
 * parses it (duplicate keys refused, depth bounded by jansson's 2048), then the tree
 * becomes a value under the codec's own limits (depth, tags and their forms), and
 * anything else is refused saying what and where. plugins/json/json_remote.py is the
 * context's side (ec_codec_ops.remote_source). No mutable global state: ops run on
 * any thread. */
#include "ecbuild.h"

#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "econtext/codec.h"

#include "../forms/valueforms.h"

#define JS_WHERE "plugin json"
#define JS_MAX_DEPTH 512 /* container nesting, both directions (as the pickle codec) */
/* Values in one payload: each costs jansson's node and then ours (~100 bytes in all),
 * so this bounds what a payload of short values ("[0,0,0,...") makes of the master's
 * memory at ~800 MiB. Checked by a scan only when a payload could hold more. */
#define JS_MAX_VALUES ((size_t)1 << 23)

/* The context's side, plugins/json/json_remote.py stripped (generated). */
extern const char js__remote_source[];

struct js_state {
	const struct ec_host *host;
};

/* An error and where it happened: why, then the path built while unwinding. */
struct js_err {
	char why[256];
	char path[200];
};

static int js_fail(struct js_err *e, const char *fmt, ...) EC_PRINTF(2, 3);
static int js_fail(struct js_err *e, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(e->why, sizeof(e->why), fmt, ap);
	va_end(ap);
	return -1;
}

#define js_path(e, ...) vf__path_prepend((e)->path, sizeof((e)->path), __VA_ARGS__)

/* ---- base64 (RFC 4648, padded, no line breaks) ---------------------------------- */

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static char *b64_encode(const unsigned char *p, size_t n, size_t *outlen)
{
	if (n > (SIZE_MAX - 3) / 4 * 3)
		return NULL;
	size_t len = (n + 2) / 3 * 4;
	char *out = malloc(len + 1), *o = out;
	if (!out)
		return NULL;
	size_t i = 0;
	for (; i + 3 <= n; i += 3) {
		uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
		*o++ = b64[v >> 18];
		*o++ = b64[(v >> 12) & 63];
		*o++ = b64[(v >> 6) & 63];
		*o++ = b64[v & 63];
	}
	if (i < n) {
		uint32_t v = (uint32_t)p[i] << 16 | (i + 1 < n ? (uint32_t)p[i + 1] << 8 : 0);
		*o++ = b64[v >> 18];
		*o++ = b64[(v >> 12) & 63];
		*o++ = i + 1 < n ? b64[(v >> 6) & 63] : '=';
		*o++ = '=';
	}
	*o = '\0';
	*outlen = len;
	return out;
}

static int b64_digit(unsigned char c)
{
	return c >= 'A' && c <= 'Z'   ? c - 'A'
	       : c >= 'a' && c <= 'z' ? c - 'a' + 26
	       : c >= '0' && c <= '9' ? c - '0' + 52
	       : c == '+'             ? 62
	       : c == '/'             ? 63
	                              : -1;
}

/* Strict: a multiple of 4 characters of the alphabet, '=' only as padding, the unused
 * bits of the last group zero (one text per byte string). 0, or -1 with e set. */
static int b64_decode(const char *s, size_t n, unsigned char **out, size_t *outlen,
                      struct js_err *e)
{
	if (n % 4)
		return js_fail(e, "$bytes of %zu characters, not a multiple of 4", n);
	size_t pad = n && s[n - 1] == '=' ? (n > 1 && s[n - 2] == '=' ? 2 : 1) : 0;
	size_t len = n / 4 * 3 - pad;
	unsigned char *buf = malloc(len + 1), *o = buf;
	if (!buf)
		return js_fail(e, "out of memory for $bytes of %zu bytes", len);
	for (size_t i = 0; i < n; i += 4) {
		int d[4];
		for (int k = 0; k < 4; k++) {
			int last = i + 4 == n;
			d[k] = last && k >= 4 - (int)pad ? 0 : b64_digit((unsigned char)s[i + k]);
			if (d[k] < 0) {
				free(buf);
				return js_fail(e, "$bytes with a character outside base64 at %zu", i + k);
			}
		}
		uint32_t v = (uint32_t)d[0] << 18 | (uint32_t)d[1] << 12 | (uint32_t)d[2] << 6 | (uint32_t)d[3];
		size_t take = i + 4 == n ? 3 - pad : 3;
		if (take < 3 && (v & (take == 1 ? 0xffffu : 0xffu))) {
			free(buf);
			return js_fail(e, "$bytes whose padding hides bits that are set");
		}
		for (size_t k = 0; k < take; k++)
			*o++ = (unsigned char)(v >> (16 - 8 * k));
	}
	*out = buf;
	*outlen = len;
	return 0;
}

/* ---- encoding: ec_value -> json_t ------------------------------------------------ */

static json_t *enc(const ec_value *v, int depth, struct js_err *e);

/* {"<tag>": payload}, payload taken (NULL: e already says why). */
static json_t *tag1(const char *tag, json_t *payload, struct js_err *e)
{
	if (!payload)
		return NULL;
	json_t *o = json_object();
	if (o && json_object_set(o, tag, payload) == 0) {
		json_decref(payload);
		return o;
	}
	json_decref(payload);
	json_decref(o);
	js_fail(e, "out of memory");
	return NULL;
}

/* [a, b], both taken; NULL when either is NULL or out of memory. */
static json_t *pair2(json_t *a, json_t *b)
{
	json_t *p = a && b ? json_array() : NULL;
	if (p && (json_array_append(p, a) || json_array_append(p, b))) {
		json_decref(p);
		p = NULL;
	}
	json_decref(a);
	json_decref(b);
	return p;
}

/* items[start], items[start + step]... as an array. */
static json_t *enc_items(const ec_value *v, size_t start, size_t step, int depth,
                         struct js_err *e)
{
	json_t *a = json_array();
	if (!a) {
		js_fail(e, "out of memory");
		return NULL;
	}
	for (size_t i = start; i < v->u.seq.len; i += step) {
		json_t *x = enc(v->u.seq.items[i], depth + 1, e);
		if (!x || json_array_append_new(a, x)) {
			if (x)
				js_fail(e, "out of memory");
			js_path(e, "[%zu]", i / step);
			json_decref(a);
			return NULL;
		}
	}
	return a;
}

static json_t *enc_text(const ec_value *v, struct js_err *e)
{
	json_t *s = json_stringn(v->u.s.data, v->u.s.len);
	if (!s)
		js_fail(e, "a str that is not valid UTF-8 (or out of memory)");
	return s;
}

static int plain_key(const ec_value *k)
{
	return k->type == EC_T_STR && !(k->u.s.len && k->u.s.data[0] == '$') &&
	       !memchr(k->u.s.data, '\0', k->u.s.len);
}

/* {"$dict": [[k, v], ...]}: keys of any type. */
static json_t *enc_pairs(const ec_value *v, int depth, struct js_err *e)
{
	json_t *a = json_array();
	for (size_t i = 0; a && i < v->u.seq.len; i += 2) {
		json_t *k = enc(v->u.seq.items[i], depth + 1, e);
		json_t *x = k ? enc(v->u.seq.items[i + 1], depth + 1, e) : NULL;
		json_t *pair = pair2(k, x);
		if (!pair || json_array_append_new(a, pair)) {
			if (x)
				js_fail(e, "out of memory");
			js_path(e, "[key #%zu]", i / 2);
			json_decref(a);
			return NULL;
		}
	}
	if (!a)
		js_fail(e, "out of memory");
	return tag1("$dict", a, e);
}

/* An object when every key is text that a tag cannot be taken for, and no key comes
 * twice (a dict built in C may repeat one: an object would keep the last); else
 * $dict's pairs. */
static json_t *enc_dict(const ec_value *v, int depth, struct js_err *e)
{
	int plain = 1;
	for (size_t i = 0; i < v->u.seq.len && plain; i += 2)
		plain = plain_key(v->u.seq.items[i]);
	if (!plain)
		return enc_pairs(v, depth, e);
	json_t *o = json_object();
	for (size_t i = 0; o && i < v->u.seq.len; i += 2) {
		const ec_value *k = v->u.seq.items[i];
		json_t *x = enc(v->u.seq.items[i + 1], depth + 1, e);
		if (!x) {
			js_path(e, "['%.40s']", k->u.s.data);
			json_decref(o);
			return NULL;
		}
		if (json_object_set_new(o, k->u.s.data, x)) { /* x taken either way */
			json_decref(o);
			js_fail(e, "a key that is not valid UTF-8 (or out of memory)");
			return NULL;
		}
	}
	if (!o)
		js_fail(e, "out of memory");
	if (o && 2 * json_object_size(o) != v->u.seq.len) { /* a key came twice */
		json_decref(o);
		return enc_pairs(v, depth, e);
	}
	return o;
}

static json_t *enc_named(const ec_value *v, int depth, struct js_err *e)
{
	/* spec: the type, then the names, separated by spaces. */
	size_t n = v->u.seq.len / 2, len = strlen(v->u.seq.type ? v->u.seq.type : "");
	for (size_t i = 0; i < v->u.seq.len; i += 2)
		len += 1 + (v->u.seq.items[i]->type == EC_T_STR ? v->u.seq.items[i]->u.s.len : 0);
	char *spec = malloc(len + 1), *p = spec;
	if (!spec) {
		js_fail(e, "out of memory");
		return NULL;
	}
	p += sprintf(p, "%s", v->u.seq.type ? v->u.seq.type : "");
	for (size_t i = 0; i < v->u.seq.len; i += 2) {
		const ec_value *k = v->u.seq.items[i];
		*p++ = ' ';
		if (k->type == EC_T_STR) {
			memcpy(p, k->u.s.data, k->u.s.len);
			p += k->u.s.len;
		}
	}
	*p = '\0';
	json_t *r = NULL;
	if (vf__spec_words(spec, len) != n + 1)
		js_fail(e, "a named tuple whose type or field names are malformed");
	else {
		json_t *vals = enc_items(v, 1, 2, depth, e);
		json_t *pair = vals ? pair2(json_stringn(spec, len), vals) : NULL;
		if (vals && !pair)
			js_fail(e, "a named tuple whose spec is not valid UTF-8 (or out of memory)");
		r = tag1("$named", pair, e);
	}
	free(spec);
	return r;
}

static json_t *enc_tagged(const ec_value *v, int depth, struct js_err *e)
{
	const char *why = NULL, *tag = v->u.seq.type ? v->u.seq.type : "";
	if (v->u.seq.len != 1 || !vf__tagged_valid(tag, strlen(tag), v->u.seq.items[0], &why)) {
		js_fail(e, "a tagged value '%.40s' with %s", tag, why ? why : "no payload");
		return NULL;
	}
	json_t *p = enc(v->u.seq.items[0], depth + 1, e);
	json_t *pair = p ? pair2(json_string(tag), p) : NULL;
	if (p && !pair)
		js_fail(e, "out of memory");
	return tag1("$tagged", pair, e);
}

static json_t *enc_error(const ec_value *v, struct js_err *e)
{
	const char *f[3] = {v->u.err.type, v->u.err.message, v->u.err.traceback};
	json_t *a = json_array();
	for (int i = 0; a && i < 3; i++) {
		if (json_array_append_new(a, json_string(f[i] ? f[i] : ""))) {
			json_decref(a);
			js_fail(e, "an error whose text is not valid UTF-8 (or out of memory)");
			return NULL;
		}
	}
	if (!a)
		js_fail(e, "out of memory");
	return tag1("$error", a, e);
}

static json_t *enc(const ec_value *v, int depth, struct js_err *e)
{
	if (depth > JS_MAX_DEPTH) {
		js_fail(e, "nesting deeper than %d", JS_MAX_DEPTH);
		return NULL;
	}
	json_t *r = NULL;
	switch (v->type) {
	case EC_T_NONE: r = json_null(); break;
	case EC_T_BOOL: r = json_boolean(v->u.b); break;
	case EC_T_INT: r = json_integer((json_int_t)v->u.i); break;
	case EC_T_BIGINT:
		js_fail(e, "an integer beyond 64 bits (%.30s...), which the json codec does not "
		           "carry", v->u.s.data);
		return NULL;
	case EC_T_FLOAT:
		if (isfinite(v->u.f))
			r = json_real(v->u.f);
		else
			return tag1("$float",
			            json_string(isnan(v->u.f) ? "nan" : v->u.f > 0 ? "inf" : "-inf"), e);
		break;
	case EC_T_BYTES: {
		size_t n = 0;
		char *t = b64_encode((const unsigned char *)v->u.s.data, v->u.s.len, &n);
		json_t *s = t ? json_stringn_nocheck(t, n) : NULL;
		free(t);
		if (!s)
			js_fail(e, "out of memory");
		return tag1("$bytes", s, e);
	}
	case EC_T_STR: return enc_text(v, e);
	case EC_T_LIST: return enc_items(v, 0, 1, depth, e);
	case EC_T_TUPLE:
	case EC_T_SET: {
		return tag1(v->type == EC_T_TUPLE ? "$tuple" : "$set", enc_items(v, 0, 1, depth, e), e);
	}
	case EC_T_DICT: return enc_dict(v, depth, e);
	case EC_T_ERROR: return enc_error(v, e);
	case EC_T_NAMED: return enc_named(v, depth, e);
	case EC_T_TAGGED: return enc_tagged(v, depth, e);
	default: js_fail(e, "a value of unknown type %d", (int)v->type); return NULL;
	}
	if (!r)
		js_fail(e, "out of memory");
	return r;
}

static int put(const char *buf, size_t n, void *data)
{
	struct ec_buf *b = data;
	if (b->cap - b->len < n) {
		size_t cap = b->cap ? b->cap : 256;
		while (cap - b->len < n) {
			if (cap > SIZE_MAX / 2)
				return -1;
			cap *= 2;
		}
		unsigned char *p = realloc(b->data, cap);
		if (!p)
			return -1;
		b->data = p;
		b->cap = cap;
	}
	memcpy(b->data + b->len, buf, n);
	b->len += n;
	return 0;
}

static int js_encode(void *state, const struct ec_codec_peer *peer, const ec_value *v,
                     struct ec_buf *out, struct ec_error *err)
{
	const struct js_state *st = state;
	(void)peer; /* one dialect for every Python */
	struct js_err e = {"", ""};
	json_t *j = enc(v, 0, &e);
	size_t start = out->len;
	size_t flags = JSON_COMPACT | JSON_ENCODE_ANY | JSON_REAL_PRECISION(17);
	if (j && json_dump_callback(j, put, out, flags) == 0) {
		json_decref(j);
		return 0;
	}
	json_decref(j);
	out->len = start;
	return st->host->error_set(err, EC_ECODEC, JS_WHERE, "json: cannot encode value%s: %s",
	                           e.path, j ? "out of memory" : e.why);
}

/* ---- decoding: json_t -> ec_value ------------------------------------------------ */

/* A container of type with room for n items (value_free frees it and them). */
static ec_value *seq_new(const struct ec_host *h, enum ec_type type, size_t n, struct js_err *e)
{
	ec_value *v = h->value_new(type);
	if (v && n && !(v->u.seq.items = malloc(n * sizeof(*v->u.seq.items)))) {
		h->value_free(v);
		v = NULL;
	}
	if (!v) {
		js_fail(e, "out of memory");
		return NULL;
	}
	v->u.seq.cap = n;
	return v;
}

static ec_value *dec(const struct ec_host *h, json_t *j, int depth, struct js_err *e);

/* x decoded into v's next item (room made by seq_new); 0, or -1 with v freed. */
static int dec_into(const struct ec_host *h, ec_value *v, json_t *x, int depth, struct js_err *e)
{
	ec_value *item = dec(h, x, depth + 1, e);
	if (!item) {
		h->value_free(v);
		return -1;
	}
	v->u.seq.items[v->u.seq.len++] = item;
	return 0;
}

static ec_value *dec_seq(const struct ec_host *h, enum ec_type type, json_t *a, int depth,
                         struct js_err *e)
{
	if (!json_is_array(a)) {
		js_fail(e, "a tag whose payload is not an array");
		return NULL;
	}
	ec_value *v = seq_new(h, type, json_array_size(a), e);
	size_t i;
	json_t *x;
	json_array_foreach(a, i, x) {
		if (!v || dec_into(h, v, x, depth, e)) {
			js_path(e, "[%zu]", i);
			return NULL;
		}
	}
	return v;
}

static ec_value *dec_text(const struct ec_host *h, const char *s, size_t n, enum ec_type type,
                          struct js_err *e)
{
	ec_value *v = h->value_str(type, s, n);
	if (!v)
		js_fail(e, "out of memory");
	return v;
}

/* Does key k, as an object's iterator gives it, hold a NUL (jansson >= 2.14 keeps
 * such keys whole; older versions refuse them)? */
static int key_has_nul(const char *k)
{
#if JANSSON_VERSION_HEX >= 0x020e00
	return json_object_iter_key_len(json_object_key_to_iter(k)) != strlen(k);
#else
	(void)k;
	return 0;
#endif
}

/* An object without tags: a dict with text keys. */
static ec_value *dec_object(const struct ec_host *h, json_t *o, int depth, struct js_err *e)
{
	ec_value *v = seq_new(h, EC_T_DICT, 2 * json_object_size(o), e);
	const char *k;
	json_t *x;
	json_object_foreach(o, k, x) {
		if (!v)
			return NULL;
		int bad = k[0] == '$' || key_has_nul(k);
		ec_value *key = bad ? NULL : dec_text(h, k, strlen(k), EC_T_STR, e);
		if (k[0] == '$')
			js_fail(e, "an object of %zu keys with the key '%.40s' (a tag stands alone)",
			        json_object_size(o), k);
		else if (bad)
			js_fail(e, "an object key holding \\u0000 ('%.40s...')", k);
		if (!key) {
			h->value_free(v);
			return NULL;
		}
		v->u.seq.items[v->u.seq.len++] = key;
		if (dec_into(h, v, x, depth, e)) {
			js_path(e, "['%.40s']", k);
			return NULL;
		}
	}
	return v;
}

/* {"$dict": [[key, value], ...]}: a dict with keys of any type. */
static ec_value *dec_pairs(const struct ec_host *h, json_t *a, int depth, struct js_err *e)
{
	if (!json_is_array(a)) {
		js_fail(e, "a $dict that is not an array of pairs");
		return NULL;
	}
	ec_value *v = seq_new(h, EC_T_DICT, 2 * json_array_size(a), e);
	size_t i;
	json_t *pair;
	json_array_foreach(a, i, pair) {
		if (!v)
			return NULL;
		if (!json_is_array(pair) || json_array_size(pair) != 2) {
			js_fail(e, "a $dict entry that is not a [key, value] pair");
			h->value_free(v);
			v = NULL;
		}
		for (size_t k = 0; v && k < 2; k++)
			if (dec_into(h, v, json_array_get(pair, k), depth, e))
				v = NULL;
		if (!v) {
			js_path(e, "[%zu]", i);
			return NULL;
		}
	}
	return v;
}

/* [text, value]: the two items of a $named or $tagged, the first text. */
static int dec_pair(json_t *p, const char *what, struct js_err *e)
{
	if (json_is_array(p) && json_array_size(p) == 2 && json_is_string(json_array_get(p, 0)))
		return 0;
	return js_fail(e, "a %s that is not [text, payload]", what);
}

static ec_value *dec_named(const struct ec_host *h, json_t *p, int depth, struct js_err *e)
{
	if (dec_pair(p, "$named", e))
		return NULL;
	json_t *sj = json_array_get(p, 0), *vals = json_array_get(p, 1);
	const char *spec = json_string_value(sj);
	size_t len = json_string_length(sj), words = vf__spec_words(spec, len);
	if (!words || memchr(spec, '\0', len) || !json_is_array(vals) ||
	    json_array_size(vals) != words - 1) {
		js_fail(e, "a $named whose spec is malformed or does not name each value");
		return NULL;
	}
	const char *sp = memchr(spec, ' ', len);
	size_t tlen = sp ? (size_t)(sp - spec) : len;
	ec_value *v = seq_new(h, EC_T_NAMED, 2 * (words - 1), e);
	if (v && !(v->u.seq.type = strndup(spec, tlen))) {
		h->value_free(v);
		v = NULL;
		js_fail(e, "out of memory");
	}
	const char *name = sp ? sp + 1 : spec + len;
	for (size_t i = 0; v && i < words - 1; i++) {
		const char *end = memchr(name, ' ', (size_t)(spec + len - name));
		size_t nl = end ? (size_t)(end - name) : (size_t)(spec + len - name);
		ec_value *k = dec_text(h, name, nl, EC_T_STR, e);
		if (!k) {
			h->value_free(v);
			return NULL;
		}
		v->u.seq.items[v->u.seq.len++] = k;
		if (dec_into(h, v, json_array_get(vals, i), depth, e)) {
			js_path(e, "['%.*s']", (int)(nl < 40 ? nl : 40), name);
			return NULL;
		}
		name += nl + 1;
	}
	return v;
}

static ec_value *dec_tagged(const struct ec_host *h, json_t *p, int depth, struct js_err *e)
{
	if (dec_pair(p, "$tagged", e))
		return NULL;
	json_t *tj = json_array_get(p, 0);
	const char *why = NULL, *tag = json_string_value(tj);
	ec_value *v = seq_new(h, EC_T_TAGGED, 1, e);
	if (v && !(v->u.seq.type = strdup(tag))) {
		h->value_free(v);
		v = NULL;
		js_fail(e, "out of memory");
	}
	if (!v || dec_into(h, v, json_array_get(p, 1), depth, e))
		return NULL;
	if (!vf__tagged_valid(tag, json_string_length(tj), v->u.seq.items[0], &why)) {
		js_fail(e, "a $tagged '%.40s' with %s", tag, why);
		h->value_free(v);
		return NULL;
	}
	return v;
}

static ec_value *dec_error(const struct ec_host *h, json_t *p, struct js_err *e)
{
	if (!json_is_array(p) || json_array_size(p) != 3) {
		js_fail(e, "an $error that is not [type, message, traceback]");
		return NULL;
	}
	for (size_t i = 0; i < 3; i++) {
		json_t *s = json_array_get(p, i);
		if (!json_is_string(s) || memchr(json_string_value(s), '\0', json_string_length(s))) {
			js_fail(e, "an $error whose fields are not text");
			return NULL;
		}
	}
	ec_value *v = h->value_new(EC_T_ERROR);
	if (v && (!(v->u.err.type = strdup(json_string_value(json_array_get(p, 0)))) ||
	          !(v->u.err.message = strdup(json_string_value(json_array_get(p, 1)))) ||
	          !(v->u.err.traceback = strdup(json_string_value(json_array_get(p, 2)))))) {
		h->value_free(v);
		v = NULL;
	}
	if (!v)
		js_fail(e, "out of memory");
	return v;
}

static ec_value *dec_float(const struct ec_host *h, json_t *p, struct js_err *e)
{
	const char *s = json_is_string(p) ? json_string_value(p) : "";
	int nan = !strcmp(s, "nan"), inf = !strcmp(s, "inf"), ninf = !strcmp(s, "-inf");
	if (!nan && !inf && !ninf) {
		js_fail(e, "a $float that is not \"nan\", \"inf\" or \"-inf\"");
		return NULL;
	}
	ec_value *v = h->value_new(EC_T_FLOAT);
	if (!v)
		js_fail(e, "out of memory");
	else
		v->u.f = nan ? NAN : inf ? INFINITY : -INFINITY;
	return v;
}

static ec_value *dec_bytes(const struct ec_host *h, json_t *p, struct js_err *e)
{
	if (!json_is_string(p)) {
		js_fail(e, "a $bytes that is not base64 text");
		return NULL;
	}
	unsigned char *raw = NULL;
	size_t n = 0;
	if (b64_decode(json_string_value(p), json_string_length(p), &raw, &n, e))
		return NULL;
	ec_value *v = dec_text(h, (const char *)raw, n, EC_T_BYTES, e);
	free(raw);
	return v;
}

static ec_value *dec_tag(const struct ec_host *h, const char *tag, json_t *p, int depth,
                         struct js_err *e)
{
	if (!strcmp(tag, "$bytes"))
		return dec_bytes(h, p, e);
	if (!strcmp(tag, "$tuple"))
		return dec_seq(h, EC_T_TUPLE, p, depth, e);
	if (!strcmp(tag, "$set"))
		return dec_seq(h, EC_T_SET, p, depth, e);
	if (!strcmp(tag, "$dict"))
		return dec_pairs(h, p, depth, e);
	if (!strcmp(tag, "$float"))
		return dec_float(h, p, e);
	if (!strcmp(tag, "$error"))
		return dec_error(h, p, e);
	if (!strcmp(tag, "$named"))
		return dec_named(h, p, depth, e);
	if (!strcmp(tag, "$tagged"))
		return dec_tagged(h, p, depth, e);
	js_fail(e, "an unknown tag '%.40s'", tag);
	return NULL;
}

static ec_value *dec(const struct ec_host *h, json_t *j, int depth, struct js_err *e)
{
	if (depth > JS_MAX_DEPTH) {
		js_fail(e, "nesting deeper than %d", JS_MAX_DEPTH);
		return NULL;
	}
	ec_value *v = NULL;
	switch (json_typeof(j)) {
	case JSON_NULL: v = h->value_new(EC_T_NONE); break;
	case JSON_TRUE:
	case JSON_FALSE:
		if ((v = h->value_new(EC_T_BOOL)))
			v->u.b = json_is_true(j);
		break;
	case JSON_INTEGER:
		if ((v = h->value_new(EC_T_INT)))
			v->u.i = (int64_t)json_integer_value(j);
		break;
	case JSON_REAL:
		if ((v = h->value_new(EC_T_FLOAT)))
			v->u.f = json_real_value(j);
		break;
	case JSON_STRING:
		return dec_text(h, json_string_value(j), json_string_length(j), EC_T_STR, e);
	case JSON_ARRAY: return dec_seq(h, EC_T_LIST, j, depth, e);
	case JSON_OBJECT: {
		void *it = json_object_iter(j);
		const char *k = it ? json_object_iter_key(it) : "";
		if (json_object_size(j) == 1 && k[0] == '$')
			return dec_tag(h, k, json_object_iter_value(it), depth, e);
		return dec_object(h, j, depth, e);
	}
	default: js_fail(e, "an unknown JSON type"); return NULL;
	}
	if (!v)
		js_fail(e, "out of memory");
	return v;
}

/* More than JS_MAX_VALUES values in text? A value is at most one per separator or
 * opening bracket outside strings, plus one: counted without parsing. */
static int too_many_values(const unsigned char *p, size_t len)
{
	size_t n = 1;
	for (size_t i = 0; i < len; i++) {
		if (p[i] == '"') { /* a string: to its closing quote, escapes skipped */
			for (i++; i < len && p[i] != '"'; i++)
				i += p[i] == '\\';
		} else if (p[i] == ',' || p[i] == '[' || p[i] == '{') {
			if (++n > JS_MAX_VALUES)
				return 1;
		}
	}
	return 0;
}

static int js_decode(void *state, const void *data, size_t len, ec_value **out,
                     struct ec_error *err)
{
	const struct js_state *st = state;
	if (len / 2 >= JS_MAX_VALUES && too_many_values(data, len))
		return st->host->error_set(err, EC_ECODEC, JS_WHERE,
		                           "json: more than %zu values in one payload of %zu bytes "
		                           "(the pickle codec carries such a value)",
		                           JS_MAX_VALUES, len);
	json_error_t jerr;
	/* Duplicate keys refused; NUL allowed in text (\u0000: a Python str may hold it). */
	json_t *j = json_loadb(data ? data : "", len,
	                       JSON_DECODE_ANY | JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &jerr);
	if (!j)
		return st->host->error_set(err, EC_ECODEC, JS_WHERE,
		                           "json: malformed text at byte %d (line %d, column %d): %s",
		                           jerr.position, jerr.line, jerr.column, jerr.text);
	struct js_err e = {"", ""};
	ec_value *v = dec(st->host, j, 0, &e);
	json_decref(j);
	if (!v)
		return st->host->error_set(err, EC_ECODEC, JS_WHERE, "json: refused value%s: %s",
		                           e.path, e.why);
	*out = v;
	return 0;
}

/* ---- the plugin ------------------------------------------------------------------ */

static int js_load(const struct ec_host *host, void **state, struct ec_error *err)
{
	if (!host || host->size < offsetof(struct ec_host, value_free) + sizeof(host->value_free))
		return EC_EABI;
	struct js_state *st = calloc(1, sizeof(*st));
	if (!st)
		return host->error_set(err, EC_ENOMEM, JS_WHERE, "json: out of memory");
	st->host = host;
	*state = st;
	return 0;
}

static void js_unload(void *state)
{
	free(state);
}

static const struct ec_codec_ops json_ops = {
	.size = sizeof(struct ec_codec_ops),
	.encode = js_encode,
	.decode = js_decode,
	.remote_name = "json",
	.remote_source = js__remote_source, /* plugins/json/json_remote.py */
};

EC_PLUGIN_DEFINE(json, .version = "0.1.0", .kind = EC_PLUGIN_CODEC, .load = js_load,
                 .unload = js_unload, .ops = &json_ops)
