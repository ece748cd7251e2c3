/* pickle_globals.c: the globals a pickle may name: the fixed whitelist (never imported),
 * GLOBAL and STACK_GLOBAL, which push one, and REDUCE, which calls it on a tuple of
 * arguments: bytes, bytearray and _codecs.encode make bytes, set and frozenset make a
 * set, econtext.CallError makes an error, econtext.Named and econtext.Tagged a named
 * tuple and a tagged value (pickle_values.c). Anything else is refused. */
#include "ecbuild.h"

#include <stdlib.h>
#include <string.h>

#include "pickle_int.h"

/* ---- the whitelist ----------------------------------------------------------- */

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
	{"econtext", "Named", G_NAMED},
	{"econtext", "Tagged", G_TAGGED},
};

const char *pk__glob_name(int id)
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
	case G_NAMED:
		return "econtext.Named";
	case G_TAGGED:
		return "econtext.Tagged";
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

static int global_refused(struct dec *d, const unsigned char *mod, size_t ml,
                          const unsigned char *name, size_t nl)
{
	char m[72], n[72];
	pk__printable(m, sizeof(m), mod, ml);
	pk__printable(n, sizeof(n), name, nl);
	return pk__dfail_hint(d, "refused global %s.%s", m, n);
}

int pk__op_global(struct dec *d)
{
	const unsigned char *mod, *name;
	size_t ml, nl;
	if (!(mod = take_line(d, &ml)) || !(name = take_line(d, &nl)))
		return EC_ECODEC;
	int g = glob_lookup(mod, ml, name, nl);
	if (!g)
		return global_refused(d, mod, ml, name, nl);
	return push_glob(d, g);
}

int pk__op_stack_global(struct dec *d)
{
	if (need_items(d, 2))
		return EC_ECODEC;
	ec_value *mod = d->st[d->sn - 2].v, *name = d->st[d->sn - 1].v;
	if (!mod || !name || mod->type != EC_T_STR || name->type != EC_T_STR)
		return pk__dfail(d, "STACK_GLOBAL needs two str on the stack");
	int g = glob_lookup((const unsigned char *)mod->u.s.data, mod->u.s.len,
	                    (const unsigned char *)name->u.s.data, name->u.s.len);
	if (!g)
		return global_refused(d, (const unsigned char *)mod->u.s.data, mod->u.s.len,
		                      (const unsigned char *)name->u.s.data, name->u.s.len);
	d->sn -= 2;
	int rc = pk__bury(d, mod);
	if (pk__bury(d, name))
		rc = EC_ENOMEM;
	return rc ? rc : push_glob(d, g);
}

/* ---- REDUCE ------------------------------------------------------------------ */

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
		return pk__doom(d);
	size_t j = 0;
	for (size_t i = 0; i < n;) {
		if (s[i] < 0x80) {
			o[j++] = s[i++];
		} else if ((s[i] == 0xc2 || s[i] == 0xc3) && i + 1 < n) {
			o[j++] = (unsigned char)(((s[i] & 0x03) << 6) | (s[i + 1] & 0x3f));
			i += 2;
		} else {
			free(o);
			return pk__dfail(d, "%s: text with a code point above U+00FF cannot be latin-1",
			                 who);
		}
	}
	*out = d->h->value_str(EC_T_BYTES, o, j);
	free(o);
	return *out ? 0 : pk__doom(d);
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

/* What calling a global made: res (its nesting in depth), or expect: the arguments it
 * takes, when it was given others. */
struct call {
	ec_value *res;
	int depth;
	const char *expect;
};

/* _codecs.encode, bytes and bytearray: a bytes value. */
static int call_bytes(struct dec *d, int glob, const char *g, ec_value *const *a, size_t n,
                      struct call *c)
{
	switch (glob) {
	case G_ENCODE:
		if (n == 2 && a[0]->type == EC_T_STR && is_latin1_name(a[1]))
			return latin1_bytes(d, a[0], &c->res, g);
		c->expect = "(str, 'latin1')";
		return 0;
	case G_BYTES:
		if (n == 0)
			return (c->res = d->h->value_str(EC_T_BYTES, "", 0)) ? 0 : pk__doom(d);
		c->expect = "()";
		return 0;
	default: /* G_BYTEARRAY */
		if (n == 0)
			return (c->res = d->h->value_str(EC_T_BYTES, "", 0)) ? 0 : pk__doom(d);
		if (n == 1 && a[0]->type == EC_T_BYTES)
			return (c->res = d->h->value_str(EC_T_BYTES, a[0]->u.s.data, a[0]->u.s.len))
			               ? 0
			               : pk__doom(d);
		if (n == 2 && a[0]->type == EC_T_STR && is_latin1_name(a[1]))
			return latin1_bytes(d, a[0], &c->res, g);
		c->expect = "(), (bytes,) or (str, 'latin-1')";
		return 0;
	}
}

/* set and frozenset: a set, empty or of a list's items. */
static int call_set(struct dec *d, const char *g, ec_value *const *a, size_t n, struct call *c)
{
	if (n == 0) {
		c->depth = 1;
		return (c->res = d->h->value_new(EC_T_SET)) ? 0 : pk__doom(d);
	}
	if (n != 1 || a[0]->type != EC_T_LIST) {
		c->expect = "() or (list,)";
		return 0;
	}
	const ec_value *l = a[0];
	for (size_t i = 0; i < l->u.seq.len; i++)
		if (!pk__hashable(l->u.seq.items[i]))
			return pk__dfail(d, "unhashable %s used as a set item in REDUCE of %s",
			                 type_name(l->u.seq.items[i]), g);
	int rc = pk__copy_consumed(d, l, &c->res, &c->depth);
	if (!rc)
		c->res->type = EC_T_SET;
	return rc;
}

/* econtext.CallError: an error of three texts. */
static int call_error(struct dec *d, ec_value *const *a, size_t n, struct call *c)
{
	if (n != 3 || a[0]->type != EC_T_STR || a[1]->type != EC_T_STR || a[2]->type != EC_T_STR) {
		c->expect = "(str, str, str)";
		return 0;
	}
	for (int i = 0; i < 3; i++)
		if (a[i]->u.s.len > PK_MAX_ERRTEXT)
			return pk__dfail(d, "econtext.CallError text of %zu bytes is too large (limit %zu)",
			                 a[i]->u.s.len, PK_MAX_ERRTEXT);
	ec_value *res = d->h->value_new(EC_T_ERROR);
	if (!res)
		return pk__doom(d);
	res->u.err.type = dup_field(a[0]);
	res->u.err.message = dup_field(a[1]);
	res->u.err.traceback = dup_field(a[2]);
	if (!res->u.err.type || !res->u.err.message || !res->u.err.traceback) {
		d->h->value_free(res);
		return pk__doom(d);
	}
	c->res = res;
	return 0;
}

int pk__reduce(struct dec *d)
{
	if (need_items(d, 2))
		return EC_ECODEC;
	struct slot *fs = &d->st[d->sn - 2], *as = &d->st[d->sn - 1];
	if (fs->v)
		return pk__dfail_hint(d, "refused REDUCE of a non-global (%s)", type_name(fs->v));
	if (!as->v)
		return pk__dfail_hint(d, "refused REDUCE with the global %s as arguments",
		                      pk__glob_name(as->glob));
	const ec_value *args = as->v;
	const char *g = pk__glob_name(fs->glob);
	if (args->type != EC_T_TUPLE)
		return pk__dfail(d, "REDUCE of %s with arguments of type %s, not a tuple", g,
		                 type_name(args));
	size_t n = args->u.seq.len;
	ec_value *const *a = args->u.seq.items;
	struct call c = {.res = NULL};
	int rc;
	switch (fs->glob) {
	case G_ENCODE:
	case G_BYTES:
	case G_BYTEARRAY:
		rc = call_bytes(d, fs->glob, g, a, n, &c);
		break;
	case G_SET:
	case G_FROZENSET:
		rc = call_set(d, g, a, n, &c);
		break;
	case G_CALLERROR:
		rc = call_error(d, a, n, &c);
		break;
	case G_NAMED:
		rc = pk__call_named(d, a, n, &c.res, &c.depth);
		break;
	case G_TAGGED:
		rc = pk__call_tagged(d, a, n, &c.res, &c.depth);
		break;
	default:
		return pk__dfail(d, "REDUCE of an unknown global");
	}
	if (c.expect)
		return pk__dfail(d, "REDUCE of %s with unexpected arguments (expects %s)", g, c.expect);
	if (rc)
		return rc;
	/* Pop callable and arguments; the arguments may be memoized: keep them. */
	ec_value *old = as->v;
	as->v = NULL;
	d->sn -= 2;
	rc = pk__bury(d, old);
	if (rc) {
		d->h->value_free(c.res);
		return rc;
	}
	return push(d, c.res, c.depth);
}
