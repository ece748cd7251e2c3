/* pickle_enc.c: the encoder (master -> context): one protocol 2 stream that Python 2.7
 * and every 3.x read (docs/protocol.md section 4): no memo, bytes as
 * SHORT_BINSTRING/BINSTRING (the context unpickles with encoding='bytes'), text as
 * BINUNICODE, sets through the global __builtin__.set, errors through
 * econtext.CallError, named tuples and tagged values through econtext.Named and
 * econtext.Tagged (pickle_values.c). A value it cannot encode is refused with the path to it. */
#include "ecbuild.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>

#include "pickle_int.h"

struct enc {
	struct ec_buf *out;
	int code;
	char why[256];  /* what went wrong */
	char path[200]; /* where in the value ("[2]['name']"), built while unwinding */
};

static int enc_fail(struct enc *e, int code, const char *fmt, ...) EC_PRINTF(3, 4);
static int enc_fail(struct enc *e, int code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(e->why, sizeof(e->why), fmt, ap);
	va_end(ap);
	e->code = code;
	return code;
}

/* Prepend a path component to e->path. */
#define enc_path(e, ...) vf__path_prepend((e)->path, sizeof((e)->path), __VA_ARGS__)

static int enc_put(struct enc *e, const void *p, size_t n)
{
	struct ec_buf *b = e->out;
	if (b->cap - b->len < n) {
		size_t cap = b->cap ? b->cap : 256;
		while (cap - b->len < n) {
			if (cap > SIZE_MAX / 4)
				return enc_fail(e, EC_EMSGSIZE, "the encoding is too large");
			cap *= 2;
		}
		unsigned char *d = realloc(b->data, cap);
		if (!d)
			return enc_fail(e, EC_ENOMEM, "out of memory");
		b->data = d;
		b->cap = cap;
	}
	if (n)
		memcpy(b->data + b->len, p, n);
	b->len += n;
	return 0;
}

static int enc_op(struct enc *e, unsigned char op)
{
	return enc_put(e, &op, 1);
}

static int enc_int(struct enc *e, int64_t i)
{
	unsigned char b[10];
	if (i >= 0 && i < 0x100) {
		b[0] = OP_BININT1;
		b[1] = (unsigned char)i;
		return enc_put(e, b, 2);
	}
	if (i >= 0 && i < 0x10000) {
		b[0] = OP_BININT2;
		le_put(b + 1, (uint64_t)i, 2);
		return enc_put(e, b, 3);
	}
	if (i >= INT32_MIN && i <= INT32_MAX) {
		b[0] = OP_BININT;
		le_put(b + 1, (uint64_t)i, 4);
		return enc_put(e, b, 5);
	}
	le_put(b + 2, (uint64_t)i, 8);
	size_t n = twos_trim(b + 2, 8);
	b[0] = OP_LONG1;
	b[1] = (unsigned char)n;
	return enc_put(e, b, n + 2);
}

static int enc_long_bytes(struct enc *e, const unsigned char *b, size_t n)
{
	unsigned char h[5];
	if (n <= 8) { /* it fits int64: write it as the small int it is */
		uint64_t u = le_get(b, n);
		if (n < 8 && (b[n - 1] & 0x80))
			u |= ~(uint64_t)0 << (8 * n);
		return enc_int(e, (int64_t)u);
	}
	if (n < 0x100) {
		h[0] = OP_LONG1;
		h[1] = (unsigned char)n;
		if (enc_put(e, h, 2))
			return e->code;
	} else {
		if (n > INT32_MAX)
			return enc_fail(e, EC_ECODEC, "integer too large");
		h[0] = OP_LONG4;
		le_put(h + 1, n, 4);
		if (enc_put(e, h, 5))
			return e->code;
	}
	return enc_put(e, b, n);
}

static int enc_bigint(struct enc *e, const ec_value *v)
{
	const char *s = v->u.s.data;
	if (!s || v->u.s.len == 0 || s[0] == '+' || strlen(s) != v->u.s.len)
		return enc_fail(e, EC_ECODEC, "malformed big integer");
	for (size_t i = s[0] == '-'; i < v->u.s.len; i++)
		if (s[i] < '0' || s[i] > '9')
			return enc_fail(e, EC_ECODEC, "malformed big integer");
	if (v->u.s.len > INT32_MAX / 4)
		return enc_fail(e, EC_ECODEC, "big integer too large");
	BIGNUM *bn = NULL;
	if (BN_dec2bn(&bn, s) != (int)v->u.s.len) {
		BN_free(bn);
		return enc_fail(e, bn ? EC_ECODEC : EC_ENOMEM, "malformed big integer");
	}
	int neg = BN_is_negative(bn);
	BN_set_negative(bn, 0);
	size_t n = (size_t)BN_num_bytes(bn) + 1;
	unsigned char *b = malloc(n);
	if (!b || BN_bn2lebinpad(bn, b, (int)n) != (int)n) {
		free(b);
		BN_free(bn);
		return enc_fail(e, EC_ENOMEM, "out of memory");
	}
	BN_free(bn);
	if (neg) { /* two's complement: invert and add one */
		unsigned carry = 1;
		for (size_t i = 0; i < n; i++) {
			unsigned x = (unsigned)(unsigned char)~b[i] + carry;
			b[i] = (unsigned char)x;
			carry = x >> 8;
		}
	}
	int rc = enc_long_bytes(e, b, twos_trim(b, n));
	free(b);
	return rc;
}

static int enc_text(struct enc *e, const char *s, size_t n)
{
	size_t ok = pk__utf8_valid_prefix((const unsigned char *)s, n);
	if (ok != n)
		return enc_fail(e, EC_ECODEC, "text is not valid UTF-8 (byte %zu)", ok);
	if (n > INT32_MAX)
		return enc_fail(e, EC_ECODEC, "text of %zu bytes is too large", n);
	unsigned char h[5] = {OP_BINUNICODE};
	le_put(h + 1, n, 4);
	if (enc_put(e, h, 5))
		return e->code;
	return enc_put(e, s, n);
}

static int enc_value(struct enc *e, const ec_value *v, int level);

/* The items in batches of PK_BATCH (pairs for dicts), as CPython writes them:
 * MARK items APPENDS/SETITEMS, or item APPEND/SETITEM for a batch of one. */
static int enc_items(struct enc *e, const ec_value *v, int level, int dict)
{
	size_t n = v->u.seq.len, step = dict ? 2 : 1;
	for (size_t start = 0; start < n; start += PK_BATCH * step) {
		size_t end = n - start > PK_BATCH * step ? start + PK_BATCH * step : n;
		int one = end - start == step;
		if (!one && enc_op(e, OP_MARK))
			return e->code;
		for (size_t i = start; i < end; i++) {
			if (enc_value(e, v->u.seq.items[i], level + 1)) {
				if (!dict) {
					enc_path(e, "[%zu]", i);
				} else {
					const ec_value *k = v->u.seq.items[i - i % 2];
					int text = k && k->type == EC_T_STR && k->u.s.len <= 40 &&
					           !memchr(k->u.s.data, '\0', k->u.s.len);
					if (i % 2 && text)
						enc_path(e, "['%s']", k->u.s.data);
					else if (i % 2)
						enc_path(e, "[value #%zu]", i / 2);
					else
						enc_path(e, "[key #%zu]", i / 2);
				}
				return e->code;
			}
		}
		if (enc_op(e, dict ? (one ? OP_SETITEM : OP_SETITEMS) : (one ? OP_APPEND : OP_APPENDS)))
			return e->code;
	}
	return 0;
}

static int enc_bytes(struct enc *e, const ec_value *v)
{
	unsigned char b[5];
	if (v->u.s.len && !v->u.s.data)
		return enc_fail(e, EC_ECODEC, "bytes without data");
	if (v->u.s.len < 0x100) {
		b[0] = OP_SHORT_BINSTRING;
		b[1] = (unsigned char)v->u.s.len;
		if (enc_put(e, b, 2))
			return e->code;
	} else {
		if (v->u.s.len > INT32_MAX)
			return enc_fail(e, EC_ECODEC, "bytes of %zu bytes are too large", v->u.s.len);
		b[0] = OP_BINSTRING;
		le_put(b + 1, v->u.s.len, 4);
		if (enc_put(e, b, 5))
			return e->code;
	}
	return enc_put(e, v->u.s.data, v->u.s.len);
}

static int enc_tuple(struct enc *e, const ec_value *v, int level)
{
	size_t n = v->u.seq.len;
	if (n == 0)
		return enc_op(e, OP_EMPTY_TUPLE);
	if (n > 3 && enc_op(e, OP_MARK))
		return e->code;
	for (size_t i = 0; i < n; i++) {
		if (enc_value(e, v->u.seq.items[i], level + 1)) {
			enc_path(e, "[%zu]", i);
			return e->code;
		}
	}
	return enc_op(e, n > 3 ? OP_TUPLE : (unsigned char)(OP_TUPLE1 + n - 1));
}

static int enc_error(struct enc *e, const ec_value *v)
{
	static const char g[] = "cecontext\nCallError\n";
	const char *f[3] = {v->u.err.type, v->u.err.message, v->u.err.traceback};
	static const char *const names[3] = {"type", "message", "traceback"};
	if (enc_put(e, g, sizeof(g) - 1))
		return e->code;
	for (int i = 0; i < 3; i++) {
		const char *s = f[i] ? f[i] : "";
		if (enc_text(e, s, strlen(s))) {
			enc_path(e, ".%s", names[i]);
			return e->code;
		}
	}
	if (enc_op(e, OP_TUPLE3))
		return e->code;
	return enc_op(e, OP_REDUCE);
}

/* econtext.Named on (spec, values): the spec is the type and the names. */
static int enc_named(struct enc *e, const ec_value *v, int level)
{
	static const char g[] = "cecontext\nNamed\n";
	size_t n = v->u.seq.len / 2, len = strlen(v->u.seq.type ? v->u.seq.type : "");
	if (v->u.seq.len % 2)
		return enc_fail(e, EC_ECODEC, "named tuple with an odd number of items");
	for (size_t i = 0; i < n; i++) {
		const ec_value *k = v->u.seq.items[2 * i];
		if (!k || k->type != EC_T_STR || !k->u.s.data)
			return enc_fail(e, EC_ECODEC, "named tuple with a field name that is not text");
		len += 1 + k->u.s.len;
	}
	char *spec = malloc(len + 1);
	if (!spec)
		return enc_fail(e, EC_ENOMEM, "out of memory");
	char *o = spec;
	size_t tl = strlen(v->u.seq.type ? v->u.seq.type : "");
	memcpy(o, v->u.seq.type ? v->u.seq.type : "", tl);
	o += tl;
	for (size_t i = 0; i < n; i++) {
		const ec_value *k = v->u.seq.items[2 * i];
		*o++ = ' ';
		memcpy(o, k->u.s.data, k->u.s.len);
		o += k->u.s.len;
	}
	*o = '\0';
	int rc = vf__spec_words(spec, len) == n + 1 ? 0 : enc_fail(e, EC_ECODEC,
		"named tuple with an empty type or field name, or one holding a space or a "
		"control character");
	rc = rc ? rc : enc_put(e, g, sizeof(g) - 1);
	rc = rc ? rc : enc_text(e, spec, len);
	free(spec);
	if (rc)
		return rc;
	if (n > 3 ? enc_op(e, OP_MARK) : n == 0 ? enc_op(e, OP_EMPTY_TUPLE) : 0)
		return e->code;
	for (size_t i = 0; i < n; i++) {
		if (enc_value(e, v->u.seq.items[2 * i + 1], level + 1)) {
			const ec_value *k = v->u.seq.items[2 * i];
			if (k->u.s.len <= 40 && !memchr(k->u.s.data, '\0', k->u.s.len))
				enc_path(e, ".%s", k->u.s.data);
			else
				enc_path(e, "[%zu]", i);
			return e->code;
		}
	}
	if ((n > 3 ? enc_op(e, OP_TUPLE) : n ? enc_op(e, (unsigned char)(OP_TUPLE1 + n - 1)) : 0) ||
	    enc_op(e, OP_TUPLE2))
		return e->code;
	return enc_op(e, OP_REDUCE);
}

/* econtext.Tagged on (tag, payload), once the payload is the tag's form. */
static int enc_tagged(struct enc *e, const ec_value *v, int level)
{
	static const char g[] = "cecontext\nTagged\n";
	const char *why, *tag = v->u.seq.type;
	if (!tag || v->u.seq.len != 1 || !v->u.seq.items[0])
		return enc_fail(e, EC_ECODEC, "tagged value without a tag or its payload");
	if (!vf__tagged_valid(tag, strlen(tag), v->u.seq.items[0], &why))
		return enc_fail(e, EC_ECODEC, "tagged value '%.40s' with %s", tag, why);
	if (enc_put(e, g, sizeof(g) - 1) || enc_text(e, tag, strlen(tag)))
		return e->code;
	if (enc_value(e, v->u.seq.items[0], level + 1))
		return e->code;
	if (enc_op(e, OP_TUPLE2))
		return e->code;
	return enc_op(e, OP_REDUCE);
}

static int enc_value(struct enc *e, const ec_value *v, int level)
{
	unsigned char b[9];
	if (!v)
		return enc_fail(e, EC_ECODEC, "NULL value");
	if (is_container(v)) {
		if (level >= PK_MAX_DEPTH)
			return enc_fail(e, EC_ECODEC, "containers nested deeper than %d levels",
			                PK_MAX_DEPTH);
		if (v->u.seq.len && !v->u.seq.items)
			return enc_fail(e, EC_ECODEC, "%s without items", type_name(v));
	}
	switch (v->type) {
	case EC_T_NONE:
		return enc_op(e, OP_NONE);
	case EC_T_BOOL:
		return enc_op(e, v->u.b ? OP_NEWTRUE : OP_NEWFALSE);
	case EC_T_INT:
		return enc_int(e, v->u.i);
	case EC_T_BIGINT:
		return enc_bigint(e, v);
	case EC_T_FLOAT: {
		uint64_t u;
		memcpy(&u, &v->u.f, 8);
		b[0] = OP_BINFLOAT;
		for (int i = 0; i < 8; i++)
			b[1 + i] = (unsigned char)(u >> (56 - 8 * i));
		return enc_put(e, b, 9);
	}
	case EC_T_BYTES:
		return enc_bytes(e, v);
	case EC_T_STR:
		if (v->u.s.len && !v->u.s.data)
			return enc_fail(e, EC_ECODEC, "text without data");
		return enc_text(e, v->u.s.data, v->u.s.len);
	case EC_T_TUPLE:
		return enc_tuple(e, v, level);
	case EC_T_LIST:
		if (enc_op(e, OP_EMPTY_LIST))
			return e->code;
		return enc_items(e, v, level, 0);
	case EC_T_DICT:
		if (v->u.seq.len % 2)
			return enc_fail(e, EC_ECODEC, "dict with an odd number of items");
		if (enc_op(e, OP_EMPTY_DICT))
			return e->code;
		return enc_items(e, v, level, 1);
	case EC_T_SET: {
		static const char g[] = "c__builtin__\nset\n]";
		if (enc_put(e, g, sizeof(g) - 1) || enc_items(e, v, level, 0) ||
		    enc_op(e, OP_TUPLE1))
			return e->code;
		return enc_op(e, OP_REDUCE);
	}
	case EC_T_ERROR:
		return enc_error(e, v);
	case EC_T_NAMED:
		return enc_named(e, v, level);
	case EC_T_TAGGED:
		return enc_tagged(e, v, level);
	}
	return enc_fail(e, EC_ECODEC, "unknown value type %d", (int)v->type);
}

int pk__encode(void *state, const struct ec_codec_peer *peer, const ec_value *v,
               struct ec_buf *out, struct ec_error *err)
{
	const struct pk_state *st = state;
	(void)peer; /* one dialect that every Python reads */
	if (!st)
		return EC_EINVAL;
	if (!out)
		return st->host->error_set(err, EC_EINVAL, PK_WHERE, "pickle: no output buffer");
	struct enc e = {.out = out};
	size_t start = out->len;
	static const unsigned char proto[2] = {OP_PROTO, 2};
	if (enc_put(&e, proto, 2) == 0 && enc_value(&e, v, 0) == 0 && enc_op(&e, OP_STOP) == 0)
		return 0;
	if (out->len > start)
		out->len = start;
	return st->host->error_set(err, e.code, PK_WHERE, "pickle: cannot encode value%s: %s",
	                           e.path, e.why);
}
