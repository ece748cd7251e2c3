/* fuzz_pickle.c: libFuzzer target for the pickle codec's decoder (plugins/pickle),
 * reached as the core reaches it: through the plugin's descriptor and codec ops, with
 * the core's host table. Every input is decoded (decode, and decode_buf on a buffer of
 * its own); a value that decodes is encoded again for Python 2 and 3, and what the
 * encoder wrote must decode to an equal value (NaN aside). A crash, a sanitizer report,
 * a leak or a failed round trip is a finding. */
#include "ecbuild.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "econtext/codec.h"
#include "host.h"

const struct ec_plugin *ec_plugin_pickle_describe(void);

static const struct ec_codec_ops *ops;
static void *state;

static void init(void)
{
	const struct ec_plugin *p = ec_plugin_pickle_describe();
	struct ec_error err = {0};
	if (!p || p->kind != EC_PLUGIN_CODEC || p->load(ec__host_get(), &state, &err)) {
		fprintf(stderr, "fuzz_pickle: cannot load the codec: %s\n", err.msg);
		abort();
	}
	ops = p->ops;
}

/* Does v hold a float that is NaN (never equal to itself)? */
static int has_nan(const ec_value *v)
{
	if (v->type == EC_T_FLOAT)
		return isnan(v->u.f);
	if (v->type == EC_T_LIST || v->type == EC_T_TUPLE || v->type == EC_T_SET ||
	    v->type == EC_T_DICT)
		for (size_t i = 0; i < v->u.seq.len; i++)
			if (has_nan(v->u.seq.items[i]))
				return 1;
	return 0;
}

static void roundtrip(const ec_value *v, int major)
{
	struct ec_codec_peer peer = {.python_major = major};
	struct ec_buf out;
	ec__buf_init(&out);
	struct ec_error err = {0};
	if (ops->encode(state, &peer, v, &out, &err) == 0) {
		ec_value *again = NULL;
		struct ec_error err2 = {0};
		if (ops->decode(state, out.data, out.len, &again, &err2) != 0) {
			fprintf(stderr, "fuzz_pickle: python %d: the encoder's output does not decode: %s\n",
			        major, err2.msg);
			abort();
		}
		if (!has_nan(v) && !ec_value_equal(v, again)) {
			fprintf(stderr, "fuzz_pickle: python %d: round trip changed the value\n", major);
			abort();
		}
		ec_value_free(again);
	}
	ec__buf_free(&out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!ops)
		init();
	ec_value *v = NULL;
	struct ec_error err = {0};
	int rc = ops->decode(state, data, size, &v, &err);
	if (rc == 0) {
		roundtrip(v, 3);
		roundtrip(v, 2);
		ec_value_free(v);
	} else if (!err.msg[0]) {
		fprintf(stderr, "fuzz_pickle: refused without a message (%d)\n", rc);
		abort();
	}
	/* decode_buf: the same bytes at an offset of a buffer it may take over. */
	if (ops->decode_buf) {
		struct ec_buf b;
		ec__buf_init(&b);
		if (ec__buf_append(&b, "xyz", 3) == 0 && ec__buf_append(&b, data, size) == 0) {
			ec_value *w = NULL;
			struct ec_error e2 = {0};
			int rc2 = ops->decode_buf(state, &b, 3, size, &w, &e2);
			if ((rc2 == 0) != (rc == 0)) {
				fprintf(stderr, "fuzz_pickle: decode and decode_buf disagree (%d, %d)\n",
				        rc, rc2);
				abort();
			}
			ec_value_free(w);
		}
		ec__buf_free(&b);
	}
	return 0;
}
