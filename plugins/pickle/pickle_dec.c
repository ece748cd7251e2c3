/* pickle_dec.c: the decoder (context -> master): its state machine (the stack, MARKs,
 * memo and graveyard), the operations opcodes perform on it, its failures, and the
 * codec's decode entry points. The loop and the opcode handlers are in pickle_ops.c.
 *
 * A strict validator for protocols 0 to 5 restricted to None, bool, int, float, bytes,
 * str, list, tuple, dict, set/frozenset and econtext.CallError. The bytes may come from a
 * hostile context: every declared length is checked against what is left before
 * anything is allocated, the stack, marks, memo, nesting and memo copies are bounded,
 * globals are resolved against a fixed table and never imported. Anything else is
 * refused with EC_ECODEC naming the opcode, the global and the byte offset.
 *
 * Values never share structure, so the memo holds borrowed pointers and a GET pushes a
 * deep copy. Nothing is freed while decoding (values popped or consumed go to a
 * "graveyard" freed at the end), so memo pointers stay valid. A GET or DUP of a list,
 * dict or set records it; modifying a recorded container later means the stream
 * referenced it before it was complete, i.e. a recursive structure, which is refused. */
#include "ecbuild.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pickle_int.h"

/* ---- failures ---------------------------------------------------------------- */

const char *pk__op_name(unsigned op)
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

static int dvfail(struct dec *d, int code, const char *hint, const char *fmt, va_list ap)
	EC_PRINTF(4, 0);
static int dvfail(struct dec *d, int code, const char *hint, const char *fmt, va_list ap)
{
	char what[400];
	vsnprintf(what, sizeof(what), fmt, ap);
	return d->h->error_set(d->err, code, PK_WHERE, "pickle: %s at offset %zu%s%s%s", what, d->off,
	                       hint ? " (" : "", hint ? hint : "", hint ? ")" : "");
}

int pk__dfail(struct dec *d, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int rc = dvfail(d, EC_ECODEC, NULL, fmt, ap);
	va_end(ap);
	return rc;
}

int pk__dfail_hint(struct dec *d, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int rc = dvfail(d, EC_ECODEC, PK_ALLOWED, fmt, ap);
	va_end(ap);
	return rc;
}

int pk__doom(struct dec *d)
{
	return d->h->error_set(d->err, EC_ENOMEM, PK_WHERE,
	                       "pickle: out of memory decoding %s at offset %zu",
	                       pk__op_name(d->op) ? pk__op_name(d->op) : "?", d->off);
}

/* Printable rendering of untrusted bytes for messages. */
void pk__printable(char *o, size_t osize, const unsigned char *s, size_t n)
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

/* ---- reading ----------------------------------------------------------------- */

int pk__truncated(struct dec *d, size_t n)
{
	size_t lim = limit(d);
	if (d->in_frame && d->len - d->pos >= n)
		return pk__dfail(d, "%s runs past the end of its FRAME (needs %zu bytes, %zu left in the frame)",
		                 OPN, n, lim - d->pos);
	return pk__dfail(d, "truncated %s (needs %zu bytes, %zu left)", OPN, n, lim - d->pos);
}

/* ---- stack, memo, graveyard -------------------------------------------------- */

int pk__stack_grow(struct dec *d)
{
	if (d->sn >= PK_MAX_STACK)
		return pk__dfail(d, "stack holds more than %zu items", PK_MAX_STACK);
	size_t cap = d->st == d->st0 ? 32 : d->scap * 2;
	struct slot *s = d->st == d->st0 ? malloc(cap * sizeof(*s)) : realloc(d->st, cap * sizeof(*s));
	if (!s)
		return pk__doom(d);
	if (d->st == d->st0)
		memcpy(s, d->st0, d->sn * sizeof(*s));
	d->st = s;
	d->scap = cap;
	return 0;
}

/* Keep v alive until the end (the memo may point into it). Takes v. */
int pk__bury(struct dec *d, ec_value *v)
{
	if (!v)
		return 0;
	if (d->gn == d->gcap) {
		size_t cap = d->gcap ? d->gcap * 2 : 16;
		ec_value **g = realloc(d->grave, cap * sizeof(*g));
		if (!g) {
			d->h->value_free(v);
			return pk__doom(d);
		}
		d->grave = g;
		d->gcap = cap;
	}
	d->grave[d->gn++] = v;
	return 0;
}

int pk__pop_mark(struct dec *d, size_t *k)
{
	if (!d->nm)
		return pk__dfail(d, "%s without a MARK", OPN);
	*k = d->marks[--d->nm];
	return 0;
}

/* Slots [from, sn) must hold values, not globals. */
static int need_values(struct dec *d, size_t from)
{
	for (size_t i = from; i < d->sn; i++)
		if (!d->st[i].v)
			return pk__dfail_hint(d, "refused global %s used as a value in %s",
			                      pk__glob_name(d->st[i].glob), OPN);
	return 0;
}

/* Add item to a container (taken, also on failure). */
static int add_item(struct dec *d, ec_value *c, ec_value *item)
{
	if (c->type != EC_T_DICT && c->type != EC_T_NAMED && c->type != EC_T_TAGGED) {
		int rc = d->h->value_append(c, item);
		return rc == 0 ? 0 : rc == EC_ENOMEM ? pk__doom(d) : pk__dfail(d, "cannot add to a value of type %s", type_name(c));
	}
	/* The host table has no dict_set (nor a way to copy a named tuple's or tagged
	 * value's items): grow u.seq the way the core does. */
	if (c->u.seq.len == c->u.seq.cap) {
		size_t cap = c->u.seq.cap ? c->u.seq.cap * 2 : 4;
		ec_value **items = realloc(c->u.seq.items, cap * sizeof(*items));
		if (!items) {
			d->h->value_free(item);
			return pk__doom(d);
		}
		c->u.seq.items = items;
		c->u.seq.cap = cap;
	}
	c->u.seq.items[c->u.seq.len++] = item;
	return 0;
}

int pk__hashable(const ec_value *v)
{
	if (is_mutable(v))
		return 0;
	if (is_container(v))
		for (size_t i = 0; i < v->u.seq.len; i++)
			if (!pk__hashable(v->u.seq.items[i]))
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
		return pk__dfail(d, "%s with an odd number of items", OPN);
	for (size_t i = from; i < d->sn; i++) {
		const ec_value *it = d->st[i].v;
		int key = c->type == EC_T_SET || (c->type == EC_T_DICT && (i - from) % 2 == 0);
		if (key && !pk__hashable(it))
			return pk__dfail(d, "unhashable %s used as a %s in %s", type_name(it),
			                 c->type == EC_T_SET ? "set item" : "dict key", OPN);
		if (d->st[i].depth + 1 > dmax)
			dmax = d->st[i].depth + 1;
	}
	if (dmax < 1)
		dmax = 1;
	if (dmax > PK_MAX_DEPTH)
		return pk__dfail(d, "containers nested deeper than %d levels in %s", PK_MAX_DEPTH, OPN);
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
int pk__build(struct dec *d, enum ec_type t, size_t from)
{
	ec_value *c = d->h->value_new(t);
	if (!c)
		return pk__doom(d);
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
		return pk__dfail(d, "recursive structure (%s modifies a %s that was already referenced)",
		                 OPN, type_name(c));
	return 0;
}

/* Add slots [from, sn) to the container in slot tgt, which must have type t. */
int pk__extend(struct dec *d, size_t tgt, enum ec_type t, size_t from)
{
	struct slot *s = &d->st[tgt];
	if (!s->v)
		return pk__dfail_hint(d, "refused global %s used as a value in %s", pk__glob_name(s->glob),
		                      OPN);
	if (s->v->type != t)
		return pk__dfail(d, "%s on a value of type %s (needs %s)", OPN, type_name(s->v),
		                 t == EC_T_LIST ? "list" : t == EC_T_DICT ? "dict" : "set");
	if (check_unreferenced(d, s->v))
		return EC_ECODEC;
	return move_items(d, s->v, &s->depth, from);
}

int pk__memo_put(struct dec *d, uint64_t idx)
{
	if (need_items(d, 1))
		return EC_ECODEC;
	if (idx >= PK_MAX_MEMO)
		return pk__dfail(d, "memo index %llu in %s is above the limit of %zu",
		                 (unsigned long long)idx, OPN, PK_MAX_MEMO - 1);
	if (idx >= d->memocap) {
		size_t cap = d->memo == d->memo0 ? 64 : d->memocap;
		while (cap <= idx)
			cap *= 2;
		if (cap > PK_MAX_MEMO)
			cap = PK_MAX_MEMO;
		struct memo_ent *m = d->memo == d->memo0 ? malloc(cap * sizeof(*m))
		                                          : realloc(d->memo, cap * sizeof(*m));
		if (!m)
			return pk__doom(d);
		if (d->memo == d->memo0)
			memcpy(m, d->memo0, sizeof(d->memo0));
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
int pk__copy_value(struct dec *d, const ec_value *v, ec_value **out, int *depth)
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
			return pk__doom(d);
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
			return pk__doom(d);
		for (int i = 0; i < 3; i++)
			g[i] = strdup(f[i] ? f[i] : "");
		c->u.err.type = g[0];
		c->u.err.message = g[1];
		c->u.err.traceback = g[2];
		if (!g[0] || !g[1] || !g[2]) {
			d->h->value_free(c);
			return pk__doom(d);
		}
		*out = c;
		return 0;
	}
	case EC_T_LIST:
	case EC_T_TUPLE:
	case EC_T_DICT:
	case EC_T_SET:
	case EC_T_NAMED:
	case EC_T_TAGGED: {
		if (d->copied > PK_MAX_COPY)
			break;
		c = d->h->value_new(v->type);
		if (!c)
			return pk__doom(d);
		if (v->u.seq.type && !(c->u.seq.type = strdup(v->u.seq.type))) {
			d->h->value_free(c);
			return pk__doom(d);
		}
		int dmax = 1;
		for (size_t i = 0; i < v->u.seq.len; i++) {
			ec_value *item;
			int dd;
			int rc = pk__copy_value(d, v->u.seq.items[i], &item, &dd);
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
			return pk__doom(d);
		c->u = v->u;
		*out = c;
		return 0;
	}
	return pk__dfail(d, "memo references (%s) would copy more than %zu MiB", OPN,
	                 PK_MAX_COPY >> 20);
}

/* A copy of an argument REDUCE consumes (it may be memoized), not charged. */
int pk__copy_consumed(struct dec *d, const ec_value *v, ec_value **out, int *depth)
{
	size_t saved = d->copied;
	d->copied = 0;
	int rc = pk__copy_value(d, v, out, depth);
	d->copied = saved;
	return rc;
}

/* Push a copy of v (for GET and DUP), remembering that a container was referenced. */
int pk__push_copy(struct dec *d, const ec_value *v)
{
	ec_value *c;
	int depth;
	int rc = pk__copy_value(d, v, &c, &depth);
	if (rc)
		return rc;
	if (is_mutable(v) && ptrset_add(&d->refs, v)) {
		d->h->value_free(c);
		return pk__doom(d);
	}
	return push(d, c, depth);
}

int pk__memo_get(struct dec *d, uint64_t idx)
{
	if (idx >= d->memocap || (!d->memo[idx].v && !d->memo[idx].glob))
		return pk__dfail(d, "%s of unset memo index %llu", OPN, (unsigned long long)idx);
	if (!d->memo[idx].v)
		return push_glob(d, d->memo[idx].glob);
	return pk__push_copy(d, d->memo[idx].v);
}

/* ---- the codec's decode ops ------------------------------------------------- */

static void dec_free(struct dec *d)
{
	for (size_t i = 0; i < d->sn; i++)
		d->h->value_free(d->st[i].v);
	for (size_t i = 0; i < d->gn; i++)
		d->h->value_free(d->grave[i]);
	if (d->st != d->st0)
		free(d->st);
	free(d->marks);
	if (d->memo != d->memo0)
		free(d->memo);
	free(d->grave);
	free(d->refs.slots);
}

int pk__decode(void *state, const void *data, size_t len, ec_value **out,
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
		.scap = PK_INLINE,
		.memocap = PK_INLINE,
	};
	d.st = d.st0;
	d.memo = d.memo0;
	ec_value *v = NULL;
	int rc = pk__dec_run(&d, &v);
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

int pk__decode_buf(void *state, struct ec_buf *buf, size_t off, size_t len, ec_value **out,
                   struct ec_error *err)
{
	const struct pk_state *st = state;
	const unsigned char *p = buf && buf->data && off <= buf->len && len <= buf->len - off
	                                 ? buf->data + off
	                                 : NULL;
	if (!st || !p || !out || len < PK_TAKE_MIN + PK_TAKE_HEAD + PK_TAKE_TAIL)
		return pk__decode(state, p, p ? len : 0, out, err);
	size_t n = (size_t)le_get(p + 3, 4);
	int shape = p[0] == OP_PROTO &&
	            ((p[1] == 3 && p[2] == OP_BINBYTES) ||
	             (p[1] == 2 && p[2] == OP_BINSTRING && n <= INT32_MAX)) &&
	            n == len - PK_TAKE_HEAD - PK_TAKE_TAIL && p[len - 3] == OP_BINPUT &&
	            p[len - 2] == 0 && p[len - 1] == OP_STOP;
	ec_value *v = shape ? st->host->value_new(EC_T_BYTES) : NULL;
	if (!v)
		return pk__decode(state, p, len, out, err);
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
