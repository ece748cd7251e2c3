/* roundtrip.c: call round-trip latency over the public API: N sequential calls of a
 * trivial function in a local context; prints min, median, p90, p99 and calls/s.
 * Usage: roundtrip PYTHON [N]   (not a test: timings never decide pass or fail) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "benchutil.h"
#include "econtext.h"

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: %s PYTHON [N]\n", argv[0]);
		return 2;
	}
	int n = argc > 2 ? atoi(argv[2]) : 10000;
	struct ec_master_options mo = {.size = sizeof(mo), .log_level = EC_LOG_WARNING};
	struct ec_error err = {0};
	ec_master *m;
	if (ec_master_new(&mo, &m, &err)) {
		fprintf(stderr, "%s: %s\n", err.where, err.msg);
		return 1;
	}
	char opt[600];
	snprintf(opt, sizeof(opt), "python=%s", argv[1]);
	const char *ov[] = {opt, NULL};
	ec_context *ctx;
	if (ec_context_connect(m, "local", ov, 30000, &ctx, &err)) {
		fprintf(stderr, "%s: %s\n", err.where, err.msg);
		return 1;
	}
	double *t = malloc(sizeof(double) * (size_t)n);
	ec_value *args = ec_value_new(EC_T_TUPLE);
	ec_value_append(args, ec_value_int(1));
	double start = now();
	for (int i = 0; i < n; i++) {
		ec_value *res = NULL;
		double t0 = now();
		if (ec_context_call(ctx, "operator", "neg", args, NULL, 10000, &res, &err)) {
			fprintf(stderr, "call %d: %s\n", i, err.msg);
			return 1;
		}
		t[i] = now() - t0;
		ec_value_free(res);
	}
	double total = now() - start;
	qsort(t, (size_t)n, sizeof(double), cmp);
	printf("python %s: %d sequential calls of operator.neg(1)\n", ec_context_python_version(ctx), n);
	printf("  min %.1f us, median %.1f us, p90 %.1f us, p99 %.1f us, %.0f calls/s\n", t[0] * 1e6,
	       t[n / 2] * 1e6, t[n * 9 / 10] * 1e6, t[n * 99 / 100] * 1e6, n / total);
	ec_value_free(args);
	free(t);
	ec_context_shutdown(ctx, 3000, NULL);
	ec_master_free(m);
	return 0;
}
