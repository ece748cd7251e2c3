/* pickle_keys.c: the check of a decoded result for duplicate dict keys and set items.
 *
 * Python never writes a dict or set with two equal keys; a stream that does is forged,
 * and its readers would disagree on which value wins. Checked once over the result.
 * Equality is by type and content (1, 1.0 and True are different keys here); floats
 * compare with == as in Python (0.0 equals -0.0, NaN equals nothing); errors only
 * equal themselves, as Python exceptions do. */
#include "ecbuild.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pickle_int.h"

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
	case EC_T_NAMED:
	case EC_T_TAGGED:
		if (strcmp(a->u.seq.type, b->u.seq.type))
			return 0;
		/* fall through */
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

int pk__check_unique(struct dec *d, const ec_value *v)
{
	if (!is_container(v))
		return 0;
	for (size_t i = 0; i < v->u.seq.len; i++)
		if (pk__check_unique(d, v->u.seq.items[i]))
			return EC_ECODEC;
	if (v->type != EC_T_DICT && v->type != EC_T_SET && v->type != EC_T_NAMED)
		return 0;
	size_t step = v->type == EC_T_SET ? 1 : 2, n = v->u.seq.len / step;
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
			return pk__doom(d);
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
		return pk__dfail(d, "%s with a duplicate %s %s in the pickle ending", type_name(v),
		                 type_name(dup), v->type == EC_T_DICT ? "key"
		                                 : v->type == EC_T_NAMED ? "field name" : "item");
	return 0;
}
