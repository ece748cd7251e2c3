/* fuzzcodec.h: what the codec targets (fuzz_pickle.c, fuzz_jsoncodec.c) check of a
 * decoded value: encoded again for Python 2 and 3, the encoder's output must decode to
 * an equal value (NaN aside: never equal to itself). Abort on a finding, naming the
 * target. Static inline functions: one copy per target, and a target may take some only
 * (fuzz_channel.c: fc_has_nan and fc_load). */
#ifndef EC_FUZZ_FUZZCODEC_H
#define EC_FUZZ_FUZZCODEC_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "buf.h"
#include "econtext/codec.h"
#include "host.h"

/* Does v hold a float that is NaN? */
static inline int fc_has_nan(const ec_value *v)
{
	if (v->type == EC_T_FLOAT)
		return isnan(v->u.f);
	if (v->type == EC_T_LIST || v->type == EC_T_TUPLE || v->type == EC_T_SET ||
	    v->type == EC_T_DICT || v->type == EC_T_NAMED || v->type == EC_T_TAGGED)
		for (size_t i = 0; i < v->u.seq.len; i++)
			if (fc_has_nan(v->u.seq.items[i]))
				return 1;
	return 0;
}

static inline void fc_roundtrip(const char *target, const struct ec_codec_ops *ops, void *state,
                         const ec_value *v, int major)
{
	struct ec_codec_peer peer = {.python_major = major};
	struct ec_buf out;
	ec__buf_init(&out);
	struct ec_error err = {0};
	if (ops->encode(state, &peer, v, &out, &err) == 0) {
		ec_value *again = NULL;
		struct ec_error err2 = {0};
		if (ops->decode(state, out.data, out.len, &again, &err2) != 0) {
			fprintf(stderr, "%s: python %d: the encoder's output does not decode: %s\n",
			        target, major, err2.msg);
			abort();
		}
		if (!fc_has_nan(v) && !ec_value_equal(v, again)) {
			fprintf(stderr, "%s: python %d: round trip changed the value\n", target, major);
			abort();
		}
		ec_value_free(again);
	}
	ec__buf_free(&out);
}

/* The codec of descriptor p, loaded with the core's host table, into *ops and *state. */
static inline void fc_load(const char *target, const struct ec_plugin *p,
                    const struct ec_codec_ops **ops, void **state)
{
	struct ec_error err = {0};
	if (!p || p->kind != EC_PLUGIN_CODEC || p->load(ec__host_get(), state, &err)) {
		fprintf(stderr, "%s: cannot load the codec: %s\n", target, err.msg);
		abort();
	}
	*ops = p->ops;
}

/* Decode data; a value goes round (fc_roundtrip), a refusal must say why. The code. */
static inline int fc_decode(const char *target, const struct ec_codec_ops *ops, void *state,
                     const void *data, size_t size)
{
	ec_value *v = NULL;
	struct ec_error err = {0};
	int rc = ops->decode(state, data, size, &v, &err);
	if (rc == 0) {
		fc_roundtrip(target, ops, state, v, 3);
		fc_roundtrip(target, ops, state, v, 2);
		ec_value_free(v);
	} else if (!err.msg[0]) {
		fprintf(stderr, "%s: refused without a message (%d)\n", target, rc);
		abort();
	}
	return rc;
}

#endif
