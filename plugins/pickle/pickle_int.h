/* pickle_int.h: what the files of the pickle codec share: its limits, the opcodes, the
 * byte and value helpers of both directions, the decoder's state (struct dec) with the
 * fast paths of its reads and pushes, and the functions one file gives another
 * (pk__<name>). Private to the plugin: every name here is hidden (-fvisibility=hidden);
 * the only export is ec_plugin_pickle_describe (pickle.c). */
#ifndef EC_PICKLE_INT_H
#define EC_PICKLE_INT_H

#include <locale.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "econtext/codec.h"

#include "../forms/valueforms.h"

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
	"only None, bool, int, float, bytes, str, list, tuple, dict, set, "          \
	"econtext.CallError, econtext.Named and econtext.Tagged are allowed"

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

/* ---- state, helpers shared by both directions -------------------------------- */

struct pk_state {
	const struct ec_host *host;
	locale_t c_locale; /* for FLOAT text, whatever the application's locale */
};

static inline const char *type_name(const ec_value *v)
{
	static const char *const names[] = {"None", "bool",  "int",   "int", "float", "bytes",
	                                    "str",  "list",  "tuple", "dict", "set",  "error",
	                                    "named tuple", "tagged value"};
	return (unsigned)v->type < sizeof(names) / sizeof(names[0]) ? names[v->type] : "?";
}

static inline int is_mutable(const ec_value *v)
{
	return v->type == EC_T_LIST || v->type == EC_T_DICT || v->type == EC_T_SET;
}

static inline int is_container(const ec_value *v)
{
	return is_mutable(v) || v->type == EC_T_TUPLE || v->type == EC_T_NAMED ||
	       v->type == EC_T_TAGGED;
}

/* Minimal length of a little-endian two's complement number (drop sign extension). */
static inline size_t twos_trim(const unsigned char *b, size_t n)
{
	while (n > 1 && ((b[n - 1] == 0x00 && !(b[n - 2] & 0x80)) ||
	                 (b[n - 1] == 0xff && (b[n - 2] & 0x80))))
		n--;
	return n;
}

static inline void le_put(unsigned char *o, uint64_t x, size_t n)
{
	for (size_t i = 0; i < n; i++)
		o[i] = (unsigned char)(x >> (8 * i));
}

static inline uint64_t le_get(const unsigned char *b, size_t n)
{
	uint64_t x = 0;
	for (size_t i = 0; i < n; i++)
		x |= (uint64_t)b[i] << (8 * i);
	return x;
}

/* Length of UTF-8 starting at s that is valid, accepting encoded surrogates
 * (ED A0..BF xx) as Python's 'surrogatepass' writes them. Returns n if all valid. */
/* The codec's context side, plugins/pickle/pickle_remote.py stripped (generated). */
extern const char pk__remote_source[];

size_t pk__utf8_valid_prefix(const unsigned char *s, size_t n);

/* ---- the codec ops (pickle_enc.c, pickle_dec.c) ------------------------------ */

int pk__encode(void *state, const struct ec_codec_peer *peer, const ec_value *v,
               struct ec_buf *out, struct ec_error *err);
int pk__decode(void *state, const void *data, size_t len, ec_value **out,
               struct ec_error *err);
int pk__decode_buf(void *state, struct ec_buf *buf, size_t off, size_t len, ec_value **out,
                   struct ec_error *err);

/* ---- decoder: data structures ------------------------------------------------ */

/* The whitelisted globals (0 means "not a global"). */
enum {
	G_NONE = 0,
	G_ENCODE,
	G_BYTES,
	G_SET,
	G_FROZENSET,
	G_BYTEARRAY,
	G_CALLERROR,
	G_NAMED,
	G_TAGGED
};

/* A stack slot: a value (v) or a whitelisted global (glob, v NULL). depth is the
 * nesting of v: 0 for scalars, 1 + the deepest item for containers. */
/* Stack slots and memo entries a decoder holds before it allocates. */
#define PK_INLINE 8

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
	/* The first stack slots and memo entries, in the decoder itself: a small pickle
	 * (a channel's value, a call's reply) allocates neither. */
	struct slot st0[PK_INLINE];
	struct memo_ent memo0[PK_INLINE];
};

/* ---- decoder: failures (pickle_dec.c) ---------------------------------------- */

/* The opcode's name, NULL for a byte that is no opcode. */
const char *pk__op_name(unsigned op);
/* EC_ECODEC with "pickle: <what> at offset <off>"; _hint adds what is allowed. */
int pk__dfail(struct dec *d, const char *fmt, ...) EC_PRINTF(2, 3);
int pk__dfail_hint(struct dec *d, const char *fmt, ...) EC_PRINTF(2, 3);
int pk__doom(struct dec *d); /* EC_ENOMEM */
/* Printable rendering of untrusted bytes for messages. */
void pk__printable(char *o, size_t osize, const unsigned char *s, size_t n);

#define OPN (pk__op_name(d->op))

/* ---- decoder: the stack and memo machine (pickle_dec.c) ---------------------- */

int pk__truncated(struct dec *d, size_t n); /* the failure of need() */
int pk__stack_grow(struct dec *d);          /* grow_stack() when the stack is full */
int pk__bury(struct dec *d, ec_value *v);
int pk__pop_mark(struct dec *d, size_t *k);
int pk__hashable(const ec_value *v);
int pk__build(struct dec *d, enum ec_type t, size_t from);
int pk__extend(struct dec *d, size_t tgt, enum ec_type t, size_t from);
int pk__memo_put(struct dec *d, uint64_t idx);
int pk__memo_get(struct dec *d, uint64_t idx);
int pk__copy_value(struct dec *d, const ec_value *v, ec_value **out, int *depth);
int pk__push_copy(struct dec *d, const ec_value *v);
int pk__copy_consumed(struct dec *d, const ec_value *v, ec_value **out, int *depth);

/* The fast paths, inline: every opcode reads its argument and pushes its result. */

static inline size_t limit(const struct dec *d)
{
	return d->in_frame ? d->frame_end : d->len;
}

/* n more bytes available in the current frame (or input)? */
static inline int need(struct dec *d, size_t n)
{
	if (limit(d) - d->pos >= n)
		return 0;
	return pk__truncated(d, n);
}

static inline const unsigned char *take(struct dec *d, size_t n)
{
	if (need(d, n))
		return NULL;
	const unsigned char *p = d->p + d->pos;
	d->pos += n;
	return p;
}

/* A text argument ending with '\n' (not included in *n). */
static inline const unsigned char *take_line(struct dec *d, size_t *n)
{
	const unsigned char *s = d->p + d->pos;
	const unsigned char *nl = memchr(s, '\n', limit(d) - d->pos);
	if (!nl) {
		pk__dfail(d, "truncated %s (no end of line)", OPN);
		return NULL;
	}
	*n = (size_t)(nl - s);
	d->pos += *n + 1;
	return s;
}

static inline size_t fence(const struct dec *d)
{
	return d->nm ? d->marks[d->nm - 1] : 0;
}

static inline int grow_stack(struct dec *d)
{
	return d->sn < d->scap ? 0 : pk__stack_grow(d);
}

/* Push v (taken, also on failure). */
static inline int push(struct dec *d, ec_value *v, int depth)
{
	if (!v)
		return pk__doom(d);
	int rc = grow_stack(d);
	if (rc) {
		d->h->value_free(v);
		return rc;
	}
	d->st[d->sn++] = (struct slot){.v = v, .depth = depth};
	return 0;
}

static inline int push_glob(struct dec *d, int glob)
{
	int rc = grow_stack(d);
	if (!rc)
		d->st[d->sn++] = (struct slot){.glob = glob};
	return rc;
}

static inline ec_value *new_scalar(struct dec *d, enum ec_type t)
{
	return d->h->value_new(t);
}

/* At least n items above the top MARK? */
static inline int need_items(struct dec *d, size_t n)
{
	if (d->sn - fence(d) < n)
		return pk__dfail(d, "stack underflow in %s", OPN);
	return 0;
}

/* ---- decoder: scalar arguments (pickle_scalars.c) ----------------------------- */

/* Each pushes the value its argument makes, or fails naming what is wrong with it. */
int pk__push_long_bytes(struct dec *d, const unsigned char *b, size_t n);
int pk__push_decimal(struct dec *d, const unsigned char *s, size_t n);
int pk__push_float_text(struct dec *d, const unsigned char *s, size_t n);
int pk__push_text(struct dec *d, enum ec_type t, const unsigned char *s, size_t n);
int pk__push_string_repr(struct dec *d, const unsigned char *s, size_t n);
int pk__push_raw_unicode(struct dec *d, const unsigned char *s, size_t n);

/* ---- decoder: globals (pickle_globals.c) -------------------------------------- */

const char *pk__glob_name(int id);
int pk__op_global(struct dec *d);       /* GLOBAL */
int pk__op_stack_global(struct dec *d); /* STACK_GLOBAL */
int pk__reduce(struct dec *d);          /* REDUCE */

/* ---- named tuples and tagged values (pickle_values.c) -------------------------- */

/* REDUCE of econtext.Named on (spec, values) and of econtext.Tagged on (tag, payload):
 * the value in *res and its nesting in *depth, or a refusal. */
int pk__call_named(struct dec *d, ec_value *const *a, size_t n, ec_value **res, int *depth);
int pk__call_tagged(struct dec *d, ec_value *const *a, size_t n, ec_value **res, int *depth);

/* ---- decoder: the loop (pickle_ops.c), the result's keys (pickle_keys.c) ------ */

int pk__dec_run(struct dec *d, ec_value **out);
int pk__check_unique(struct dec *d, const ec_value *v);

#endif
