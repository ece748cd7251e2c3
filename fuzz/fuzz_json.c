/* fuzz_json.c: libFuzzer target for the JSON parser the command uses for its arguments
 * (core/value_json.c, ec_value_from_json). The input, made a C string, is parsed; a
 * value that parses is written back as JSON (ec_value_to_json), which must parse again
 * to an equal value. A crash, a sanitizer report, a leak or a failed round trip is a
 * finding. */
#include "ecbuild.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "econtext.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1);
	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	ec_value *v = NULL;
	struct ec_error err = {0};
	if (ec_value_from_json(text, &v, &err) == 0) {
		char *out = NULL;
		struct ec_error e2 = {0};
		if (ec_value_to_json(v, &out, &e2) == 0) {
			ec_value *again = NULL;
			if (ec_value_from_json(out, &again, &e2) != 0) {
				fprintf(stderr, "fuzz_json: its own output does not parse: %s\n", e2.msg);
				abort();
			}
			if (!ec_value_equal(v, again)) {
				fprintf(stderr, "fuzz_json: round trip changed the value: %s\n", out);
				abort();
			}
			ec_value_free(again);
			free(out);
		}
		ec_value_free(v);
	} else if (!err.msg[0]) {
		fprintf(stderr, "fuzz_json: refused without a message\n");
		abort();
	}
	free(text);
	return 0;
}
