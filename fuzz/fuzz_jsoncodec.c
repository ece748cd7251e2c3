/* fuzz_jsoncodec.c: libFuzzer target for the json codec's decoder (plugins/json),
 * reached as the core reaches it: through the plugin's descriptor and codec ops, with
 * the core's host table. Every input is decoded; a value that decodes is encoded again
 * (for Python 2 and 3: one dialect), and what the encoder wrote must decode to an
 * equal value (NaN aside). Seeds: fuzz/corpus/jsoncodec/, every tag and some
 * refusals. A crash, a sanitizer report, a leak or a failed round trip is a finding. */
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

const struct ec_plugin *ec_plugin_json_describe(void);

static const struct ec_codec_ops *ops;
static void *state;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!ops)
		fc_load("fuzz_jsoncodec", ec_plugin_json_describe(), &ops, &state);
	fc_decode("fuzz_jsoncodec", ops, state, data, size);
	return 0;
}
