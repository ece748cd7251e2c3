/* pickle_values.c: the value model's named tuples and tagged values on the wire
 * (docs/values.md): econtext.Named applied to (spec, values), where spec is the type
 * and the field names separated by spaces, and econtext.Tagged applied to (tag,
 * payload). The forms are checked (plugins/forms/valueforms.c) in both directions:
 * the decoder builds a value only from a valid form, the encoder refuses to send an
 * invalid one. */
#include "ecbuild.h"

#include <stdlib.h>
#include <string.h>

#include "pickle_int.h"

/* ---- decoding: REDUCE of econtext.Named and econtext.Tagged ---------------------- */

int pk__call_named(struct dec *d, ec_value *const *a, size_t n, ec_value **res, int *depth)
{
	if (n != 2 || a[0]->type != EC_T_STR || a[1]->type != EC_T_TUPLE)
		return pk__dfail(d, "REDUCE of econtext.Named with unexpected arguments "
		                    "(expects (str, tuple))");
	const char *s = a[0]->u.s.data;
	size_t len = a[0]->u.s.len, words = vf__spec_words(s, len);
	if (!words)
		return pk__dfail(d, "econtext.Named with a malformed spec (the type and the field "
		                    "names, separated by single spaces)");
	if (words - 1 != a[1]->u.seq.len)
		return pk__dfail(d, "econtext.Named with %zu field names for %zu values", words - 1,
		                 a[1]->u.seq.len);
	ec_value *vals;
	int rc = pk__copy_consumed(d, a[1], &vals, depth);
	if (rc)
		return rc;
	ec_value *v = d->h->value_new(EC_T_NAMED);
	ec_value **items = malloc((2 * vals->u.seq.len + 1) * sizeof(*items));
	const char *sp = memchr(s, ' ', len);
	size_t tl = sp ? (size_t)(sp - s) : len;
	char *type = malloc(tl + 1);
	if (!v || !items || !type) {
		free(items);
		free(type);
		d->h->value_free(v);
		d->h->value_free(vals);
		return pk__doom(d);
	}
	memcpy(type, s, tl);
	type[tl] = '\0';
	v->u.seq.type = type;
	v->u.seq.items = items;
	v->u.seq.cap = 2 * vals->u.seq.len + 1;
	const char *w = s + tl;
	for (size_t i = 0; i < vals->u.seq.len; i++) {
		const char *e = memchr(w + 1, ' ', (size_t)(s + len - w - 1));
		size_t wl = (size_t)((e ? e : s + len) - (w + 1));
		ec_value *name = d->h->value_str(EC_T_STR, w + 1, wl);
		if (!name) {
			d->h->value_free(v);
			d->h->value_free(vals);
			return pk__doom(d);
		}
		items[v->u.seq.len++] = name;
		items[v->u.seq.len++] = vals->u.seq.items[i];
		vals->u.seq.items[i] = NULL;
		w += 1 + wl;
	}
	vals->u.seq.len = 0;
	d->h->value_free(vals);
	*res = v;
	return 0;
}

int pk__call_tagged(struct dec *d, ec_value *const *a, size_t n, ec_value **res, int *depth)
{
	const char *why;
	char shown[40];
	if (n != 2 || a[0]->type != EC_T_STR)
		return pk__dfail(d, "REDUCE of econtext.Tagged with unexpected arguments "
		                    "(expects (str, payload))");
	if (!vf__tagged_valid(a[0]->u.s.data, a[0]->u.s.len, a[1], &why)) {
		pk__printable(shown, sizeof(shown), (const unsigned char *)a[0]->u.s.data,
		              a[0]->u.s.len);
		return pk__dfail(d, "econtext.Tagged '%s' with %s", shown, why);
	}
	ec_value *p;
	int rc = pk__copy_consumed(d, a[1], &p, depth);
	if (rc)
		return rc;
	ec_value *v = d->h->value_new(EC_T_TAGGED);
	ec_value **items = malloc(sizeof(*items));
	char *tag = malloc(a[0]->u.s.len + 1);
	if (!v || !items || !tag) {
		free(items);
		free(tag);
		d->h->value_free(v);
		d->h->value_free(p);
		return pk__doom(d);
	}
	memcpy(tag, a[0]->u.s.data, a[0]->u.s.len + 1);
	items[0] = p;
	v->u.seq.items = items;
	v->u.seq.len = v->u.seq.cap = 1;
	v->u.seq.type = tag;
	*depth += 1;
	*res = v;
	return 0;
}
