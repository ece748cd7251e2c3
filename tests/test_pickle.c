/* test_pickle.c: unit tests of the pickle codec plugin (plugins/pickle/).
 *
 * The plugin is compiled into this program and reached through its descriptor, with
 * the core's host table (ec__host_get). The tests cover round trips of every value
 * type, the encoder's exact output against CPython's, pickles made by real CPython 2.7
 * and 3.x interpreters (embedded below as C literals, each with the expression that
 * made it), every refusal of the decoder, and, when the interpreters are installed,
 * that real Pythons load what the encoder writes and that pickles they write at run
 * time (large ones, with frames) decode. */
#include "ecbuild.h"

#include <errno.h>
#include <float.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <CUnit/Basic.h>

#include "buf.h"
#include "econtext/codec.h"
#include "host.h"
#include "testutil.h"
#include "value.h"

const struct ec_plugin *ec_plugin_pickle_describe(void);

static const struct ec_plugin *plugin;
static const struct ec_codec_ops *ops;
static void *pstate;

#define B(lit) (lit), (sizeof(lit) - 1)

/* ---- helpers ----------------------------------------------------------------- */

struct sb {
	char *s;
	size_t n, cap;
};

static void sb_put(struct sb *b, const char *s, size_t n)
{
	if (b->cap - b->n <= n) {
		size_t cap = b->cap ? b->cap : 64;
		while (cap - b->n <= n)
			cap *= 2;
		char *p = realloc(b->s, cap);
		if (!p)
			abort();
		b->s = p;
		b->cap = cap;
	}
	memcpy(b->s + b->n, s, n);
	b->n += n;
	b->s[b->n] = '\0';
}

static void sb_puts(struct sb *b, const char *s)
{
	sb_put(b, s, strlen(s));
}

static void sb_esc(struct sb *b, const char *prefix, const char *s, size_t n)
{
	sb_puts(b, prefix);
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c >= 0x20 && c < 0x7f && c != '\\' && c != '\'') {
			sb_put(b, (const char *)&c, 1);
		} else {
			char x[8];
			snprintf(x, sizeof(x), "\\x%02x", c);
			sb_puts(b, x);
		}
	}
	sb_puts(b, "'");
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The canonical text of a value; the same function (crepr) in Python is in
 * PY_COMMON below. srt sorts dict items and set items (for comparing with Python's
 * own dict and set order). */
static void crepr(struct sb *b, const ec_value *v, int srt)
{
	char num[64];
	switch (v->type) {
	case EC_T_NONE:
		sb_puts(b, "None");
		return;
	case EC_T_BOOL:
		sb_puts(b, v->u.b ? "True" : "False");
		return;
	case EC_T_INT:
		snprintf(num, sizeof(num), "%lld", (long long)v->u.i);
		sb_puts(b, num);
		return;
	case EC_T_BIGINT:
		sb_put(b, v->u.s.data, v->u.s.len);
		return;
	case EC_T_FLOAT:
		if (isnan(v->u.f))
			snprintf(num, sizeof(num), "nan");
		else if (isinf(v->u.f))
			snprintf(num, sizeof(num), "%sinf", v->u.f < 0 ? "-" : "");
		else
			snprintf(num, sizeof(num), "%.17g", v->u.f);
		sb_puts(b, num);
		return;
	case EC_T_BYTES:
		sb_esc(b, "b'", v->u.s.data, v->u.s.len);
		return;
	case EC_T_STR:
		sb_esc(b, "u'", v->u.s.data, v->u.s.len);
		return;
	case EC_T_ERROR:
		sb_puts(b, "CallError(");
		sb_esc(b, "u'", v->u.err.type, strlen(v->u.err.type));
		sb_puts(b, ", ");
		sb_esc(b, "u'", v->u.err.message, strlen(v->u.err.message));
		sb_puts(b, ", ");
		sb_esc(b, "u'", v->u.err.traceback, strlen(v->u.err.traceback));
		sb_puts(b, ")");
		return;
	default:
		break;
	}
	size_t n = v->u.seq.len, step = v->type == EC_T_DICT ? 2 : 1;
	char **parts = calloc(n / step + 1, sizeof(*parts));
	if (!parts)
		abort();
	for (size_t i = 0; i < n; i += step) {
		struct sb p = {0};
		crepr(&p, v->u.seq.items[i], srt);
		if (step == 2) {
			sb_puts(&p, ": ");
			crepr(&p, v->u.seq.items[i + 1], srt);
		}
		parts[i / step] = p.s ? p.s : strdup("");
	}
	if (srt && (v->type == EC_T_DICT || v->type == EC_T_SET))
		qsort(parts, n / step, sizeof(*parts), cmp_str);
	sb_puts(b, v->type == EC_T_LIST    ? "["
	           : v->type == EC_T_TUPLE ? "("
	           : v->type == EC_T_DICT  ? "{"
	                                   : "set(");
	for (size_t i = 0; i < n / step; i++) {
		if (i)
			sb_puts(b, ", ");
		sb_puts(b, parts[i]);
		free(parts[i]);
	}
	free(parts);
	if (v->type == EC_T_TUPLE && n == 1)
		sb_puts(b, ",");
	sb_puts(b, v->type == EC_T_LIST ? "]" : v->type == EC_T_TUPLE ? ")" : v->type == EC_T_DICT ? "}" : ")");
}

static char *repr_of(const ec_value *v, int srt)
{
	struct sb b = {0};
	crepr(&b, v, srt);
	return b.s;
}

/* Same value, exactly: floats by bits (so -0.0 differs from 0.0), any NaN equals NaN. */
static int same(const ec_value *a, const ec_value *b)
{
	if (a->type != b->type)
		return 0;
	switch (a->type) {
	case EC_T_FLOAT:
		if (isnan(a->u.f))
			return isnan(b->u.f);
		return memcmp(&a->u.f, &b->u.f, sizeof(double)) == 0;
	case EC_T_LIST:
	case EC_T_TUPLE:
	case EC_T_DICT:
	case EC_T_SET:
		if (a->u.seq.len != b->u.seq.len)
			return 0;
		for (size_t i = 0; i < a->u.seq.len; i++)
			if (!same(a->u.seq.items[i], b->u.seq.items[i]))
				return 0;
		return 1;
	default:
		return ec_value_equal(a, b);
	}
}

static int encode(const ec_value *v, struct ec_buf *out, struct ec_error *err)
{
	return ops->encode(pstate, &(struct ec_codec_peer){0}, v, out, err);
}

static int decode(const void *data, size_t len, ec_value **out, struct ec_error *err)
{
	return ops->decode(pstate, data, len, out, err);
}

/* Decode that must succeed; NULL (and a failed assertion) otherwise. */
static ec_value *dec_ok(const char *label, const void *data, size_t len)
{
	struct ec_error err = {0};
	ec_value *v = NULL;
	int rc = decode(data, len, &v, &err);
	if (rc)
		printf("\n    %s: unexpected error %d: %s\n", label, rc, err.msg);
	CU_ASSERT_EQUAL(rc, 0);
	CU_ASSERT(rc != 0 || v != NULL);
	return rc ? NULL : v;
}

/* Decode that must be refused with EC_ECODEC, a message containing needle, and *out
 * left untouched. */
static void dec_refused(const char *label, const void *data, size_t len, const char *needle)
{
	struct ec_error err = {0};
	ec_value *sentinel = (ec_value *)&err, *v = sentinel;
	int rc = decode(data, len, &v, &err);
	int ok = rc == EC_ECODEC && v == sentinel && err.code == EC_ECODEC &&
	         strncmp(err.msg, "pickle: ", 8) == 0 && strstr(err.msg, needle) != NULL;
	if (!ok)
		printf("\n    %s: rc %d, message \"%s\", expected EC_ECODEC with \"%s\"\n", label, rc,
		       err.msg, needle);
	CU_ASSERT(ok);
	if (rc == 0 && v != sentinel)
		ec_value_free(v);
}

/* Decode and compare the canonical text. */
static void dec_expect(const char *label, const void *data, size_t len, const char *expect)
{
	ec_value *v = dec_ok(label, data, len);
	if (!v)
		return;
	char *r = repr_of(v, 0);
	if (strcmp(r, expect) != 0)
		printf("\n    %s:\n      got  %s\n      want %s\n", label, r, expect);
	CU_ASSERT_STRING_EQUAL(r, expect);
	free(r);
	ec_value_free(v);
}

/* Encode, decode, compare with `expect` (or with v itself when NULL). Frees both. */
static void roundtrip2(ec_value *v, ec_value *expect)
{
	CU_ASSERT_PTR_NOT_NULL_FATAL(v);
	struct ec_buf b = {0};
	struct ec_error err = {0};
	int rc = encode(v, &b, &err);
	if (rc)
		printf("\n    encode: %s\n", err.msg);
	CU_ASSERT_EQUAL(rc, 0);
	ec_value *back = NULL;
	if (rc == 0) {
		rc = decode(b.data, b.len, &back, &err);
		if (rc)
			printf("\n    decode: %s\n", err.msg);
		CU_ASSERT_EQUAL(rc, 0);
	}
	if (back) {
		int ok = same(back, expect ? expect : v);
		if (!ok) {
			char *x = repr_of(expect ? expect : v, 0), *y = repr_of(back, 0);
			printf("\n    round trip: sent %.200s\n      got back %.200s\n", x, y);
			free(x);
			free(y);
		}
		CU_ASSERT(ok);
	}
	ec_value_free(back);
	ec_value_free(v);
	ec_value_free(expect);
	free(b.data);
}

static void roundtrip(ec_value *v)
{
	roundtrip2(v, NULL);
}

/* A container from a NULL-terminated list of items (dict: key, value, ...). */
static ec_value *mk(enum ec_type t, ...)
{
	ec_value *c = ec_value_new(t);
	va_list ap;
	va_start(ap, t);
	for (ec_value *k; (k = va_arg(ap, ec_value *));) {
		if (t == EC_T_DICT)
			ec_value_dict_set(c, k, va_arg(ap, ec_value *));
		else
			ec_value_append(c, k);
	}
	va_end(ap);
	return c;
}

static ec_value *big(const char *dec)
{
	return ec_value_bigint(dec);
}

static ec_value *bytes_n(size_t n)
{
	unsigned char *p = malloc(n + 1);
	for (size_t i = 0; i < n; i++)
		p[i] = (unsigned char)(i * 7 + 3);
	ec_value *v = ec_value_bytes(p, n);
	free(p);
	return v;
}

/* Text of n code points cycling through 1-, 2-, 3- and 4-byte UTF-8. */
static ec_value *text_n(size_t n)
{
	static const char *const cps[] = {"a", "\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x98\x80"};
	struct sb b = {0};
	for (size_t i = 0; i < n; i++)
		sb_puts(&b, cps[i % 4]);
	ec_value *v = ec_value_str(b.s ? b.s : "", b.n);
	free(b.s);
	return v;
}

/* A pickle from parts: memcpy'd literal pieces (with lengths). */
static unsigned char *cat(size_t *len, int n, ...)
{
	va_list ap;
	va_start(ap, n);
	struct sb b = {0};
	for (int i = 0; i < n; i++) {
		const char *p = va_arg(ap, const char *);
		size_t l = va_arg(ap, size_t);
		sb_put(&b, p, l);
	}
	va_end(ap);
	*len = b.n;
	return (unsigned char *)b.s;
}

/* ---- pickles made by real CPython (generated; see the comment above each) ------ */

struct pyk {
	const char *label;
	const char *data;
	size_t len;
	const char *expect; /* canonical text, or the needle of the refusal */
};

static const struct pyk python_pickles[] = {
	/* Python 2.7.18: pickle.dumps([None, True, False, 0, 1, -1, 255, 256, 65535, 65536, -2**31, 2**31-1, 2**31, -2**31-1, 2**62, 2**63-1, -2**63, 2**63, -2**63-1, 2**64, 10**40, -10**40, 1.5, -0.0, 1e300, -2.5e-310, float('inf'), float('-inf')], 2) */
	{"2.7 pickle p2 scalars",
	  "\200\002]q\000(N\210\211K\000K\001J\377\377\377\377K\377M\000\001M\377\377"
	  "J\000\000\001\000J\000\000\000\200J\377\377\377\177I2147483648\012I-2147"
	  "483649\012I4611686018427387904\012\212\010\377\377\377\377\377\377\377\177"
	  "\212\010\000\000\000\000\000\000\000\200\212\011\000\000\000\000\000\000"
	  "\000\200\000\212\011\377\377\377\377\377\377\377\177\377\212\011\000\000"
	  "\000\000\000\000\000\000\001\212\021\000\000\000\000\000a\365\271\253\277"
	  "\244\134\303\361)c\035\212\021\000\000\000\000\000\237\012FT@[\243<\016\326"
	  "\234\342G\077\370\000\000\000\000\000\000G\200\000\000\000\000\000\000\000"
	  "G~7\344<\210\000u\234G\200\000.\005\134\232\077lG\177\360\000\000\000\000"
	  "\000\000G\377\360\000\000\000\000\000\000e.",
	  234, "[None, True, False, 0, 1, -1, 255, 256, 65535, 65536, -2147483648, 2147483647, 2147483648, -2147483649, 4611686018427387904, 9223372036854775807, -9223372036854775808, 9223372036854775808, -9223372036854775809, 18446744073709551616, 10000000000000000000000000000000000000000, -10000000000000000000000000000000000000000, 1.5, -0, 1.0000000000000001e+300, -2.5000000000000171e-310, inf, -inf]"},
	/* Python 2.7.18: cPickle.dumps([None, True, False, 0, 1, -1, 255, 256, 65535, 65536, -2**31, 2**31-1, 2**31, -2**31-1, 2**62, 2**63-1, -2**63, 2**63, -2**63-1, 2**64, 10**40, -10**40, 1.5, -0.0, 1e300, -2.5e-310, float('inf'), float('-inf')], 0) */
	{"2.7 cPickle p0 scalars",
	  "(lp1\012NaI01\012aI00\012aI0\012aI1\012aI-1\012aI255\012aI256\012aI65535"
	  "\012aI65536\012aI-2147483648\012aI2147483647\012aI2147483648\012aI-21474"
	  "83649\012aI4611686018427387904\012aL9223372036854775807L\012aL-922337203"
	  "6854775808L\012aL9223372036854775808L\012aL-9223372036854775809L\012aL18"
	  "446744073709551616L\012aL10000000000000000000000000000000000000000L\012a"
	  "L-10000000000000000000000000000000000000000L\012aF1.5\012aF-0\012aF1.000"
	  "0000000000001e+300\012aF-2.5000000000000171e-310\012aFinf\012aF-inf\012a"
	  ".",
	  421, "[None, True, False, 0, 1, -1, 255, 256, 65535, 65536, -2147483648, 2147483647, 2147483648, -2147483649, 4611686018427387904, 9223372036854775807, -9223372036854775808, 9223372036854775808, -9223372036854775809, 18446744073709551616, 10000000000000000000000000000000000000000, -10000000000000000000000000000000000000000, 1.5, -0, 1.0000000000000001e+300, -2.5000000000000171e-310, inf, -inf]"},
	/* Python 2.7.18: cPickle.dumps([None, True, False, 0, 1, -1, 255, 256, 65535, 65536, -2**31, 2**31-1, 2**31, -2**31-1, 2**62, 2**63-1, -2**63, 2**63, -2**63-1, 2**64, 10**40, -10**40, 1.5, -0.0, 1e300, -2.5e-310, float('inf'), float('-inf')], 1) */
	{"2.7 cPickle p1 scalars",
	  "]q\001(NI01\012I00\012K\000K\001J\377\377\377\377K\377M\000\001M\377\377"
	  "J\000\000\001\000J\000\000\000\200J\377\377\377\177I2147483648\012I-2147"
	  "483649\012I4611686018427387904\012L9223372036854775807L\012L-92233720368"
	  "54775808L\012L9223372036854775808L\012L-9223372036854775809L\012L1844674"
	  "4073709551616L\012L10000000000000000000000000000000000000000L\012L-10000"
	  "000000000000000000000000000000000000L\012G\077\370\000\000\000\000\000\000"
	  "G\200\000\000\000\000\000\000\000G~7\344<\210\000u\234G\200\000.\005\134"
	  "\232\077lG\177\360\000\000\000\000\000\000G\377\360\000\000\000\000\000\000"
	  "e.",
	  349, "[None, True, False, 0, 1, -1, 255, 256, 65535, 65536, -2147483648, 2147483647, 2147483648, -2147483649, 4611686018427387904, 9223372036854775807, -9223372036854775808, 9223372036854775808, -9223372036854775809, 18446744073709551616, 10000000000000000000000000000000000000000, -10000000000000000000000000000000000000000, 1.5, -0, 1.0000000000000001e+300, -2.5000000000000171e-310, inf, -inf]"},
	/* Python 2.7.18: cPickle.dumps([None, True, False, 0, 1, -1, 255, 256, 65535, 65536, -2**31, 2**31-1, 2**31, -2**31-1, 2**62, 2**63-1, -2**63, 2**63, -2**63-1, 2**64, 10**40, -10**40, 1.5, -0.0, 1e300, -2.5e-310, float('inf'), float('-inf')], 2) */
	{"2.7 cPickle p2 scalars",
	  "\200\002]q\001(N\210\211K\000K\001J\377\377\377\377K\377M\000\001M\377\377"
	  "J\000\000\001\000J\000\000\000\200J\377\377\377\177I2147483648\012I-2147"
	  "483649\012I4611686018427387904\012\212\010\377\377\377\377\377\377\377\177"
	  "\212\010\000\000\000\000\000\000\000\200\212\011\000\000\000\000\000\000"
	  "\000\200\000\212\011\377\377\377\377\377\377\377\177\377\212\011\000\000"
	  "\000\000\000\000\000\000\001\212\021\000\000\000\000\000a\365\271\253\277"
	  "\244\134\303\361)c\035\212\021\000\000\000\000\000\237\012FT@[\243<\016\326"
	  "\234\342G\077\370\000\000\000\000\000\000G\200\000\000\000\000\000\000\000"
	  "G~7\344<\210\000u\234G\200\000.\005\134\232\077lG\177\360\000\000\000\000"
	  "\000\000G\377\360\000\000\000\000\000\000e.",
	  234, "[None, True, False, 0, 1, -1, 255, 256, 65535, 65536, -2147483648, 2147483647, 2147483648, -2147483649, 4611686018427387904, 9223372036854775807, -9223372036854775808, 9223372036854775808, -9223372036854775809, 18446744073709551616, 10000000000000000000000000000000000000000, -10000000000000000000000000000000000000000, 1.5, -0, 1.0000000000000001e+300, -2.5000000000000171e-310, inf, -inf]"},
	/* Python 2.7.18: pickle.dumps([b'', b'\xff', b'bytes\x00\xff\'"\\\n\t\r', u'', u'text \xe9 \u20ac \U0001f600 \\ \n \x00', b'x' * 300, u'\u20ac' * 3], 2) */
	{"2.7 pickle p2 strings",
	  "\200\002]q\000(U\000q\001U\001\377q\002U\015bytes\000\377'\042\134\012\011"
	  "\015q\003X\000\000\000\000q\004X\026\000\000\000text \303\251 \342\202\254"
	  " \360\237\230\200 \134 \012 \000q\005T,\001\000\000xxxxxxxxxxxxxxxxxxxxx"
	  "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	  "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	  "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	  "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxq\006X\011"
	  "\000\000\000\342\202\254\342\202\254\342\202\254q\007e.",
	  393, "[b'', b'\\xff', b'bytes\\x00\\xff\\x27\"\\x5c\\x0a\\x09\\x0d', u'', u'text \\xc3\\xa9 \\xe2\\x82\\xac \\xf0\\x9f\\x98\\x80 \\x5c \\x0a \\x00', b'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx', u'\\xe2\\x82\\xac\\xe2\\x82\\xac\\xe2\\x82\\xac']"},
	/* Python 2.7.18: cPickle.dumps([b'', b'\xff', b'bytes\x00\xff\'"\\\n\t\r', u'', u'text \xe9 \u20ac \U0001f600 \\ \n \x00', b'x' * 300, u'\u20ac' * 3], 0) */
	{"2.7 cPickle p0 strings",
	  "(lp1\012S''\012aS'\134xff'\012aS'bytes\134x00\134xff\134'\042\134\134\134"
	  "n\134t\134r'\012p2\012aV\012aVtext \351 \134u20ac \134U0001f600 \134u005"
	  "c \134u000a \000\012p3\012aS'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	  "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	  "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	  "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	  "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx'\012p4\012aV\134u20ac\134u20ac"
	  "\134u20ac\012p5\012a.",
	  433, "[b'', b'\\xff', b'bytes\\x00\\xff\\x27\"\\x5c\\x0a\\x09\\x0d', u'', u'text \\xc3\\xa9 \\xe2\\x82\\xac \\xf0\\x9f\\x98\\x80 \\x5c \\x0a \\x00', b'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx', u'\\xe2\\x82\\xac\\xe2\\x82\\xac\\xe2\\x82\\xac']"},
	/* Python 2.7.18: cPickle.dumps([b'', b'\xff', b'bytes\x00\xff\'"\\\n\t\r', u'', u'text \xe9 \u20ac \U0001f600 \\ \n \x00', b'x' * 300, u'\u20ac' * 3], 1) */
	{"2.7 cPickle p1 strings",
	  "]q\001(U\000U\001\377U\015bytes\000\377'\042\134\012\011\015q\002X\000\000"
	  "\000\000X\026\000\000\000text \303\251 \342\202\254 \360\237\230\200 \134"
	  " \012 \000q\003T,\001\000\000xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	  "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	  "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	  "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	  "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxq\004X\011\000\000\000\342\202\254"
	  "\342\202\254\342\202\254q\005e.",
	  385, "[b'', b'\\xff', b'bytes\\x00\\xff\\x27\"\\x5c\\x0a\\x09\\x0d', u'', u'text \\xc3\\xa9 \\xe2\\x82\\xac \\xf0\\x9f\\x98\\x80 \\x5c \\x0a \\x00', b'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx', u'\\xe2\\x82\\xac\\xe2\\x82\\xac\\xe2\\x82\\xac']"},
	/* Python 2.7.18: cPickle.dumps([b'', b'\xff', b'bytes\x00\xff\'"\\\n\t\r', u'', u'text \xe9 \u20ac \U0001f600 \\ \n \x00', b'x' * 300, u'\u20ac' * 3], 2) */
	{"2.7 cPickle p2 strings",
	  "\200\002]q\001(U\000U\001\377U\015bytes\000\377'\042\134\012\011\015q\002"
	  "X\000\000\000\000X\026\000\000\000text \303\251 \342\202\254 \360\237\230"
	  "\200 \134 \012 \000q\003T,\001\000\000xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	  "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	  "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	  "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	  "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxq\004X\011\000\000\000"
	  "\342\202\254\342\202\254\342\202\254q\005e.",
	  387, "[b'', b'\\xff', b'bytes\\x00\\xff\\x27\"\\x5c\\x0a\\x09\\x0d', u'', u'text \\xc3\\xa9 \\xe2\\x82\\xac \\xf0\\x9f\\x98\\x80 \\x5c \\x0a \\x00', b'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx', u'\\xe2\\x82\\xac\\xe2\\x82\\xac\\xe2\\x82\\xac']"},
	/* Python 2.7.18: pickle.dumps(((), (1,), (1, 2), (1, 2, 3), (1, 2, 3, 4), [], [[]], {}, {u'k': [1, {b'n': (u'x', None)}]}, {(1, u'a'): b'tuple key', 7: 8.5}), 2) */
	{"2.7 pickle p2 containers",
	  "\200\002()K\001\205q\000K\001K\002\206q\001K\001K\002K\003\207q\002(K\001"
	  "K\002K\003K\004tq\003]q\004]q\005]q\006a}q\007}q\010X\001\000\000\000kq\011"
	  "]q\012(K\001}q\013U\001nq\014X\001\000\000\000xq\015N\206q\016ses}q\017("
	  "K\001X\001\000\000\000aq\020\206q\021U\011tuple keyq\022K\007G@!\000\000"
	  "\000\000\000\000utq\023.",
	  136, "((), (1,), (1, 2), (1, 2, 3), (1, 2, 3, 4), [], [[]], {}, {u'k': [1, {b'n': (u'x', None)}]}, {(1, u'a'): b'tuple key', 7: 8.5})"},
	/* Python 2.7.18: cPickle.dumps(((), (1,), (1, 2), (1, 2, 3), (1, 2, 3, 4), [], [[]], {}, {u'k': [1, {b'n': (u'x', None)}]}, {(1, u'a'): b'tuple key', 7: 8.5}), 0) */
	{"2.7 cPickle p0 containers",
	  "((t(I1\012t(I1\012I2\012t(I1\012I2\012I3\012t(I1\012I2\012I3\012I4\012t("
	  "l(lp1\012(lp2\012a(d(dp3\012Vk\012(lp4\012I1\012a(dp5\012S'n'\012(Vx\012"
	  "Ntp6\012sas(dp7\012(I1\012Va\012tp8\012S'tuple key'\012p9\012sI7\012F8.5"
	  "\012stp10\012.",
	  143, "((), (1,), (1, 2), (1, 2, 3), (1, 2, 3, 4), [], [[]], {}, {u'k': [1, {b'n': (u'x', None)}]}, {(1, u'a'): b'tuple key', 7: 8.5})"},
	/* Python 2.7.18: cPickle.dumps(((), (1,), (1, 2), (1, 2, 3), (1, 2, 3, 4), [], [[]], {}, {u'k': [1, {b'n': (u'x', None)}]}, {(1, u'a'): b'tuple key', 7: 8.5}), 1) */
	{"2.7 cPickle p1 containers",
	  "()(K\001t(K\001K\002t(K\001K\002K\003t(K\001K\002K\003K\004t]]q\001]q\002"
	  "a}}q\003X\001\000\000\000k]q\004(K\001}q\005U\001n(X\001\000\000\000xNts"
	  "es}q\006((K\001X\001\000\000\000atU\011tuple keyK\007G@!\000\000\000\000"
	  "\000\000utq\007.",
	  113, "((), (1,), (1, 2), (1, 2, 3), (1, 2, 3, 4), [], [[]], {}, {u'k': [1, {b'n': (u'x', None)}]}, {(1, u'a'): b'tuple key', 7: 8.5})"},
	/* Python 2.7.18: cPickle.dumps(((), (1,), (1, 2), (1, 2, 3), (1, 2, 3, 4), [], [[]], {}, {u'k': [1, {b'n': (u'x', None)}]}, {(1, u'a'): b'tuple key', 7: 8.5}), 2) */
	{"2.7 cPickle p2 containers",
	  "\200\002()K\001\205K\001K\002\206K\001K\002K\003\207(K\001K\002K\003K\004"
	  "t]]q\001]q\002a}}q\003X\001\000\000\000k]q\004(K\001}q\005U\001nX\001\000"
	  "\000\000xN\206ses}q\006(K\001X\001\000\000\000a\206U\011tuple keyK\007G@"
	  "!\000\000\000\000\000\000utq\007.",
	  110, "((), (1,), (1, 2), (1, 2, 3), (1, 2, 3, 4), [], [[]], {}, {u'k': [1, {b'n': (u'x', None)}]}, {(1, u'a'): b'tuple key', 7: 8.5})"},
	/* Python 2.7.18: pickle.dumps([set([1, 2, 3]), frozenset([u'a']), set()], 2) */
	{"2.7 pickle p2 sets",
	  "\200\002]q\000(c__builtin__\012set\012q\001]q\002(K\001K\002K\003e\205q\003"
	  "Rq\004c__builtin__\012frozenset\012q\005]q\006X\001\000\000\000aq\007a\205"
	  "q\010Rq\011h\001]q\012\205q\013Rq\014e.",
	  98, "[set(1, 2, 3), set(u'a'), set()]"},
	/* Python 2.7.18: cPickle.dumps([set([1, 2, 3]), frozenset([u'a']), set()], 0) */
	{"2.7 cPickle p0 sets",
	  "(lp1\012c__builtin__\012set\012p2\012((lp3\012I1\012aI2\012aI3\012atRp4\012"
	  "ac__builtin__\012frozenset\012p5\012((lp6\012Va\012atRp7\012ag2\012((ltR"
	  "p8\012a.",
	  104, "[set(1, 2, 3), set(u'a'), set()]"},
	/* Python 2.7.18: cPickle.dumps([set([1, 2, 3]), frozenset([u'a']), set()], 1) */
	{"2.7 cPickle p1 sets",
	  "]q\001(c__builtin__\012set\012q\002(]q\003(K\001K\002K\003etRq\004c__bui"
	  "ltin__\012frozenset\012q\005(]q\006X\001\000\000\000aatRq\007h\002(]tRq\010"
	  "e.",
	  89, "[set(1, 2, 3), set(u'a'), set()]"},
	/* Python 2.7.18: cPickle.dumps([set([1, 2, 3]), frozenset([u'a']), set()], 2) */
	{"2.7 cPickle p2 sets",
	  "\200\002]q\001(c__builtin__\012set\012q\002]q\003(K\001K\002K\003e\205Rq"
	  "\004c__builtin__\012frozenset\012q\005]q\006X\001\000\000\000aa\205Rq\007"
	  "h\002]\205Rq\010e.",
	  88, "[set(1, 2, 3), set(u'a'), set()]"},
	/* Python 2.7.18: pickle.dumps((lambda s, l: [s, s, l, l, s])(b'shared', [1, 2]), 2) */
	{"2.7 pickle p2 shared",
	  "\200\002]q\000(U\006sharedq\001h\001]q\002(K\001K\002eh\002h\001e.",
	  33, "[b'shared', b'shared', [1, 2], [1, 2], b'shared']"},
	/* Python 2.7.18: cPickle.dumps((lambda s, l: [s, s, l, l, s])(b'shared', [1, 2]), 0) */
	{"2.7 cPickle p0 shared",
	  "(lp1\012S'shared'\012p2\012ag2\012a(lp3\012I1\012aI2\012aag3\012ag2\012a"
	  ".",
	  46, "[b'shared', b'shared', [1, 2], [1, 2], b'shared']"},
	/* Python 2.7.18: cPickle.dumps((lambda s, l: [s, s, l, l, s])(b'shared', [1, 2]), 1) */
	{"2.7 cPickle p1 shared",
	  "]q\001(U\006sharedq\002h\002]q\003(K\001K\002eh\003h\002e.",
	  31, "[b'shared', b'shared', [1, 2], [1, 2], b'shared']"},
	/* Python 2.7.18: cPickle.dumps((lambda s, l: [s, s, l, l, s])(b'shared', [1, 2]), 2) */
	{"2.7 cPickle p2 shared",
	  "\200\002]q\001(U\006sharedq\002h\002]q\003(K\001K\002eh\003h\002e.",
	  33, "[b'shared', b'shared', [1, 2], [1, 2], b'shared']"},
	/* Python 2.7.18: pickle.dumps([bytearray(b'ab\xff'), bytearray()], 2) */
	{"2.7 pickle p2 bytearray",
	  "\200\002]q\000(c__builtin__\012bytearray\012q\001X\004\000\000\000ab\303"
	  "\277q\002U\007latin-1q\003\206q\004Rq\005h\001X\000\000\000\000q\006U\007"
	  "latin-1q\007\206q\010Rq\011e.",
	  87, "[b'ab\\xff', b'']"},
	/* Python 2.7.18: cPickle.dumps([bytearray(b'ab\xff'), bytearray()], 0) */
	{"2.7 cPickle p0 bytearray",
	  "(lp1\012c__builtin__\012bytearray\012p2\012(Vab\377\012S'latin-1'\012tRp"
	  "3\012ag2\012(V\012S'latin-1'\012tRp4\012a.",
	  78, "[b'ab\\xff', b'']"},
	/* Python 2.7.18: cPickle.dumps([bytearray(b'ab\xff'), bytearray()], 1) */
	{"2.7 cPickle p1 bytearray",
	  "]q\001(c__builtin__\012bytearray\012q\002(X\004\000\000\000ab\303\277U\007"
	  "latin-1tRq\003h\002(X\000\000\000\000U\007latin-1tRq\004e.",
	  75, "[b'ab\\xff', b'']"},
	/* Python 2.7.18: cPickle.dumps([bytearray(b'ab\xff'), bytearray()], 2) */
	{"2.7 cPickle p2 bytearray",
	  "\200\002]q\001(c__builtin__\012bytearray\012q\002X\004\000\000\000ab\303"
	  "\277U\007latin-1\206Rq\003h\002X\000\000\000\000U\007latin-1\206Rq\004e.",
	  75, "[b'ab\\xff', b'']"},
	/* Python 2.7.18: pickle.dumps(CallError(u'builtins.ValueError', u'bad value \xe9', u'Traceback (most recent call last):\n  File "x.py", line 1\nValueError: bad value\n'), 2) */
	{"2.7 pickle p2 error",
	  "\200\002cecontext\012CallError\012q\000X\023\000\000\000builtins.ValueEr"
	  "rorq\001X\014\000\000\000bad value \303\251q\002XO\000\000\000Traceback "
	  "(most recent call last):\012  File \042x.py\042, line 1\012ValueError: b"
	  "ad value\012q\003\207q\004Rq\005.",
	  162, "CallError(u'builtins.ValueError', u'bad value \\xc3\\xa9', u'Traceback (most recent call last):\\x0a  File \"x.py\", line 1\\x0aValueError: bad value\\x0a')"},
	/* Python 2.7.18: cPickle.dumps(CallError(u'builtins.ValueError', u'bad value \xe9', u'Traceback (most recent call last):\n  File "x.py", line 1\nValueError: bad value\n'), 0) */
	{"2.7 cPickle p0 error",
	  "cecontext\012CallError\012p1\012(Vbuiltins.ValueError\012p2\012Vbad valu"
	  "e \351\012p3\012VTraceback (most recent call last):\134u000a  File \042x"
	  ".py\042, line 1\134u000aValueError: bad value\134u000a\012p4\012tRp5\012"
	  ".",
	  169, "CallError(u'builtins.ValueError', u'bad value \\xc3\\xa9', u'Traceback (most recent call last):\\x0a  File \"x.py\", line 1\\x0aValueError: bad value\\x0a')"},
	/* Python 2.7.18: cPickle.dumps(CallError(u'builtins.ValueError', u'bad value \xe9', u'Traceback (most recent call last):\n  File "x.py", line 1\nValueError: bad value\n'), 1) */
	{"2.7 cPickle p1 error",
	  "cecontext\012CallError\012q\001(X\023\000\000\000builtins.ValueErrorq\002"
	  "X\014\000\000\000bad value \303\251q\003XO\000\000\000Traceback (most re"
	  "cent call last):\012  File \042x.py\042, line 1\012ValueError: bad value"
	  "\012q\004tRq\005.",
	  159, "CallError(u'builtins.ValueError', u'bad value \\xc3\\xa9', u'Traceback (most recent call last):\\x0a  File \"x.py\", line 1\\x0aValueError: bad value\\x0a')"},
	/* Python 2.7.18: cPickle.dumps(CallError(u'builtins.ValueError', u'bad value \xe9', u'Traceback (most recent call last):\n  File "x.py", line 1\nValueError: bad value\n'), 2) */
	{"2.7 cPickle p2 error",
	  "\200\002cecontext\012CallError\012q\001X\023\000\000\000builtins.ValueEr"
	  "rorq\002X\014\000\000\000bad value \303\251q\003XO\000\000\000Traceback "
	  "(most recent call last):\012  File \042x.py\042, line 1\012ValueError: b"
	  "ad value\012q\004\207Rq\005.",
	  160, "CallError(u'builtins.ValueError', u'bad value \\xc3\\xa9', u'Traceback (most recent call last):\\x0a  File \"x.py\", line 1\\x0aValueError: bad value\\x0a')"},
	/* Python 3.13.0: pickle.dumps([None, True, False, 0, 1, -1, 255, 256, 65535, 65536, -2**31, 2**31-1, 2**31, -2**31-1, 2**62, 2**63-1, -2**63, 2**63, -2**63-1, 2**64, 10**40, -10**40, 1.5, -0.0, 1e300, -2.5e-310, float('inf'), float('-inf')], 0) */
	{"3.13 pickle p0 scalars",
	  "(lp0\012NaI01\012aI00\012aI0\012aI1\012aI-1\012aI255\012aI256\012aI65535"
	  "\012aI65536\012aI-2147483648\012aI2147483647\012aL2147483648L\012aL-2147"
	  "483649L\012aL4611686018427387904L\012aL9223372036854775807L\012aL-922337"
	  "2036854775808L\012aL9223372036854775808L\012aL-9223372036854775809L\012a"
	  "L18446744073709551616L\012aL10000000000000000000000000000000000000000L\012"
	  "aL-10000000000000000000000000000000000000000L\012aF1.5\012aF-0.0\012aF1e"
	  "+300\012aF-2.5e-310\012aFinf\012aF-inf\012a.",
	  394, "[None, True, False, 0, 1, -1, 255, 256, 65535, 65536, -2147483648, 2147483647, 2147483648, -2147483649, 4611686018427387904, 9223372036854775807, -9223372036854775808, 9223372036854775808, -9223372036854775809, 18446744073709551616, 10000000000000000000000000000000000000000, -10000000000000000000000000000000000000000, 1.5, -0, 1.0000000000000001e+300, -2.5000000000000171e-310, inf, -inf]"},
	/* Python 3.13.0: pickle.dumps([None, True, False, 0, 1, -1, 255, 256, 65535, 65536, -2**31, 2**31-1, 2**31, -2**31-1, 2**62, 2**63-1, -2**63, 2**63, -2**63-1, 2**64, 10**40, -10**40, 1.5, -0.0, 1e300, -2.5e-310, float('inf'), float('-inf')], 1) */
	{"3.13 pickle p1 scalars",
	  "]q\000(NI01\012I00\012K\000K\001J\377\377\377\377K\377M\000\001M\377\377"
	  "J\000\000\001\000J\000\000\000\200J\377\377\377\177L2147483648L\012L-214"
	  "7483649L\012L4611686018427387904L\012L9223372036854775807L\012L-92233720"
	  "36854775808L\012L9223372036854775808L\012L-9223372036854775809L\012L1844"
	  "6744073709551616L\012L10000000000000000000000000000000000000000L\012L-10"
	  "000000000000000000000000000000000000000L\012G\077\370\000\000\000\000\000"
	  "\000G\200\000\000\000\000\000\000\000G~7\344<\210\000u\234G\200\000.\005"
	  "\134\232\077lG\177\360\000\000\000\000\000\000G\377\360\000\000\000\000\000"
	  "\000e.",
	  352, "[None, True, False, 0, 1, -1, 255, 256, 65535, 65536, -2147483648, 2147483647, 2147483648, -2147483649, 4611686018427387904, 9223372036854775807, -9223372036854775808, 9223372036854775808, -9223372036854775809, 18446744073709551616, 10000000000000000000000000000000000000000, -10000000000000000000000000000000000000000, 1.5, -0, 1.0000000000000001e+300, -2.5000000000000171e-310, inf, -inf]"},
	/* Python 3.13.0: pickle.dumps([None, True, False, 0, 1, -1, 255, 256, 65535, 65536, -2**31, 2**31-1, 2**31, -2**31-1, 2**62, 2**63-1, -2**63, 2**63, -2**63-1, 2**64, 10**40, -10**40, 1.5, -0.0, 1e300, -2.5e-310, float('inf'), float('-inf')], 2) */
	{"3.13 pickle p2 scalars",
	  "\200\002]q\000(N\210\211K\000K\001J\377\377\377\377K\377M\000\001M\377\377"
	  "J\000\000\001\000J\000\000\000\200J\377\377\377\177\212\005\000\000\000\200"
	  "\000\212\005\377\377\377\177\377\212\010\000\000\000\000\000\000\000@\212"
	  "\010\377\377\377\377\377\377\377\177\212\010\000\000\000\000\000\000\000"
	  "\200\212\011\000\000\000\000\000\000\000\200\000\212\011\377\377\377\377"
	  "\377\377\377\177\377\212\011\000\000\000\000\000\000\000\000\001\212\021"
	  "\000\000\000\000\000a\365\271\253\277\244\134\303\361)c\035\212\021\000\000"
	  "\000\000\000\237\012FT@[\243<\016\326\234\342G\077\370\000\000\000\000\000"
	  "\000G\200\000\000\000\000\000\000\000G~7\344<\210\000u\234G\200\000.\005"
	  "\134\232\077lG\177\360\000\000\000\000\000\000G\377\360\000\000\000\000\000"
	  "\000e.",
	  212, "[None, True, False, 0, 1, -1, 255, 256, 65535, 65536, -2147483648, 2147483647, 2147483648, -2147483649, 4611686018427387904, 9223372036854775807, -9223372036854775808, 9223372036854775808, -9223372036854775809, 18446744073709551616, 10000000000000000000000000000000000000000, -10000000000000000000000000000000000000000, 1.5, -0, 1.0000000000000001e+300, -2.5000000000000171e-310, inf, -inf]"},
	/* Python 3.13.0: pickle.dumps([None, True, False, 0, 1, -1, 255, 256, 65535, 65536, -2**31, 2**31-1, 2**31, -2**31-1, 2**62, 2**63-1, -2**63, 2**63, -2**63-1, 2**64, 10**40, -10**40, 1.5, -0.0, 1e300, -2.5e-310, float('inf'), float('-inf')], 3) */
	{"3.13 pickle p3 scalars",
	  "\200\003]q\000(N\210\211K\000K\001J\377\377\377\377K\377M\000\001M\377\377"
	  "J\000\000\001\000J\000\000\000\200J\377\377\377\177\212\005\000\000\000\200"
	  "\000\212\005\377\377\377\177\377\212\010\000\000\000\000\000\000\000@\212"
	  "\010\377\377\377\377\377\377\377\177\212\010\000\000\000\000\000\000\000"
	  "\200\212\011\000\000\000\000\000\000\000\200\000\212\011\377\377\377\377"
	  "\377\377\377\177\377\212\011\000\000\000\000\000\000\000\000\001\212\021"
	  "\000\000\000\000\000a\365\271\253\277\244\134\303\361)c\035\212\021\000\000"
	  "\000\000\000\237\012FT@[\243<\016\326\234\342G\077\370\000\000\000\000\000"
	  "\000G\200\000\000\000\000\000\000\000G~7\344<\210\000u\234G\200\000.\005"
	  "\134\232\077lG\177\360\000\000\000\000\000\000G\377\360\000\000\000\000\000"
	  "\000e.",
	  212, "[None, True, False, 0, 1, -1, 255, 256, 65535, 65536, -2147483648, 2147483647, 2147483648, -2147483649, 4611686018427387904, 9223372036854775807, -9223372036854775808, 9223372036854775808, -9223372036854775809, 18446744073709551616, 10000000000000000000000000000000000000000, -10000000000000000000000000000000000000000, 1.5, -0, 1.0000000000000001e+300, -2.5000000000000171e-310, inf, -inf]"},
	/* Python 3.13.0: pickle.dumps([None, True, False, 0, 1, -1, 255, 256, 65535, 65536, -2**31, 2**31-1, 2**31, -2**31-1, 2**62, 2**63-1, -2**63, 2**63, -2**63-1, 2**64, 10**40, -10**40, 1.5, -0.0, 1e300, -2.5e-310, float('inf'), float('-inf')], 4) */
	{"3.13 pickle p4 scalars",
	  "\200\004\225\321\000\000\000\000\000\000\000]\224(N\210\211K\000K\001J\377"
	  "\377\377\377K\377M\000\001M\377\377J\000\000\001\000J\000\000\000\200J\377"
	  "\377\377\177\212\005\000\000\000\200\000\212\005\377\377\377\177\377\212"
	  "\010\000\000\000\000\000\000\000@\212\010\377\377\377\377\377\377\377\177"
	  "\212\010\000\000\000\000\000\000\000\200\212\011\000\000\000\000\000\000"
	  "\000\200\000\212\011\377\377\377\377\377\377\377\177\377\212\011\000\000"
	  "\000\000\000\000\000\000\001\212\021\000\000\000\000\000a\365\271\253\277"
	  "\244\134\303\361)c\035\212\021\000\000\000\000\000\237\012FT@[\243<\016\326"
	  "\234\342G\077\370\000\000\000\000\000\000G\200\000\000\000\000\000\000\000"
	  "G~7\344<\210\000u\234G\200\000.\005\134\232\077lG\177\360\000\000\000\000"
	  "\000\000G\377\360\000\000\000\000\000\000e.",
	  220, "[None, True, False, 0, 1, -1, 255, 256, 65535, 65536, -2147483648, 2147483647, 2147483648, -2147483649, 4611686018427387904, 9223372036854775807, -9223372036854775808, 9223372036854775808, -9223372036854775809, 18446744073709551616, 10000000000000000000000000000000000000000, -10000000000000000000000000000000000000000, 1.5, -0, 1.0000000000000001e+300, -2.5000000000000171e-310, inf, -inf]"},
	/* Python 3.13.0: pickle.dumps([None, True, False, 0, 1, -1, 255, 256, 65535, 65536, -2**31, 2**31-1, 2**31, -2**31-1, 2**62, 2**63-1, -2**63, 2**63, -2**63-1, 2**64, 10**40, -10**40, 1.5, -0.0, 1e300, -2.5e-310, float('inf'), float('-inf')], 5) */
	{"3.13 pickle p5 scalars",
	  "\200\005\225\321\000\000\000\000\000\000\000]\224(N\210\211K\000K\001J\377"
	  "\377\377\377K\377M\000\001M\377\377J\000\000\001\000J\000\000\000\200J\377"
	  "\377\377\177\212\005\000\000\000\200\000\212\005\377\377\377\177\377\212"
	  "\010\000\000\000\000\000\000\000@\212\010\377\377\377\377\377\377\377\177"
	  "\212\010\000\000\000\000\000\000\000\200\212\011\000\000\000\000\000\000"
	  "\000\200\000\212\011\377\377\377\377\377\377\377\177\377\212\011\000\000"
	  "\000\000\000\000\000\000\001\212\021\000\000\000\000\000a\365\271\253\277"
	  "\244\134\303\361)c\035\212\021\000\000\000\000\000\237\012FT@[\243<\016\326"
	  "\234\342G\077\370\000\000\000\000\000\000G\200\000\000\000\000\000\000\000"
	  "G~7\344<\210\000u\234G\200\000.\005\134\232\077lG\177\360\000\000\000\000"
	  "\000\000G\377\360\000\000\000\000\000\000e.",
	  220, "[None, True, False, 0, 1, -1, 255, 256, 65535, 65536, -2147483648, 2147483647, 2147483648, -2147483649, 4611686018427387904, 9223372036854775807, -9223372036854775808, 9223372036854775808, -9223372036854775809, 18446744073709551616, 10000000000000000000000000000000000000000, -10000000000000000000000000000000000000000, 1.5, -0, 1.0000000000000001e+300, -2.5000000000000171e-310, inf, -inf]"},
	/* Python 3.13.0: pickle.dumps([b'', b'\xff', b'bytes\x00\xff\'"\\\n\t\r', u'', u'text \xe9 \u20ac \U0001f600 \\ \n \x00', b'x' * 300, u'\u20ac' * 3], 0) */
	{"3.13 pickle p0 strings",
	  "(lp0\012c__builtin__\012bytes\012p1\012(tRp2\012ac_codecs\012encode\012p"
	  "3\012(V\377\012p4\012Vlatin1\012p5\012tp6\012Rp7\012ag3\012(Vbytes\134u0"
	  "000\377'\042\134u005c\134u000a\011\134u000d\012p8\012g5\012tp9\012Rp10\012"
	  "aV\012p11\012aVtext \351 \134u20ac \134U0001f600 \134u005c \134u000a \134"
	  "u0000\012p12\012ag3\012(Vxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	  "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	  "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	  "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	  "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\012p13\012g5\012tp14\012Rp15\012aV"
	  "\134u20ac\134u20ac\134u20ac\012p16\012a.",
	  544, "[b'', b'\\xff', b'bytes\\x00\\xff\\x27\"\\x5c\\x0a\\x09\\x0d', u'', u'text \\xc3\\xa9 \\xe2\\x82\\xac \\xf0\\x9f\\x98\\x80 \\x5c \\x0a \\x00', b'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx', u'\\xe2\\x82\\xac\\xe2\\x82\\xac\\xe2\\x82\\xac']"},
	/* Python 3.13.0: pickle.dumps([b'', b'\xff', b'bytes\x00\xff\'"\\\n\t\r', u'', u'text \xe9 \u20ac \U0001f600 \\ \n \x00', b'x' * 300, u'\u20ac' * 3], 1) */
	{"3.13 pickle p1 strings",
	  "]q\000(c__builtin__\012bytes\012q\001)Rq\002c_codecs\012encode\012q\003("
	  "X\002\000\000\000\303\277q\004X\006\000\000\000latin1q\005tq\006Rq\007h\003"
	  "(X\016\000\000\000bytes\000\303\277'\042\134\012\011\015q\010h\005tq\011"
	  "Rq\012X\000\000\000\000q\013X\026\000\000\000text \303\251 \342\202\254 "
	  "\360\237\230\200 \134 \012 \000q\014h\003(X,\001\000\000xxxxxxxxxxxxxxxx"
	  "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	  "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	  "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	  "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxq\015"
	  "h\005tq\016Rq\017X\011\000\000\000\342\202\254\342\202\254\342\202\254q\020"
	  "e.",
	  480, "[b'', b'\\xff', b'bytes\\x00\\xff\\x27\"\\x5c\\x0a\\x09\\x0d', u'', u'text \\xc3\\xa9 \\xe2\\x82\\xac \\xf0\\x9f\\x98\\x80 \\x5c \\x0a \\x00', b'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx', u'\\xe2\\x82\\xac\\xe2\\x82\\xac\\xe2\\x82\\xac']"},
	/* Python 3.13.0: pickle.dumps([b'', b'\xff', b'bytes\x00\xff\'"\\\n\t\r', u'', u'text \xe9 \u20ac \U0001f600 \\ \n \x00', b'x' * 300, u'\u20ac' * 3], 2) */
	{"3.13 pickle p2 strings",
	  "\200\002]q\000(c__builtin__\012bytes\012q\001)Rq\002c_codecs\012encode\012"
	  "q\003X\002\000\000\000\303\277q\004X\006\000\000\000latin1q\005\206q\006"
	  "Rq\007h\003X\016\000\000\000bytes\000\303\277'\042\134\012\011\015q\010h"
	  "\005\206q\011Rq\012X\000\000\000\000q\013X\026\000\000\000text \303\251 "
	  "\342\202\254 \360\237\230\200 \134 \012 \000q\014h\003X,\001\000\000xxxx"
	  "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	  "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	  "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	  "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	  "xxxxxxxxq\015h\005\206q\016Rq\017X\011\000\000\000\342\202\254\342\202\254"
	  "\342\202\254q\020e.",
	  479, "[b'', b'\\xff', b'bytes\\x00\\xff\\x27\"\\x5c\\x0a\\x09\\x0d', u'', u'text \\xc3\\xa9 \\xe2\\x82\\xac \\xf0\\x9f\\x98\\x80 \\x5c \\x0a \\x00', b'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx', u'\\xe2\\x82\\xac\\xe2\\x82\\xac\\xe2\\x82\\xac']"},
	/* Python 3.13.0: pickle.dumps([b'', b'\xff', b'bytes\x00\xff\'"\\\n\t\r', u'', u'text \xe9 \u20ac \U0001f600 \\ \n \x00', b'x' * 300, u'\u20ac' * 3], 3) */
	{"3.13 pickle p3 strings",
	  "\200\003]q\000(C\000q\001C\001\377q\002C\015bytes\000\377'\042\134\012\011"
	  "\015q\003X\000\000\000\000q\004X\026\000\000\000text \303\251 \342\202\254"
	  " \360\237\230\200 \134 \012 \000q\005B,\001\000\000xxxxxxxxxxxxxxxxxxxxx"
	  "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	  "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	  "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	  "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxq\006X\011"
	  "\000\000\000\342\202\254\342\202\254\342\202\254q\007e.",
	  393, "[b'', b'\\xff', b'bytes\\x00\\xff\\x27\"\\x5c\\x0a\\x09\\x0d', u'', u'text \\xc3\\xa9 \\xe2\\x82\\xac \\xf0\\x9f\\x98\\x80 \\x5c \\x0a \\x00', b'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx', u'\\xe2\\x82\\xac\\xe2\\x82\\xac\\xe2\\x82\\xac']"},
	/* Python 3.13.0: pickle.dumps([b'', b'\xff', b'bytes\x00\xff\'"\\\n\t\r', u'', u'text \xe9 \u20ac \U0001f600 \\ \n \x00', b'x' * 300, u'\u20ac' * 3], 4) */
	{"3.13 pickle p4 strings",
	  "\200\004\225v\001\000\000\000\000\000\000]\224(C\000\224C\001\377\224C\015"
	  "bytes\000\377'\042\134\012\011\015\224\214\000\224\214\026text \303\251 "
	  "\342\202\254 \360\237\230\200 \134 \012 \000\224B,\001\000\000xxxxxxxxxx"
	  "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	  "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	  "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	  "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	  "xx\224\214\011\342\202\254\342\202\254\342\202\254\224e.",
	  385, "[b'', b'\\xff', b'bytes\\x00\\xff\\x27\"\\x5c\\x0a\\x09\\x0d', u'', u'text \\xc3\\xa9 \\xe2\\x82\\xac \\xf0\\x9f\\x98\\x80 \\x5c \\x0a \\x00', b'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx', u'\\xe2\\x82\\xac\\xe2\\x82\\xac\\xe2\\x82\\xac']"},
	/* Python 3.13.0: pickle.dumps([b'', b'\xff', b'bytes\x00\xff\'"\\\n\t\r', u'', u'text \xe9 \u20ac \U0001f600 \\ \n \x00', b'x' * 300, u'\u20ac' * 3], 5) */
	{"3.13 pickle p5 strings",
	  "\200\005\225v\001\000\000\000\000\000\000]\224(C\000\224C\001\377\224C\015"
	  "bytes\000\377'\042\134\012\011\015\224\214\000\224\214\026text \303\251 "
	  "\342\202\254 \360\237\230\200 \134 \012 \000\224B,\001\000\000xxxxxxxxxx"
	  "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	  "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	  "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	  "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	  "xx\224\214\011\342\202\254\342\202\254\342\202\254\224e.",
	  385, "[b'', b'\\xff', b'bytes\\x00\\xff\\x27\"\\x5c\\x0a\\x09\\x0d', u'', u'text \\xc3\\xa9 \\xe2\\x82\\xac \\xf0\\x9f\\x98\\x80 \\x5c \\x0a \\x00', b'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx', u'\\xe2\\x82\\xac\\xe2\\x82\\xac\\xe2\\x82\\xac']"},
	/* Python 3.13.0: pickle.dumps(((), (1,), (1, 2), (1, 2, 3), (1, 2, 3, 4), [], [[]], {}, {u'k': [1, {b'n': (u'x', None)}]}, {(1, u'a'): b'tuple key', 7: 8.5}), 0) */
	{"3.13 pickle p0 containers",
	  "((t(I1\012tp0\012(I1\012I2\012tp1\012(I1\012I2\012I3\012tp2\012(I1\012I2"
	  "\012I3\012I4\012tp3\012(lp4\012(lp5\012(lp6\012a(dp7\012(dp8\012Vk\012p9"
	  "\012(lp10\012I1\012a(dp11\012c_codecs\012encode\012p12\012(Vn\012p13\012"
	  "Vlatin1\012p14\012tp15\012Rp16\012(Vx\012p17\012Ntp18\012sas(dp19\012(I1"
	  "\012Va\012p20\012tp21\012g12\012(Vtuple key\012p22\012g14\012tp23\012Rp2"
	  "4\012sI7\012F8.5\012stp25\012.",
	  240, "((), (1,), (1, 2), (1, 2, 3), (1, 2, 3, 4), [], [[]], {}, {u'k': [1, {b'n': (u'x', None)}]}, {(1, u'a'): b'tuple key', 7: 8.5})"},
	/* Python 3.13.0: pickle.dumps(((), (1,), (1, 2), (1, 2, 3), (1, 2, 3, 4), [], [[]], {}, {u'k': [1, {b'n': (u'x', None)}]}, {(1, u'a'): b'tuple key', 7: 8.5}), 1) */
	{"3.13 pickle p1 containers",
	  "()(K\001tq\000(K\001K\002tq\001(K\001K\002K\003tq\002(K\001K\002K\003K\004"
	  "tq\003]q\004]q\005]q\006a}q\007}q\010X\001\000\000\000kq\011]q\012(K\001"
	  "}q\013c_codecs\012encode\012q\014(X\001\000\000\000nq\015X\006\000\000\000"
	  "latin1q\016tq\017Rq\020(X\001\000\000\000xq\021Ntq\022ses}q\023((K\001X\001"
	  "\000\000\000aq\024tq\025h\014(X\011\000\000\000tuple keyq\026h\016tq\027"
	  "Rq\030K\007G@!\000\000\000\000\000\000utq\031.",
	  194, "((), (1,), (1, 2), (1, 2, 3), (1, 2, 3, 4), [], [[]], {}, {u'k': [1, {b'n': (u'x', None)}]}, {(1, u'a'): b'tuple key', 7: 8.5})"},
	/* Python 3.13.0: pickle.dumps(((), (1,), (1, 2), (1, 2, 3), (1, 2, 3, 4), [], [[]], {}, {u'k': [1, {b'n': (u'x', None)}]}, {(1, u'a'): b'tuple key', 7: 8.5}), 2) */
	{"3.13 pickle p2 containers",
	  "\200\002()K\001\205q\000K\001K\002\206q\001K\001K\002K\003\207q\002(K\001"
	  "K\002K\003K\004tq\003]q\004]q\005]q\006a}q\007}q\010X\001\000\000\000kq\011"
	  "]q\012(K\001}q\013c_codecs\012encode\012q\014X\001\000\000\000nq\015X\006"
	  "\000\000\000latin1q\016\206q\017Rq\020X\001\000\000\000xq\021N\206q\022s"
	  "es}q\023(K\001X\001\000\000\000aq\024\206q\025h\014X\011\000\000\000tupl"
	  "e keyq\026h\016\206q\027Rq\030K\007G@!\000\000\000\000\000\000utq\031.",
	  189, "((), (1,), (1, 2), (1, 2, 3), (1, 2, 3, 4), [], [[]], {}, {u'k': [1, {b'n': (u'x', None)}]}, {(1, u'a'): b'tuple key', 7: 8.5})"},
	/* Python 3.13.0: pickle.dumps(((), (1,), (1, 2), (1, 2, 3), (1, 2, 3, 4), [], [[]], {}, {u'k': [1, {b'n': (u'x', None)}]}, {(1, u'a'): b'tuple key', 7: 8.5}), 3) */
	{"3.13 pickle p3 containers",
	  "\200\003()K\001\205q\000K\001K\002\206q\001K\001K\002K\003\207q\002(K\001"
	  "K\002K\003K\004tq\003]q\004]q\005]q\006a}q\007}q\010X\001\000\000\000kq\011"
	  "]q\012(K\001}q\013C\001nq\014X\001\000\000\000xq\015N\206q\016ses}q\017("
	  "K\001X\001\000\000\000aq\020\206q\021C\011tuple keyq\022K\007G@!\000\000"
	  "\000\000\000\000utq\023.",
	  136, "((), (1,), (1, 2), (1, 2, 3), (1, 2, 3, 4), [], [[]], {}, {u'k': [1, {b'n': (u'x', None)}]}, {(1, u'a'): b'tuple key', 7: 8.5})"},
	/* Python 3.13.0: pickle.dumps(((), (1,), (1, 2), (1, 2, 3), (1, 2, 3, 4), [], [[]], {}, {u'k': [1, {b'n': (u'x', None)}]}, {(1, u'a'): b'tuple key', 7: 8.5}), 4) */
	{"3.13 pickle p4 containers",
	  "\200\004\225i\000\000\000\000\000\000\000()K\001\205\224K\001K\002\206\224"
	  "K\001K\002K\003\207\224(K\001K\002K\003K\004t\224]\224]\224]\224a}\224}\224"
	  "\214\001k\224]\224(K\001}\224C\001n\224\214\001x\224N\206\224ses}\224(K\001"
	  "\214\001a\224\206\224C\011tuple key\224K\007G@!\000\000\000\000\000\000u"
	  "t\224.",
	  116, "((), (1,), (1, 2), (1, 2, 3), (1, 2, 3, 4), [], [[]], {}, {u'k': [1, {b'n': (u'x', None)}]}, {(1, u'a'): b'tuple key', 7: 8.5})"},
	/* Python 3.13.0: pickle.dumps(((), (1,), (1, 2), (1, 2, 3), (1, 2, 3, 4), [], [[]], {}, {u'k': [1, {b'n': (u'x', None)}]}, {(1, u'a'): b'tuple key', 7: 8.5}), 5) */
	{"3.13 pickle p5 containers",
	  "\200\005\225i\000\000\000\000\000\000\000()K\001\205\224K\001K\002\206\224"
	  "K\001K\002K\003\207\224(K\001K\002K\003K\004t\224]\224]\224]\224a}\224}\224"
	  "\214\001k\224]\224(K\001}\224C\001n\224\214\001x\224N\206\224ses}\224(K\001"
	  "\214\001a\224\206\224C\011tuple key\224K\007G@!\000\000\000\000\000\000u"
	  "t\224.",
	  116, "((), (1,), (1, 2), (1, 2, 3), (1, 2, 3, 4), [], [[]], {}, {u'k': [1, {b'n': (u'x', None)}]}, {(1, u'a'): b'tuple key', 7: 8.5})"},
	/* Python 3.13.0: pickle.dumps([set([1, 2, 3]), frozenset([u'a']), set()], 0) */
	{"3.13 pickle p0 sets",
	  "(lp0\012c__builtin__\012set\012p1\012((lp2\012I1\012aI2\012aI3\012atp3\012"
	  "Rp4\012ac__builtin__\012frozenset\012p5\012((lp6\012Va\012p7\012atp8\012"
	  "Rp9\012ag1\012((lp10\012tp11\012Rp12\012a.",
	  122, "[set(1, 2, 3), set(u'a'), set()]"},
	/* Python 3.13.0: pickle.dumps([set([1, 2, 3]), frozenset([u'a']), set()], 1) */
	{"3.13 pickle p1 sets",
	  "]q\000(c__builtin__\012set\012q\001(]q\002(K\001K\002K\003etq\003Rq\004c"
	  "__builtin__\012frozenset\012q\005(]q\006X\001\000\000\000aq\007atq\010Rq"
	  "\011h\001(]q\012tq\013Rq\014e.",
	  99, "[set(1, 2, 3), set(u'a'), set()]"},
	/* Python 3.13.0: pickle.dumps([set([1, 2, 3]), frozenset([u'a']), set()], 2) */
	{"3.13 pickle p2 sets",
	  "\200\002]q\000(c__builtin__\012set\012q\001]q\002(K\001K\002K\003e\205q\003"
	  "Rq\004c__builtin__\012frozenset\012q\005]q\006X\001\000\000\000aq\007a\205"
	  "q\010Rq\011h\001]q\012\205q\013Rq\014e.",
	  98, "[set(1, 2, 3), set(u'a'), set()]"},
	/* Python 3.13.0: pickle.dumps([set([1, 2, 3]), frozenset([u'a']), set()], 3) */
	{"3.13 pickle p3 sets",
	  "\200\003]q\000(cbuiltins\012set\012q\001]q\002(K\001K\002K\003e\205q\003"
	  "Rq\004cbuiltins\012frozenset\012q\005]q\006X\001\000\000\000aq\007a\205q"
	  "\010Rq\011h\001]q\012\205q\013Rq\014e.",
	  92, "[set(1, 2, 3), set(u'a'), set()]"},
	/* Python 3.13.0: pickle.dumps([set([1, 2, 3]), frozenset([u'a']), set()], 4) */
	{"3.13 pickle p4 sets",
	  "\200\004\225\030\000\000\000\000\000\000\000]\224(\217\224(K\001K\002K\003"
	  "\220(\214\001a\224\221\224\217\224e.",
	  35, "[set(1, 2, 3), set(u'a'), set()]"},
	/* Python 3.13.0: pickle.dumps([set([1, 2, 3]), frozenset([u'a']), set()], 5) */
	{"3.13 pickle p5 sets",
	  "\200\005\225\030\000\000\000\000\000\000\000]\224(\217\224(K\001K\002K\003"
	  "\220(\214\001a\224\221\224\217\224e.",
	  35, "[set(1, 2, 3), set(u'a'), set()]"},
	/* Python 3.13.0: pickle.dumps((lambda s, l: [s, s, l, l, s])(b'shared', [1, 2]), 0) */
	{"3.13 pickle p0 shared",
	  "(lp0\012c_codecs\012encode\012p1\012(Vshared\012p2\012Vlatin1\012p3\012t"
	  "p4\012Rp5\012ag5\012a(lp6\012I1\012aI2\012aag6\012ag5\012a.",
	  83, "[b'shared', b'shared', [1, 2], [1, 2], b'shared']"},
	/* Python 3.13.0: pickle.dumps((lambda s, l: [s, s, l, l, s])(b'shared', [1, 2]), 1) */
	{"3.13 pickle p1 shared",
	  "]q\000(c_codecs\012encode\012q\001(X\006\000\000\000sharedq\002X\006\000"
	  "\000\000latin1q\003tq\004Rq\005h\005]q\006(K\001K\002eh\006h\005e.",
	  72, "[b'shared', b'shared', [1, 2], [1, 2], b'shared']"},
	/* Python 3.13.0: pickle.dumps((lambda s, l: [s, s, l, l, s])(b'shared', [1, 2]), 2) */
	{"3.13 pickle p2 shared",
	  "\200\002]q\000(c_codecs\012encode\012q\001X\006\000\000\000sharedq\002X\006"
	  "\000\000\000latin1q\003\206q\004Rq\005h\005]q\006(K\001K\002eh\006h\005e"
	  ".",
	  73, "[b'shared', b'shared', [1, 2], [1, 2], b'shared']"},
	/* Python 3.13.0: pickle.dumps((lambda s, l: [s, s, l, l, s])(b'shared', [1, 2]), 3) */
	{"3.13 pickle p3 shared",
	  "\200\003]q\000(C\006sharedq\001h\001]q\002(K\001K\002eh\002h\001e.",
	  33, "[b'shared', b'shared', [1, 2], [1, 2], b'shared']"},
	/* Python 3.13.0: pickle.dumps((lambda s, l: [s, s, l, l, s])(b'shared', [1, 2]), 4) */
	{"3.13 pickle p4 shared",
	  "\200\004\225\034\000\000\000\000\000\000\000]\224(C\006shared\224h\001]\224"
	  "(K\001K\002eh\002h\001e.",
	  39, "[b'shared', b'shared', [1, 2], [1, 2], b'shared']"},
	/* Python 3.13.0: pickle.dumps((lambda s, l: [s, s, l, l, s])(b'shared', [1, 2]), 5) */
	{"3.13 pickle p5 shared",
	  "\200\005\225\034\000\000\000\000\000\000\000]\224(C\006shared\224h\001]\224"
	  "(K\001K\002eh\002h\001e.",
	  39, "[b'shared', b'shared', [1, 2], [1, 2], b'shared']"},
	/* Python 3.13.0: pickle.dumps([bytearray(b'ab\xff'), bytearray()], 0) */
	{"3.13 pickle p0 bytearray",
	  "(lp0\012c__builtin__\012bytearray\012p1\012(c_codecs\012encode\012p2\012"
	  "(Vab\377\012p3\012Vlatin1\012p4\012tp5\012Rp6\012tp7\012Rp8\012ag1\012(t"
	  "Rp9\012a.",
	  99, "[b'ab\\xff', b'']"},
	/* Python 3.13.0: pickle.dumps([bytearray(b'ab\xff'), bytearray()], 1) */
	{"3.13 pickle p1 bytearray",
	  "]q\000(c__builtin__\012bytearray\012q\001(c_codecs\012encode\012q\002(X\004"
	  "\000\000\000ab\303\277q\003X\006\000\000\000latin1q\004tq\005Rq\006tq\007"
	  "Rq\010h\001)Rq\011e.",
	  93, "[b'ab\\xff', b'']"},
	/* Python 3.13.0: pickle.dumps([bytearray(b'ab\xff'), bytearray()], 2) */
	{"3.13 pickle p2 bytearray",
	  "\200\002]q\000(c__builtin__\012bytearray\012q\001c_codecs\012encode\012q"
	  "\002X\004\000\000\000ab\303\277q\003X\006\000\000\000latin1q\004\206q\005"
	  "Rq\006\205q\007Rq\010h\001)Rq\011e.",
	  93, "[b'ab\\xff', b'']"},
	/* Python 3.13.0: pickle.dumps([bytearray(b'ab\xff'), bytearray()], 3) */
	{"3.13 pickle p3 bytearray",
	  "\200\003]q\000(cbuiltins\012bytearray\012q\001C\003ab\377q\002\205q\003R"
	  "q\004h\001)Rq\005e.",
	  49, "[b'ab\\xff', b'']"},
	/* Python 3.13.0: pickle.dumps([bytearray(b'ab\xff'), bytearray()], 4) */
	{"3.13 pickle p4 bytearray",
	  "\200\004\225-\000\000\000\000\000\000\000]\224(\214\010builtins\224\214\011"
	  "bytearray\224\223\224C\003ab\377\224\205\224R\224h\003)R\224e.",
	  56, "[b'ab\\xff', b'']"},
	/* Python 3.13.0: pickle.dumps([bytearray(b'ab\xff'), bytearray()], 5) */
	{"3.13 pickle p5 bytearray",
	  "\200\005\225\034\000\000\000\000\000\000\000]\224(\226\003\000\000\000\000"
	  "\000\000\000ab\377\224\226\000\000\000\000\000\000\000\000\224e.",
	  39, "[b'ab\\xff', b'']"},
	/* Python 3.13.0: pickle.dumps(CallError(u'builtins.ValueError', u'bad value \xe9', u'Traceback (most recent call last):\n  File "x.py", line 1\nValueError: bad value\n'), 0) */
	{"3.13 pickle p0 error",
	  "cecontext\012CallError\012p0\012(Vbuiltins.ValueError\012p1\012Vbad valu"
	  "e \351\012p2\012VTraceback (most recent call last):\134u000a  File \042x"
	  ".py\042, line 1\134u000aValueError: bad value\134u000a\012p3\012tp4\012R"
	  "p5\012.",
	  172, "CallError(u'builtins.ValueError', u'bad value \\xc3\\xa9', u'Traceback (most recent call last):\\x0a  File \"x.py\", line 1\\x0aValueError: bad value\\x0a')"},
	/* Python 3.13.0: pickle.dumps(CallError(u'builtins.ValueError', u'bad value \xe9', u'Traceback (most recent call last):\n  File "x.py", line 1\nValueError: bad value\n'), 1) */
	{"3.13 pickle p1 error",
	  "cecontext\012CallError\012q\000(X\023\000\000\000builtins.ValueErrorq\001"
	  "X\014\000\000\000bad value \303\251q\002XO\000\000\000Traceback (most re"
	  "cent call last):\012  File \042x.py\042, line 1\012ValueError: bad value"
	  "\012q\003tq\004Rq\005.",
	  161, "CallError(u'builtins.ValueError', u'bad value \\xc3\\xa9', u'Traceback (most recent call last):\\x0a  File \"x.py\", line 1\\x0aValueError: bad value\\x0a')"},
	/* Python 3.13.0: pickle.dumps(CallError(u'builtins.ValueError', u'bad value \xe9', u'Traceback (most recent call last):\n  File "x.py", line 1\nValueError: bad value\n'), 2) */
	{"3.13 pickle p2 error",
	  "\200\002cecontext\012CallError\012q\000X\023\000\000\000builtins.ValueEr"
	  "rorq\001X\014\000\000\000bad value \303\251q\002XO\000\000\000Traceback "
	  "(most recent call last):\012  File \042x.py\042, line 1\012ValueError: b"
	  "ad value\012q\003\207q\004Rq\005.",
	  162, "CallError(u'builtins.ValueError', u'bad value \\xc3\\xa9', u'Traceback (most recent call last):\\x0a  File \"x.py\", line 1\\x0aValueError: bad value\\x0a')"},
	/* Python 3.13.0: pickle.dumps(CallError(u'builtins.ValueError', u'bad value \xe9', u'Traceback (most recent call last):\n  File "x.py", line 1\nValueError: bad value\n'), 3) */
	{"3.13 pickle p3 error",
	  "\200\003cecontext\012CallError\012q\000X\023\000\000\000builtins.ValueEr"
	  "rorq\001X\014\000\000\000bad value \303\251q\002XO\000\000\000Traceback "
	  "(most recent call last):\012  File \042x.py\042, line 1\012ValueError: b"
	  "ad value\012q\003\207q\004Rq\005.",
	  162, "CallError(u'builtins.ValueError', u'bad value \\xc3\\xa9', u'Traceback (most recent call last):\\x0a  File \"x.py\", line 1\\x0aValueError: bad value\\x0a')"},
	/* Python 3.13.0: pickle.dumps(CallError(u'builtins.ValueError', u'bad value \xe9', u'Traceback (most recent call last):\n  File "x.py", line 1\nValueError: bad value\n'), 4) */
	{"3.13 pickle p4 error",
	  "\200\004\225\225\000\000\000\000\000\000\000\214\010econtext\224\214\011"
	  "CallError\224\223\224\214\023builtins.ValueError\224\214\014bad value \303"
	  "\251\224\214OTraceback (most recent call last):\012  File \042x.py\042, "
	  "line 1\012ValueError: bad value\012\224\207\224R\224.",
	  160, "CallError(u'builtins.ValueError', u'bad value \\xc3\\xa9', u'Traceback (most recent call last):\\x0a  File \"x.py\", line 1\\x0aValueError: bad value\\x0a')"},
	/* Python 3.13.0: pickle.dumps(CallError(u'builtins.ValueError', u'bad value \xe9', u'Traceback (most recent call last):\n  File "x.py", line 1\nValueError: bad value\n'), 5) */
	{"3.13 pickle p5 error",
	  "\200\005\225\225\000\000\000\000\000\000\000\214\010econtext\224\214\011"
	  "CallError\224\223\224\214\023builtins.ValueError\224\214\014bad value \303"
	  "\251\224\214OTraceback (most recent call last):\012  File \042x.py\042, "
	  "line 1\012ValueError: bad value\012\224\207\224R\224.",
	  160, "CallError(u'builtins.ValueError', u'bad value \\xc3\\xa9', u'Traceback (most recent call last):\\x0a  File \"x.py\", line 1\\x0aValueError: bad value\\x0a')"},
	/* Python 3.6.15: pickle.dumps([None, True, False, 0, 1, -1, 255, 256, 65535, 65536, -2**31, 2**31-1, 2**31, -2**31-1, 2**62, 2**63-1, -2**63, 2**63, -2**63-1, 2**64, 10**40, -10**40, 1.5, -0.0, 1e300, -2.5e-310, float('inf'), float('-inf')], 3) */
	{"3.6 pickle p3 scalars",
	  "\200\003]q\000(N\210\211K\000K\001J\377\377\377\377K\377M\000\001M\377\377"
	  "J\000\000\001\000J\000\000\000\200J\377\377\377\177\212\005\000\000\000\200"
	  "\000\212\005\377\377\377\177\377\212\010\000\000\000\000\000\000\000@\212"
	  "\010\377\377\377\377\377\377\377\177\212\010\000\000\000\000\000\000\000"
	  "\200\212\011\000\000\000\000\000\000\000\200\000\212\011\377\377\377\377"
	  "\377\377\377\177\377\212\011\000\000\000\000\000\000\000\000\001\212\021"
	  "\000\000\000\000\000a\365\271\253\277\244\134\303\361)c\035\212\021\000\000"
	  "\000\000\000\237\012FT@[\243<\016\326\234\342G\077\370\000\000\000\000\000"
	  "\000G\200\000\000\000\000\000\000\000G~7\344<\210\000u\234G\200\000.\005"
	  "\134\232\077lG\177\360\000\000\000\000\000\000G\377\360\000\000\000\000\000"
	  "\000e.",
	  212, "[None, True, False, 0, 1, -1, 255, 256, 65535, 65536, -2147483648, 2147483647, 2147483648, -2147483649, 4611686018427387904, 9223372036854775807, -9223372036854775808, 9223372036854775808, -9223372036854775809, 18446744073709551616, 10000000000000000000000000000000000000000, -10000000000000000000000000000000000000000, 1.5, -0, 1.0000000000000001e+300, -2.5000000000000171e-310, inf, -inf]"},
	/* Python 3.6.15: pickle.dumps([None, True, False, 0, 1, -1, 255, 256, 65535, 65536, -2**31, 2**31-1, 2**31, -2**31-1, 2**62, 2**63-1, -2**63, 2**63, -2**63-1, 2**64, 10**40, -10**40, 1.5, -0.0, 1e300, -2.5e-310, float('inf'), float('-inf')], 4) */
	{"3.6 pickle p4 scalars",
	  "\200\004\225\321\000\000\000\000\000\000\000]\224(N\210\211K\000K\001J\377"
	  "\377\377\377K\377M\000\001M\377\377J\000\000\001\000J\000\000\000\200J\377"
	  "\377\377\177\212\005\000\000\000\200\000\212\005\377\377\377\177\377\212"
	  "\010\000\000\000\000\000\000\000@\212\010\377\377\377\377\377\377\377\177"
	  "\212\010\000\000\000\000\000\000\000\200\212\011\000\000\000\000\000\000"
	  "\000\200\000\212\011\377\377\377\377\377\377\377\177\377\212\011\000\000"
	  "\000\000\000\000\000\000\001\212\021\000\000\000\000\000a\365\271\253\277"
	  "\244\134\303\361)c\035\212\021\000\000\000\000\000\237\012FT@[\243<\016\326"
	  "\234\342G\077\370\000\000\000\000\000\000G\200\000\000\000\000\000\000\000"
	  "G~7\344<\210\000u\234G\200\000.\005\134\232\077lG\177\360\000\000\000\000"
	  "\000\000G\377\360\000\000\000\000\000\000e.",
	  220, "[None, True, False, 0, 1, -1, 255, 256, 65535, 65536, -2147483648, 2147483647, 2147483648, -2147483649, 4611686018427387904, 9223372036854775807, -9223372036854775808, 9223372036854775808, -9223372036854775809, 18446744073709551616, 10000000000000000000000000000000000000000, -10000000000000000000000000000000000000000, 1.5, -0, 1.0000000000000001e+300, -2.5000000000000171e-310, inf, -inf]"},
	/* Python 3.6.15: pickle.dumps([b'', b'\xff', b'bytes\x00\xff\'"\\\n\t\r', u'', u'text \xe9 \u20ac \U0001f600 \\ \n \x00', b'x' * 300, u'\u20ac' * 3], 3) */
	{"3.6 pickle p3 strings",
	  "\200\003]q\000(C\000q\001C\001\377q\002C\015bytes\000\377'\042\134\012\011"
	  "\015q\003X\000\000\000\000q\004X\026\000\000\000text \303\251 \342\202\254"
	  " \360\237\230\200 \134 \012 \000q\005B,\001\000\000xxxxxxxxxxxxxxxxxxxxx"
	  "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	  "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	  "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	  "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxq\006X\011"
	  "\000\000\000\342\202\254\342\202\254\342\202\254q\007e.",
	  393, "[b'', b'\\xff', b'bytes\\x00\\xff\\x27\"\\x5c\\x0a\\x09\\x0d', u'', u'text \\xc3\\xa9 \\xe2\\x82\\xac \\xf0\\x9f\\x98\\x80 \\x5c \\x0a \\x00', b'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx', u'\\xe2\\x82\\xac\\xe2\\x82\\xac\\xe2\\x82\\xac']"},
	/* Python 3.6.15: pickle.dumps([b'', b'\xff', b'bytes\x00\xff\'"\\\n\t\r', u'', u'text \xe9 \u20ac \U0001f600 \\ \n \x00', b'x' * 300, u'\u20ac' * 3], 4) */
	{"3.6 pickle p4 strings",
	  "\200\004\225v\001\000\000\000\000\000\000]\224(C\000\224C\001\377\224C\015"
	  "bytes\000\377'\042\134\012\011\015\224\214\000\224\214\026text \303\251 "
	  "\342\202\254 \360\237\230\200 \134 \012 \000\224B,\001\000\000xxxxxxxxxx"
	  "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	  "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	  "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	  "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	  "xx\224\214\011\342\202\254\342\202\254\342\202\254\224e.",
	  385, "[b'', b'\\xff', b'bytes\\x00\\xff\\x27\"\\x5c\\x0a\\x09\\x0d', u'', u'text \\xc3\\xa9 \\xe2\\x82\\xac \\xf0\\x9f\\x98\\x80 \\x5c \\x0a \\x00', b'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx', u'\\xe2\\x82\\xac\\xe2\\x82\\xac\\xe2\\x82\\xac']"},
	/* Python 3.6.15: pickle.dumps(((), (1,), (1, 2), (1, 2, 3), (1, 2, 3, 4), [], [[]], {}, {u'k': [1, {b'n': (u'x', None)}]}, {(1, u'a'): b'tuple key', 7: 8.5}), 3) */
	{"3.6 pickle p3 containers",
	  "\200\003()K\001\205q\000K\001K\002\206q\001K\001K\002K\003\207q\002(K\001"
	  "K\002K\003K\004tq\003]q\004]q\005]q\006a}q\007}q\010X\001\000\000\000kq\011"
	  "]q\012(K\001}q\013C\001nq\014X\001\000\000\000xq\015N\206q\016ses}q\017("
	  "K\001X\001\000\000\000aq\020\206q\021C\011tuple keyq\022K\007G@!\000\000"
	  "\000\000\000\000utq\023.",
	  136, "((), (1,), (1, 2), (1, 2, 3), (1, 2, 3, 4), [], [[]], {}, {u'k': [1, {b'n': (u'x', None)}]}, {(1, u'a'): b'tuple key', 7: 8.5})"},
	/* Python 3.6.15: pickle.dumps(((), (1,), (1, 2), (1, 2, 3), (1, 2, 3, 4), [], [[]], {}, {u'k': [1, {b'n': (u'x', None)}]}, {(1, u'a'): b'tuple key', 7: 8.5}), 4) */
	{"3.6 pickle p4 containers",
	  "\200\004\225i\000\000\000\000\000\000\000()K\001\205\224K\001K\002\206\224"
	  "K\001K\002K\003\207\224(K\001K\002K\003K\004t\224]\224]\224]\224a}\224}\224"
	  "\214\001k\224]\224(K\001}\224C\001n\224\214\001x\224N\206\224ses}\224(K\001"
	  "\214\001a\224\206\224C\011tuple key\224K\007G@!\000\000\000\000\000\000u"
	  "t\224.",
	  116, "((), (1,), (1, 2), (1, 2, 3), (1, 2, 3, 4), [], [[]], {}, {u'k': [1, {b'n': (u'x', None)}]}, {(1, u'a'): b'tuple key', 7: 8.5})"},
	/* Python 3.6.15: pickle.dumps([set([1, 2, 3]), frozenset([u'a']), set()], 3) */
	{"3.6 pickle p3 sets",
	  "\200\003]q\000(cbuiltins\012set\012q\001]q\002(K\001K\002K\003e\205q\003"
	  "Rq\004cbuiltins\012frozenset\012q\005]q\006X\001\000\000\000aq\007a\205q"
	  "\010Rq\011h\001]q\012\205q\013Rq\014e.",
	  92, "[set(1, 2, 3), set(u'a'), set()]"},
	/* Python 3.6.15: pickle.dumps([set([1, 2, 3]), frozenset([u'a']), set()], 4) */
	{"3.6 pickle p4 sets",
	  "\200\004\225\030\000\000\000\000\000\000\000]\224(\217\224(K\001K\002K\003"
	  "\220(\214\001a\224\221\224\217\224e.",
	  35, "[set(1, 2, 3), set(u'a'), set()]"},
	/* Python 3.6.15: pickle.dumps((lambda s, l: [s, s, l, l, s])(b'shared', [1, 2]), 3) */
	{"3.6 pickle p3 shared",
	  "\200\003]q\000(C\006sharedq\001h\001]q\002(K\001K\002eh\002h\001e.",
	  33, "[b'shared', b'shared', [1, 2], [1, 2], b'shared']"},
	/* Python 3.6.15: pickle.dumps((lambda s, l: [s, s, l, l, s])(b'shared', [1, 2]), 4) */
	{"3.6 pickle p4 shared",
	  "\200\004\225\034\000\000\000\000\000\000\000]\224(C\006shared\224h\001]\224"
	  "(K\001K\002eh\002h\001e.",
	  39, "[b'shared', b'shared', [1, 2], [1, 2], b'shared']"},
	/* Python 3.6.15: pickle.dumps([bytearray(b'ab\xff'), bytearray()], 3) */
	{"3.6 pickle p3 bytearray",
	  "\200\003]q\000(cbuiltins\012bytearray\012q\001C\003ab\377q\002\205q\003R"
	  "q\004h\001)Rq\005e.",
	  49, "[b'ab\\xff', b'']"},
	/* Python 3.6.15: pickle.dumps([bytearray(b'ab\xff'), bytearray()], 4) */
	{"3.6 pickle p4 bytearray",
	  "\200\004\225-\000\000\000\000\000\000\000]\224(\214\010builtins\224\214\011"
	  "bytearray\224\223\224C\003ab\377\224\205\224R\224h\003)R\224e.",
	  56, "[b'ab\\xff', b'']"},
	/* Python 3.6.15: pickle.dumps(CallError(u'builtins.ValueError', u'bad value \xe9', u'Traceback (most recent call last):\n  File "x.py", line 1\nValueError: bad value\n'), 3) */
	{"3.6 pickle p3 error",
	  "\200\003cecontext\012CallError\012q\000X\023\000\000\000builtins.ValueEr"
	  "rorq\001X\014\000\000\000bad value \303\251q\002XO\000\000\000Traceback "
	  "(most recent call last):\012  File \042x.py\042, line 1\012ValueError: b"
	  "ad value\012q\003\207q\004Rq\005.",
	  162, "CallError(u'builtins.ValueError', u'bad value \\xc3\\xa9', u'Traceback (most recent call last):\\x0a  File \"x.py\", line 1\\x0aValueError: bad value\\x0a')"},
	/* Python 3.6.15: pickle.dumps(CallError(u'builtins.ValueError', u'bad value \xe9', u'Traceback (most recent call last):\n  File "x.py", line 1\nValueError: bad value\n'), 4) */
	{"3.6 pickle p4 error",
	  "\200\004\225\225\000\000\000\000\000\000\000\214\010econtext\224\214\011"
	  "CallError\224\223\224\214\023builtins.ValueError\224\214\014bad value \303"
	  "\251\224\214OTraceback (most recent call last):\012  File \042x.py\042, "
	  "line 1\012ValueError: bad value\012\224\207\224R\224.",
	  160, "CallError(u'builtins.ValueError', u'bad value \\xc3\\xa9', u'Traceback (most recent call last):\\x0a  File \"x.py\", line 1\\x0aValueError: bad value\\x0a')"},
};

/* Pickles real Pythons write for values outside the subset: refused (expect is a
 * substring of the message). */
static const struct pyk python_refused[] = {
	/* Python 2.7.18: l = []; l.append(l); pickle.dumps(l, 2) */
	{"2.7 p2 recursive list",
	  "\200\002]q\000h\000a.",
	  9, "recursive structure"},
	/* Python 2.7.18: d = {}; d[u'self'] = d; pickle.dumps(d, 2) */
	{"2.7 p2 recursive dict",
	  "\200\002}q\000X\004\000\000\000selfq\001h\000s.",
	  20, "recursive structure"},
	/* Python 2.7.18: t = ([],); t[0].append(t); pickle.dumps(t, 2) */
	{"2.7 p2 recursive tuple",
	  "\200\002]q\000h\000\205q\001a0h\001.",
	  15, "recursive structure"},
	/* Python 2.7.18: import collections; o = collections.OrderedDict(); pickle.dumps(o, 2) */
	{"2.7 p2 OrderedDict",
	  "\200\002ccollections\012OrderedDict\012q\000]q\001\205q\002Rq\003.",
	  39, "refused global collections.OrderedDict at offset "},
	/* Python 2.7.18: o = ValueError('x'); pickle.dumps(o, 2) */
	{"2.7 p2 exception",
	  "\200\002cexceptions\012ValueError\012q\000U\001xq\001\205q\002Rq\003.",
	  39, "refused global "},
	/* Python 2.7.18: o = set([frozenset([1])]); pickle.dumps(o, 2) */
	{"2.7 p2 frozenset in set",
	  "\200\002c__builtin__\012set\012q\000]q\001c__builtin__\012frozenset\012q"
	  "\002]q\003K\001a\205q\004Rq\005a\205q\006Rq\007.",
	  69, "unhashable set used as a set item"},
	/* Python 3.13.0: l = []; l.append(l); pickle.dumps(l, 2) */
	{"3.13 p2 recursive list",
	  "\200\002]q\000h\000a.",
	  9, "recursive structure"},
	/* Python 3.13.0: l = []; l.append(l); pickle.dumps(l, 4) */
	{"3.13 p4 recursive list",
	  "\200\004\225\006\000\000\000\000\000\000\000]\224h\000a.",
	  17, "recursive structure"},
	/* Python 3.13.0: d = {}; d[u'self'] = d; pickle.dumps(d, 2) */
	{"3.13 p2 recursive dict",
	  "\200\002}q\000X\004\000\000\000selfq\001h\000s.",
	  20, "recursive structure"},
	/* Python 3.13.0: d = {}; d[u'self'] = d; pickle.dumps(d, 4) */
	{"3.13 p4 recursive dict",
	  "\200\004\225\015\000\000\000\000\000\000\000}\224\214\004self\224h\000s.",
	  24, "recursive structure"},
	/* Python 3.13.0: t = ([],); t[0].append(t); pickle.dumps(t, 2) */
	{"3.13 p2 recursive tuple",
	  "\200\002]q\000h\000\205q\001a0h\001.",
	  15, "recursive structure"},
	/* Python 3.13.0: t = ([],); t[0].append(t); pickle.dumps(t, 4) */
	{"3.13 p4 recursive tuple",
	  "\200\004\225\013\000\000\000\000\000\000\000]\224h\000\205\224a0h\001.",
	  22, "recursive structure"},
	/* Python 3.13.0: import collections; o = collections.OrderedDict(); pickle.dumps(o, 2) */
	{"3.13 p2 OrderedDict",
	  "\200\002ccollections\012OrderedDict\012q\000)Rq\001.",
	  34, "refused global collections.OrderedDict at offset "},
	/* Python 3.13.0: import collections; o = collections.OrderedDict(); pickle.dumps(o, 4) */
	{"3.13 p4 OrderedDict",
	  "\200\004\225\042\000\000\000\000\000\000\000\214\013collections\224\214\013"
	  "OrderedDict\224\223\224)R\224.",
	  45, "refused global collections.OrderedDict at offset "},
	/* Python 3.13.0: o = ValueError('x'); pickle.dumps(o, 2) */
	{"3.13 p2 exception",
	  "\200\002cexceptions\012ValueError\012q\000X\001\000\000\000xq\001\205q\002"
	  "Rq\003.",
	  42, "refused global "},
	/* Python 3.13.0: o = ValueError('x'); pickle.dumps(o, 4) */
	{"3.13 p4 exception",
	  "\200\004\225#\000\000\000\000\000\000\000\214\010builtins\224\214\012Val"
	  "ueError\224\223\224\214\001x\224\205\224R\224.",
	  46, "refused global "},
	/* Python 3.13.0: o = set([frozenset([1])]); pickle.dumps(o, 2) */
	{"3.13 p2 frozenset in set",
	  "\200\002c__builtin__\012set\012q\000]q\001c__builtin__\012frozenset\012q"
	  "\002]q\003K\001a\205q\004Rq\005a\205q\006Rq\007.",
	  69, "unhashable set used as a set item"},
	/* Python 3.13.0: o = set([frozenset([1])]); pickle.dumps(o, 4) */
	{"3.13 p4 frozenset in set",
	  "\200\004\225\012\000\000\000\000\000\000\000\217\224((K\001\221\224\220.",
	  21, "unhashable set used as a set item"},
};

/* What CPython writes with memoization off: the encoder must write the same bytes. */
struct exact {
	const char *data;
	size_t len;
};

static const struct exact exact_pickles[] = {
	/* Python 3.13.0: pickle.Pickler(f, 2) with .fast = True, dump([None, True, False, 0, 1, -1, 255, 256, 65535, 65536, -2**31, 2**31-1, 2**31, -2**31-1, 2**63-1, -2**63, 2**63, -2**63-1, 2**64, 10**40, -10**40, -256**8, 256**8-1, 128**9, -128**9, 2**255, -2**255, 1.5, -0.0, 1e300, float('inf'), float('-inf')]) */
	{"\200\002](N\210\211K\000K\001J\377\377\377\377K\377M\000\001M\377\377J\000"
	  "\000\001\000J\000\000\000\200J\377\377\377\177\212\005\000\000\000\200\000"
	  "\212\005\377\377\377\177\377\212\010\377\377\377\377\377\377\377\177\212"
	  "\010\000\000\000\000\000\000\000\200\212\011\000\000\000\000\000\000\000"
	  "\200\000\212\011\377\377\377\377\377\377\377\177\377\212\011\000\000\000"
	  "\000\000\000\000\000\001\212\021\000\000\000\000\000a\365\271\253\277\244"
	  "\134\303\361)c\035\212\021\000\000\000\000\000\237\012FT@[\243<\016\326\234"
	  "\342\212\011\000\000\000\000\000\000\000\000\377\212\011\377\377\377\377"
	  "\377\377\377\377\000\212\011\000\000\000\000\000\000\000\200\000\212\010"
	  "\000\000\000\000\000\000\000\200\212!\000\000\000\000\000\000\000\000\000"
	  "\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000"
	  "\000\000\000\000\200\000\212 \000\000\000\000\000\000\000\000\000\000\000"
	  "\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000"
	  "\000\000\200G\077\370\000\000\000\000\000\000G\200\000\000\000\000\000\000"
	  "\000G~7\344<\210\000u\234G\177\360\000\000\000\000\000\000G\377\360\000\000"
	  "\000\000\000\000e.",
	  303},
	/* Python 3.13.0: pickle.Pickler(f, 2) with .fast = True, dump([u'', u'text \xe9 \u20ac \U0001f600', u'\u20ac' * 100]) */
	{"\200\002](X\000\000\000\000X\020\000\000\000text \303\251 \342\202\254 \360"
	  "\237\230\200X,\001\000\000\342\202\254\342\202\254\342\202\254\342\202\254"
	  "\342\202\254\342\202\254\342\202\254\342\202\254\342\202\254\342\202\254"
	  "\342\202\254\342\202\254\342\202\254\342\202\254\342\202\254\342\202\254"
	  "\342\202\254\342\202\254\342\202\254\342\202\254\342\202\254\342\202\254"
	  "\342\202\254\342\202\254\342\202\254\342\202\254\342\202\254\342\202\254"
	  "\342\202\254\342\202\254\342\202\254\342\202\254\342\202\254\342\202\254"
	  "\342\202\254\342\202\254\342\202\254\342\202\254\342\202\254\342\202\254"
	  "\342\202\254\342\202\254\342\202\254\342\202\254\342\202\254\342\202\254"
	  "\342\202\254\342\202\254\342\202\254\342\202\254\342\202\254\342\202\254"
	  "\342\202\254\342\202\254\342\202\254\342\202\254\342\202\254\342\202\254"
	  "\342\202\254\342\202\254\342\202\254\342\202\254\342\202\254\342\202\254"
	  "\342\202\254\342\202\254\342\202\254\342\202\254\342\202\254\342\202\254"
	  "\342\202\254\342\202\254\342\202\254\342\202\254\342\202\254\342\202\254"
	  "\342\202\254\342\202\254\342\202\254\342\202\254\342\202\254\342\202\254"
	  "\342\202\254\342\202\254\342\202\254\342\202\254\342\202\254\342\202\254"
	  "\342\202\254\342\202\254\342\202\254\342\202\254\342\202\254\342\202\254"
	  "\342\202\254\342\202\254\342\202\254\342\202\254\342\202\254\342\202\254"
	  "e.",
	  337},
	/* Python 3.13.0: pickle.Pickler(f, 2) with .fast = True, dump(((), (1,), (1, 2), (1, 2, 3), (1, 2, 3, 4), [], [[]], [1], {}, {u'k': [1, {u'n': (u'x', None)}]}, {(1, u'a'): u'tuple key', 7: 8.5})) */
	{"\200\002()K\001\205K\001K\002\206K\001K\002K\003\207(K\001K\002K\003K\004"
	  "t]]]a]K\001a}}X\001\000\000\000k](K\001}X\001\000\000\000nX\001\000\000\000"
	  "xN\206ses}(K\001X\001\000\000\000a\206X\011\000\000\000tuple keyK\007G@!"
	  "\000\000\000\000\000\000ut.",
	  106},
	/* Python 3.13.0: pickle.Pickler(f, 2) with .fast = True, dump([set([1, 2, 3]), set([5]), set()]) */
	{"\200\002](c__builtin__\012set\012](K\001K\002K\003e\205Rc__builtin__\012"
	  "set\012]K\005a\205Rc__builtin__\012set\012]\205Re.",
	  77},
	/* Python 3.13.0: pickle.Pickler(f, 2) with .fast = True, dump(CallError(u'builtins.KeyError', u"'k'", u'')) */
	{"\200\002cecontext\012CallError\012X\021\000\000\000builtins.KeyErrorX\003"
	  "\000\000\000'k'X\000\000\000\000\207R.",
	  60},
	/* Python 3.13.0: pickle.Pickler(f, 2) with .fast = True, dump([10**300, -10**300, 2**2100, -2**2100]) */
	{"\200\002](\212}\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000"
	  "\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000"
	  "\000\000\000\000\020\335\364R\011E]\341B\264\256.4\263\243o\243\315\077n"
	  "z(\264\367w\301K\320\310\322g\340\370\250\256g;\311\255\263V\310l\013\235"
	  "\235\225\000\301H[=\212\276J\3646\331RM\350\333q\305!\034\371\011\201EJj"
	  "\330\252\327|L\341\010\234\245\233u\000\210<\344\027\212}\000\000\000\000"
	  "\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000"
	  "\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000\360\042\013"
	  "\255\366\272\242\036\275KQ\321\313L\134\220\1342\300\221\205\327K\010\210"
	  ">\264/7-\230\037\007WQ\230\3046RL\2517\223\364bbj\377>\267\244\302uA\265"
	  "\013\311&\255\262\027$\216:\336\343\006\366~\272\265\225'U(\203\263\036\367"
	  "cZd\212\377w\303\033\350\213\007\001\000\000\000\000\000\000\000\000\000"
	  "\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000"
	  "\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000"
	  "\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000"
	  "\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000"
	  "\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000"
	  "\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000"
	  "\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000"
	  "\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000"
	  "\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000"
	  "\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000"
	  "\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000"
	  "\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000"
	  "\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000"
	  "\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000"
	  "\000\000\000\020\213\007\001\000\000\000\000\000\000\000\000\000\000\000"
	  "\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000"
	  "\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000"
	  "\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000"
	  "\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000"
	  "\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000"
	  "\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000"
	  "\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000"
	  "\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000"
	  "\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000"
	  "\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000"
	  "\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000"
	  "\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000"
	  "\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000"
	  "\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000"
	  "\000\360e.",
	  796},
	/* Python 2.7.18: pickle.Pickler(f, 2) with .fast = True, dump([b'', b'bytes\x00\xff', b'y' * 300]) */
	{"\200\002](U\000U\007bytes\000\377T,\001\000\000yyyyyyyyyyyyyyyyyyyyyyyyy"
	  "yyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyy"
	  "yyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyy"
	  "yyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyy"
	  "yyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyye.",
	  322},
};

#define N_ELEMS(a) (sizeof(a) / sizeof((a)[0]))

/* ---- round trips ------------------------------------------------------------- */

static void test_roundtrip_scalars(void)
{
	roundtrip(ec_value_none());
	roundtrip(ec_value_bool(1));
	roundtrip(ec_value_bool(0));
	static const int64_t ints[] = {0, 1, -1, 255, 256, 65535, 65536, -256, 127, 128,
	                               INT32_MAX, INT32_MIN, (int64_t)INT32_MAX + 1,
	                               (int64_t)INT32_MIN - 1, 1LL << 32, -(1LL << 32),
	                               (1LL << 39) - 1, -(1LL << 39), 1LL << 55, -(1LL << 55),
	                               INT64_MAX, INT64_MIN, INT64_MAX - 1, INT64_MIN + 1};
	for (size_t i = 0; i < N_ELEMS(ints); i++)
		roundtrip(ec_value_int(ints[i]));
	static const double fl[] = {0.0, -0.0, 1.5, -2.25, 1e300, -1e-300, DBL_MAX, DBL_MIN,
	                            4.9e-324, 0.1};
	for (size_t i = 0; i < N_ELEMS(fl); i++)
		roundtrip(ec_value_float(fl[i]));
	roundtrip(ec_value_float(INFINITY));
	roundtrip(ec_value_float(-INFINITY));
	roundtrip(ec_value_float(NAN));
}

static void test_roundtrip_bigint(void)
{
	static const char *const b[] = {
		"9223372036854775808",  "-9223372036854775809", "18446744073709551615",
		"18446744073709551616", "-18446744073709551616", "-18446744073709551617",
		/* 2**71, -2**71 (a power of two needs no extra sign byte when negative) */
		"2361183241434822606848", "-2361183241434822606848",
		"-2361183241434822606849", "2361183241434822606847",
		"123456789012345678901234567890123456789012345678901234567890",
		"-123456789012345678901234567890123456789012345678901234567890",
	};
	for (size_t i = 0; i < N_ELEMS(b); i++)
		roundtrip(big(b[i]));
	/* 10**700 needs LONG4 (> 255 bytes) */
	struct sb s = {0};
	for (int sign = 0; sign < 2; sign++) {
		s.n = 0;
		sb_puts(&s, sign ? "-1" : "1");
		for (int i = 0; i < 700; i++)
			sb_puts(&s, "0");
		roundtrip(big(s.s));
	}
	free(s.s);
	/* A BIGINT that fits int64 comes back as INT. */
	roundtrip2(big("5"), ec_value_int(5));
	roundtrip2(big("-9223372036854775808"), ec_value_int(INT64_MIN));
	roundtrip2(big("0"), ec_value_int(0));
	/* Malformed decimal text is refused by the encoder. */
	ec_value *bad = ec__value_strtype(EC_T_BIGINT, "12x", 3);
	struct ec_buf buf = {0};
	struct ec_error err = {0};
	CU_ASSERT_EQUAL(encode(bad, &buf, &err), EC_ECODEC);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "malformed big integer"));
	CU_ASSERT_EQUAL(buf.len, 0);
	ec_value_free(bad);
	free(buf.data);
}

static void test_roundtrip_strings(void)
{
	static const size_t sizes[] = {0, 1, 255, 256, 300, 65535, 65536, 70000};
	for (size_t i = 0; i < N_ELEMS(sizes); i++) {
		roundtrip(bytes_n(sizes[i]));
		roundtrip(text_n(sizes[i]));
	}
	unsigned char all[256];
	for (int i = 0; i < 256; i++)
		all[i] = (unsigned char)i;
	roundtrip(ec_value_bytes(all, sizeof(all)));
	roundtrip(ec_value_str(B("nul \0 inside")));
	roundtrip(ec_value_cstr("astral \xf0\x9f\x98\x80 \xf4\x8f\xbf\xbf euro \xe2\x82\xac"));
	/* Lone surrogates, as Python's surrogatepass writes them. */
	roundtrip(ec_value_str(B("\xed\xa0\x80 \xed\xb8\x80 \xed\xa0\xbd\xed\xb8\x80")));
}

static ec_value *nested_lists(int depth)
{
	ec_value *v = ec_value_new(EC_T_LIST);
	for (int i = 1; i < depth; i++) {
		ec_value *outer = ec_value_new(EC_T_LIST);
		ec_value_append(outer, v);
		v = outer;
	}
	return v;
}

static void test_roundtrip_containers(void)
{
	roundtrip(ec_value_new(EC_T_TUPLE));
	roundtrip(ec_value_new(EC_T_LIST));
	roundtrip(ec_value_new(EC_T_DICT));
	roundtrip(ec_value_new(EC_T_SET));
	for (int n = 1; n <= 5; n++) {
		ec_value *t = ec_value_new(EC_T_TUPLE);
		for (int i = 0; i < n; i++)
			ec_value_append(t, ec_value_int(i * 1000));
		roundtrip(t);
	}
	roundtrip(mk(EC_T_LIST, ec_value_int(1), NULL));
	roundtrip(mk(EC_T_DICT, ec_value_cstr("k"), ec_value_none(), NULL));
	roundtrip(mk(EC_T_SET, ec_value_cstr("only"), NULL));
	roundtrip(mk(EC_T_SET, ec_value_int(1), ec_value_cstr("a"), ec_value_bytes(B("b")),
	             mk(EC_T_TUPLE, ec_value_int(1), ec_value_int(2), NULL), NULL));
	/* Nested, dict key order kept, tuple keys. */
	roundtrip(mk(EC_T_DICT,
	             ec_value_cstr("z"), mk(EC_T_LIST, ec_value_int(1), ec_value_float(2.5),
	                                    mk(EC_T_DICT, ec_value_bytes(B("n")),
	                                       mk(EC_T_TUPLE, ec_value_cstr("x"), ec_value_none(), NULL),
	                                       NULL),
	                                    NULL),
	             ec_value_cstr("a"), ec_value_bool(1),
	             mk(EC_T_TUPLE, ec_value_int(1), ec_value_cstr("k"), NULL), ec_value_bytes(B("tk")),
	             ec_value_int(7), mk(EC_T_SET, ec_value_int(3), NULL),
	             ec_value_none(), ec_value_new(EC_T_TUPLE), NULL));
	/* Batches: more than 1000 items. */
	ec_value *l = ec_value_new(EC_T_LIST), *d = ec_value_new(EC_T_DICT),
	         *s = ec_value_new(EC_T_SET), *t = ec_value_new(EC_T_TUPLE);
	for (int i = 0; i < 2500; i++) {
		ec_value_append(l, ec_value_int(i));
		ec_value_append(s, ec_value_int(-i));
		ec_value_append(t, ec_value_int(i % 300));
		ec_value_dict_set(d, ec_value_int(i), ec_value_int(-i));
	}
	roundtrip(l);
	roundtrip(d);
	roundtrip(s);
	roundtrip(t);
	/* Nesting: 512 levels is the limit, both ways. */
	roundtrip(nested_lists(512));
	ec_value *deep = nested_lists(513);
	struct ec_buf b = {0};
	struct ec_error err = {0};
	CU_ASSERT_EQUAL(encode(deep, &b, &err), EC_ECODEC);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "nested deeper than 512"));
	CU_ASSERT_EQUAL(b.len, 0);
	ec_value_free(deep);
	free(b.data);
}

static void test_roundtrip_error(void)
{
	roundtrip(ec_value_error("builtins.ValueError", "bad value \xc3\xa9",
	                         "Traceback (most recent call last):\n  File \"x\", line 1\n"));
	roundtrip(ec_value_error("exceptions.KeyError", "", ""));
	roundtrip(mk(EC_T_LIST, ec_value_error("a.B", "c", "d"), ec_value_error("e.F", "g", "h"), NULL));
	/* NULL fields are sent as empty texts. */
	ec_value *e = ec_value_new(EC_T_ERROR);
	roundtrip2(e, ec_value_error("", "", ""));
}

/* ---- the encoder's exact output ---------------------------------------------- */

static void test_encode_exact(void)
{
	for (size_t i = 0; i < N_ELEMS(exact_pickles); i++) {
		const struct exact *p = &exact_pickles[i];
		char label[32];
		snprintf(label, sizeof(label), "exact #%zu", i);
		ec_value *v = dec_ok(label, p->data, p->len);
		if (!v)
			continue;
		struct ec_buf b = {0};
		struct ec_error err = {0};
		CU_ASSERT_EQUAL(encode(v, &b, &err), 0);
		int ok = b.len == p->len && memcmp(b.data, p->data, p->len) == 0;
		if (!ok) {
			size_t k = 0;
			while (k < b.len && k < p->len && b.data[k] == (unsigned char)p->data[k])
				k++;
			printf("\n    %s: encoding differs from CPython's at byte %zu (%zu vs %zu bytes)\n",
			       label, k, b.len, p->len);
		}
		CU_ASSERT(ok);
		free(b.data);
		ec_value_free(v);
	}
	/* Small hand-checked encodings. */
	struct {
		ec_value *v;
		const char *bytes;
		size_t len;
	} cases[] = {
		{ec_value_none(), B("\x80\x02N.")},
		{ec_value_int(-1), B("\x80\x02J\xff\xff\xff\xff.")},
		{ec_value_int(INT32_MAX + 1LL), B("\x80\x02\x8a\x05\x00\x00\x00\x80\x00.")},
		{ec_value_int(INT32_MIN - 1LL), B("\x80\x02\x8a\x05\xff\xff\xff\x7f\xff.")},
		{ec_value_float(-0.0), B("\x80\x02G\x80\x00\x00\x00\x00\x00\x00\x00.")},
		{ec_value_bytes(B("ab")), B("\x80\x02U\x02" "ab.")},
		{ec_value_cstr("\xc3\xa9"), B("\x80\x02X\x02\x00\x00\x00\xc3\xa9.")},
		{mk(EC_T_SET, NULL), B("\x80\x02" "c__builtin__\nset\n]\x85R.")},
		{ec_value_error("t", "m", ""),
		 B("\x80\x02" "cecontext\nCallError\nX\x01\x00\x00\x00tX\x01\x00\x00\x00mX\x00\x00\x00\x00\x87R.")},
	};
	for (size_t i = 0; i < N_ELEMS(cases); i++) {
		struct ec_buf b = {0};
		struct ec_error err = {0};
		CU_ASSERT_EQUAL(encode(cases[i].v, &b, &err), 0);
		CU_ASSERT(b.len == cases[i].len && memcmp(b.data, cases[i].bytes, b.len) == 0);
		free(b.data);
		ec_value_free(cases[i].v);
	}
}

static void test_encode_errors(void)
{
	/* Output is appended; on failure the buffer is put back as it was. */
	struct ec_buf b = {0};
	struct ec_error err = {0};
	ec_value *one = ec_value_int(1);
	CU_ASSERT_EQUAL(encode(one, &b, &err), 0);
	size_t first = b.len;
	CU_ASSERT_EQUAL(first, 5);
	CU_ASSERT_EQUAL(encode(one, &b, &err), 0);
	CU_ASSERT_EQUAL(b.len, 2 * first);
	ec_value_free(one);

	ec_value *bad = mk(EC_T_LIST, ec_value_int(1), ec_value_cstr("ok"),
	                   mk(EC_T_DICT, ec_value_cstr("key"),
	                      ec__value_strtype(EC_T_STR, "\xc0\x80", 2), NULL),
	                   NULL);
	CU_ASSERT_EQUAL(encode(bad, &b, &err), EC_ECODEC);
	CU_ASSERT_EQUAL(b.len, 2 * first);
	CU_ASSERT_EQUAL(err.code, EC_ECODEC);
	CU_ASSERT_STRING_EQUAL(err.msg,
	                       "pickle: cannot encode value[2]['key']: text is not valid UTF-8 (byte 0)");
	ec_value_free(bad);

	ec_value *odd = ec_value_new(EC_T_DICT);
	ec_value_dict_set(odd, ec_value_int(1), ec_value_int(2));
	odd->u.seq.len = 1; /* corrupt on purpose */
	CU_ASSERT_EQUAL(encode(odd, &b, &err), EC_ECODEC);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "odd number"));
	odd->u.seq.len = 2;
	ec_value_free(odd);

	ec_value *weird = ec_value_new(EC_T_NONE);
	weird->type = (enum ec_type)99;
	CU_ASSERT_EQUAL(encode(weird, &b, &err), EC_ECODEC);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "unknown value type 99"));
	weird->type = EC_T_NONE;
	ec_value_free(weird);

	ec_value *e = ec_value_error("t", "\xff", "");
	CU_ASSERT_EQUAL(encode(e, &b, &err), EC_ECODEC);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "value.message: text is not valid UTF-8"));
	ec_value_free(e);
	CU_ASSERT_EQUAL(b.len, 2 * first);
	free(b.data);
}

/* ---- pickles from real Pythons ----------------------------------------------- */

static void test_decode_python(void)
{
	for (size_t i = 0; i < N_ELEMS(python_pickles); i++)
		dec_expect(python_pickles[i].label, python_pickles[i].data, python_pickles[i].len,
		           python_pickles[i].expect);
}

static void test_decode_python_refused(void)
{
	for (size_t i = 0; i < N_ELEMS(python_refused); i++)
		dec_refused(python_refused[i].label, python_refused[i].data, python_refused[i].len,
		            python_refused[i].expect);
}

/* Every proper prefix of every valid pickle is refused, and so is each with a byte
 * of garbage after STOP. */
static void test_truncated(void)
{
	for (size_t i = 0; i < N_ELEMS(python_pickles); i++) {
		const struct pyk *p = &python_pickles[i];
		for (size_t n = 0; n < p->len; n++) {
			struct ec_error err = {0};
			ec_value *v = NULL;
			int rc = decode(p->data, n, &v, &err);
			if (rc != EC_ECODEC || v)
				printf("\n    %s: prefix of %zu bytes: rc %d\n", p->label, n, rc);
			CU_ASSERT(rc == EC_ECODEC && v == NULL);
			if (!rc)
				ec_value_free(v);
		}
		unsigned char *g = malloc(p->len + 1);
		memcpy(g, p->data, p->len);
		g[p->len] = 'N';
		dec_refused(p->label, g, p->len + 1, "1 trailing bytes after STOP");
		free(g);
	}
}

/* ---- the decoder on hand-made input ------------------------------------------ */

static void test_decode_opcodes(void)
{
	dec_expect("INT bools", B("I01\nI00\n\x86."), "(True, False)");
	dec_expect("INT", B("(I-5\nI0\nI-0\nI9223372036854775807\nI-9223372036854775808\n"
	                    "I9223372036854775808\nI-99999999999999999999\nl."),
	           "[-5, 0, 0, 9223372036854775807, -9223372036854775808, 9223372036854775808, "
	           "-99999999999999999999]");
	dec_expect("LONG", B("(L123L\nL-99999999999999999999L\nL7\nl."),
	           "[123, -99999999999999999999, 7]");
	dec_expect("BININT*", B("\x80\x02(J\x00\x00\x00\x80K\xffM\xff\xffl."),
	           "[-2147483648, 255, 65535]");
	dec_expect("LONG1", B("\x80\x02(\x8a\x00\x8a\x01\xff\x8a\x02\x00\x80\x8a\x09\x00\x00\x00\x00\x00\x00\x00\x80\xffl."),
	           "[0, -1, -32768, -9223372036854775808]");
	dec_expect("LONG1 non-minimal", B("\x80\x02\x8a\x0a\x05\x00\x00\x00\x00\x00\x00\x00\x00\x00."), "5");
	dec_expect("LONG4", B("\x80\x02\x8b\x09\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x01."),
	           "18446744073709551616");
	dec_expect("FLOAT", B("(F1.5\nF-0.0\nFinf\nF-inf\nFnan\nF1e-05\nF.5\nF2.\nF1E+300\nl."),
	           "[1.5, -0, inf, -inf, nan, 1.0000000000000001e-05, 0.5, 2, 1.0000000000000001e+300]");
	dec_expect("STRING escapes",
	           B("(S'a\\x41\\n\\'\\101\\q\\\\\"'\nS\"it's\"\nS''\nS'\\0\\1234'\nl."),
	           "[b'aA\\x0a\\x27A\\x5cq\\x5c\"', b'it\\x27s', b'', b'\\x00S4']");
	dec_expect("UNICODE escapes",
	           B("(V\\u20ac \xe9 \\U0001f600\nV\\\\\\\\u0041\nV\\ud800\nV\\q\nV\nl."),
	           "[u'\\xe2\\x82\\xac \\xc3\\xa9 \\xf0\\x9f\\x98\\x80', u'\\x5c\\x5c\\x5c\\x5cu0041', "
	           "u'\\xed\\xa0\\x80', u'\\x5cq', u'']");
	dec_expect("protocol 4 short opcodes",
	           B("\x80\x04\x95\x1a\x00\x00\x00\x00\x00\x00\x00(\x8c\x03\xc3\xa9x\x94" "C\x02hi\x94"
	             "\x8f\x94(K\x01\x90(K\x02\x91h\x00t."),
	           "(u'\\xc3\\xa9x', b'hi', set(1), set(2), u'\\xc3\\xa9x')");
	dec_expect("8-byte lengths",
	           B("\x80\x05(\x8d\x03\x00\x00\x00\x00\x00\x00\x00" "abc\x8e\x01\x00\x00\x00\x00\x00"
	             "\x00\x00" "d\x96\x02\x00\x00\x00\x00\x00\x00\x00" "ef"
	             "B\x01\x00\x00\x00gl."),
	           "[u'abc', b'd', b'ef', b'g']");
	dec_expect("protocol 0 containers", B("((lp0\nI1\naI2\na(dp1\nS'k'\np2\nNsg2\ntp3\n."),
	           "([1, 2], {b'k': None}, b'k')");
	dec_expect("SETITEM/APPEND", B("\x80\x02}K\x01]K\x02" "as(K\x03K\x04u."), "{1: [2], 3: 4}");
	dec_expect("tuple key", B("\x80\x02}K\x01K\x02\x86Ns."), "{(1, 2): None}");
	dec_expect("POP", B("\x80\x02NK\x01" "0."), "None");
	dec_expect("POP drops a bare MARK", B("\x80\x02N(0."), "None");
	dec_expect("POP_MARK", B("\x80\x02N(K\x01K\x02" "1."), "None");
	dec_expect("DUP", B("\x80\x02K\x05" "2\x86."), "(5, 5)");
	dec_expect("DUP of a complete list", B("\x80\x02]K\x01" "a2\x86."), "([1], [1])");
	dec_expect("memo PUT/GET text", B("((lp7\nI1\nag7\nt."), "([1], [1])");
	dec_expect("memo LONG_BINPUT/LONG_BINGET", B("\x80\x02K\x09r\x00\x00\x01\x00j\x00\x00\x01\x00\x86."),
	           "(9, 9)");
	dec_expect("MEMOIZE after PUT counts entries", B("\x80\x04(K\x01q\x05K\x02\x94h\x01h\x05t."),
	           "(1, 2, 2, 1)");
	dec_expect("shared complete list", B("\x80\x02](]q\x01K\x01" "ah\x01" "e."), "[[1], [1]]");
	dec_expect("empty FRAME", B("\x80\x04\x95\x00\x00\x00\x00\x00\x00\x00\x00N."), "None");
	dec_expect("two frames", B("\x80\x04\x95\x01\x00\x00\x00\x00\x00\x00\x00N\x95\x01\x00\x00\x00\x00\x00\x00\x00."),
	           "None");
	dec_expect("PROTO 0..5", B("\x80\x00\x80\x05N."), "None");
}

static void test_decode_globals(void)
{
	dec_expect("_codecs.encode", B("\x80\x02" "c_codecs\nencode\nX\x02\x00\x00\x00\xc3\xbfU\x07latin-1\x86R."),
	           "b'\\xff'");
	dec_expect("bytes()", B("\x80\x02" "c__builtin__\nbytes\n)R."), "b''");
	dec_expect("builtins.bytes()", B("\x80\x03" "cbuiltins\nbytes\n)R."), "b''");
	dec_expect("set()", B("\x80\x02" "c__builtin__\nset\n)R."), "set()");
	dec_expect("frozenset STACK_GLOBAL",
	           B("\x80\x04\x8c\x08" "builtins\x8c\x09" "frozenset\x93](K\x01K\x02" "e\x85R."),
	           "set(1, 2)");
	dec_expect("memoized global", B("\x80\x02" "c__builtin__\nset\nq\x00]\x85Rh\x00]K\x01" "a\x85R\x86."),
	           "(set(), set(1))");
	dec_expect("bytearray", B("\x80\x02(c__builtin__\nbytearray\n)Rcbuiltins\nbytearray\nC\x01z\x85R"
	                          "c__builtin__\nbytearray\nX\x01\x00\x00\x00" "aX\x06\x00\x00\x00latin1\x86Rl."),
	           "[b'', b'z', b'a']");
	dec_expect("CallError", B("\x80\x02" "cecontext\nCallError\nX\x01\x00\x00\x00tX\x04\x00\x00\x00m\x00\xc3\xa9X\x00\x00\x00\x00\x87R."),
	           "CallError(u't', u'm\\xef\\xbf\\xbd\\xc3\\xa9', u'')");

	dec_refused("os.system", B("\x80\x02" "cos\nsystem\nX\x02\x00\x00\x00lsR."),
	            "refused global os.system at offset 2");
	struct ec_error err = {0};
	ec_value *v = NULL;
	CU_ASSERT_EQUAL(decode(B("\x80\x02" "cos\nsystem\nX\x02\x00\x00\x00lsR."), &v, &err), EC_ECODEC);
	CU_ASSERT_STRING_EQUAL(err.msg, "pickle: refused global os.system at offset 2 (only None, bool, "
	                                "int, float, bytes, str, list, tuple, dict, set, "
	                                "econtext.CallError, econtext.Named and econtext.Tagged "
	                                "are allowed)");
	CU_ASSERT_STRING_EQUAL(err.where, "plugin pickle");
	dec_refused("STACK_GLOBAL os.system",
	            B("\x80\x04\x8c\x02os\x94\x8c\x06system\x94\x93\x94."), "refused global os.system at offset 16");
	dec_refused("builtins.eval", B("cbuiltins\neval\n."), "refused global builtins.eval at offset 0");
	dec_refused("__builtin__.getattr", B("c__builtin__\ngetattr\n."), "refused global __builtin__.getattr");
	dec_refused("econtext.Other", B("cecontext\nOther\n."), "refused global econtext.Other");
	dec_refused("_codecs.decode", B("c_codecs\ndecode\n."), "refused global _codecs.decode");
	dec_refused("unprintable global", B("cos\x01\nsys\xfftem\n."), "refused global os?.sys?tem");
	dec_refused("STACK_GLOBAL of ints", B("\x80\x04K\x01K\x02\x93."), "STACK_GLOBAL needs two str");
	dec_refused("GLOBAL without newline", B("cos\nsystem"), "truncated GLOBAL (no end of line)");

	dec_refused("encode > U+00FF",
	            B("\x80\x02" "c_codecs\nencode\nX\x03\x00\x00\x00\xe2\x82\xacX\x06\x00\x00\x00latin1\x86R."),
	            "code point above U+00FF");
	dec_refused("encode utf8", B("\x80\x02" "c_codecs\nencode\nX\x01\x00\x00\x00" "aX\x04\x00\x00\x00utf8\x86R."),
	            "REDUCE of _codecs.encode with unexpected arguments (expects (str, 'latin1'))");
	dec_refused("encode bytes", B("\x80\x02" "c_codecs\nencode\nU\x01" "aX\x06\x00\x00\x00latin1\x86R."),
	            "unexpected arguments");
	dec_refused("bytes(1)", B("\x80\x02" "c__builtin__\nbytes\nK\x01\x85R."), "REDUCE of bytes with unexpected arguments");
	dec_refused("set(1)", B("\x80\x02" "c__builtin__\nset\nK\x01\x85R."), "REDUCE of set with unexpected");
	dec_refused("set([[]])", B("\x80\x02" "c__builtin__\nset\n]]a\x85R."), "unhashable list used as a set item");
	dec_refused("CallError 2 args", B("\x80\x02" "cecontext\nCallError\nX\x00\x00\x00\x00X\x00\x00\x00\x00\x86R."),
	            "REDUCE of econtext.CallError with unexpected arguments (expects (str, str, str))");
	dec_refused("CallError bytes", B("\x80\x02" "cecontext\nCallError\nX\x00\x00\x00\x00U\x00X\x00\x00\x00\x00\x87R."),
	            "unexpected arguments");
	dec_refused("REDUCE on a tuple", B("\x80\x02))R."), "refused REDUCE of a non-global (tuple) at offset 4");
	dec_refused("REDUCE args not a tuple", B("\x80\x02" "c__builtin__\nset\n]R."), "not a tuple");
	dec_refused("REDUCE args a global", B("\x80\x02" "c__builtin__\nset\nc__builtin__\nset\nR."),
	            "refused REDUCE with the global set as arguments");
	dec_refused("REDUCE underflow", B("\x80\x02)R."), "stack underflow in REDUCE");
	dec_refused("global as a value", B("\x80\x02]c__builtin__\nset\na."),
	            "refused global set used as a value in APPEND");
	dec_refused("global in a tuple", B("\x80\x02" "c__builtin__\nset\n\x85."), "used as a value in TUPLE1");
	dec_refused("global as the result", B("\x80\x02" "c__builtin__\nset\n."), "refused global set as the result");
	dec_refused("NEWOBJ on a whitelisted global", B("\x80\x02" "cecontext\nCallError\n)\x81."),
	            "refused opcode NEWOBJ at offset 23");
	dec_refused("BUILD after REDUCE", B("\x80\x02" "c__builtin__\nset\n)R}b."), "refused opcode BUILD");

	/* CallError fields are bounded. */
	size_t n = (1u << 20) + 1, len;
	char *t = malloc(n);
	memset(t, 'x', n);
	unsigned char hdr[5] = {'X', (unsigned char)n, (unsigned char)(n >> 8), (unsigned char)(n >> 16), 0};
	unsigned char *p = cat(&len, 6, B("\x80\x02" "cecontext\nCallError\n"), B("X\x00\x00\x00\x00"),
	                       (const char *)hdr, (size_t)5, t, n, B("X\x00\x00\x00\x00"), B("\x87R."));
	dec_refused("CallError too long", p, len, "econtext.CallError text of 1048577 bytes is too large");
	free(p);
	free(t);
}

static void test_decode_refused_opcodes(void)
{
	static const struct {
		unsigned char op;
		const char *name;
	} refused[] = {
		{'P', "PERSID"}, {'Q', "BINPERSID"}, {'i', "INST"},   {'o', "OBJ"},
		{0x81, "NEWOBJ"}, {0x92, "NEWOBJ_EX"}, {'b', "BUILD"}, {0x82, "EXT1"},
		{0x83, "EXT2"},   {0x84, "EXT4"},      {0x97, "NEXT_BUFFER"}, {0x98, "READONLY_BUFFER"},
	};
	for (size_t i = 0; i < N_ELEMS(refused); i++) {
		unsigned char p[5] = {0x80, 0x05, 'N', refused[i].op, '.'};
		char needle[80];
		snprintf(needle, sizeof(needle), "refused opcode %s at offset 3 (only None", refused[i].name);
		dec_refused(refused[i].name, p, sizeof(p), needle);
	}
	/* Realistic forms. */
	dec_refused("PERSID", B("Pkey\n."), "refused opcode PERSID at offset 0");
	dec_refused("INST", B("(i__main__\nC\n."), "refused opcode INST at offset 1");
	dec_refused("EXT1", B("\x80\x02\x82\x01."), "refused opcode EXT1 at offset 2");
	static const unsigned char unknown[] = {0x00, 'z', 0x99, 0xff, '3', 'E', 'H', 'W', 'Y', 'Z'};
	for (size_t i = 0; i < N_ELEMS(unknown); i++) {
		unsigned char p[4] = {0x80, 0x02, unknown[i], '.'};
		char needle[64];
		snprintf(needle, sizeof(needle), "unknown opcode 0x%02x at offset 2", unknown[i]);
		dec_refused(needle, p, sizeof(p), needle);
	}
}

static void test_decode_structure(void)
{
	dec_refused("empty input", "", 0, "missing STOP (the pickle ends) at offset 0");
	dec_refused("missing STOP", B("\x80\x02N"), "missing STOP (the pickle ends) at offset 3");
	dec_refused("trailing garbage", B("\x80\x02N.xyz"), "3 trailing bytes after STOP at offset 4");
	dec_refused("two STOPs", B("\x80\x02N.."), "1 trailing bytes after STOP");
	dec_refused("STOP on empty stack", B("\x80\x02."), "STOP with 0 values on the stack");
	dec_refused("STOP with two values", B("\x80\x02NN."), "STOP with 2 values on the stack");
	dec_refused("STOP with open MARK", B("\x80\x02(N."), "STOP with 1 unclosed MARK");
	dec_refused("PROTO 6", B("\x80\x06N."), "unsupported pickle protocol 6 at offset 0");
	dec_refused("APPEND underflow", B("\x80\x02K\x01" "a."), "stack underflow in APPEND");
	dec_refused("APPEND across MARK", B("\x80\x02](K\x01" "a."), "stack underflow in APPEND");
	dec_refused("APPEND to tuple", B("\x80\x02)K\x01" "a."), "APPEND on a value of type tuple (needs list)");
	dec_refused("SETITEM to list", B("\x80\x02]K\x01K\x02s."), "SETITEM on a value of type list (needs dict)");
	dec_refused("ADDITEMS to list", B("\x80\x04](K\x01\x90."), "ADDITEMS on a value of type list (needs set)");
	dec_refused("APPENDS without MARK", B("\x80\x02]K\x01" "e."), "APPENDS without a MARK");
	dec_refused("APPENDS without list", B("\x80\x02(K\x01" "e."), "stack underflow in APPENDS");
	dec_refused("TUPLE without MARK", B("\x80\x02Nt."), "TUPLE without a MARK");
	dec_refused("TUPLE2 underflow", B("\x80\x02N\x86."), "stack underflow in TUPLE2");
	dec_refused("TUPLE3 across MARK", B("\x80\x02NN(N\x87."), "stack underflow in TUPLE3");
	dec_refused("POP underflow", B("\x80\x02" "0."), "stack underflow in POP");
	dec_refused("POP_MARK without MARK", B("\x80\x02N1."), "POP_MARK without a MARK");
	dec_refused("DUP underflow", B("\x80\x02(2."), "stack underflow in DUP");
	dec_refused("PUT underflow", B("\x80\x02q\x00."), "stack underflow in BINPUT");
	dec_refused("odd DICT", B("(K\x01" "d."), "DICT with an odd number of items");
	dec_refused("odd SETITEMS", B("\x80\x02}(K\x01u."), "SETITEMS with an odd number of items");

	dec_refused("BINGET unset", B("\x80\x02h\x05."), "BINGET of unset memo index 5 at offset 2");
	dec_refused("GET unset", B("\x80\x02Nq\x01g3\n."), "GET of unset memo index 3");
	dec_refused("LONG_BINGET unset", B("\x80\x02j\x00\x00\x00\x01."), "LONG_BINGET of unset memo index 16777216");
	dec_refused("memo index too large", B("\x80\x02Nr\x00\x00\x10\x00."), "memo index 1048576 in LONG_BINPUT is above the limit");
	dec_refused("malformed PUT", B("Np-1\n."), "malformed memo index in PUT");
	dec_refused("malformed GET", B("Ng\n."), "malformed memo index in GET");

	dec_refused("unhashable SETITEM key", B("\x80\x02}]K\x01s."), "unhashable list used as a dict key in SETITEM");
	dec_refused("unhashable DICT key", B("(}K\x01" "d."), "unhashable dict used as a dict key in DICT");
	dec_refused("unhashable tuple key", B("\x80\x02}]\x85K\x01s."), "unhashable tuple used as a dict key");
	dec_refused("unhashable set key", B("\x80\x04}\x8fK\x01s."), "unhashable set used as a dict key");
	dec_refused("unhashable ADDITEMS", B("\x80\x04\x8f(]\x90."), "unhashable list used as a set item in ADDITEMS");
	dec_refused("unhashable FROZENSET", B("\x80\x04(}\x91."), "unhashable dict used as a set item in FROZENSET");

	dec_refused("duplicate dict key", B("\x80\x02}(K\x07NK\x07K\x01u."),
	            "dict with a duplicate int key in the pickle ending at offset 12");
	dec_refused("duplicate set item", B("\x80\x04\x8f(K\x01K\x02K\x01\x90."), "set with a duplicate int item");
	dec_refused("duplicate in set([...])", B("\x80\x02" "c__builtin__\nset\n](K\x01K\x01" "e\x85R."),
	            "set with a duplicate int item");
	dec_refused("0.0 and -0.0", B("\x80\x02(G\x00\x00\x00\x00\x00\x00\x00\x00NG\x80\x00\x00\x00\x00\x00\x00\x00Nd."),
	            "dict with a duplicate float key");
	dec_refused("duplicate tuple key", B("\x80\x02}(K\x01U\x01" "a\x86NK\x01U\x01" "a\x86Nu."),
	            "dict with a duplicate tuple key");
	dec_refused("nested duplicate", B("\x80\x02]}(X\x01\x00\x00\x00kNX\x01\x00\x00\x00kNua."),
	            "dict with a duplicate str key");
	dec_expect("NaN keys, 1 and True, bytes and str",
	           B("\x80\x02}(G\x7f\xf8\x00\x00\x00\x00\x00\x00K\x01G\x7f\xf8\x00\x00\x00\x00\x00\x00K\x02"
	             "K\x01K\x03\x88K\x04U\x01" "aK\x05X\x01\x00\x00\x00" "aK\x06u."),
	           "{nan: 1, nan: 2, 1: 3, True: 4, b'a': 5, u'a': 6}");
	{
		struct sb s = {0};
		sb_put(&s, B("\x80\x02}("));
		for (int i = 0; i < 100; i++) {
			char k[16];
			int n = snprintf(k, sizeof(k), "U%ck%dN", 2 + (i >= 10), i);
			sb_put(&s, k, (size_t)n);
		}
		size_t ok_len = s.n;
		sb_put(&s, B("u."));
		ec_value *v = dec_ok("100 keys", s.s, s.n);
		CU_ASSERT(v && v->u.seq.len == 200);
		ec_value_free(v);
		s.n = ok_len;
		sb_put(&s, B("U\x03k42Nu."));
		dec_refused("101 keys, one twice", s.s, s.n, "dict with a duplicate bytes key");
		free(s.s);
	}

	dec_refused("recursive list", B("\x80\x02]q\x00(h\x00" "e."), "recursive structure (APPENDS modifies a list");
	dec_refused("recursive via DUP", B("\x80\x02]2a."), "recursive structure (APPEND modifies a list");
	dec_refused("recursive set", B("\x80\x04\x8f\x94(h\x00\x85\x90."), "recursive structure (ADDITEMS");
	dec_refused("recursive dict", B("\x80\x02}q\x00K\x01h\x00s."), "recursive structure (SETITEM modifies a dict");

	dec_refused("text INT", B("I12a\n."), "malformed integer '12a' in INT at offset 0");
	dec_refused("empty INT", B("I\n."), "malformed integer '' in INT");
	dec_refused("leading zero INT", B("I007\n."), "malformed integer '007' in INT");
	dec_refused("hex INT", B("I0x10\n."), "malformed integer");
	dec_refused("LONG no digits", B("LL\n."), "malformed integer '' in LONG");
	dec_refused("FLOAT text", B("Fabc\n."), "malformed float 'abc' in FLOAT");
	dec_refused("FLOAT hex", B("F0x1p3\n."), "malformed float");
	dec_refused("FLOAT junk", B("F1.5x\n."), "malformed float");
	dec_refused("FLOAT exponent", B("F1e\n."), "malformed float");
	dec_refused("STRING unquoted", B("Sabc\n."), "the STRING argument must be quoted");
	dec_refused("STRING mismatched", B("S'abc\"\n."), "must be quoted");
	dec_refused("STRING one quote", B("S'\n."), "must be quoted");
	dec_refused("STRING \\x", B("S'\\x4'\n."), "invalid \\x escape in STRING");
	dec_refused("STRING trailing \\", B("S'ab\\'\n."), "trailing \\ in STRING");
	dec_refused("UNICODE \\u", B("V\\u12\n."), "truncated \\u escape in UNICODE");
	dec_refused("UNICODE \\U range", B("V\\U00110000\n."), "\\U escape out of range");
}

static void test_decode_utf8(void)
{
	dec_refused("0xff", B("\x80\x02X\x01\x00\x00\x00\xff."), "invalid UTF-8 in BINUNICODE (byte 0 of the text) at offset 2");
	dec_refused("overlong", B("\x80\x02X\x03\x00\x00\x00" "a\xc0\x80."), "invalid UTF-8 in BINUNICODE (byte 1");
	dec_refused("overlong 3", B("\x80\x02X\x03\x00\x00\x00\xe0\x80\x80."), "invalid UTF-8");
	dec_refused("cut", B("\x80\x02X\x02\x00\x00\x00\xe2\x82."), "invalid UTF-8");
	dec_refused("beyond U+10FFFF", B("\x80\x02X\x04\x00\x00\x00\xf4\x90\x80\x80."), "invalid UTF-8");
	dec_refused("bad continuation", B("\x80\x04\x8c\x02\xc3\x41."), "invalid UTF-8 in SHORT_BINUNICODE");
	dec_refused("BINUNICODE8", B("\x80\x04\x8d\x01\x00\x00\x00\x00\x00\x00\x00\x80."), "invalid UTF-8 in BINUNICODE8");
	dec_expect("surrogates", B("\x80\x02X\x09\x00\x00\x00\xed\xa0\xbd\xed\xb8\x80\xed\xbf\xbf."),
	           "u'\\xed\\xa0\\xbd\\xed\\xb8\\x80\\xed\\xbf\\xbf'");
	dec_expect("max", B("\x80\x02X\x04\x00\x00\x00\xf4\x8f\xbf\xbf."), "u'\\xf4\\x8f\\xbf\\xbf'");
}

static void test_decode_bounds(void)
{
	dec_refused("BINUNICODE oversized", B("\x80\x02X\xe8\x03\x00\x00" "abc."),
	            "BINUNICODE declares 1000 bytes but only 4 are left at offset 2");
	dec_refused("BINUNICODE 4 GiB", B("\x80\x02X\xff\xff\xff\xff."), "declares 4294967295 bytes");
	dec_refused("BINSTRING negative", B("\x80\x02T\xff\xff\xff\xff" "abc."), "negative length -1 in BINSTRING");
	dec_refused("BINSTRING oversized", B("\x80\x02T\x00\x00\x00\x7f."), "BINSTRING declares 2130706432 bytes");
	dec_refused("LONG4 negative", B("\x80\x02\x8b\x00\x00\x00\x80."), "negative length -2147483648 in LONG4");
	dec_refused("BINBYTES8 huge", B("\x80\x04\x8e\xff\xff\xff\xff\xff\xff\xff\xff."),
	            "BINBYTES8 declares 18446744073709551615 bytes");
	dec_refused("BYTEARRAY8 oversized", B("\x80\x05\x96\x05\x00\x00\x00\x00\x00\x00\x00" "ab."),
	            "BYTEARRAY8 declares 5 bytes but only 3 are left");
	dec_refused("SHORT_BINBYTES oversized", B("\x80\x03\x43\x09."), "SHORT_BINBYTES declares 9 bytes");
	dec_refused("LONG1 oversized", B("\x80\x02\x8a\x09\x00."), "truncated LONG1 (needs 9 bytes, 2 left)");
	dec_refused("BININT cut", B("\x80\x02J\x00\x00"), "truncated BININT (needs 4 bytes, 2 left)");
	dec_refused("FRAME oversized", B("\x80\x04\x95\x10\x00\x00\x00\x00\x00\x00\x00N."),
	            "FRAME of 16 bytes but only 2 are left at offset 2");
	dec_refused("FRAME huge", B("\x80\x04\x95\xff\xff\xff\xff\xff\xff\xff\xffN."), "FRAME of 18446744073709551615 bytes");
	dec_refused("op straddles FRAME", B("\x80\x04\x95\x02\x00\x00\x00\x00\x00\x00\x00\x8c\x03" "abc."),
	            "SHORT_BINUNICODE runs past the end of its FRAME");
	dec_refused("line straddles FRAME", B("\x80\x04\x95\x02\x00\x00\x00\x00\x00\x00\x00I1\n."),
	            "truncated INT (no end of line)");
	dec_refused("FRAME in FRAME",
	            B("\x80\x04\x95\x0a\x00\x00\x00\x00\x00\x00\x00\x95\x01\x00\x00\x00\x00\x00\x00\x00N."),
	            "FRAME inside an unfinished frame at offset 11");

	/* LONG4 and text integers are bounded. */
	size_t len;
	char *zeros = calloc(70000, 1);
	unsigned char *p = cat(&len, 3, B("\x80\x02\x8b\x70\x11\x01\x00"), zeros, (size_t)70000, B("."));
	dec_refused("LONG4 too large", p, len, "LONG4 of 70000 bytes is too large (limit 65536)");
	free(p);
	memset(zeros, '7', 70000);
	p = cat(&len, 5, B("I"), zeros, (size_t)70000, zeros, (size_t)70000, zeros, (size_t)30000, B("\n."));
	dec_refused("INT too many digits", p, len, "integer of 170000 digits in INT is too large");
	free(p);
	/* ...but 60000 bytes are fine. */
	p = cat(&len, 3, B("\x80\x02\x8b\x60\xea\x00\x00"), zeros, (size_t)60000, B("."));
	ec_value *v = dec_ok("LONG4 60000", p, len);
	CU_ASSERT(v && v->type == EC_T_BIGINT && v->u.s.len > 140000);
	ec_value_free(v);
	free(p);
	free(zeros);

	/* MARKs. */
	char marks[1030];
	memset(marks, '(', sizeof(marks));
	dec_refused("too many MARKs", marks, sizeof(marks), "more than 1024 nested MARKs at offset 1024");

	/* Nesting: 512 levels accepted, 513 refused, by lists and by tuples. */
	for (int n = 512; n <= 513; n++) {
		struct sb s = {0};
		sb_puts(&s, "\x80\x02");
		for (int i = 0; i < n; i++)
			sb_puts(&s, "]");
		for (int i = 1; i < n; i++)
			sb_puts(&s, "a");
		sb_puts(&s, ".");
		if (n == 512) {
			ec_value *d = dec_ok("512 lists", s.s, s.n);
			ec_value *e = nested_lists(512);
			CU_ASSERT(d && same(d, e));
			ec_value_free(d);
			ec_value_free(e);
		} else {
			dec_refused("513 lists", s.s, s.n, "containers nested deeper than 512 levels in APPEND");
		}
		s.n = 0;
		sb_puts(&s, "\x80\x02)");
		for (int i = 1; i < n; i++)
			sb_puts(&s, "\x85");
		sb_puts(&s, ".");
		if (n == 512) {
			ec_value *d = dec_ok("512 tuples", s.s, s.n);
			ec_value_free(d);
		} else {
			dec_refused("513 tuples", s.s, s.n, "nested deeper than 512 levels in TUPLE1");
		}
		free(s.s);
	}
	/* A deep value copied by GET keeps its depth. */
	{
		struct sb s = {0};
		sb_puts(&s, "\x80\x02");
		for (int i = 0; i < 511; i++)
			sb_puts(&s, "]");
		for (int i = 1; i < 511; i++)
			sb_puts(&s, "a");
		sb_put(&s, B("q\x00" "0]]h\x00" "aa."));
		dec_refused("deep GET", s.s, s.n, "nested deeper than 512 levels");
		free(s.s);
	}
}

/* A named tuple of the fields "a", "b", ... with the given values (taken). */
static ec_value *named(const char *type, int n, ...)
{
	ec_value *v = ec_value_named(type);
	va_list ap;
	va_start(ap, n);
	for (int i = 0; i < n; i++) {
		char name[2] = {(char)('a' + i), 0};
		ec_value_named_add(v, name, va_arg(ap, ec_value *));
	}
	va_end(ap);
	return v;
}

static ec_value *tagged(const char *tag, const char *text)
{
	return ec_value_tagged(tag, ec_value_cstr(text));
}

/* A pickle of REDUCE of econtext.<g> on (text, <rest>): rest is the pickle of the
 * second argument. */
static void glob_pickle(struct sb *s, const char *g, const char *text, const char *rest,
                        size_t restlen)
{
	unsigned char len[4] = {(unsigned char)strlen(text), 0, 0, 0};
	sb_puts(s, "\x80\x02" "cecontext\n");
	sb_puts(s, g);
	sb_puts(s, "\nX");
	sb_put(s, (const char *)len, 4);
	sb_puts(s, text);
	sb_put(s, rest, restlen);
	sb_puts(s, "\x86R.");
}

static void named_refused(const char *label, const char *spec, const char *values,
                          const char *needle)
{
	struct sb s = {0};
	glob_pickle(&s, "Named", spec, values, strlen(values));
	dec_refused(label, s.s, s.n, needle);
	free(s.s);
}

static void tagged_refused(const char *tag, const char *text, const char *needle)
{
	struct sb s = {0}, payload = {0};
	unsigned char len[4] = {(unsigned char)strlen(text), 0, 0, 0};
	sb_puts(&payload, "X");
	sb_put(&payload, (const char *)len, 4);
	sb_puts(&payload, text);
	glob_pickle(&s, "Tagged", tag, payload.s, payload.n);
	dec_refused(text, s.s, s.n, needle);
	free(s.s);
	free(payload.s);
}

/* econtext.Named and econtext.Tagged (docs/values.md): the forms round trip, read as
 * the context writes them, and every malformed variant is refused. */
static void test_named_tagged(void)
{
	roundtrip(named("os.stat_result", 3, ec_value_int(1), ec_value_cstr("x"),
	                mk(EC_T_LIST, ec_value_float(2.5), NULL)));
	roundtrip(named("t.Empty", 0));
	roundtrip(named("t.Big", 5, ec_value_int(1), ec_value_int(2), ec_value_int(3),
	                ec_value_int(4), named("t.In", 1, ec_value_none())));
	static const char *const good[][2] = {
		{EC_TAG_DATETIME, "2024-05-01T12:30:00"},
		{EC_TAG_DATETIME, "2024-05-01T12:30:00.250000+02:00"},
		{EC_TAG_DATETIME, "0001-01-01T00:00:00-05:30:15.000001"},
		{EC_TAG_DATE, "2024-05-01"},
		{EC_TAG_TIME, "23:59:59.999999"},
		{EC_TAG_TIME, "00:00:00+00:00"},
		{EC_TAG_TIMEDELTA, "P1DT2H3M4.5S"},
		{EC_TAG_TIMEDELTA, "-PT0.000001S"},
		{EC_TAG_TIMEDELTA, "PT0S"},
		{EC_TAG_TIMEDELTA, "P999999999D"},
		{EC_TAG_DECIMAL, "1.10"},
		{EC_TAG_DECIMAL, "-1E+3"},
		{EC_TAG_DECIMAL, "1.5E-7"},
		{EC_TAG_DECIMAL, "-Infinity"},
		{EC_TAG_DECIMAL, "sNaN12"},
		{EC_TAG_UUID, "12345678-1234-5678-1234-567812345678"},
		{EC_TAG_PATH, "/etc/passwd"},
		{EC_TAG_PATH, "."},
	};
	for (size_t i = 0; i < N_ELEMS(good); i++)
		roundtrip(tagged(good[i][0], good[i][1]));
	roundtrip(ec_value_tagged(EC_TAG_ENUM, mk(EC_T_TUPLE, ec_value_cstr("socket.AddressFamily"),
	                                          ec_value_cstr("AF_INET"), ec_value_int(2), NULL)));
	/* In a set and as dict keys: hashable. */
	roundtrip(mk(EC_T_SET, tagged(EC_TAG_DATE, "2024-05-01"), named("p.P", 1, ec_value_int(1)),
	             NULL));

	/* As the context writes them: the spec memoized, a reference the second time. */
	dec_expect("two named tuples sharing a memoized spec",
	           B("\x80\x03]q\x00(cecontext\nNamed\nq\x01X\x05\x00\x00\x00p.P aq\x02K\x01\x85"
	             "\x86Rh\x01h\x02K\x02\x85\x86Re."),
	           "[set(u'a', 1), set(u'a', 2)]");
	ec_value *v = dec_ok("a named tuple", B("\x80\x02" "cecontext\nNamed\nX\x12\x00\x00\x00"
	                                        "os.stat_result a bK\x01K\x02\x86\x86R."));
	if (v) {
		CU_ASSERT_EQUAL(v->type, EC_T_NAMED);
		CU_ASSERT_STRING_EQUAL(v->u.seq.type, "os.stat_result");
		CU_ASSERT(ec_value_dict_get(v, "b") && ec_value_dict_get(v, "b")->u.i == 2);
		ec_value_free(v);
	}

	named_refused("named: empty spec", "", "K\x01\x85", "malformed spec");
	named_refused("named: two spaces", "t  a", "K\x01\x85", "malformed spec");
	named_refused("named: trailing space", "t a ", "K\x01\x85", "malformed spec");
	named_refused("named: control character", "t a\tb", "K\x01\x85", "malformed spec");
	named_refused("named: too few names", "t a", "K\x01K\x02\x86", "1 field names for 2 values");
	named_refused("named: too many names", "t a b", "K\x01\x85", "2 field names for 1 values");
	named_refused("named: values not a tuple", "t a", "]", "expects (str, tuple)");
	named_refused("named: duplicate field", "t a a", "K\x01K\x02\x86",
	              "named tuple with a duplicate str field name");
	dec_refused("named: one argument", B("\x80\x02" "cecontext\nNamed\n)\x85R."), "expects (str, tuple)");
	dec_refused("named: spec not text", B("\x80\x02" "cecontext\nNamed\nK\x01)\x86R."),
	            "expects (str, tuple)");
	dec_refused("named: a list in a set",
	            B("\x80\x02" "c__builtin__\nset\n]cecontext\nNamed\nX\x03\x00\x00\x00t a]\x85\x86Ra\x85R."),
	            "unhashable named tuple");

	tagged_refused("nosuch", "x", "econtext.Tagged 'nosuch' with an unknown tag");
	tagged_refused(EC_TAG_DATE, "2024-13-01", "malformed text");
	tagged_refused(EC_TAG_DATE, "2024-05-00", "malformed text");
	tagged_refused(EC_TAG_DATE, "2024-5-01", "malformed text");
	tagged_refused(EC_TAG_DATE, "2024-05-01T", "malformed text");
	tagged_refused(EC_TAG_DATETIME, "2024-05-01 12:30:00", "malformed text");
	tagged_refused(EC_TAG_DATETIME, "2024-05-01T24:00:00", "malformed text");
	tagged_refused(EC_TAG_DATETIME, "2024-05-01T12:30:00.25", "malformed text");
	tagged_refused(EC_TAG_DATETIME, "2024-05-01T12:30:00+2", "malformed text");
	tagged_refused(EC_TAG_TIME, "12:30", "malformed text");
	tagged_refused(EC_TAG_TIMEDELTA, "P", "malformed text");
	tagged_refused(EC_TAG_TIMEDELTA, "PT", "malformed text");
	tagged_refused(EC_TAG_TIMEDELTA, "P1H", "malformed text");
	tagged_refused(EC_TAG_TIMEDELTA, "PT1.S", "malformed text");
	tagged_refused(EC_TAG_TIMEDELTA, "1D", "malformed text");
	tagged_refused(EC_TAG_DECIMAL, "1.", "malformed text");
	tagged_refused(EC_TAG_DECIMAL, "", "malformed text");
	tagged_refused(EC_TAG_DECIMAL, "0x10", "malformed text");
	tagged_refused(EC_TAG_DECIMAL, "Inf", "malformed text");
	tagged_refused(EC_TAG_UUID, "12345678-1234-5678-1234-56781234567G", "malformed text");
	tagged_refused(EC_TAG_UUID, "12345678123456781234567812345678", "malformed text");
	tagged_refused(EC_TAG_UUID, "ABCDEF78-1234-5678-1234-567812345678", "malformed text");
	tagged_refused(EC_TAG_ENUM, "socket.AddressFamily.AF_INET", "an enum that is not");
	dec_refused("tagged: path with NUL",
	            B("\x80\x02" "cecontext\nTagged\nX\x04\x00\x00\x00pathX\x03\x00\x00\x00/\x00x\x86R."),
	            "malformed text");
	dec_refused("tagged: date not text",
	            B("\x80\x02" "cecontext\nTagged\nX\x04\x00\x00\x00" "dateK\x01\x86R."),
	            "a payload that is not text");
	dec_refused("tagged: enum without a name",
	            B("\x80\x02" "cecontext\nTagged\nX\x04\x00\x00\x00" "enumX\x01\x00\x00\x00" "cX\x00\x00\x00\x00K\x01\x87\x86R."),
	            "an enum that is not");
	dec_refused("tagged: three arguments",
	            B("\x80\x02" "cecontext\nTagged\nX\x04\x00\x00\x00" "dateK\x01K\x01\x87R."),
	            "expects (str, payload)");

	/* The encoder refuses what the context could not read, naming where it sits. */
	struct {
		ec_value *v;
		const char *needle;
	} bad[] = {
		{tagged("nosuch", "x"), "tagged value 'nosuch' with an unknown tag"},
		{tagged(EC_TAG_DATE, "yesterday"), "tagged value 'date' with a malformed text"},
		{ec_value_tagged(EC_TAG_UUID, ec_value_int(1)), "a payload that is not text"},
		{named("t", 1, tagged(EC_TAG_TIME, "noon")), "value.a: tagged value 'time'"},
		{named("", 1, ec_value_int(1)), "named tuple with an empty type"},
	};
	for (size_t i = 0; i < N_ELEMS(bad); i++) {
		struct ec_buf b = {0};
		struct ec_error err = {0};
		CU_ASSERT_EQUAL(encode(bad[i].v, &b, &err), EC_ECODEC);
		if (!strstr(err.msg, bad[i].needle))
			printf("\n    encode: \"%s\", expected \"%s\"\n", err.msg, bad[i].needle);
		CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, bad[i].needle));
		ec_value_free(bad[i].v);
		free(b.data);
	}
	ec_value *sp = ec_value_named("t");
	ec_value_named_add(sp, "a b", ec_value_int(1));
	struct ec_buf b = {0};
	struct ec_error err = {0};
	CU_ASSERT_EQUAL(encode(sp, &b, &err), EC_ECODEC);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "holding a space"));
	ec_value_free(sp);
	free(b.data);
}

/* GET copies are budgeted: a small pickle cannot make the decoder copy without end. */
static void test_decode_copy_budget(void)
{
	size_t n = 8u << 20, len;
	char *big = malloc(n);
	memset(big, 'b', n);
	struct sb gets = {0};
	sb_puts(&gets, "(");
	for (int i = 0; i < 40; i++)
		sb_put(&gets, B("h\x00"));
	sb_puts(&gets, "l.");
	unsigned char hdr[5] = {'B', 0, 0, (unsigned char)(n >> 16), 0};
	unsigned char *p = cat(&len, 4, B("\x80\x03"), (const char *)hdr, (size_t)5, big, n, B("q\x00" "0"));
	struct sb all = {0};
	sb_put(&all, (const char *)p, len);
	sb_put(&all, gets.s, gets.n);
	dec_refused("memo copies", all.s, all.n, "memo references (BINGET) would copy more than 256 MiB");
	free(all.s);
	free(p);
	free(gets.s);
	free(big);
}

/* ---- allocation failures ----------------------------------------------------- */

/* A host table whose value functions fail once `fail_after` allocations are used up. */
static long fail_after = -1;

static int fail_now(void)
{
	if (fail_after < 0)
		return 0;
	if (fail_after == 0)
		return 1;
	fail_after--;
	return 0;
}

static ec_value *failing_value_new(enum ec_type t)
{
	return fail_now() ? NULL : ec__host_get()->value_new(t);
}

static ec_value *failing_value_str(enum ec_type t, const void *data, size_t len)
{
	return fail_now() ? NULL : ec__host_get()->value_str(t, data, len);
}

static int failing_value_append(ec_value *seq, ec_value *item)
{
	if (fail_now()) {
		ec_value_free(item);
		return EC_ENOMEM;
	}
	return ec__host_get()->value_append(seq, item);
}

/* Every allocation of every decode fails in turn: EC_ENOMEM, nothing leaks (valgrind),
 * *out untouched. */
static void test_decode_out_of_memory(void)
{
	struct ec_host h = *ec__host_get();
	h.value_new = failing_value_new;
	h.value_str = failing_value_str;
	h.value_append = failing_value_append;
	void *st = NULL;
	struct ec_error err = {0};
	CU_ASSERT_EQUAL_FATAL(plugin->load(&h, &st, &err), 0);
	size_t runs = 0;
	for (size_t i = 0; i < N_ELEMS(python_pickles); i++) {
		const struct pyk *p = &python_pickles[i];
		for (long k = 0;; k++) {
			ec_value *sentinel = (ec_value *)&err, *v = sentinel;
			fail_after = k;
			int rc = ops->decode(st, p->data, p->len, &v, &err);
			fail_after = -1;
			runs++;
			if (rc == 0) {
				char *r = repr_of(v, 0);
				CU_ASSERT_STRING_EQUAL(r, p->expect);
				free(r);
				ec_value_free(v);
				break;
			}
			int ok = rc == EC_ENOMEM && v == sentinel && strstr(err.msg, "out of memory");
			if (!ok)
				printf("\n    %s, allocation %ld fails: rc %d, %s\n", p->label, k, rc, err.msg);
			CU_ASSERT(ok);
			if (!ok || k > 100000)
				break;
		}
	}
	CU_ASSERT(runs > N_ELEMS(python_pickles) * 10);
	plugin->unload(st);
}

/* ---- concurrency ------------------------------------------------------------- */

static void *worker(void *arg)
{
	long bad = 0;
	(void)arg;
	for (int round = 0; round < 20; round++) {
		for (size_t i = 0; i < N_ELEMS(python_pickles); i++) {
			ec_value *v = NULL;
			struct ec_error err;
			if (decode(python_pickles[i].data, python_pickles[i].len, &v, &err)) {
				bad++;
				continue;
			}
			struct ec_buf b = {0};
			if (encode(v, &b, &err))
				bad++;
			char *r = repr_of(v, 0);
			if (strcmp(r, python_pickles[i].expect) != 0)
				bad++;
			free(r);
			free(b.data);
			ec_value_free(v);
		}
	}
	return (void *)bad;
}

static void test_threads(void)
{
	pthread_t t[4];
	for (int i = 0; i < 4; i++)
		CU_ASSERT_EQUAL_FATAL(pthread_create(&t[i], NULL, worker, NULL), 0);
	for (int i = 0; i < 4; i++) {
		void *bad;
		pthread_join(t[i], &bad);
		CU_ASSERT_PTR_NULL(bad);
	}
}

/* ---- real Pythons ------------------------------------------------------------ */

/* crepr() of test_pickle.c, in Python 2 and 3; loads a stream of <u32 len><pickle>. */
static const char PY_COMMON[] =
	"import sys, struct, types, pickle\n"
	"PY2 = sys.version_info[0] == 2\n"
	"if PY2:\n"
	"    import cPickle\n"
	"    textt, bytest, ints = unicode, str, (int, long)\n"
	"else:\n"
	"    textt, bytest, ints = str, bytes, (int,)\n"
	"mod = types.ModuleType('econtext')\n"
	"class CallError(Exception):\n"
	"    def __init__(self, t, m, tb):\n"
	"        Exception.__init__(self, t, m, tb)\n"
	"        self.t, self.m, self.tb = t, m, tb\n"
	"    def __reduce__(self):\n"
	"        return (CallError, (self.t, self.m, self.tb))\n"
	"CallError.__module__ = 'econtext'\n"
	"mod.CallError = CallError\n"
	"sys.modules['econtext'] = mod\n"
	"def esc(bs):\n"
	"    out = []\n"
	"    for c in bytearray(bs):\n"
	"        if 0x20 <= c < 0x7f and c not in (0x5c, 0x27):\n"
	"            out.append(chr(c))\n"
	"        else:\n"
	"            out.append('\\\\x%02x' % c)\n"
	"    return ''.join(out)\n"
	"def crepr(o, srt=False):\n"
	"    if o is None: return 'None'\n"
	"    if o is True: return 'True'\n"
	"    if o is False: return 'False'\n"
	"    if isinstance(o, ints): return str(o)\n"
	"    if isinstance(o, float):\n"
	"        if o != o: return 'nan'\n"
	"        if o == float('inf'): return 'inf'\n"
	"        if o == float('-inf'): return '-inf'\n"
	"        return '%.17g' % o\n"
	"    if isinstance(o, (bytest, bytearray)): return \"b'\" + esc(bytes(o)) + \"'\"\n"
	"    if isinstance(o, textt):\n"
	"        return \"u'\" + esc(o.encode('utf-8') if PY2 else o.encode('utf-8', 'surrogatepass')) + \"'\"\n"
	"    if isinstance(o, list): return '[' + ', '.join(crepr(x, srt) for x in o) + ']'\n"
	"    if isinstance(o, tuple):\n"
	"        return '(' + ', '.join(crepr(x, srt) for x in o) + (',' if len(o) == 1 else '') + ')'\n"
	"    if isinstance(o, dict):\n"
	"        items = [crepr(k, srt) + ': ' + crepr(v, srt) for k, v in o.items()]\n"
	"        if srt: items.sort()\n"
	"        return '{' + ', '.join(items) + '}'\n"
	"    if isinstance(o, (set, frozenset)):\n"
	"        items = [crepr(x, srt) for x in o]\n"
	"        if srt: items.sort()\n"
	"        return 'set(' + ', '.join(items) + ')'\n"
	"    if isinstance(o, CallError):\n"
	"        return 'CallError(%s, %s, %s)' % (crepr(o.t), crepr(o.m), crepr(o.tb))\n"
	"    raise TypeError(type(o))\n";

/* Load each pickle of argv[1] with the C and the pure-Python unpicklers; print crepr. */
static const char PY_LOAD[] =
	"data = open(sys.argv[1], 'rb').read()\n"
	"pos = 0\n"
	"while pos < len(data):\n"
	"    n = struct.unpack('<I', data[pos:pos + 4])[0]\n"
	"    chunk = data[pos + 4:pos + 4 + n]\n"
	"    pos += 4 + n\n"
	"    if PY2:\n"
	"        a, b = cPickle.loads(chunk), pickle.loads(chunk)\n"
	"    else:\n"
	"        a, b = pickle.loads(chunk, encoding='bytes'), pickle._loads(chunk, encoding='bytes')\n"
	"    ra, rb = crepr(a, True), crepr(b, True)\n"
	"    sys.stdout.write(ra if ra == rb else 'MISMATCH %s / %s' % (ra, rb))\n"
	"    sys.stdout.write('\\n')\n";

/* Write large objects at every protocol to argv[1]; print crepr of each. */
static const char PY_DUMP[] =
	"objs = [b'a' * 70000, u'\\u20ac' * 22000 + u'\\U0001f600', list(range(3000)),\n"
	"        dict((i, str(i)) for i in range(2000)), 2**4000, -2**4000, set(range(100)),\n"
	"        bytearray(b'z' * 70000), [u'x%d' % (i % 50) for i in range(3000)],\n"
	"        (lambda s: [s] * 300)(b'shared' * 1000), 2**62, -2**63]\n"
	"dumps = cPickle.dumps if PY2 else pickle.dumps\n"
	"out = open(sys.argv[1], 'wb')\n"
	"for p in range(pickle.HIGHEST_PROTOCOL + 1):\n"
	"    for o in objs:\n"
	"        d = dumps(o, p)\n"
	"        out.write(struct.pack('<I', len(d)) + d)\n"
	"        sys.stdout.write(crepr(o) + '\\n')\n"
	"out.close()\n";

static int read_file(const char *path, char **data, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return -1;
	struct sb b = {0};
	char buf[65536];
	size_t n;
	while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
		sb_put(&b, buf, n);
	fclose(f);
	*data = b.s;
	*len = b.n;
	return 0;
}

static int write_file(const char *path, const void *data, size_t len)
{
	FILE *f = fopen(path, "wb");
	if (!f)
		return -1;
	int ok = fwrite(data, 1, len, f) == len;
	return fclose(f) == 0 && ok ? 0 : -1;
}

/* The interpreters found (testutil: $EC_TEST_PYTHONS, pyenv, /usr/bin), once. */
static struct ec_test_python pythons[16];
static size_t npythons;

static void find_pythons(void)
{
	static int done;
	if (!done) {
		npythons = ec_test_pythons(pythons, sizeof(pythons) / sizeof(pythons[0]));
		done = 1;
	}
}

/* Run python on script (PY_COMMON + body) with argument arg; stdout into *out. */
static int run_python(const char *python, const char *dir, const char *body, const char *arg,
                      char **out, size_t *outlen)
{
	char script[512], stdout_path[512], cmd[2048];
	snprintf(script, sizeof(script), "%s/script.py", dir);
	snprintf(stdout_path, sizeof(stdout_path), "%s/stdout", dir);
	struct sb s = {0};
	sb_puts(&s, PY_COMMON);
	sb_puts(&s, body);
	int rc = write_file(script, s.s, s.n);
	free(s.s);
	if (rc)
		return -1;
	snprintf(cmd, sizeof(cmd), "'%s' '%s' '%s' > '%s'", python, script, arg, stdout_path);
	rc = system(cmd);
	if (rc != 0) {
		printf("\n    %s failed (status %d)\n", cmd, rc);
		return -1;
	}
	return read_file(stdout_path, out, outlen);
}

static void test_python_loads_encoder_output(void)
{
	find_pythons();
	int have3 = 0, np = 0;
	for (size_t i = 0; i < npythons; i++) {
		if (!pythons[i].path[0])
			continue;
		printf("%s %s", np ? "" : "\n    with", pythons[i].full);
		have3 |= pythons[i].version[0] == '3';
		np++;
	}
	if (!pythons[0].path[0])
		printf("\n    SKIPPED: no Python 2.7 found");
	if (!have3)
		printf("\n    SKIPPED: no Python 3 found");
	printf(" ");
	if (!np)
		return;

	/* Values to send, and their canonical text (sorted, as Python orders as it likes). */
	ec_value *deep = nested_lists(100);
	ec_value *l = ec_value_new(EC_T_LIST), *d = ec_value_new(EC_T_DICT);
	for (int i = 0; i < 2500; i++) {
		ec_value_append(l, ec_value_int(i * 1000003LL));
		if (i < 1500)
			ec_value_dict_set(d, ec_value_int(i), mk(EC_T_TUPLE, ec_value_cstr("v"), NULL));
	}
	unsigned char all[256];
	for (int i = 0; i < 256; i++)
		all[i] = (unsigned char)i;
	ec_value *vals[] = {
		mk(EC_T_LIST, ec_value_none(), ec_value_bool(1), ec_value_bool(0), ec_value_int(0),
		   ec_value_int(-1), ec_value_int(255), ec_value_int(65536), ec_value_int(INT32_MIN),
		   ec_value_int(INT32_MAX + 1LL), ec_value_int(INT64_MAX), ec_value_int(INT64_MIN),
		   big("18446744073709551616"), big("-18446744073709551617"),
		   big("-2361183241434822606848"),
		   ec_value_float(1.5), ec_value_float(-0.0), ec_value_float(INFINITY),
		   ec_value_float(-INFINITY), ec_value_float(NAN), ec_value_float(4.9e-324), NULL),
		mk(EC_T_TUPLE, ec_value_bytes(all, 256), ec_value_bytes(B("")), ec_value_cstr(""),
		   ec_value_str(B("nul\0 \xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 \xed\xa0\x80")),
		   bytes_n(70000), text_n(30000), NULL),
		mk(EC_T_DICT, ec_value_cstr("k"),
		   mk(EC_T_LIST, mk(EC_T_TUPLE, NULL), mk(EC_T_TUPLE, ec_value_int(1), NULL),
		      mk(EC_T_TUPLE, ec_value_int(1), ec_value_int(2), ec_value_int(3), ec_value_int(4), NULL),
		      mk(EC_T_DICT, NULL), NULL),
		   mk(EC_T_TUPLE, ec_value_int(1), ec_value_bytes(B("b")), NULL), ec_value_float(2.5),
		   ec_value_bytes(B("bk")), mk(EC_T_SET, ec_value_int(3), ec_value_cstr("s"), NULL),
		   ec_value_int(4), mk(EC_T_SET, NULL), NULL),
		ec_value_error("builtins.ValueError", "bad \xc3\xa9", "Traceback\n  line 1\n"),
		l, d, deep,
	};
	struct sb stream = {0}, expect = {0};
	for (size_t i = 0; i < N_ELEMS(vals); i++) {
		struct ec_buf b = {0};
		struct ec_error err = {0};
		CU_ASSERT_EQUAL_FATAL(encode(vals[i], &b, &err), 0);
		unsigned char n4[4] = {(unsigned char)b.len, (unsigned char)(b.len >> 8),
		                       (unsigned char)(b.len >> 16), (unsigned char)(b.len >> 24)};
		sb_put(&stream, (const char *)n4, 4);
		sb_put(&stream, (const char *)b.data, b.len);
		char *r = repr_of(vals[i], 1);
		sb_puts(&expect, r);
		sb_puts(&expect, "\n");
		free(r);
		free(b.data);
		ec_value_free(vals[i]);
	}

	char dir[] = "/tmp/ec_test_pickle_XXXXXX", in[600];
	CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(dir));
	snprintf(in, sizeof(in), "%s/in.bin", dir);
	CU_ASSERT_EQUAL_FATAL(write_file(in, stream.s, stream.n), 0);
	for (size_t i = 0; i < npythons; i++) {
		if (!pythons[i].path[0])
			continue;
		char *out = NULL;
		size_t outlen = 0;
		int rc = run_python(pythons[i].path, dir, PY_LOAD, in, &out, &outlen);
		CU_ASSERT_EQUAL(rc, 0);
		int ok = rc == 0 && outlen == expect.n && memcmp(out, expect.s, outlen) == 0;
		if (!ok && rc == 0) {
			size_t k = 0;
			while (k < outlen && k < expect.n && out[k] == expect.s[k])
				k++;
			printf("\n    %s loads differently at char %zu:\n      got  %.300s\n      want %.300s\n",
			       pythons[i].path, k, out + (k > 40 ? k - 40 : 0), expect.s + (k > 40 ? k - 40 : 0));
		}
		CU_ASSERT(ok);
		free(out);
	}
	char path[600];
	snprintf(path, sizeof(path), "%s/script.py", dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/stdout", dir);
	unlink(path);
	unlink(in);
	rmdir(dir);
	free(stream.s);
	free(expect.s);
}

static void test_python_dumps_runtime(void)
{
	/* Python 2.7 and the newest 3.x */
	find_pythons();
	const char *chosen[2];
	int nc = 0;
	if (pythons[0].path[0])
		chosen[nc++] = pythons[0].path;
	else
		printf("\n    SKIPPED: no Python 2.7 found");
	for (size_t i = npythons; i-- > 1;) {
		if (pythons[i].path[0]) {
			chosen[nc++] = pythons[i].path;
			break;
		}
		if (i == 1)
			printf("\n    SKIPPED: no Python 3 found");
	}
	for (int i = 0; i < nc; i++)
		printf("%s %s", i ? "" : "\n    with", chosen[i]);
	printf(" ");

	char dir[] = "/tmp/ec_test_pickle_XXXXXX", file[600], path[600];
	CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(dir));
	snprintf(file, sizeof(file), "%s/out.bin", dir);
	for (int i = 0; i < nc; i++) {
		char *out = NULL, *data = NULL;
		size_t outlen = 0, len = 0;
		if (run_python(chosen[i], dir, PY_DUMP, file, &out, &outlen) || read_file(file, &data, &len)) {
			CU_FAIL("python did not run");
			free(out);
			continue;
		}
		size_t pos = 0, count = 0;
		char *line = out;
		while (pos + 4 <= len) {
			size_t n = (size_t)(unsigned char)data[pos] | (size_t)(unsigned char)data[pos + 1] << 8 |
			           (size_t)(unsigned char)data[pos + 2] << 16 | (size_t)(unsigned char)data[pos + 3] << 24;
			pos += 4;
			char *nl = strchr(line, '\n');
			CU_ASSERT_PTR_NOT_NULL_FATAL(nl);
			*nl = '\0';
			char label[600];
			snprintf(label, sizeof(label), "%s object #%zu", chosen[i], count);
			dec_expect(label, data + pos, n, line);
			line = nl + 1;
			pos += n;
			count++;
		}
		CU_ASSERT(count >= 36);
		CU_ASSERT_EQUAL(pos, len);
		free(out);
		free(data);
	}
	unlink(file);
	snprintf(path, sizeof(path), "%s/script.py", dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/stdout", dir);
	unlink(path);
	rmdir(dir);
}

/* ---- decode_buf: a large bytes result in the buffer it came in ---------------- */

/* In a buffer of its own, at offset 20: head (PROTO, opcode, length), n bytes of
 * 'a'..'z', then tail. */
static void big_pickle(struct ec_buf *b, const char *head, size_t n, const char *tail,
                       size_t tail_len)
{
	ec__buf_init(b);
	unsigned char pad[20] = {0}, len[4] = {(unsigned char)n, (unsigned char)(n >> 8),
	                                       (unsigned char)(n >> 16), (unsigned char)(n >> 24)};
	ec__buf_append(b, pad, sizeof(pad));
	ec__buf_append(b, head, 3);
	ec__buf_append(b, len, 4);
	ec__buf_reserve(b, n);
	for (size_t i = 0; i < n; i++)
		b->data[b->len++] = (unsigned char)('a' + i % 26);
	ec__buf_append(b, tail, tail_len);
}

static void test_decode_buf(void)
{
	CU_ASSERT_PTR_NOT_NULL_FATAL(ops->decode_buf);
	const size_t n = 1 << 20;
	const struct {
		const char *head, *tail;
		size_t tail_len;
		int taken, ok;
	} cases[] = {
		{"\x80\x03" "B", "q\x00.", 3, 1, 1},  /* Python 3 (the remote's _bytes_parts) */
		{"\x80\x02" "T", "q\x00.", 3, 1, 1},  /* Python 2 dumps of a str */
		{"\x80\x02" "B", "q\x00.", 3, 0, 1},  /* another shape: decoded, not taken */
		{"\x80\x03" "B", ".", 1, 0, 1},
		{"\x80\x03" "B", "q\x01.", 3, 0, 1},
		{"\x80\x03" "B", "q\x00.x", 4, 0, 0}, /* trailing byte: refused, untouched */
		{"\x80\x03" "X", "q\x00.", 3, 0, 1},  /* text: decoded */
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct ec_buf b;
		big_pickle(&b, cases[i].head, n, cases[i].tail, cases[i].tail_len);
		unsigned char *mem = b.data;
		size_t blen = b.len;
		struct ec_error err = {0};
		ec_value *v = NULL;
		int rc = ops->decode_buf(pstate, &b, 20, b.len - 20, &v, &err);
		CU_ASSERT_EQUAL(rc == 0, cases[i].ok);
		CU_ASSERT_EQUAL(b.data == NULL, cases[i].taken);
		if (!cases[i].taken)
			CU_ASSERT(b.data == mem && b.len == blen);
		if (cases[i].ok) {
			CU_ASSERT_PTR_NOT_NULL_FATAL(v);
			CU_ASSERT_EQUAL(v->type, cases[i].head[2] == 'X' ? EC_T_STR : EC_T_BYTES);
			CU_ASSERT_EQUAL(v->u.s.len, n);
			CU_ASSERT_EQUAL(v->u.s.data[n], '\0');
			int same = 1;
			for (size_t k = 0; k < n && same; k++)
				same = v->u.s.data[k] == 'a' + (int)(k % 26);
			CU_ASSERT(same);
		} else {
			CU_ASSERT_PTR_NULL(v);
			CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "trailing"));
		}
		ec_value_free(v);
		ec__buf_free(&b);
	}
	/* Small payloads are decoded as usual, and the buffer left alone. */
	struct ec_buf b;
	ec__buf_init(&b);
	ec__buf_append(&b, "\x80\x03" "C\x02hiq\x00.", 9);
	ec_value *v = NULL;
	CU_ASSERT_EQUAL(ops->decode_buf(pstate, &b, 0, b.len, &v, NULL), 0);
	CU_ASSERT(v && v->type == EC_T_BYTES && v->u.s.len == 2 && b.data != NULL);
	ec_value_free(v);
	ec__buf_free(&b);
}

/* ---- the plugin descriptor --------------------------------------------------- */

/* ---- mutations ------------------------------------------------------------------ */

static uint64_t rnd_state;

static uint64_t rnd(void)
{
	/* xorshift64*: the same sequence every run, so a failure reproduces */
	rnd_state ^= rnd_state >> 12;
	rnd_state ^= rnd_state << 25;
	rnd_state ^= rnd_state >> 27;
	return rnd_state * 0x2545F4914F6CDD1DULL;
}

/* A byte a mutation writes: often one that means something to the decoder. */
static unsigned char interesting(void)
{
	static const unsigned char bytes[] = {0x00, 0x01, 0x7f, 0x80, 0xff, 0xfe, '.', '(',
	                                      ')', 'N', 'K', 'M', 'J', 'X', 'B', 'C', 'c', 'R',
	                                      'q', 'h', 'r', 'j', 0x80, 0x8a, 0x8c, 0x94, 0x95,
	                                      0x8e, 0x96, 0x97, 'u', 's', 'e', 'a', 'l', 't', '}',
	                                      ']', 0x85, 0x86, 0x87, '\n', '0'};
	return rnd() % 3 ? bytes[rnd() % sizeof(bytes)] : (unsigned char)rnd();
}

/* Mutate buf[0..*len) in place, within cap: one to four of bit flip, byte set, delete a
 * range, duplicate a range, splice in a piece of another pickle. */
static void mutate(unsigned char *buf, size_t *len, size_t cap)
{
	int n = 1 + (int)(rnd() % 4);
	for (int k = 0; k < n; k++) {
		size_t l = *len;
		size_t at = l ? (size_t)(rnd() % l) : 0;
		switch (rnd() % 5) {
		case 0:
			if (l)
				buf[at] ^= (unsigned char)(1u << (rnd() % 8));
			break;
		case 1:
			if (l)
				buf[at] = interesting();
			break;
		case 2: { /* delete */
			size_t d = l - at < 8 ? l - at : 1 + (size_t)(rnd() % 8);
			memmove(buf + at, buf + at + d, l - at - d);
			*len = l - d;
			break;
		}
		case 3: { /* duplicate a range right after itself */
			size_t d = 1 + (size_t)(rnd() % 16);
			if (at + d > l)
				d = l - at;
			if (l + d > cap)
				break;
			memmove(buf + at + 2 * d, buf + at + d, l - at - d);
			memcpy(buf + at + d, buf + at, d);
			*len = l + d;
			break;
		}
		default: { /* overwrite with a piece of another pickle */
			const struct pyk *o = &python_pickles[rnd() % N_ELEMS(python_pickles)];
			size_t from = o->len ? (size_t)(rnd() % o->len) : 0;
			size_t d = 1 + (size_t)(rnd() % 24);
			if (from + d > o->len)
				d = o->len - from;
			if (at + d > cap)
				d = cap - at;
			memcpy(buf + at, o->data + from, d);
			if (at + d > l)
				*len = at + d;
			break;
		}
		}
	}
}

/* Every pickle CPython made, mutated 400 times each, deterministically: the decoder
 * decodes or refuses (EC_ECODEC) and never crashes or leaks (the sanitizer stage runs
 * this too); what it decodes encodes again. A fuzzer's first pass, in every run. */
static void test_decode_mutations(void)
{
	rnd_state = 0x9e3779b97f4a7c15ULL;
	unsigned long decoded = 0, refused = 0, other = 0;
	for (size_t i = 0; i < N_ELEMS(python_pickles); i++) {
		const struct pyk *p = &python_pickles[i];
		size_t cap = 2 * p->len + 64;
		unsigned char *buf = malloc(cap);
		CU_ASSERT_FATAL(buf != NULL);
		for (int r = 0; r < 400; r++) {
			size_t len = p->len;
			memcpy(buf, p->data, len);
			mutate(buf, &len, cap);
			struct ec_error err = {0};
			ec_value *v = NULL;
			int rc = decode(buf, len, &v, &err);
			if (rc == 0 && v) {
				decoded++;
				struct ec_buf out;
				ec__buf_init(&out);
				struct ec_error e2 = {0};
				int erc = encode(v, &out, &e2);
				if (erc && erc != EC_ECODEC)
					printf("\n    %s, mutation %d: decoded, encode rc %d: %s\n", p->label, r,
					       erc, e2.msg);
				CU_ASSERT(erc == 0 || erc == EC_ECODEC);
				ec__buf_free(&out);
				ec_value_free(v);
			} else if (rc == EC_ECODEC && !v && err.msg[0]) {
				refused++;
			} else {
				other++;
				printf("\n    %s, mutation %d: rc %d, value %p, message '%s'\n", p->label, r, rc,
				       (void *)v, err.msg);
				ec_value_free(v);
			}
		}
		free(buf);
	}
	CU_ASSERT_EQUAL(other, 0);
	printf(" (%lu decoded, %lu refused) ", decoded, refused);
}

static void test_descriptor(void)
{
	CU_ASSERT_EQUAL(plugin->abi_major, EC_PLUGIN_ABI_MAJOR);
	CU_ASSERT_EQUAL(plugin->abi_minor, EC_PLUGIN_ABI_MINOR);
	CU_ASSERT_EQUAL(plugin->size, sizeof(struct ec_plugin));
	CU_ASSERT_STRING_EQUAL(plugin->name, "pickle");
	CU_ASSERT_STRING_EQUAL(plugin->version, "0.1.0");
	CU_ASSERT_EQUAL(plugin->kind, EC_PLUGIN_CODEC);
	CU_ASSERT_PTR_NOT_NULL(plugin->load);
	CU_ASSERT_PTR_NOT_NULL(plugin->unload);
	CU_ASSERT_EQUAL(ops->size, sizeof(struct ec_codec_ops));
	CU_ASSERT_STRING_EQUAL(ops->remote_name, "pickle");
	/* A second instance loads and unloads independently. */
	void *st2 = NULL;
	struct ec_error err = {0};
	CU_ASSERT_EQUAL(plugin->load(ec__host_get(), &st2, &err), 0);
	ec_value *v = NULL;
	CU_ASSERT_EQUAL(ops->decode(st2, B("\x80\x02K\x07."), &v, &err), 0);
	CU_ASSERT(v && v->type == EC_T_INT && v->u.i == 7);
	ec_value_free(v);
	plugin->unload(st2);
}

static int suite_init(void)
{
	struct ec_error err = {0};
	plugin = ec_plugin_pickle_describe();
	if (!plugin || plugin->kind != EC_PLUGIN_CODEC)
		return -1;
	ops = plugin->ops;
	return plugin->load(ec__host_get(), &pstate, &err) != 0;
}

static int suite_clean(void)
{
	plugin->unload(pstate);
	return 0;
}

int main(void)
{
	static const struct {
		const char *name;
		void (*fn)(void);
	} tests[] = {
		{"descriptor", test_descriptor},
		{"round trip: scalars", test_roundtrip_scalars},
		{"round trip: big integers", test_roundtrip_bigint},
		{"round trip: bytes and text", test_roundtrip_strings},
		{"round trip: containers", test_roundtrip_containers},
		{"round trip: CallError", test_roundtrip_error},
		{"encoder writes what CPython writes", test_encode_exact},
		{"encoder errors", test_encode_errors},
		{"decode CPython 2.7/3.x pickles", test_decode_python},
		{"refuse CPython pickles outside the subset", test_decode_python_refused},
		{"refuse every truncation and trailing bytes", test_truncated},
		{"decode opcodes", test_decode_opcodes},
		{"globals and REDUCE", test_decode_globals},
		{"refused opcodes", test_decode_refused_opcodes},
		{"stack, memo, marks, keys, recursion, text", test_decode_structure},
		{"UTF-8 validation", test_decode_utf8},
		{"declared lengths and limits", test_decode_bounds},
		{"memo copy budget", test_decode_copy_budget},
		{"econtext.Named and econtext.Tagged", test_named_tagged},
		{"allocation failures", test_decode_out_of_memory},
		{"concurrent use", test_threads},
		{"real Pythons load the encoder's output", test_python_loads_encoder_output},
		{"decode large pickles real Pythons write", test_python_dumps_runtime},
		{"decode_buf takes a large bytes result's buffer", test_decode_buf},
		{"mutated CPython pickles: decoded or refused, never worse", test_decode_mutations},
	};
	if (CU_initialize_registry() != CUE_SUCCESS)
		return 99;
	CU_pSuite s = CU_add_suite("pickle", suite_init, suite_clean);
	if (!s)
		return 99;
	for (size_t i = 0; i < N_ELEMS(tests); i++)
		if (!CU_add_test(s, tests[i].name, tests[i].fn))
			return 99;
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	unsigned failures = CU_get_number_of_failures();
	unsigned suite_failures = CU_get_number_of_suites_failed();
	CU_cleanup_registry();
	return failures != 0 || suite_failures != 0;
}
