/* pickle_ops.c: the decoder's loop: it reads each opcode, runs its handler (dec_op
 * dispatches; the handlers below, one per family of opcodes, read the argument and act
 * on the machine of pickle_dec.c) and checks the end of the pickle at STOP. Opcodes
 * without a handler are refused. The handlers are static, called directly from the
 * switch (never through a pointer), so the compiler may inline them. */
#include "ecbuild.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pickle_int.h"

/* ---- arguments --------------------------------------------------------------- */

/* Declared length of a counted string, checked against what is left. */
static int take_counted(struct dec *d, size_t lenbytes, int is_signed, const unsigned char **out,
                        size_t *n)
{
	const unsigned char *b = take(d, lenbytes);
	if (!b)
		return EC_ECODEC;
	uint64_t x = le_get(b, lenbytes);
	if (is_signed && lenbytes == 4 && (x & 0x80000000u))
		return pk__dfail(d, "negative length %lld in %s", (long long)(int32_t)(uint32_t)x, OPN);
	if (x > d->len - d->pos)
		return pk__dfail(d, "%s declares %llu bytes but only %zu are left", OPN,
		                 (unsigned long long)x, d->len - d->pos);
	*n = (size_t)x;
	*out = take(d, *n); /* refuses a string that runs past the end of its frame */
	return *out ? 0 : EC_ECODEC;
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
	return ok ? 0 : pk__dfail(d, "malformed memo index in %s", OPN);
}

/* ---- framing ----------------------------------------------------------------- */

static int op_proto(struct dec *d)
{
	const unsigned char *b = take(d, 1);
	if (!b)
		return EC_ECODEC;
	if (b[0] > 5)
		return pk__dfail(d, "unsupported pickle protocol %u", b[0]);
	return 0;
}

static int op_frame(struct dec *d)
{
	const unsigned char *b = take(d, 8);
	if (!b)
		return EC_ECODEC;
	uint64_t size = le_get(b, 8);
	if (size > d->len - d->pos)
		return pk__dfail(d, "FRAME of %llu bytes but only %zu are left",
		                 (unsigned long long)size, d->len - d->pos);
	if (size) {
		d->in_frame = 1;
		d->frame_end = d->pos + (size_t)size;
	}
	return 0;
}

/* ---- scalars ----------------------------------------------------------------- */

static int op_bool(struct dec *d, int b) /* NEWTRUE, NEWFALSE */
{
	ec_value *v = new_scalar(d, EC_T_BOOL);
	if (v)
		v->u.b = b;
	return push(d, v, 0);
}

/* INT: decimal text; protocol 0 writes True and False as 01 and 00. */
static int op_int(struct dec *d)
{
	size_t n;
	const unsigned char *b = take_line(d, &n);
	if (!b)
		return EC_ECODEC;
	if (n == 2 && b[0] == '0' && (b[1] == '0' || b[1] == '1'))
		return op_bool(d, b[1] == '1');
	return pk__push_decimal(d, b, n);
}

static int op_long(struct dec *d) /* LONG: decimal text, maybe with Python 2's L */
{
	size_t n;
	const unsigned char *b = take_line(d, &n);
	if (!b)
		return EC_ECODEC;
	if (n && b[n - 1] == 'L')
		n--;
	return pk__push_decimal(d, b, n);
}

static int op_binint(struct dec *d) /* BININT: signed 4 bytes */
{
	const unsigned char *b = take(d, 4);
	if (!b)
		return EC_ECODEC;
	ec_value *v = new_scalar(d, EC_T_INT);
	if (v)
		v->u.i = (int32_t)(uint32_t)le_get(b, 4);
	return push(d, v, 0);
}

static int op_binuint(struct dec *d, size_t n) /* BININT1, BININT2: unsigned n bytes */
{
	const unsigned char *b = take(d, n);
	if (!b)
		return EC_ECODEC;
	ec_value *v = new_scalar(d, EC_T_INT);
	if (v)
		v->u.i = (int64_t)le_get(b, n);
	return push(d, v, 0);
}

static int op_long1(struct dec *d)
{
	const unsigned char *b = take(d, 1);
	if (!b)
		return EC_ECODEC;
	size_t n = b[0];
	if (!(b = take(d, n)))
		return EC_ECODEC;
	return pk__push_long_bytes(d, b, n);
}

static int op_long4(struct dec *d)
{
	const unsigned char *b;
	size_t n;
	if (take_counted(d, 4, 1, &b, &n))
		return EC_ECODEC;
	if (n > PK_MAX_LONG_BYTES)
		return pk__dfail(d, "LONG4 of %zu bytes is too large (limit %zu)", n,
		                 PK_MAX_LONG_BYTES);
	return pk__push_long_bytes(d, b, n);
}

static int op_binfloat(struct dec *d) /* big-endian IEEE 754 double */
{
	const unsigned char *b = take(d, 8);
	if (!b)
		return EC_ECODEC;
	uint64_t u = 0;
	for (int i = 0; i < 8; i++)
		u = u << 8 | b[i];
	ec_value *v = new_scalar(d, EC_T_FLOAT);
	if (v)
		memcpy(&v->u.f, &u, 8);
	return push(d, v, 0);
}

/* FLOAT, STRING, UNICODE: a line of text. */
static int op_line(struct dec *d)
{
	size_t n;
	const unsigned char *b = take_line(d, &n);
	if (!b)
		return EC_ECODEC;
	switch (d->op) {
	case OP_FLOAT:
		return pk__push_float_text(d, b, n);
	case OP_STRING:
		return pk__push_string_repr(d, b, n);
	default:
		return pk__push_raw_unicode(d, b, n);
	}
}

/* Counted bytes or text: a length of lenbytes, then the data. */
static int op_counted(struct dec *d, size_t lenbytes, int is_signed, enum ec_type t)
{
	const unsigned char *b;
	size_t n;
	if (take_counted(d, lenbytes, is_signed, &b, &n))
		return EC_ECODEC;
	return pk__push_text(d, t, b, n);
}

/* ---- containers -------------------------------------------------------------- */

static int op_mark(struct dec *d)
{
	if (d->nm >= PK_MAX_MARKS)
		return pk__dfail(d, "more than %d nested MARKs", PK_MAX_MARKS);
	if (d->nm == d->mcap) {
		size_t cap = d->mcap ? d->mcap * 2 : 16;
		size_t *m = realloc(d->marks, cap * sizeof(*m));
		if (!m)
			return pk__doom(d);
		d->marks = m;
		d->mcap = cap;
	}
	d->marks[d->nm++] = d->sn;
	return 0;
}

static int op_empty(struct dec *d, enum ec_type t) /* EMPTY_TUPLE, _LIST, _DICT, _SET */
{
	return push(d, d->h->value_new(t), 1);
}

static int op_from_mark(struct dec *d, enum ec_type t) /* TUPLE, LIST, DICT, FROZENSET */
{
	size_t k;
	if (pk__pop_mark(d, &k))
		return EC_ECODEC;
	return pk__build(d, t, k);
}

static int op_tuple_n(struct dec *d, size_t n) /* TUPLE1, TUPLE2, TUPLE3 */
{
	if (need_items(d, n))
		return EC_ECODEC;
	return pk__build(d, EC_T_TUPLE, d->sn - n);
}

/* APPEND (n 2: list, item) and SETITEM (n 3: dict, key, value). */
static int op_add(struct dec *d, size_t n, enum ec_type t)
{
	if (need_items(d, n))
		return EC_ECODEC;
	return pk__extend(d, d->sn - n, t, d->sn - n + 1);
}

/* APPENDS, SETITEMS, ADDITEMS: the items above the MARK, to the container below it. */
static int op_add_marked(struct dec *d, enum ec_type t)
{
	size_t k;
	if (pk__pop_mark(d, &k))
		return EC_ECODEC;
	if (k == 0 || k - 1 < fence(d))
		return pk__dfail(d, "stack underflow in %s", OPN);
	return pk__extend(d, k - 1, t, k);
}

/* ---- memo and stack ---------------------------------------------------------- */

static int op_memo_text(struct dec *d, int put) /* PUT, GET: a decimal index */
{
	const unsigned char *b;
	size_t n;
	uint64_t idx;
	if (!(b = take_line(d, &n)) || text_index(d, b, n, &idx))
		return EC_ECODEC;
	return put ? pk__memo_put(d, idx) : pk__memo_get(d, idx);
}

/* BINPUT, BINGET (n 1), LONG_BINPUT, LONG_BINGET (n 4): a little-endian index. */
static int op_memo_bin(struct dec *d, size_t n, int put)
{
	const unsigned char *b = take(d, n);
	if (!b)
		return EC_ECODEC;
	return put ? pk__memo_put(d, le_get(b, n)) : pk__memo_get(d, le_get(b, n));
}

static int op_pop(struct dec *d)
{
	if (d->sn > fence(d))
		return pk__bury(d, d->st[--d->sn].v);
	if (d->nm) { /* as CPython: POP with nothing above a MARK drops the MARK */
		d->nm--;
		return 0;
	}
	return pk__dfail(d, "stack underflow in POP");
}

static int op_pop_mark(struct dec *d)
{
	size_t k;
	if (pk__pop_mark(d, &k))
		return EC_ECODEC;
	int rc = 0;
	while (d->sn > k)
		if (pk__bury(d, d->st[--d->sn].v))
			rc = EC_ENOMEM;
	return rc;
}

static int op_dup(struct dec *d)
{
	if (need_items(d, 1))
		return EC_ECODEC;
	if (!d->st[d->sn - 1].v)
		return push_glob(d, d->st[d->sn - 1].glob);
	return pk__push_copy(d, d->st[d->sn - 1].v);
}

/* ---- the loop ---------------------------------------------------------------- */

/* One opcode (not STOP), d->op, read at d->off. */
static int dec_op(struct dec *d)
{
	switch (d->op) {
	case OP_PROTO: return op_proto(d);
	case OP_FRAME: return op_frame(d);

	case OP_NONE: return push(d, new_scalar(d, EC_T_NONE), 0);
	case OP_NEWTRUE: return op_bool(d, 1);
	case OP_NEWFALSE: return op_bool(d, 0);
	case OP_INT: return op_int(d);
	case OP_LONG: return op_long(d);
	case OP_BININT: return op_binint(d);
	case OP_BININT1: return op_binuint(d, 1);
	case OP_BININT2: return op_binuint(d, 2);
	case OP_LONG1: return op_long1(d);
	case OP_LONG4: return op_long4(d);
	case OP_FLOAT: return op_line(d);
	case OP_BINFLOAT: return op_binfloat(d);
	case OP_STRING: return op_line(d);
	case OP_UNICODE: return op_line(d);
	case OP_SHORT_BINSTRING:
	case OP_SHORT_BINBYTES: return op_counted(d, 1, 0, EC_T_BYTES);
	case OP_BINSTRING: return op_counted(d, 4, 1, EC_T_BYTES);
	case OP_BINBYTES: return op_counted(d, 4, 0, EC_T_BYTES);
	case OP_BINBYTES8:
	case OP_BYTEARRAY8: return op_counted(d, 8, 0, EC_T_BYTES);
	case OP_SHORT_BINUNICODE: return op_counted(d, 1, 0, EC_T_STR);
	case OP_BINUNICODE: return op_counted(d, 4, 0, EC_T_STR);
	case OP_BINUNICODE8: return op_counted(d, 8, 0, EC_T_STR);

	case OP_MARK: return op_mark(d);
	case OP_EMPTY_TUPLE: return op_empty(d, EC_T_TUPLE);
	case OP_EMPTY_LIST: return op_empty(d, EC_T_LIST);
	case OP_EMPTY_DICT: return op_empty(d, EC_T_DICT);
	case OP_EMPTY_SET: return op_empty(d, EC_T_SET);
	case OP_TUPLE: return op_from_mark(d, EC_T_TUPLE);
	case OP_LIST: return op_from_mark(d, EC_T_LIST);
	case OP_DICT: return op_from_mark(d, EC_T_DICT);
	case OP_FROZENSET: return op_from_mark(d, EC_T_SET);
	case OP_TUPLE1: return op_tuple_n(d, 1);
	case OP_TUPLE2: return op_tuple_n(d, 2);
	case OP_TUPLE3: return op_tuple_n(d, 3);
	case OP_APPEND: return op_add(d, 2, EC_T_LIST);
	case OP_SETITEM: return op_add(d, 3, EC_T_DICT);
	case OP_APPENDS: return op_add_marked(d, EC_T_LIST);
	case OP_SETITEMS: return op_add_marked(d, EC_T_DICT);
	case OP_ADDITEMS: return op_add_marked(d, EC_T_SET);

	case OP_PUT: return op_memo_text(d, 1);
	case OP_GET: return op_memo_text(d, 0);
	case OP_BINPUT: return op_memo_bin(d, 1, 1);
	case OP_BINGET: return op_memo_bin(d, 1, 0);
	case OP_LONG_BINPUT: return op_memo_bin(d, 4, 1);
	case OP_LONG_BINGET: return op_memo_bin(d, 4, 0);
	case OP_MEMOIZE: return pk__memo_put(d, d->memocount);
	case OP_POP: return op_pop(d);
	case OP_POP_MARK: return op_pop_mark(d);
	case OP_DUP: return op_dup(d);

	case OP_GLOBAL: return pk__op_global(d);
	case OP_STACK_GLOBAL: return pk__op_stack_global(d);
	case OP_REDUCE: return pk__reduce(d);
	}
	if (OPN)
		return pk__dfail_hint(d, "refused opcode %s", OPN);
	return pk__dfail(d, "unknown opcode 0x%02x", d->op);
}

int pk__dec_run(struct dec *d, ec_value **out)
{
	for (;;) {
		if (d->in_frame && d->pos == d->frame_end)
			d->in_frame = 0;
		d->off = d->pos;
		if (d->pos >= d->len) {
			d->op = OP_STOP;
			return pk__dfail(d, "missing STOP (the pickle ends)");
		}
		d->op = d->p[d->pos++];
		if (d->op == OP_FRAME && d->in_frame)
			return pk__dfail(d, "FRAME inside an unfinished frame");
		if (d->op != OP_STOP) {
			int rc = dec_op(d);
			if (rc)
				return rc;
			continue;
		}
		if (d->nm)
			return pk__dfail(d, "STOP with %zu unclosed MARK%s", d->nm, d->nm > 1 ? "s" : "");
		if (d->sn != 1)
			return pk__dfail(d, "STOP with %zu values on the stack (needs exactly one)", d->sn);
		if (!d->st[0].v)
			return pk__dfail_hint(d, "refused global %s as the result", pk__glob_name(d->st[0].glob));
		if (d->pos != d->len) {
			d->off = d->pos;
			return pk__dfail(d, "%zu trailing bytes after STOP", d->len - d->pos);
		}
		d->off = d->pos - 1;
		if (pk__check_unique(d, d->st[0].v))
			return EC_ECODEC;
		*out = d->st[0].v;
		d->st[0].v = NULL;
		d->sn = 0;
		return 0;
	}
}
