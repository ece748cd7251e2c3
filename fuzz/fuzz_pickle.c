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
#include "fuzzcodec.h"
#include "host.h"

const struct ec_plugin *ec_plugin_pickle_describe(void);

static const struct ec_codec_ops *ops;
static void *state;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!ops)
		fc_load("fuzz_pickle", ec_plugin_pickle_describe(), &ops, &state);
	int rc = fc_decode("fuzz_pickle", ops, state, data, size);
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
