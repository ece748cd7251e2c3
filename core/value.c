/* value.c: the ec_value tree: constructors, containers, copy, comparison, free. */
#include "ecbuild.h"

#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "value.h"

const char *ec__type_name(enum ec_type t)
{
	static const char *const names[] = {"None", "bool",  "int",  "int", "float", "bytes",
	                                    "str",  "list",  "tuple", "dict", "set", "error",
	                                    "named tuple", "tagged value"};
	return (unsigned)t < sizeof(names) / sizeof(names[0]) ? names[t] : "?";
}

ec_value *ec_value_new(enum ec_type type)
{
	ec_value *v = calloc(1, sizeof(*v));
	if (v)
		v->type = type;
	return v;
}

ec_value *ec_value_none(void)
{
	return ec_value_new(EC_T_NONE);
}

ec_value *ec_value_bool(int b)
{
	ec_value *v = ec_value_new(EC_T_BOOL);
	if (v)
		v->u.b = !!b;
	return v;
}

ec_value *ec_value_int(int64_t i)
{
	ec_value *v = ec_value_new(EC_T_INT);
	if (v)
		v->u.i = i;
	return v;
}

ec_value *ec_value_float(double f)
{
	ec_value *v = ec_value_new(EC_T_FLOAT);
	if (v)
		v->u.f = f;
	return v;
}

ec_value *ec__value_strtype(enum ec_type type, const void *data, size_t len)
{
	ec_value *v = ec_value_new(type);
	if (!v)
		return NULL;
	v->u.s.data = malloc(len + 1);
	if (!v->u.s.data) {
		free(v);
		return NULL;
	}
	if (len)
		memcpy(v->u.s.data, data, len);
	v->u.s.data[len] = '\0';
	v->u.s.len = len;
	return v;
}

ec_value *ec_value_bigint(const char *decimal)
{
	const char *p = decimal;
	if (*p == '-' || *p == '+')
		p++;
	if (!*p)
		return NULL;
	for (const char *q = p; *q; q++)
		if (!isdigit((unsigned char)*q))
			return NULL;
	return ec__value_strtype(EC_T_BIGINT, decimal, strlen(decimal));
}

ec_value *ec_value_bytes(const void *data, size_t len)
{
	return ec__value_strtype(EC_T_BYTES, data, len);
}

int ec__utf8_valid(const char *str, size_t len)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t i = 0;
	while (i < len) {
		unsigned c = s[i];
		size_t n;
		unsigned cp;
		if (c < 0x80) {
			i++;
			continue;
		} else if ((c & 0xe0) == 0xc0) {
			n = 1;
			cp = c & 0x1f;
		} else if ((c & 0xf0) == 0xe0) {
			n = 2;
			cp = c & 0x0f;
		} else if ((c & 0xf8) == 0xf0) {
			n = 3;
			cp = c & 0x07;
		} else {
			return 0;
		}
		if (i + n >= len)
			return 0;
		for (size_t k = 1; k <= n; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return 0;
			cp = (cp << 6) | (s[i + k] & 0x3f);
		}
		/* Overlong forms and code points past U+10FFFF are invalid. */
		if ((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) ||
		    cp > 0x10ffff)
			return 0;
		i += n + 1;
	}
	return 1;
}

ec_value *ec__value_text_or_bytes(const char *s)
{
	size_t len = strlen(s);
	return ec__utf8_valid(s, len) ? ec_value_str(s, len) : ec_value_bytes(s, len);
}

ec_value *ec_value_str(const char *utf8, size_t len)
{
	if (!ec__utf8_valid(utf8, len))
		return NULL;
	return ec__value_strtype(EC_T_STR, utf8, len);
}

ec_value *ec_value_cstr(const char *utf8)
{
	return ec_value_str(utf8, strlen(utf8));
}

ec_value *ec_value_error(const char *type, const char *message, const char *traceback)
{
	ec_value *v = ec_value_new(EC_T_ERROR);
	if (!v)
		return NULL;
	v->u.err.type = strdup(type ? type : "");
	v->u.err.message = strdup(message ? message : "");
	v->u.err.traceback = strdup(traceback ? traceback : "");
	if (!v->u.err.type || !v->u.err.message || !v->u.err.traceback) {
		ec_value_free(v);
		return NULL;
	}
	return v;
}

static int is_seq(const ec_value *v)
{
	return v->type == EC_T_LIST || v->type == EC_T_TUPLE || v->type == EC_T_DICT ||
	       v->type == EC_T_SET || v->type == EC_T_NAMED || v->type == EC_T_TAGGED;
}

static int seq_push(ec_value *seq, ec_value *item)
{
	if (seq->u.seq.len == seq->u.seq.cap) {
		size_t cap = seq->u.seq.cap ? seq->u.seq.cap * 2 : 4;
		ec_value **items = realloc(seq->u.seq.items, cap * sizeof(*items));
		if (!items)
			return EC_ENOMEM;
		seq->u.seq.items = items;
		seq->u.seq.cap = cap;
	}
	seq->u.seq.items[seq->u.seq.len++] = item;
	return 0;
}

int ec_value_append(ec_value *seq, ec_value *item)
{
	if (!seq || !item || !is_seq(seq) || seq->type == EC_T_DICT || seq->type == EC_T_NAMED ||
	    seq->type == EC_T_TAGGED) {
		ec_value_free(item);
		return EC_EINVAL;
	}
	int rc = seq_push(seq, item);
	if (rc)
		ec_value_free(item);
	return rc;
}

int ec_value_dict_set(ec_value *dict, ec_value *key, ec_value *val)
{
	if (!dict || dict->type != EC_T_DICT || !key || !val)
		goto fail;
	if (seq_push(dict, key))
		goto fail;
	if (seq_push(dict, val)) {
		dict->u.seq.len--;
		goto fail;
	}
	return 0;
fail:
	ec_value_free(key);
	ec_value_free(val);
	return dict && dict->type == EC_T_DICT && key && val ? EC_ENOMEM : EC_EINVAL;
}

const ec_value *ec_value_dict_get(const ec_value *dict, const char *key)
{
	if (!dict || (dict->type != EC_T_DICT && dict->type != EC_T_NAMED))
		return NULL;
	size_t klen = strlen(key);
	for (size_t i = 0; i + 1 < dict->u.seq.len; i += 2) {
		const ec_value *k = dict->u.seq.items[i];
		if ((k->type == EC_T_STR || k->type == EC_T_BYTES) && k->u.s.len == klen &&
		    memcmp(k->u.s.data, key, klen) == 0)
			return dict->u.seq.items[i + 1];
	}
	return NULL;
}

ec_value *ec_value_named(const char *type)
{
	ec_value *v = ec_value_new(EC_T_NAMED);
	if (v && !(v->u.seq.type = strdup(type ? type : ""))) {
		free(v);
		return NULL;
	}
	return v;
}

int ec_value_named_add(ec_value *named, const char *name, ec_value *val)
{
	if (!named || named->type != EC_T_NAMED || !name || !val) {
		ec_value_free(val);
		return EC_EINVAL;
	}
	ec_value *k = ec_value_cstr(name);
	if (!k) {
		ec_value_free(val);
		return EC_EINVAL; /* not UTF-8, or out of memory */
	}
	if (seq_push(named, k)) {
		ec_value_free(k);
		ec_value_free(val);
		return EC_ENOMEM;
	}
	if (seq_push(named, val)) {
		named->u.seq.len--;
		ec_value_free(k);
		ec_value_free(val);
		return EC_ENOMEM;
	}
	return 0;
}

ec_value *ec_value_tagged(const char *tag, ec_value *payload)
{
	ec_value *v = payload && tag ? ec_value_new(EC_T_TAGGED) : NULL;
	if (!v || !(v->u.seq.type = strdup(tag)) || seq_push(v, payload)) {
		ec_value_free(v);
		ec_value_free(payload);
		return NULL;
	}
	return v;
}

const char *ec_value_tag(const ec_value *v, const ec_value **payload)
{
	if (!v || v->type != EC_T_TAGGED || v->u.seq.len != 1)
		return NULL;
	if (payload)
		*payload = v->u.seq.items[0];
	return v->u.seq.type;
}

void ec_value_free(ec_value *v)
{
	if (!v)
		return;
	switch (v->type) {
	case EC_T_BIGINT:
	case EC_T_BYTES:
	case EC_T_STR:
		free(v->u.s.data);
		break;
	case EC_T_LIST:
	case EC_T_TUPLE:
	case EC_T_DICT:
	case EC_T_SET:
	case EC_T_NAMED:
	case EC_T_TAGGED:
		for (size_t i = 0; i < v->u.seq.len; i++)
			ec_value_free(v->u.seq.items[i]);
		free(v->u.seq.items);
		free(v->u.seq.type);
		break;
	case EC_T_ERROR:
		free(v->u.err.type);
		free(v->u.err.message);
		free(v->u.err.traceback);
		break;
	default:
		break;
	}
	free(v);
}

ec_value *ec_value_dup(const ec_value *v)
{
	if (!v)
		return NULL;
	switch (v->type) {
	case EC_T_BIGINT:
	case EC_T_BYTES:
	case EC_T_STR:
		return ec__value_strtype(v->type, v->u.s.data, v->u.s.len);
	case EC_T_ERROR:
		return ec_value_error(v->u.err.type, v->u.err.message, v->u.err.traceback);
	case EC_T_LIST:
	case EC_T_TUPLE:
	case EC_T_DICT:
	case EC_T_SET:
	case EC_T_NAMED:
	case EC_T_TAGGED: {
		ec_value *c = ec_value_new(v->type);
		if (!c)
			return NULL;
		if (v->u.seq.type && !(c->u.seq.type = strdup(v->u.seq.type))) {
			free(c);
			return NULL;
		}
		for (size_t i = 0; i < v->u.seq.len; i++) {
			ec_value *item = ec_value_dup(v->u.seq.items[i]);
			if (!item || seq_push(c, item)) {
				ec_value_free(item);
				ec_value_free(c);
				return NULL;
			}
		}
		return c;
	}
	default: {
		ec_value *c = ec_value_new(v->type);
		if (c)
			c->u = v->u;
		return c;
	}
	}
}

int ec_value_equal(const ec_value *a, const ec_value *b)
{
	if (!a || !b)
		return a == b;
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
		return a->u.f == b->u.f || (isnan(a->u.f) && isnan(b->u.f));
	case EC_T_BIGINT:
	case EC_T_BYTES:
	case EC_T_STR:
		return a->u.s.len == b->u.s.len && memcmp(a->u.s.data, b->u.s.data, a->u.s.len) == 0;
	case EC_T_ERROR:
		return strcmp(a->u.err.type, b->u.err.type) == 0 &&
		       strcmp(a->u.err.message, b->u.err.message) == 0 &&
		       strcmp(a->u.err.traceback, b->u.err.traceback) == 0;
	case EC_T_DICT:
	case EC_T_SET: {
		/* Unordered: Python 2 and 3.6 do not keep insertion order. */
		size_t step = a->type == EC_T_DICT ? 2 : 1;
		if (a->u.seq.len != b->u.seq.len)
			return 0;
		for (size_t i = 0; i < a->u.seq.len; i += step) {
			/* The same place first: a dict built in C may repeat a key (the json
			 * codec's $dict carries it), and a value must equal its own copy. */
			if (ec_value_equal(a->u.seq.items[i], b->u.seq.items[i]) &&
			    (step == 1 || ec_value_equal(a->u.seq.items[i + 1], b->u.seq.items[i + 1])))
				continue;
			size_t j = 0;
			while (j < b->u.seq.len && !ec_value_equal(a->u.seq.items[i], b->u.seq.items[j]))
				j += step;
			if (j >= b->u.seq.len ||
			    (step == 2 && !ec_value_equal(a->u.seq.items[i + 1], b->u.seq.items[j + 1])))
				return 0;
		}
		return 1;
	}
	default:
		if (a->u.seq.len != b->u.seq.len ||
		    strcmp(a->u.seq.type ? a->u.seq.type : "", b->u.seq.type ? b->u.seq.type : ""))
			return 0;
		for (size_t i = 0; i < a->u.seq.len; i++)
			if (!ec_value_equal(a->u.seq.items[i], b->u.seq.items[i]))
				return 0;
		return 1;
	}
}
