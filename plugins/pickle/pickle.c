/* pickle.c: the pickle codec plugin.
 *
 * Encoder (master -> context): one protocol 2 stream that Python 2.7 and every 3.x read
 * (docs/protocol.md section 4): no memo, bytes as SHORT_BINSTRING/BINSTRING (the
 * context unpickles with encoding='bytes'), text as BINUNICODE, sets through the global
 * __builtin__.set, errors through econtext.CallError.
 *
 * Decoder (context -> master): a strict validator for protocols 0 to 5 restricted to
 * None, bool, int, float, bytes, str, list, tuple, dict, set/frozenset and
 * econtext.CallError. The bytes may come from a hostile context: every declared length
 * is checked against what is left before anything is allocated, the stack, marks, memo,
 * nesting and memo copies are bounded, globals are resolved against a fixed table and
 * never imported. Anything else is refused with EC_ECODEC naming the opcode, the global
 * and the byte offset.
 *
 * Values never share structure, so the memo holds borrowed pointers and a GET pushes a
 * deep copy. Nothing is freed while decoding (values popped or consumed go to a
 * "graveyard" freed at the end), so memo pointers stay valid. A GET or DUP of a list,
 * dict or set records it; modifying a recorded container later means the stream
 * referenced it before it was complete, i.e. a recursive structure, which is refused.
 *
 * The plugin reaches the core only through the host table and keeps no mutable global
 * state: ops may run concurrently on several threads. */
#include "ecbuild.h"

#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* newlocale, strtod_l */
#endif

#include <locale.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/bn.h>
#include <openssl/crypto.h>

#include "econtext/codec.h"

/* ---- limits ------------------------------------------------------------------ */

#define PK_MAX_DEPTH 512                  /* container nesting, both directions */
#define PK_MAX_MARKS 1024                 /* open MARKs */
#define PK_MAX_STACK ((size_t)1 << 22)    /* values on the unpickler stack */
#define PK_MAX_MEMO ((size_t)1 << 20)     /* memo indices are below this */
#define PK_MAX_LONG_BYTES ((size_t)65536) /* LONG1/LONG4 payload */
#define PK_MAX_DIGITS ((size_t)160000)    /* INT/LONG decimal text */
#define PK_MAX_FLOAT_TEXT 64              /* FLOAT text */
#define PK_MAX_ERRTEXT ((size_t)1 << 20)  /* each CallError field */
#define PK_MAX_COPY ((size_t)256 << 20)   /* bytes copied through GET/DUP */
#define PK_COPY_NODE_COST 64              /* what one copied value counts for */
#define PK_BATCH 1000                     /* APPENDS/SETITEMS batch, as CPython */
#define PK_WHERE "plugin pickle"
#define PK_ALLOWED                                                                   \
	"only None, bool, int, float, bytes, str, list, tuple, dict, set and "       \
	"econtext.CallError are allowed"

/* ---- opcodes ----------------------------------------------------------------- */

#define PK_OPCODES(X)                                                                \
	X(MARK, '(')                                                                 \
	X(STOP, '.')                                                                 \
	X(POP, '0')                                                                  \
	X(POP_MARK, '1')                                                             \
	X(DUP, '2')                                                                  \
	X(FLOAT, 'F')                                                                \
	X(INT, 'I')                                                                  \
	X(BININT, 'J')                                                               \
	X(BININT1, 'K')                                                              \
	X(LONG, 'L')                                                                 \
	X(BININT2, 'M')                                                              \
	X(NONE, 'N')                                                                 \
	X(PERSID, 'P')                                                               \
	X(BINPERSID, 'Q')                                                            \
	X(REDUCE, 'R')                                                               \
	X(STRING, 'S')                                                               \
	X(BINSTRING, 'T')                                                            \
	X(SHORT_BINSTRING, 'U')                                                      \
	X(UNICODE, 'V')                                                              \
	X(BINUNICODE, 'X')                                                           \
	X(APPEND, 'a')                                                               \
	X(BUILD, 'b')                                                                \
	X(GLOBAL, 'c')                                                               \
	X(DICT, 'd')                                                                 \
	X(EMPTY_DICT, '}')                                                           \
	X(APPENDS, 'e')                                                              \
	X(GET, 'g')                                                                  \
	X(BINGET, 'h')                                                               \
	X(INST, 'i')                                                                 \
	X(LONG_BINGET, 'j')                                                          \
	X(LIST, 'l')                                                                 \
	X(EMPTY_LIST, ']')                                                           \
	X(OBJ, 'o')                                                                  \
	X(PUT, 'p')                                                                  \
	X(BINPUT, 'q')                                                               \
	X(LONG_BINPUT, 'r')                                                          \
	X(SETITEM, 's')                                                              \
	X(TUPLE, 't')                                                                \
	X(EMPTY_TUPLE, ')')                                                          \
	X(SETITEMS, 'u')                                                             \
	X(BINFLOAT, 'G')                                                             \
	X(PROTO, 0x80)                                                               \
	X(NEWOBJ, 0x81)                                                              \
	X(EXT1, 0x82)                                                                \
	X(EXT2, 0x83)                                                                \
	X(EXT4, 0x84)                                                                \
	X(TUPLE1, 0x85)                                                              \
	X(TUPLE2, 0x86)                                                              \
	X(TUPLE3, 0x87)                                                              \
	X(NEWTRUE, 0x88)                                                             \
	X(NEWFALSE, 0x89)                                                            \
	X(LONG1, 0x8a)                                                               \
	X(LONG4, 0x8b)                                                               \
	X(BINBYTES, 'B')                                                             \
	X(SHORT_BINBYTES, 'C')                                                       \
	X(SHORT_BINUNICODE, 0x8c)                                                    \
	X(BINUNICODE8, 0x8d)                                                         \
	X(BINBYTES8, 0x8e)                                                           \
	X(EMPTY_SET, 0x8f)                                                           \
	X(ADDITEMS, 0x90)                                                            \
	X(FROZENSET, 0x91)                                                           \
	X(NEWOBJ_EX, 0x92)                                                           \
	X(STACK_GLOBAL, 0x93)                                                        \
	X(MEMOIZE, 0x94)                                                             \
	X(FRAME, 0x95)                                                               \
	X(BYTEARRAY8, 0x96)                                                          \
	X(NEXT_BUFFER, 0x97)                                                         \
	X(READONLY_BUFFER, 0x98)

enum {
#define PK_OP_ENUM(name, code) OP_##name = (code),
	PK_OPCODES(PK_OP_ENUM)
#undef PK_OP_ENUM
};

static const char *op_name(unsigned op)
{
	switch (op) {
#define PK_OP_NAME(name, code) \
	case (code):           \
		return #name;
		PK_OPCODES(PK_OP_NAME)
#undef PK_OP_NAME
	}
	return NULL;
}

/* ---- state, helpers shared by both directions -------------------------------- */

struct pk_state {
	const struct ec_host *host;
	locale_t c_locale; /* for FLOAT text, whatever the application's locale */
};

static const char *type_name(const ec_value *v)
{
	static const char *const names[] = {"None", "bool",  "int",   "int", "float", "bytes",
	                                    "str",  "list",  "tuple", "dict", "set",  "error"};
	return (unsigned)v->type < sizeof(names) / sizeof(names[0]) ? names[v->type] : "?";
}

static int is_mutable(const ec_value *v)
{
	return v->type == EC_T_LIST || v->type == EC_T_DICT || v->type == EC_T_SET;
}

static int is_container(const ec_value *v)
{
	return is_mutable(v) || v->type == EC_T_TUPLE;
}

/* Length of UTF-8 starting at s that is valid, accepting encoded surrogates
 * (ED A0..BF xx) as Python's 'surrogatepass' writes them. Returns n if all valid. */
static size_t utf8_valid_prefix(const unsigned char *s, size_t n)
{
	size_t i = 0;
	while (i < n) {
		unsigned c = s[i];
		size_t k;
		unsigned lo = 0x80, hi = 0xbf;
		if (c < 0x80) {
			i++;
			continue;
		} else if (c >= 0xc2 && c <= 0xdf) {
			k = 1;
		} else if (c >= 0xe0 && c <= 0xef) {
			k = 2;
			if (c == 0xe0)
				lo = 0xa0;
		} else if (c >= 0xf0 && c <= 0xf4) {
			k = 3;
			if (c == 0xf0)
				lo = 0x90;
			else if (c == 0xf4)
				hi = 0x8f;
		} else {
			return i;
		}
		if (n - i <= k)
			return i;
		if (s[i + 1] < lo || s[i + 1] > hi)
			return i;
		for (size_t j = 2; j <= k; j++)
			if ((s[i + j] & 0xc0) != 0x80)
				return i;
		i += k + 1;
	}
	return n;
}

/* Append code point cp (surrogates included) as UTF-8; returns bytes written. */
static size_t utf8_put(unsigned char *o, uint32_t cp)
{
	if (cp < 0x80) {
		o[0] = (unsigned char)cp;
		return 1;
	} else if (cp < 0x800) {
		o[0] = (unsigned char)(0xc0 | (cp >> 6));
		o[1] = (unsigned char)(0x80 | (cp & 0x3f));
		return 2;
	} else if (cp < 0x10000) {
		o[0] = (unsigned char)(0xe0 | (cp >> 12));
		o[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
		o[2] = (unsigned char)(0x80 | (cp & 0x3f));
		return 3;
	}
	o[0] = (unsigned char)(0xf0 | (cp >> 18));
	o[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3f));
	o[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
	o[3] = (unsigned char)(0x80 | (cp & 0x3f));
	return 4;
}

/* Minimal length of a little-endian two's complement number (drop sign extension). */
static size_t twos_trim(const unsigned char *b, size_t n)
{
	while (n > 1 && ((b[n - 1] == 0x00 && !(b[n - 2] & 0x80)) ||
	                 (b[n - 1] == 0xff && (b[n - 2] & 0x80))))
		n--;
	return n;
}

static void le_put(unsigned char *o, uint64_t x, size_t n)
{
	for (size_t i = 0; i < n; i++)
		o[i] = (unsigned char)(x >> (8 * i));
}

static uint64_t le_get(const unsigned char *b, size_t n)
{
	uint64_t x = 0;
	for (size_t i = 0; i < n; i++)
		x |= (uint64_t)b[i] << (8 * i);
	return x;
}

/* ---- encoder ----------------------------------------------------------------- */

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
static void enc_path(struct enc *e, const char *fmt, ...) EC_PRINTF(2, 3);
static void enc_path(struct enc *e, const char *fmt, ...)
{
	char seg[80];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(seg, sizeof(seg), fmt, ap);
	va_end(ap);
	size_t sl = n < 0 ? 0 : (size_t)n < sizeof(seg) ? (size_t)n : sizeof(seg) - 1;
	size_t pl = strlen(e->path);
	if (sl + pl >= sizeof(e->path))
		return; /* keep the innermost part */
	memmove(e->path + sl, e->path, pl + 1);
	memcpy(e->path, seg, sl);
}

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
	size_t ok = utf8_valid_prefix((const unsigned char *)s, n);
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
		if (v->u.s.len && !v->u.s.data)
			return enc_fail(e, EC_ECODEC, "bytes without data");
		if (v->u.s.len < 0x100) {
			b[0] = OP_SHORT_BINSTRING;
			b[1] = (unsigned char)v->u.s.len;
			if (enc_put(e, b, 2))
				return e->code;
		} else {
			if (v->u.s.len > INT32_MAX)
				return enc_fail(e, EC_ECODEC, "bytes of %zu bytes are too large",
				                v->u.s.len);
			b[0] = OP_BINSTRING;
			le_put(b + 1, v->u.s.len, 4);
			if (enc_put(e, b, 5))
				return e->code;
		}
		return enc_put(e, v->u.s.data, v->u.s.len);
	case EC_T_STR:
		if (v->u.s.len && !v->u.s.data)
			return enc_fail(e, EC_ECODEC, "text without data");
		return enc_text(e, v->u.s.data, v->u.s.len);
	case EC_T_TUPLE: {
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
	case EC_T_ERROR: {
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
	}
	return enc_fail(e, EC_ECODEC, "unknown value type %d", (int)v->type);
}

static int pk_encode(void *state, const struct ec_codec_peer *peer, const ec_value *v,
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

/* ---- decoder: data structures ------------------------------------------------ */

/* The whitelisted globals (0 means "not a global"). */
enum { G_NONE = 0, G_ENCODE, G_BYTES, G_SET, G_FROZENSET, G_BYTEARRAY, G_CALLERROR };

static const struct {
	const char *module, *name;
	int id;
} whitelist[] = {
	{"_codecs", "encode", G_ENCODE},
	{"__builtin__", "bytes", G_BYTES},
	{"builtins", "bytes", G_BYTES},
	{"__builtin__", "set", G_SET},
	{"builtins", "set", G_SET},
	{"__builtin__", "frozenset", G_FROZENSET},
	{"builtins", "frozenset", G_FROZENSET},
	{"__builtin__", "bytearray", G_BYTEARRAY},
	{"builtins", "bytearray", G_BYTEARRAY},
	{"econtext", "CallError", G_CALLERROR},
};

static const char *glob_name(int id)
{
	switch (id) {
	case G_ENCODE:
		return "_codecs.encode";
	case G_BYTES:
		return "bytes";
	case G_SET:
		return "set";
	case G_FROZENSET:
		return "frozenset";
	case G_BYTEARRAY:
		return "bytearray";
	case G_CALLERROR:
		return "econtext.CallError";
	}
	return "?";
}

static int glob_lookup(const unsigned char *mod, size_t mlen, const unsigned char *name,
                       size_t nlen)
{
	for (size_t i = 0; i < sizeof(whitelist) / sizeof(whitelist[0]); i++)
		if (strlen(whitelist[i].module) == mlen && strlen(whitelist[i].name) == nlen &&
		    memcmp(whitelist[i].module, mod, mlen) == 0 &&
		    memcmp(whitelist[i].name, name, nlen) == 0)
			return whitelist[i].id;
	return G_NONE;
}

/* A stack slot: a value (v) or a whitelisted global (glob, v NULL). depth is the
 * nesting of v: 0 for scalars, 1 + the deepest item for containers. */
struct slot {
	ec_value *v;
	int glob;
	int depth;
};

/* A memo entry borrows the value (owned by the stack, a container or the graveyard). */
struct memo_ent {
	const ec_value *v;
	int glob;
};

/* Pointers of containers that were referenced by GET or DUP. */
struct ptrset {
	const void **slots;
	size_t cap, n;
};

struct dec {
	const struct ec_host *h;
	locale_t loc;
	struct ec_error *err;
	const unsigned char *p;
	size_t len, pos;
	size_t off;        /* offset of the opcode being decoded */
	unsigned op;       /* that opcode */
	size_t frame_end;  /* when in_frame */
	int in_frame;
	struct slot *st;   /* the stack */
	size_t sn, scap;
	size_t *marks;     /* stack heights at each MARK */
	size_t nm, mcap;
	struct memo_ent *memo;
	size_t memocap, memocount;
	ec_value **grave;  /* consumed values, freed at the end */
	size_t gn, gcap;
	struct ptrset refs;
	size_t copied;     /* cost of GET/DUP copies so far */
};

static int dvfail(struct dec *d, int code, const char *hint, const char *fmt, va_list ap)
	EC_PRINTF(4, 0);
static int dvfail(struct dec *d, int code, const char *hint, const char *fmt, va_list ap)
{
	char what[400];
	vsnprintf(what, sizeof(what), fmt, ap);
	return d->h->error_set(d->err, code, PK_WHERE, "pickle: %s at offset %zu%s%s%s", what, d->off,
	                       hint ? " (" : "", hint ? hint : "", hint ? ")" : "");
}

static int dfail(struct dec *d, const char *fmt, ...) EC_PRINTF(2, 3);
static int dfail(struct dec *d, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int rc = dvfail(d, EC_ECODEC, NULL, fmt, ap);
	va_end(ap);
	return rc;
}

static int dfail_hint(struct dec *d, const char *fmt, ...) EC_PRINTF(2, 3);
static int dfail_hint(struct dec *d, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int rc = dvfail(d, EC_ECODEC, PK_ALLOWED, fmt, ap);
	va_end(ap);
	return rc;
}

static int doom(struct dec *d)
{
	return d->h->error_set(d->err, EC_ENOMEM, PK_WHERE,
	                       "pickle: out of memory decoding %s at offset %zu",
	                       op_name(d->op) ? op_name(d->op) : "?", d->off);
}

#define OPN (op_name(d->op))

/* Printable rendering of untrusted bytes for messages. */
static void printable(char *o, size_t osize, const unsigned char *s, size_t n)
{
	size_t j = 0, i = 0;
	for (; i < n && j + 4 < osize; i++)
		o[j++] = s[i] >= 0x20 && s[i] < 0x7f ? (char)s[i] : '?';
	if (i < n) {
		memcpy(o + j, "...", 3);
		j += 3;
	}
	o[j] = '\0';
}

static size_t ptr_hash(const void *p)
{
	uint64_t x = (uint64_t)(uintptr_t)p;
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	return (size_t)x;
}

static int ptrset_has(const struct ptrset *s, const void *p)
{
	if (!s->cap)
		return 0;
	for (size_t i = ptr_hash(p) & (s->cap - 1);; i = (i + 1) & (s->cap - 1)) {
		if (s->slots[i] == p)
			return 1;
		if (!s->slots[i])
			return 0;
	}
}

static int ptrset_add(struct ptrset *s, const void *p)
{
	if (ptrset_has(s, p))
		return 0;
	if ((s->n + 1) * 2 > s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 16;
		const void **slots = calloc(cap, sizeof(*slots));
		if (!slots)
			return EC_ENOMEM;
		for (size_t i = 0; i < s->cap; i++) {
			if (!s->slots[i])
				continue;
			size_t j = ptr_hash(s->slots[i]) & (cap - 1);
			while (slots[j])
				j = (j + 1) & (cap - 1);
			slots[j] = s->slots[i];
		}
		free(s->slots);
		s->slots = slots;
		s->cap = cap;
	}
	size_t j = ptr_hash(p) & (s->cap - 1);
	while (s->slots[j])
		j = (j + 1) & (s->cap - 1);
	s->slots[j] = p;
	s->n++;
	return 0;
}

/* ---- decoder: reading -------------------------------------------------------- */

static size_t limit(const struct dec *d)
{
	return d->in_frame ? d->frame_end : d->len;
}

/* n more bytes available in the current frame (or input)? */
static int need(struct dec *d, size_t n)
{
	size_t lim = limit(d);
	if (lim - d->pos >= n)
		return 0;
	if (d->in_frame && d->len - d->pos >= n)
		return dfail(d, "%s runs past the end of its FRAME (needs %zu bytes, %zu left in the frame)",
		             OPN, n, lim - d->pos);
	return dfail(d, "truncated %s (needs %zu bytes, %zu left)", OPN, n, lim - d->pos);
}

static const unsigned char *take(struct dec *d, size_t n)
{
	if (need(d, n))
		return NULL;
	const unsigned char *p = d->p + d->pos;
	d->pos += n;
	return p;
}

/* A text argument ending with '\n' (not included in *n). */
static const unsigned char *take_line(struct dec *d, size_t *n)
{
	const unsigned char *s = d->p + d->pos;
	const unsigned char *nl = memchr(s, '\n', limit(d) - d->pos);
	if (!nl) {
		dfail(d, "truncated %s (no end of line)", OPN);
		return NULL;
	}
	*n = (size_t)(nl - s);
	d->pos += *n + 1;
	return s;
}

/* ---- decoder: stack, memo, graveyard ---------------------------------------- */

static size_t fence(const struct dec *d)
{
	return d->nm ? d->marks[d->nm - 1] : 0;
}

static int grow_stack(struct dec *d)
{
	if (d->sn < d->scap)
		return 0;
	if (d->sn >= PK_MAX_STACK)
		return dfail(d, "stack holds more than %zu items", PK_MAX_STACK);
	size_t cap = d->scap ? d->scap * 2 : 32;
	struct slot *s = realloc(d->st, cap * sizeof(*s));
	if (!s)
		return doom(d);
	d->st = s;
	d->scap = cap;
	return 0;
}

/* Push v (taken, also on failure). */
static int push(struct dec *d, ec_value *v, int depth)
{
	if (!v)
		return doom(d);
	int rc = grow_stack(d);
	if (rc) {
		d->h->value_free(v);
		return rc;
	}
	d->st[d->sn++] = (struct slot){.v = v, .depth = depth};
	return 0;
}

static int push_glob(struct dec *d, int glob)
{
	int rc = grow_stack(d);
	if (!rc)
		d->st[d->sn++] = (struct slot){.glob = glob};
	return rc;
}

static ec_value *new_scalar(struct dec *d, enum ec_type t)
{
	return d->h->value_new(t);
}

/* Keep v alive until the end (the memo may point into it). Takes v. */
static int bury(struct dec *d, ec_value *v)
{
	if (!v)
		return 0;
	if (d->gn == d->gcap) {
		size_t cap = d->gcap ? d->gcap * 2 : 16;
		ec_value **g = realloc(d->grave, cap * sizeof(*g));
		if (!g) {
			d->h->value_free(v);
			return doom(d);
		}
		d->grave = g;
		d->gcap = cap;
	}
	d->grave[d->gn++] = v;
	return 0;
}

/* At least n items above the top MARK? */
static int need_items(struct dec *d, size_t n)
{
	if (d->sn - fence(d) < n)
		return dfail(d, "stack underflow in %s", OPN);
	return 0;
}

static int pop_mark(struct dec *d, size_t *k)
{
	if (!d->nm)
		return dfail(d, "%s without a MARK", OPN);
	*k = d->marks[--d->nm];
	return 0;
}

/* Slots [from, sn) must hold values, not globals. */
static int need_values(struct dec *d, size_t from)
{
	for (size_t i = from; i < d->sn; i++)
		if (!d->st[i].v)
			return dfail_hint(d, "refused global %s used as a value in %s",
			                  glob_name(d->st[i].glob), OPN);
	return 0;
}

/* Add item to a container (taken, also on failure). */
static int add_item(struct dec *d, ec_value *c, ec_value *item)
{
	if (c->type != EC_T_DICT) {
		int rc = d->h->value_append(c, item);
		return rc == 0 ? 0 : rc == EC_ENOMEM ? doom(d) : dfail(d, "cannot add to a value of type %s", type_name(c));
	}
	/* The host table has no dict_set: grow u.seq the way the core does. */
	if (c->u.seq.len == c->u.seq.cap) {
		size_t cap = c->u.seq.cap ? c->u.seq.cap * 2 : 4;
		ec_value **items = realloc(c->u.seq.items, cap * sizeof(*items));
		if (!items) {
			d->h->value_free(item);
			return doom(d);
		}
		c->u.seq.items = items;
		c->u.seq.cap = cap;
	}
	c->u.seq.items[c->u.seq.len++] = item;
	return 0;
}

static int hashable(const ec_value *v)
{
	if (is_mutable(v))
		return 0;
	if (v->type == EC_T_TUPLE)
		for (size_t i = 0; i < v->u.seq.len; i++)
			if (!hashable(v->u.seq.items[i]))
				return 0;
	return 1;
}

/* Move slots [from, sn) into container c (its slot's depth *depth is updated). For a
 * dict every other item is a key; for a set every item is. Checks first, so that on
 * a refusal everything is still on the stack. */
static int move_items(struct dec *d, ec_value *c, int *depth, size_t from)
{
	int dmax = *depth;
	if (need_values(d, from))
		return EC_ECODEC;
	if (c->type == EC_T_DICT && (d->sn - from) % 2)
		return dfail(d, "%s with an odd number of items", OPN);
	for (size_t i = from; i < d->sn; i++) {
		const ec_value *it = d->st[i].v;
		int key = c->type == EC_T_SET || (c->type == EC_T_DICT && (i - from) % 2 == 0);
		if (key && !hashable(it))
			return dfail(d, "unhashable %s used as a %s in %s", type_name(it),
			             c->type == EC_T_SET ? "set item" : "dict key", OPN);
		if (d->st[i].depth + 1 > dmax)
			dmax = d->st[i].depth + 1;
	}
	if (dmax < 1)
		dmax = 1;
	if (dmax > PK_MAX_DEPTH)
		return dfail(d, "containers nested deeper than %d levels in %s", PK_MAX_DEPTH, OPN);
	for (size_t i = from; i < d->sn; i++) {
		ec_value *it = d->st[i].v;
		d->st[i].v = NULL; /* owned by c now (or freed by add_item on failure) */
		int rc = add_item(d, c, it);
		if (rc)
			return rc;
	}
	d->sn = from;
	*depth = dmax;
	return 0;
}

/* Build a new container of type t from slots [from, sn) and push it. */
static int build(struct dec *d, enum ec_type t, size_t from)
{
	ec_value *c = d->h->value_new(t);
	if (!c)
		return doom(d);
	int depth = 1;
	int rc = move_items(d, c, &depth, from);
	if (rc) {
		d->h->value_free(c);
		return rc;
	}
	return push(d, c, depth);
}

/* Refuse to modify a container a GET or DUP already copied. */
static int check_unreferenced(struct dec *d, const ec_value *c)
{
	if (ptrset_has(&d->refs, c))
		return dfail(d, "recursive structure (%s modifies a %s that was already referenced)",
		             OPN, type_name(c));
	return 0;
}

/* Add slots [from, sn) to the container in slot tgt, which must have type t. */
static int extend(struct dec *d, size_t tgt, enum ec_type t, size_t from)
{
	struct slot *s = &d->st[tgt];
	if (!s->v)
		return dfail_hint(d, "refused global %s used as a value in %s", glob_name(s->glob),
		                  OPN);
	if (s->v->type != t)
		return dfail(d, "%s on a value of type %s (needs %s)", OPN, type_name(s->v),
		             t == EC_T_LIST ? "list" : t == EC_T_DICT ? "dict" : "set");
	if (check_unreferenced(d, s->v))
		return EC_ECODEC;
	return move_items(d, s->v, &s->depth, from);
}

static int memo_put(struct dec *d, uint64_t idx)
{
	if (need_items(d, 1))
		return EC_ECODEC;
	if (idx >= PK_MAX_MEMO)
		return dfail(d, "memo index %llu in %s is above the limit of %zu",
		             (unsigned long long)idx, OPN, PK_MAX_MEMO - 1);
	if (idx >= d->memocap) {
		size_t cap = d->memocap ? d->memocap : 64;
		while (cap <= idx)
			cap *= 2;
		if (cap > PK_MAX_MEMO)
			cap = PK_MAX_MEMO;
		struct memo_ent *m = realloc(d->memo, cap * sizeof(*m));
		if (!m)
			return doom(d);
		memset(m + d->memocap, 0, (cap - d->memocap) * sizeof(*m));
		d->memo = m;
		d->memocap = cap;
	}
	struct memo_ent *ent = &d->memo[idx];
	if (!ent->v && !ent->glob)
		d->memocount++;
	ent->v = d->st[d->sn - 1].v;
	ent->glob = d->st[d->sn - 1].glob;
	return 0;
}

/* Deep copy of v, charged to the copy budget. */
static int copy_value(struct dec *d, const ec_value *v, ec_value **out, int *depth)
{
	ec_value *c;
	*depth = 0;
	d->copied += PK_COPY_NODE_COST;
	switch (v->type) {
	case EC_T_BIGINT:
	case EC_T_BYTES:
	case EC_T_STR:
		d->copied += v->u.s.len;
		if (d->copied > PK_MAX_COPY)
			break;
		c = d->h->value_str(v->type, v->u.s.data, v->u.s.len);
		if (!c)
			return doom(d);
		*out = c;
		return 0;
	case EC_T_ERROR: {
		const char *f[3] = {v->u.err.type, v->u.err.message, v->u.err.traceback};
		char *g[3] = {NULL, NULL, NULL};
		for (int i = 0; i < 3; i++)
			d->copied += f[i] ? strlen(f[i]) : 0;
		if (d->copied > PK_MAX_COPY)
			break;
		c = d->h->value_new(EC_T_ERROR);
		if (!c)
			return doom(d);
		for (int i = 0; i < 3; i++)
			g[i] = strdup(f[i] ? f[i] : "");
		c->u.err.type = g[0];
		c->u.err.message = g[1];
		c->u.err.traceback = g[2];
		if (!g[0] || !g[1] || !g[2]) {
			d->h->value_free(c);
			return doom(d);
		}
		*out = c;
		return 0;
	}
	case EC_T_LIST:
	case EC_T_TUPLE:
	case EC_T_DICT:
	case EC_T_SET: {
		if (d->copied > PK_MAX_COPY)
			break;
		c = d->h->value_new(v->type);
		if (!c)
			return doom(d);
		int dmax = 1;
		for (size_t i = 0; i < v->u.seq.len; i++) {
			ec_value *item;
			int dd;
			int rc = copy_value(d, v->u.seq.items[i], &item, &dd);
			if (!rc)
				rc = add_item(d, c, item);
			if (rc) {
				d->h->value_free(c);
				return rc;
			}
			if (dd + 1 > dmax)
				dmax = dd + 1;
		}
		*out = c;
		*depth = dmax;
		return 0;
	}
	default:
		if (d->copied > PK_MAX_COPY)
			break;
		c = d->h->value_new(v->type);
		if (!c)
			return doom(d);
		c->u = v->u;
		*out = c;
		return 0;
	}
	return dfail(d, "memo references (%s) would copy more than %zu MiB", OPN,
	             PK_MAX_COPY >> 20);
}

/* Push a copy of v (for GET and DUP), remembering that a container was referenced. */
static int push_copy(struct dec *d, const ec_value *v)
{
	ec_value *c;
	int depth;
	int rc = copy_value(d, v, &c, &depth);
	if (rc)
		return rc;
	if (is_mutable(v) && ptrset_add(&d->refs, v)) {
		d->h->value_free(c);
		return doom(d);
	}
	return push(d, c, depth);
}

static int memo_get(struct dec *d, uint64_t idx)
{
	if (idx >= d->memocap || (!d->memo[idx].v && !d->memo[idx].glob))
		return dfail(d, "%s of unset memo index %llu", OPN, (unsigned long long)idx);
	if (!d->memo[idx].v)
		return push_glob(d, d->memo[idx].glob);
	return push_copy(d, d->memo[idx].v);
}

/* ---- decoder: scalars -------------------------------------------------------- */

/* Little-endian two's complement -> INT, or BIGINT beyond int64. */
static int push_long_bytes(struct dec *d, const unsigned char *b, size_t n)
{
	ec_value *v;
	if (n == 0) {
		v = new_scalar(d, EC_T_INT);
		if (v)
			v->u.i = 0;
		return push(d, v, 0);
	}
	int neg = (b[n - 1] & 0x80) != 0;
	size_t m = twos_trim(b, n);
	if (m <= 8) {
		uint64_t u = le_get(b, m);
		if (neg && m < 8)
			u |= ~(uint64_t)0 << (8 * m);
		v = new_scalar(d, EC_T_INT);
		if (v)
			v->u.i = (int64_t)u;
		return push(d, v, 0);
	}
	unsigned char *mag = malloc(m);
	if (!mag)
		return doom(d);
	memcpy(mag, b, m);
	if (neg) { /* magnitude = two's complement negation */
		unsigned carry = 1;
		for (size_t i = 0; i < m; i++) {
			unsigned x = (unsigned)(unsigned char)~mag[i] + carry;
			mag[i] = (unsigned char)x;
			carry = x >> 8;
		}
	}
	BIGNUM *bn = BN_lebin2bn(mag, (int)m, NULL);
	free(mag);
	if (!bn)
		return doom(d);
	if (neg)
		BN_set_negative(bn, 1);
	char *s = BN_bn2dec(bn);
	BN_free(bn);
	if (!s)
		return doom(d);
	v = d->h->value_str(EC_T_BIGINT, s, strlen(s));
	OPENSSL_free(s);
	return push(d, v, 0);
}

/* Decimal text (INT, LONG): optional sign, digits without leading zeros. */
static int push_decimal(struct dec *d, const unsigned char *s, size_t n)
{
	size_t i = 0;
	int neg = 0;
	char shown[48];
	if (n && (s[0] == '-' || s[0] == '+')) {
		neg = s[0] == '-';
		i = 1;
	}
	const unsigned char *dg = s + i;
	size_t nd = n - i;
	int ok = nd > 0 && !(nd > 1 && dg[0] == '0');
	for (size_t k = 0; ok && k < nd; k++)
		ok = dg[k] >= '0' && dg[k] <= '9';
	if (!ok) {
		printable(shown, sizeof(shown), s, n);
		return dfail(d, "malformed integer '%s' in %s", shown, OPN);
	}
	if (nd > PK_MAX_DIGITS)
		return dfail(d, "integer of %zu digits in %s is too large (limit %zu)", nd, OPN,
		             PK_MAX_DIGITS);
	if (nd <= 19) {
		uint64_t mag = 0;
		for (size_t k = 0; k < nd; k++)
			mag = mag * 10 + (uint64_t)(dg[k] - '0');
		if (mag <= (uint64_t)INT64_MAX || (neg && mag == (uint64_t)INT64_MAX + 1)) {
			ec_value *v = new_scalar(d, EC_T_INT);
			if (v)
				v->u.i = neg ? (int64_t)(0 - mag) : (int64_t)mag;
			return push(d, v, 0);
		}
	}
	char *t = malloc(nd + 2);
	if (!t)
		return doom(d);
	size_t tl = 0;
	if (neg)
		t[tl++] = '-';
	memcpy(t + tl, dg, nd);
	tl += nd;
	ec_value *v = d->h->value_str(EC_T_BIGINT, t, tl);
	free(t);
	return push(d, v, 0);
}

static int float_text_ok(const unsigned char *s, size_t n)
{
	size_t i = 0;
	if (i < n && (s[i] == '+' || s[i] == '-'))
		i++;
	const char *r = (const char *)s + i;
	size_t rn = n - i;
	if ((rn == 3 && (strncasecmp(r, "inf", 3) == 0 || strncasecmp(r, "nan", 3) == 0)) ||
	    (rn == 8 && strncasecmp(r, "infinity", 8) == 0))
		return 1;
	size_t digits = 0;
	while (i < n && s[i] >= '0' && s[i] <= '9')
		i++, digits++;
	if (i < n && s[i] == '.') {
		i++;
		while (i < n && s[i] >= '0' && s[i] <= '9')
			i++, digits++;
	}
	if (!digits)
		return 0;
	if (i < n && (s[i] == 'e' || s[i] == 'E')) {
		i++;
		if (i < n && (s[i] == '+' || s[i] == '-'))
			i++;
		size_t ed = 0;
		while (i < n && s[i] >= '0' && s[i] <= '9')
			i++, ed++;
		if (!ed)
			return 0;
	}
	return i == n;
}

static int push_float_text(struct dec *d, const unsigned char *s, size_t n)
{
	char buf[PK_MAX_FLOAT_TEXT + 1];
	if (n > PK_MAX_FLOAT_TEXT || !float_text_ok(s, n)) {
		printable(buf, sizeof(buf), s, n);
		return dfail(d, "malformed float '%s' in FLOAT", buf);
	}
	memcpy(buf, s, n);
	buf[n] = '\0';
	ec_value *v = new_scalar(d, EC_T_FLOAT);
	if (v)
		v->u.f = strtod_l(buf, NULL, d->loc);
	return push(d, v, 0);
}

static int push_text(struct dec *d, enum ec_type t, const unsigned char *s, size_t n)
{
	if (t == EC_T_STR) {
		size_t ok = utf8_valid_prefix(s, n);
		if (ok != n)
			return dfail(d, "invalid UTF-8 in %s (byte %zu of the text)", OPN, ok);
	}
	return push(d, d->h->value_str(t, s, n), 0);
}

static int hexval(unsigned c)
{
	if (c >= '0' && c <= '9')
		return (int)(c - '0');
	if (c >= 'a' && c <= 'f')
		return (int)(c - 'a' + 10);
	if (c >= 'A' && c <= 'F')
		return (int)(c - 'A' + 10);
	return -1;
}

/* STRING: a quoted repr, decoded as Python's codecs.escape_decode does. */
static int push_string_repr(struct dec *d, const unsigned char *s, size_t n)
{
	if (n < 2 || s[0] != s[n - 1] || (s[0] != '\'' && s[0] != '"'))
		return dfail(d, "the STRING argument must be quoted");
	s++;
	n -= 2;
	unsigned char *o = malloc(n + 1);
	if (!o)
		return doom(d);
	size_t j = 0;
	for (size_t i = 0; i < n;) {
		unsigned c = s[i++];
		if (c != '\\') {
			o[j++] = (unsigned char)c;
			continue;
		}
		if (i == n) {
			free(o);
			return dfail(d, "trailing \\ in STRING");
		}
		c = s[i++];
		switch (c) {
		case '\n':
			break;
		case '\\':
		case '\'':
		case '"':
			o[j++] = (unsigned char)c;
			break;
		case 'a': o[j++] = '\a'; break;
		case 'b': o[j++] = '\b'; break;
		case 'f': o[j++] = '\f'; break;
		case 'n': o[j++] = '\n'; break;
		case 'r': o[j++] = '\r'; break;
		case 't': o[j++] = '\t'; break;
		case 'v': o[j++] = '\v'; break;
		case '0': case '1': case '2': case '3': case '4': case '5': case '6': case '7': {
			unsigned x = c - '0';
			for (int k = 0; k < 2 && i < n && s[i] >= '0' && s[i] <= '7'; k++)
				x = x * 8 + (unsigned)(s[i++] - '0');
			o[j++] = (unsigned char)x;
			break;
		}
		case 'x':
			if (n - i < 2 || hexval(s[i]) < 0 || hexval(s[i + 1]) < 0) {
				free(o);
				return dfail(d, "invalid \\x escape in STRING");
			}
			o[j++] = (unsigned char)(hexval(s[i]) * 16 + hexval(s[i + 1]));
			i += 2;
			break;
		default: /* unknown escapes stay as they are */
			o[j++] = '\\';
			i--;
			break;
		}
	}
	ec_value *v = d->h->value_str(EC_T_BYTES, o, j);
	free(o);
	return push(d, v, 0);
}

/* UNICODE: raw-unicode-escape (latin-1 bytes, \uXXXX and \UXXXXXXXX) -> UTF-8. */
static int push_raw_unicode(struct dec *d, const unsigned char *s, size_t n)
{
	if (n > (SIZE_MAX - 1) / 2)
		return doom(d);
	unsigned char *o = malloc(2 * n + 1);
	if (!o)
		return doom(d);
	size_t j = 0;
	for (size_t i = 0; i < n;) {
		unsigned c = s[i++];
		if (c != '\\' || i == n || (s[i] != 'u' && s[i] != 'U')) {
			j += utf8_put(o + j, c);
			if (c == '\\' && i < n) /* a backslash pair is kept as is */
				j += utf8_put(o + j, s[i++]);
			continue;
		}
		size_t count = s[i++] == 'u' ? 4 : 8;
		uint32_t cp = 0;
		for (size_t k = 0; k < count; k++) {
			int h = i < n ? hexval(s[i]) : -1;
			if (h < 0) {
				free(o);
				return dfail(d, "truncated \\%c escape in UNICODE", count == 4 ? 'u' : 'U');
			}
			cp = cp * 16 + (uint32_t)h;
			i++;
		}
		if (cp > 0x10ffff) {
			free(o);
			return dfail(d, "\\U escape out of range in UNICODE");
		}
		j += utf8_put(o + j, cp);
	}
	ec_value *v = d->h->value_str(EC_T_STR, o, j);
	free(o);
	return push(d, v, 0);
}

/* Declared length of a counted string, checked against what is left. */
static int take_counted(struct dec *d, size_t lenbytes, int is_signed, const unsigned char **out,
                        size_t *n)
{
	const unsigned char *b = take(d, lenbytes);
	if (!b)
		return EC_ECODEC;
	uint64_t x = le_get(b, lenbytes);
	if (is_signed && lenbytes == 4 && (x & 0x80000000u))
		return dfail(d, "negative length %lld in %s", (long long)(int32_t)(uint32_t)x, OPN);
	if (x > d->len - d->pos)
		return dfail(d, "%s declares %llu bytes but only %zu are left", OPN,
		             (unsigned long long)x, d->len - d->pos);
	*n = (size_t)x;
	*out = take(d, *n); /* refuses a string that runs past the end of its frame */
	return *out ? 0 : EC_ECODEC;
}

/* ---- decoder: REDUCE of the whitelisted globals ------------------------------ */

static int is_latin1_name(const ec_value *v)
{
	if (v->type != EC_T_STR && v->type != EC_T_BYTES)
		return 0;
	return (v->u.s.len == 6 && memcmp(v->u.s.data, "latin1", 6) == 0) ||
	       (v->u.s.len == 7 && memcmp(v->u.s.data, "latin-1", 7) == 0);
}

/* Text -> its latin-1 encoding as BYTES; refuses code points above U+00FF. */
static int latin1_bytes(struct dec *d, const ec_value *text, ec_value **out, const char *who)
{
	const unsigned char *s = (const unsigned char *)text->u.s.data;
	size_t n = text->u.s.len;
	unsigned char *o = malloc(n + 1);
	if (!o)
		return doom(d);
	size_t j = 0;
	for (size_t i = 0; i < n;) {
		if (s[i] < 0x80) {
			o[j++] = s[i++];
		} else if ((s[i] == 0xc2 || s[i] == 0xc3) && i + 1 < n) {
			o[j++] = (unsigned char)(((s[i] & 0x03) << 6) | (s[i + 1] & 0x3f));
			i += 2;
		} else {
			free(o);
			return dfail(d, "%s: text with a code point above U+00FF cannot be latin-1",
			             who);
		}
	}
	*out = d->h->value_str(EC_T_BYTES, o, j);
	free(o);
	return *out ? 0 : doom(d);
}

/* Copy of a CallError field, NUL bytes replaced by U+FFFD (the fields are C strings). */
static char *dup_field(const ec_value *v)
{
	size_t nul = 0;
	for (size_t i = 0; i < v->u.s.len; i++)
		nul += v->u.s.data[i] == '\0';
	char *o = malloc(v->u.s.len + 2 * nul + 1);
	if (!o)
		return NULL;
	size_t j = 0;
	for (size_t i = 0; i < v->u.s.len; i++) {
		if (v->u.s.data[i])
			o[j++] = v->u.s.data[i];
		else
			memcpy(o + j, "\xef\xbf\xbd", 3), j += 3;
	}
	o[j] = '\0';
	return o;
}

static int reduce(struct dec *d)
{
	if (need_items(d, 2))
		return EC_ECODEC;
	struct slot *fs = &d->st[d->sn - 2], *as = &d->st[d->sn - 1];
	if (fs->v)
		return dfail_hint(d, "refused REDUCE of a non-global (%s)", type_name(fs->v));
	if (!as->v)
		return dfail_hint(d, "refused REDUCE with the global %s as arguments",
		                  glob_name(as->glob));
	const ec_value *args = as->v;
	const char *g = glob_name(fs->glob);
	if (args->type != EC_T_TUPLE)
		return dfail(d, "REDUCE of %s with arguments of type %s, not a tuple", g,
		             type_name(args));
	size_t n = args->u.seq.len;
	ec_value *const *a = args->u.seq.items;
	ec_value *res = NULL;
	int depth = 0, rc = 0;
	const char *expect = NULL;
	switch (fs->glob) {
	case G_ENCODE:
		if (n == 2 && a[0]->type == EC_T_STR && is_latin1_name(a[1]))
			rc = latin1_bytes(d, a[0], &res, g);
		else
			expect = "(str, 'latin1')";
		break;
	case G_BYTES:
		if (n == 0)
			rc = (res = d->h->value_str(EC_T_BYTES, "", 0)) ? 0 : doom(d);
		else
			expect = "()";
		break;
	case G_BYTEARRAY:
		if (n == 0)
			rc = (res = d->h->value_str(EC_T_BYTES, "", 0)) ? 0 : doom(d);
		else if (n == 1 && a[0]->type == EC_T_BYTES)
			rc = (res = d->h->value_str(EC_T_BYTES, a[0]->u.s.data, a[0]->u.s.len)) ? 0
			                                                                       : doom(d);
		else if (n == 2 && a[0]->type == EC_T_STR && is_latin1_name(a[1]))
			rc = latin1_bytes(d, a[0], &res, g);
		else
			expect = "(), (bytes,) or (str, 'latin-1')";
		break;
	case G_SET:
	case G_FROZENSET:
		if (n == 0) {
			rc = (res = d->h->value_new(EC_T_SET)) ? 0 : doom(d);
			depth = 1;
		} else if (n == 1 && a[0]->type == EC_T_LIST) {
			const ec_value *l = a[0];
			for (size_t i = 0; i < l->u.seq.len; i++)
				if (!hashable(l->u.seq.items[i]))
					return dfail(d, "unhashable %s used as a set item in REDUCE of %s",
					             type_name(l->u.seq.items[i]), g);
			/* A copy: the list may be memoized. Not charged: REDUCE consumes it. */
			size_t saved = d->copied;
			d->copied = 0;
			rc = copy_value(d, l, &res, &depth);
			d->copied = saved;
			if (!rc)
				res->type = EC_T_SET;
		} else {
			expect = "() or (list,)";
		}
		break;
	case G_CALLERROR: {
		if (n != 3 || a[0]->type != EC_T_STR || a[1]->type != EC_T_STR ||
		    a[2]->type != EC_T_STR) {
			expect = "(str, str, str)";
			break;
		}
		for (int i = 0; i < 3; i++)
			if (a[i]->u.s.len > PK_MAX_ERRTEXT)
				return dfail(d, "econtext.CallError text of %zu bytes is too large (limit %zu)",
				             a[i]->u.s.len, PK_MAX_ERRTEXT);
		res = d->h->value_new(EC_T_ERROR);
		if (!res)
			return doom(d);
		res->u.err.type = dup_field(a[0]);
		res->u.err.message = dup_field(a[1]);
		res->u.err.traceback = dup_field(a[2]);
		if (!res->u.err.type || !res->u.err.message || !res->u.err.traceback) {
			d->h->value_free(res);
			return doom(d);
		}
		break;
	}
	default:
		return dfail(d, "REDUCE of an unknown global");
	}
	if (expect)
		return dfail(d, "REDUCE of %s with unexpected arguments (expects %s)", g, expect);
	if (rc)
		return rc;
	/* Pop callable and arguments; the arguments may be memoized: keep them. */
	ec_value *old = as->v;
	as->v = NULL;
	d->sn -= 2;
	rc = bury(d, old);
	if (rc) {
		d->h->value_free(res);
		return rc;
	}
	return push(d, res, depth);
}

/* ---- decoder: duplicate dict keys and set items ------------------------------- */

/* Python never writes a dict or set with two equal keys; a stream that does is forged,
 * and its readers would disagree on which value wins. Checked once over the result.
 * Equality is by type and content (1, 1.0 and True are different keys here); floats
 * compare with == as in Python (0.0 equals -0.0, NaN equals nothing); errors only
 * equal themselves, as Python exceptions do. */
static uint64_t key_hash(const ec_value *v)
{
	uint64_t h = 1469598103934665603ULL ^ (uint64_t)v->type;
	switch (v->type) {
	case EC_T_BOOL:
		h ^= (uint64_t)v->u.b;
		break;
	case EC_T_INT:
		h ^= (uint64_t)v->u.i;
		break;
	case EC_T_FLOAT:
		if (v->u.f != 0) {
			uint64_t u;
			memcpy(&u, &v->u.f, 8);
			h ^= u;
		}
		break;
	case EC_T_BIGINT:
	case EC_T_BYTES:
	case EC_T_STR:
		for (size_t i = 0; i < v->u.s.len; i++)
			h = (h ^ (unsigned char)v->u.s.data[i]) * 1099511628211ULL;
		break;
	case EC_T_ERROR:
		h ^= (uint64_t)(uintptr_t)v;
		break;
	default: /* tuples: combine the items */
		for (size_t i = 0; i < v->u.seq.len; i++)
			h = (h ^ key_hash(v->u.seq.items[i])) * 1099511628211ULL;
		break;
	}
	h ^= h >> 29;
	h *= 0xbf58476d1ce4e5b9ULL;
	return h ^ (h >> 32);
}

static int key_equal(const ec_value *a, const ec_value *b)
{
	if (a->type != b->type)
		return 0;
	switch (a->type) {
	case EC_T_NONE:
		return 1;
	case EC_T_BOOL:
		return a->u.b == b->u.b;
	case EC_T_INT:
		return a->u.i == b->u.i;
	case EC_T_FLOAT:
		return a->u.f == b->u.f;
	case EC_T_BIGINT:
	case EC_T_BYTES:
	case EC_T_STR:
		return a->u.s.len == b->u.s.len && memcmp(a->u.s.data, b->u.s.data, a->u.s.len) == 0;
	case EC_T_TUPLE:
		if (a->u.seq.len != b->u.seq.len)
			return 0;
		for (size_t i = 0; i < a->u.seq.len; i++)
			if (!key_equal(a->u.seq.items[i], b->u.seq.items[i]))
				return 0;
		return 1;
	default:
		return a == b;
	}
}

static int check_unique(struct dec *d, const ec_value *v)
{
	if (!is_container(v))
		return 0;
	for (size_t i = 0; i < v->u.seq.len; i++)
		if (check_unique(d, v->u.seq.items[i]))
			return EC_ECODEC;
	if (v->type != EC_T_DICT && v->type != EC_T_SET)
		return 0;
	size_t step = v->type == EC_T_DICT ? 2 : 1, n = v->u.seq.len / step;
	const ec_value *dup = NULL;
	if (n < 2)
		return 0;
	if (n <= 8) {
		for (size_t i = 0; i < n && !dup; i++)
			for (size_t j = i + 1; j < n && !dup; j++)
				if (key_equal(v->u.seq.items[i * step], v->u.seq.items[j * step]))
					dup = v->u.seq.items[j * step];
	} else {
		size_t cap = 16;
		while (cap < 2 * n)
			cap *= 2;
		size_t *tab = calloc(cap, sizeof(*tab)); /* index + 1 of a key, 0 when free */
		if (!tab)
			return doom(d);
		for (size_t i = 0; i < n && !dup; i++) {
			const ec_value *k = v->u.seq.items[i * step];
			size_t j = (size_t)key_hash(k) & (cap - 1);
			for (; tab[j]; j = (j + 1) & (cap - 1)) {
				if (key_equal(v->u.seq.items[(tab[j] - 1) * step], k)) {
					dup = k;
					break;
				}
			}
			tab[j] = i + 1;
		}
		free(tab);
	}
	if (dup)
		return dfail(d, "%s with a duplicate %s %s in the pickle ending", type_name(v),
		             type_name(dup), v->type == EC_T_DICT ? "key" : "item");
	return 0;
}

/* ---- decoder: the loop ------------------------------------------------------- */

static int global_refused(struct dec *d, const unsigned char *mod, size_t ml,
                          const unsigned char *name, size_t nl)
{
	char m[72], n[72];
	printable(m, sizeof(m), mod, ml);
	printable(n, sizeof(n), name, nl);
	return dfail_hint(d, "refused global %s.%s", m, n);
}

/* PUT/GET argument: a decimal memo index. */
static int text_index(struct dec *d, const unsigned char *b, size_t n, uint64_t *idx)
{
	int ok = n > 0 && n <= 10;
	*idx = 0;
	for (size_t i = 0; ok && i < n; i++) {
		ok = b[i] >= '0' && b[i] <= '9';
		*idx = *idx * 10 + (uint64_t)(b[i] - '0');
	}
	return ok ? 0 : dfail(d, "malformed memo index in %s", OPN);
}

static int dec_op(struct dec *d)
{
	const unsigned char *b;
	size_t n, k = 0;
	ec_value *v;

	switch (d->op) {
	case OP_PROTO:
		if (!(b = take(d, 1)))
			return EC_ECODEC;
		if (b[0] > 5)
			return dfail(d, "unsupported pickle protocol %u", b[0]);
		return 0;
	case OP_FRAME: {
		if (!(b = take(d, 8)))
			return EC_ECODEC;
		uint64_t size = le_get(b, 8);
		if (size > d->len - d->pos)
			return dfail(d, "FRAME of %llu bytes but only %zu are left",
			             (unsigned long long)size, d->len - d->pos);
		if (size) {
			d->in_frame = 1;
			d->frame_end = d->pos + (size_t)size;
		}
		return 0;
	}
	case OP_NONE:
		return push(d, new_scalar(d, EC_T_NONE), 0);
	case OP_NEWTRUE:
	case OP_NEWFALSE:
		if ((v = new_scalar(d, EC_T_BOOL)))
			v->u.b = d->op == OP_NEWTRUE;
		return push(d, v, 0);
	case OP_INT:
		if (!(b = take_line(d, &n)))
			return EC_ECODEC;
		if (n == 2 && b[0] == '0' && (b[1] == '0' || b[1] == '1')) {
			if ((v = new_scalar(d, EC_T_BOOL)))
				v->u.b = b[1] == '1';
			return push(d, v, 0);
		}
		return push_decimal(d, b, n);
	case OP_LONG:
		if (!(b = take_line(d, &n)))
			return EC_ECODEC;
		if (n && b[n - 1] == 'L')
			n--;
		return push_decimal(d, b, n);
	case OP_BININT:
		if (!(b = take(d, 4)))
			return EC_ECODEC;
		if ((v = new_scalar(d, EC_T_INT)))
			v->u.i = (int32_t)(uint32_t)le_get(b, 4);
		return push(d, v, 0);
	case OP_BININT1:
	case OP_BININT2:
		n = d->op == OP_BININT1 ? 1 : 2;
		if (!(b = take(d, n)))
			return EC_ECODEC;
		if ((v = new_scalar(d, EC_T_INT)))
			v->u.i = (int64_t)le_get(b, n);
		return push(d, v, 0);
	case OP_LONG1:
		if (!(b = take(d, 1)))
			return EC_ECODEC;
		n = b[0];
		if (!(b = take(d, n)))
			return EC_ECODEC;
		return push_long_bytes(d, b, n);
	case OP_LONG4:
		if (take_counted(d, 4, 1, &b, &n))
			return EC_ECODEC;
		if (n > PK_MAX_LONG_BYTES)
			return dfail(d, "LONG4 of %zu bytes is too large (limit %zu)", n,
			             PK_MAX_LONG_BYTES);
		return push_long_bytes(d, b, n);
	case OP_FLOAT:
		if (!(b = take_line(d, &n)))
			return EC_ECODEC;
		return push_float_text(d, b, n);
	case OP_BINFLOAT: {
		if (!(b = take(d, 8)))
			return EC_ECODEC;
		uint64_t u = 0;
		for (int i = 0; i < 8; i++)
			u = u << 8 | b[i];
		if ((v = new_scalar(d, EC_T_FLOAT)))
			memcpy(&v->u.f, &u, 8);
		return push(d, v, 0);
	}
	case OP_STRING:
		if (!(b = take_line(d, &n)))
			return EC_ECODEC;
		return push_string_repr(d, b, n);
	case OP_UNICODE:
		if (!(b = take_line(d, &n)))
			return EC_ECODEC;
		return push_raw_unicode(d, b, n);
	case OP_SHORT_BINSTRING:
	case OP_SHORT_BINBYTES:
		return take_counted(d, 1, 0, &b, &n) ? EC_ECODEC : push_text(d, EC_T_BYTES, b, n);
	case OP_BINSTRING:
		return take_counted(d, 4, 1, &b, &n) ? EC_ECODEC : push_text(d, EC_T_BYTES, b, n);
	case OP_BINBYTES:
		return take_counted(d, 4, 0, &b, &n) ? EC_ECODEC : push_text(d, EC_T_BYTES, b, n);
	case OP_BINBYTES8:
	case OP_BYTEARRAY8:
		return take_counted(d, 8, 0, &b, &n) ? EC_ECODEC : push_text(d, EC_T_BYTES, b, n);
	case OP_SHORT_BINUNICODE:
		return take_counted(d, 1, 0, &b, &n) ? EC_ECODEC : push_text(d, EC_T_STR, b, n);
	case OP_BINUNICODE:
		return take_counted(d, 4, 0, &b, &n) ? EC_ECODEC : push_text(d, EC_T_STR, b, n);
	case OP_BINUNICODE8:
		return take_counted(d, 8, 0, &b, &n) ? EC_ECODEC : push_text(d, EC_T_STR, b, n);

	case OP_MARK:
		if (d->nm >= PK_MAX_MARKS)
			return dfail(d, "more than %d nested MARKs", PK_MAX_MARKS);
		if (d->nm == d->mcap) {
			size_t cap = d->mcap ? d->mcap * 2 : 16;
			size_t *m = realloc(d->marks, cap * sizeof(*m));
			if (!m)
				return doom(d);
			d->marks = m;
			d->mcap = cap;
		}
		d->marks[d->nm++] = d->sn;
		return 0;
	case OP_EMPTY_TUPLE:
	case OP_EMPTY_LIST:
	case OP_EMPTY_DICT:
	case OP_EMPTY_SET:
		return push(d,
		            d->h->value_new(d->op == OP_EMPTY_TUPLE  ? EC_T_TUPLE
		                            : d->op == OP_EMPTY_LIST ? EC_T_LIST
		                            : d->op == OP_EMPTY_DICT ? EC_T_DICT
		                                                     : EC_T_SET),
		            1);
	case OP_TUPLE:
	case OP_LIST:
	case OP_DICT:
	case OP_FROZENSET:
		if (pop_mark(d, &k))
			return EC_ECODEC;
		return build(d,
		             d->op == OP_TUPLE  ? EC_T_TUPLE
		             : d->op == OP_LIST ? EC_T_LIST
		             : d->op == OP_DICT ? EC_T_DICT
		                                : EC_T_SET,
		             k);
	case OP_TUPLE1:
	case OP_TUPLE2:
	case OP_TUPLE3:
		n = (size_t)(d->op - OP_TUPLE1 + 1);
		if (need_items(d, n))
			return EC_ECODEC;
		return build(d, EC_T_TUPLE, d->sn - n);
	case OP_APPEND:
		if (need_items(d, 2))
			return EC_ECODEC;
		return extend(d, d->sn - 2, EC_T_LIST, d->sn - 1);
	case OP_SETITEM:
		if (need_items(d, 3))
			return EC_ECODEC;
		return extend(d, d->sn - 3, EC_T_DICT, d->sn - 2);
	case OP_APPENDS:
	case OP_SETITEMS:
	case OP_ADDITEMS:
		if (pop_mark(d, &k))
			return EC_ECODEC;
		if (k == 0 || k - 1 < fence(d))
			return dfail(d, "stack underflow in %s", OPN);
		return extend(d, k - 1,
		              d->op == OP_APPENDS ? EC_T_LIST : d->op == OP_SETITEMS ? EC_T_DICT : EC_T_SET,
		              k);

	case OP_PUT:
	case OP_GET: {
		uint64_t idx;
		if (!(b = take_line(d, &n)) || text_index(d, b, n, &idx))
			return EC_ECODEC;
		return d->op == OP_PUT ? memo_put(d, idx) : memo_get(d, idx);
	}
	case OP_BINPUT:
	case OP_BINGET:
		if (!(b = take(d, 1)))
			return EC_ECODEC;
		return d->op == OP_BINPUT ? memo_put(d, b[0]) : memo_get(d, b[0]);
	case OP_LONG_BINPUT:
	case OP_LONG_BINGET:
		if (!(b = take(d, 4)))
			return EC_ECODEC;
		return d->op == OP_LONG_BINPUT ? memo_put(d, le_get(b, 4)) : memo_get(d, le_get(b, 4));
	case OP_MEMOIZE:
		return memo_put(d, d->memocount);

	case OP_POP:
		if (d->sn > fence(d)) {
			v = d->st[--d->sn].v;
			return bury(d, v);
		}
		if (d->nm) { /* as CPython: POP with nothing above a MARK drops the MARK */
			d->nm--;
			return 0;
		}
		return dfail(d, "stack underflow in POP");
	case OP_POP_MARK: {
		if (pop_mark(d, &k))
			return EC_ECODEC;
		int rc = 0;
		while (d->sn > k) {
			v = d->st[--d->sn].v;
			if (bury(d, v))
				rc = EC_ENOMEM;
		}
		return rc;
	}
	case OP_DUP:
		if (need_items(d, 1))
			return EC_ECODEC;
		if (!d->st[d->sn - 1].v)
			return push_glob(d, d->st[d->sn - 1].glob);
		return push_copy(d, d->st[d->sn - 1].v);

	case OP_GLOBAL: {
		const unsigned char *mod, *name;
		size_t ml, nl;
		if (!(mod = take_line(d, &ml)) || !(name = take_line(d, &nl)))
			return EC_ECODEC;
		int g = glob_lookup(mod, ml, name, nl);
		if (!g)
			return global_refused(d, mod, ml, name, nl);
		return push_glob(d, g);
	}
	case OP_STACK_GLOBAL: {
		if (need_items(d, 2))
			return EC_ECODEC;
		ec_value *mod = d->st[d->sn - 2].v, *name = d->st[d->sn - 1].v;
		if (!mod || !name || mod->type != EC_T_STR || name->type != EC_T_STR)
			return dfail(d, "STACK_GLOBAL needs two str on the stack");
		int g = glob_lookup((const unsigned char *)mod->u.s.data, mod->u.s.len,
		                    (const unsigned char *)name->u.s.data, name->u.s.len);
		if (!g)
			return global_refused(d, (const unsigned char *)mod->u.s.data, mod->u.s.len,
			                      (const unsigned char *)name->u.s.data, name->u.s.len);
		d->sn -= 2;
		int rc = bury(d, mod);
		if (bury(d, name))
			rc = EC_ENOMEM;
		return rc ? rc : push_glob(d, g);
	}
	case OP_REDUCE:
		return reduce(d);
	}
	if (OPN)
		return dfail_hint(d, "refused opcode %s", OPN);
	return dfail(d, "unknown opcode 0x%02x", d->op);
}

static int dec_run(struct dec *d, ec_value **out)
{
	for (;;) {
		if (d->in_frame && d->pos == d->frame_end)
			d->in_frame = 0;
		d->off = d->pos;
		if (d->pos >= d->len) {
			d->op = OP_STOP;
			return dfail(d, "missing STOP (the pickle ends)");
		}
		d->op = d->p[d->pos++];
		if (d->op == OP_FRAME && d->in_frame)
			return dfail(d, "FRAME inside an unfinished frame");
		if (d->op != OP_STOP) {
			int rc = dec_op(d);
			if (rc)
				return rc;
			continue;
		}
		if (d->nm)
			return dfail(d, "STOP with %zu unclosed MARK%s", d->nm, d->nm > 1 ? "s" : "");
		if (d->sn != 1)
			return dfail(d, "STOP with %zu values on the stack (needs exactly one)", d->sn);
		if (!d->st[0].v)
			return dfail_hint(d, "refused global %s as the result", glob_name(d->st[0].glob));
		if (d->pos != d->len) {
			d->off = d->pos;
			return dfail(d, "%zu trailing bytes after STOP", d->len - d->pos);
		}
		d->off = d->pos - 1;
		if (check_unique(d, d->st[0].v))
			return EC_ECODEC;
		*out = d->st[0].v;
		d->st[0].v = NULL;
		d->sn = 0;
		return 0;
	}
}

static void dec_free(struct dec *d)
{
	for (size_t i = 0; i < d->sn; i++)
		d->h->value_free(d->st[i].v);
	for (size_t i = 0; i < d->gn; i++)
		d->h->value_free(d->grave[i]);
	free(d->st);
	free(d->marks);
	free(d->memo);
	free(d->grave);
	free(d->refs.slots);
}

static int pk_decode(void *state, const void *data, size_t len, ec_value **out,
                     struct ec_error *err)
{
	const struct pk_state *st = state;
	if (!st)
		return EC_EINVAL;
	if (!out || (!data && len))
		return st->host->error_set(err, EC_EINVAL, PK_WHERE, "pickle: no input or output");
	struct dec d = {
		.h = st->host,
		.loc = st->c_locale,
		.err = err,
		.p = data ? data : (const void *)"",
		.len = len,
	};
	ec_value *v = NULL;
	int rc = dec_run(&d, &v);
	dec_free(&d);
	if (rc == 0)
		*out = v;
	return rc;
}

/* The shape of a large bytes result on the wire (the remote core's _bytes_parts, and
 * Python 2's dumps of a str): PROTO 3, BINBYTES, or PROTO 2, BINSTRING; a 4-byte
 * length; the bytes; BINPUT 0; STOP, and nothing else. From PK_TAKE_MIN bytes on, such
 * a payload becomes a bytes value in buf's own memory; anything else is decoded. */
#define PK_TAKE_MIN 65536
#define PK_TAKE_HEAD 7 /* PROTO n, opcode, 4-byte length */
#define PK_TAKE_TAIL 3 /* BINPUT 0 STOP */

static int pk_decode_buf(void *state, struct ec_buf *buf, size_t off, size_t len,
                         ec_value **out, struct ec_error *err)
{
	const struct pk_state *st = state;
	const unsigned char *p = buf && buf->data && off <= buf->len && len <= buf->len - off
	                                 ? buf->data + off
	                                 : NULL;
	if (!st || !p || !out || len < PK_TAKE_MIN + PK_TAKE_HEAD + PK_TAKE_TAIL)
		return pk_decode(state, p, p ? len : 0, out, err);
	size_t n = (size_t)le_get(p + 3, 4);
	int shape = p[0] == OP_PROTO &&
	            ((p[1] == 3 && p[2] == OP_BINBYTES) ||
	             (p[1] == 2 && p[2] == OP_BINSTRING && n <= INT32_MAX)) &&
	            n == len - PK_TAKE_HEAD - PK_TAKE_TAIL && p[len - 3] == OP_BINPUT &&
	            p[len - 2] == 0 && p[len - 1] == OP_STOP;
	ec_value *v = shape ? st->host->value_new(EC_T_BYTES) : NULL;
	if (!v)
		return pk_decode(state, p, len, out, err);
	memmove(buf->data, p + PK_TAKE_HEAD, n);
	buf->data[n] = '\0';
	unsigned char *data = realloc(buf->data, n + 1);
	v->u.s.data = (char *)(data ? data : buf->data); /* a failed shrink keeps it all */
	v->u.s.len = n;
	buf->data = NULL;
	buf->len = buf->cap = 0;
	*out = v;
	return 0;
}

/* ---- the plugin -------------------------------------------------------------- */

static int pk_load(const struct ec_host *host, void **state, struct ec_error *err)
{
	if (!host || host->size < offsetof(struct ec_host, value_free) + sizeof(host->value_free))
		return EC_EABI;
	struct pk_state *st = calloc(1, sizeof(*st));
	if (!st)
		return host->error_set(err, EC_ENOMEM, PK_WHERE, "pickle: out of memory");
	st->host = host;
	st->c_locale = newlocale(LC_NUMERIC_MASK, "C", (locale_t)0);
	if (!st->c_locale) {
		free(st);
		return host->error_set(err, EC_ENOMEM, PK_WHERE, "pickle: cannot create the C locale");
	}
	*state = st;
	return 0;
}

static void pk_unload(void *state)
{
	struct pk_state *st = state;
	if (!st)
		return;
	freelocale(st->c_locale);
	free(st);
}

static const struct ec_codec_ops pickle_ops = {
	.size = sizeof(struct ec_codec_ops),
	.encode = pk_encode,
	.decode = pk_decode,
	.remote_name = "pickle",
	.decode_buf = pk_decode_buf,
};

EC_PLUGIN_DEFINE(pickle, .version = "0.1.0", .kind = EC_PLUGIN_CODEC, .load = pk_load,
                 .unload = pk_unload, .ops = &pickle_ops)
